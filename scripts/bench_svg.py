"""How long the SVG export takes, and how big the files are.

    python scripts/bench_svg.py [--scene attention] [--model translate] [--out DIR]

Prints the model load time, then two exports of every step: "cold" (an empty Manim text cache,
as on a fresh checkout) and "warm" (Manim's cached glyph outlines reused), and per step the time
to draw the SVG, its size, and how far cairosvg's rasterisation of it is from Manim's own PNG of
the same end state (mean absolute difference in 0-255 levels; share of pixels off by > 48).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="attention")
    parser.add_argument("--model", default="translate", choices=("translate", "lm"))
    parser.add_argument("--out", type=Path, default=None, help="keep the SVGs here")
    args = parser.parse_args()

    t0 = time.perf_counter()
    import cairosvg
    import numpy as np
    from manim import Camera, config
    from PIL import Image

    from scenes.registry import get_scene_class
    from scenes.toolkit.storyboard import SceneOptions, load_trace
    from scenes.writers.svg import (
        display_list,
        export_svgs,
        mobjects_to_svg,
        run_storyboard,
        step_figure,
    )

    t1 = time.perf_counter()
    options = SceneOptions(model=args.model)
    load_trace(options.model, options.sentence)
    t2 = time.perf_counter()
    print(f"imports {t1 - t0:.2f} s, model load + trace {t2 - t1:.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "svg"
        for label in ("cold", "warm"):
            if label == "cold":
                config.media_dir = str(Path(tmp) / "media")  # empty text cache
            start = time.perf_counter()
            paths = export_svgs(args.scene, options, out / label)
            elapsed = time.perf_counter() - start
            total_kb = sum(p.stat().st_size for p in paths) / 1024
            print(f"{label}: {len(paths)} steps in {elapsed:.2f} s "
                  f"({total_kb:.0f} KiB in all)")

        rows = []

        def measure(scene, index, step):
            mobjects = display_list(scene)
            figure = step_figure(scene, args.scene, index, step, len(scene.steps))
            start = time.perf_counter()
            data = mobjects_to_svg(mobjects, figure)
            draw = time.perf_counter() - start
            camera = Camera(pixel_width=figure.width, pixel_height=figure.height,
                            frame_width=figure.frame_width, frame_height=figure.frame_height,
                            background_color=figure.background)
            camera.capture_mobjects(mobjects)
            ref = np.asarray(camera.get_image().convert("RGB")).astype(np.int16)
            png = cairosvg.svg2png(bytestring=data)
            img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)
            diff = np.abs(img - ref)
            rows.append((f"{index + 1:02d}-{step.name}", draw * 1000, len(data) / 1024,
                         float(diff.mean()), float((diff.max(axis=-1) > 48).mean())))

        run_storyboard(get_scene_class(args.scene), options, measure)
        print(f"{'step':<18} {'draw ms':>8} {'KiB':>7} {'mean diff':>10} {'off >48':>8}")
        for name, ms, kib, mean, share in rows:
            print(f"{name:<18} {ms:8.1f} {kib:7.1f} {mean:10.4f} {share:8.2%}")


if __name__ == "__main__":
    main()
