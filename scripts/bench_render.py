"""Render time per second of video for a scene, at low and high quality, in one cold process.

    python scripts/bench_render.py [SCENE] [--qualities low,high] [--jobs N]

Prints, for each quality, the wall time (model loading and scene set-up included, timed from
the start of this process), the video's duration and their ratio. The caches in the user's cache
folder are used as they are (``scripts/bench_all.py`` measures cold and warm ones). Videos go to
a temporary folder.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scenes.registry import default_model  # noqa: E402
from scenes.writers.video import QUALITIES, render_scene  # noqa: E402
from scenes.toolkit.storyboard import SceneOptions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene", nargs="?", default="attention")
    parser.add_argument("--qualities", default="low,high",
                        help=f"comma-separated, from {', '.join(QUALITIES)}")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)),
                        help="processes drawing the video (default: the number of cores)")
    args = parser.parse_args()
    start = STARTED  # the first render is charged the imports too: a cold process
    print(f"{'quality':8} {'wall s':>8} {'video s':>8} {'ratio':>6}")
    for quality in args.qualities.split(","):
        with tempfile.TemporaryDirectory() as out:
            options = SceneOptions(model=default_model(args.scene))
            result = render_scene(args.scene, options, quality=quality, out_dir=out,
                                  jobs=args.jobs)
        wall = time.perf_counter() - start
        print(f"{quality:8} {wall:8.1f} {result.duration:8.1f} {wall / result.duration:6.2f}",
              flush=True)
        start = time.perf_counter()


if __name__ == "__main__":
    main()
