"""Print how long ``python cli.py verify SCENE`` takes for every scene (one cold process each).

    python scripts/bench_verify.py [--checkpoint PATH]

The target is at most 30 s per scene on 2 cores. Each line is the command's own output and its
wall time, imports included.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scenes.registry import SCENES  # noqa: E402  (no Manim: the registry names classes)

__all__ = ["main"]


def main(extra: list[str]) -> None:
    """Run verify for each registered scene and print its line and wall time."""
    for name in SCENES:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "cli.py", "verify", name, *extra], cwd=ROOT,
                             capture_output=True, text=True)
        seconds = time.perf_counter() - start
        line = (run.stdout or run.stderr).strip().splitlines()[-1:] or ["(no output)"]
        print(f"{name}: {seconds:.1f} s wall, exit {run.returncode}: {line[0]}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
