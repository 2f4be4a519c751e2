"""How long ``python cli.py svg all --force`` takes with warm caches, and each scene's share.

    python scripts/bench_svg_all.py [--jobs N] [--model translate|lm] [--theme dark|light]
                                    [--repeat N] [--no-split]

Runs ``svg all`` once to fill the caches, then times ``svg all --force`` through the real CLI
(imports and model loading included) ``--repeat`` times (3): the fastest run's wall seconds and
the CPU seconds (user + system) of the command and its processes, against the target of issue
16 (5 s), as ``timeit`` takes the fastest repeat (a slower one measures what else the machine
ran); every run is printed. Then, unless ``--no-split``, exports every scene one after another
in this process and prints each scene's wall and CPU seconds (Manim and the model already
loaded: the work a worker of ``svg all`` does per scene).
Timings on a shared machine are noisy: compare figures of one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 5.0  # seconds, issue 16


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_cli(args: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``cli.py`` run; exits if it fails."""
    cpu, start = children_cpu(), time.perf_counter()
    run = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=ROOT,
                         capture_output=True, text=True)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"cli.py {' '.join(args)} failed: {(run.stderr or run.stdout).strip()[-500:]}")
    return wall, children_cpu() - cpu


def split(out: Path, model: str, theme: str) -> None:
    """Each scene exported in turn in this process: wall and CPU seconds."""
    sys.path.insert(0, str(ROOT))
    from scenes.cli_support import scene_setup
    from scenes.registry import SCENES
    from scenes.writers.svg import export_svgs

    options = scene_setup(model, None, 0, 0, theme, True)
    total_wall = total_cpu = 0.0
    print(f"{'scene':<12} {'figures':>7} {'wall s':>7} {'CPU s':>7}")
    for name in SCENES:
        start, cpu = time.perf_counter(), time.process_time()
        paths = export_svgs(name, options, out / "split" / name)
        wall, used = time.perf_counter() - start, time.process_time() - cpu
        total_wall += wall
        total_cpu += used
        print(f"{name:<12} {len(paths):>7} {wall:>7.2f} {used:>7.2f}")
    print(f"{'sum':<12} {'':>7} {total_wall:>7.2f} {total_cpu:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--model", default="translate")
    parser.add_argument("--theme", default="dark")
    parser.add_argument("--no-split", action="store_true")
    parser.add_argument("--repeat", type=int, default=3,
                        help="times `svg all --force` is timed; the fastest is the figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-svg-") as tmp:
        out = Path(tmp)
        common = ["--out", str(out / "all"), "--model", args.model, "--theme", args.theme]
        jobs = ["--jobs", str(args.jobs)] if args.jobs else []
        timed_cli(["svg", "all", *common])  # fills the caches
        runs = [timed_cli(["svg", "all", "--force", *common, *jobs]) for _ in range(args.repeat)]
        wall, cpu = min(runs)
        verdict = "met" if wall <= TARGET else "NOT met"
        print(f"svg all --force{' --jobs ' + str(args.jobs) if args.jobs else ''}, warm caches, "
              f"{os.cpu_count()} cores, best of {len(runs)}: {wall:.1f} s wall, {cpu:.1f} s CPU "
              f"(target <= {TARGET:.0f} s: {verdict}); every run: "
              f"{', '.join(f'{w:.1f} s ({c:.1f} s CPU)' for w, c in runs)}")
        if not args.no_split:
            split(out, args.model, args.theme)


if __name__ == "__main__":
    main()
