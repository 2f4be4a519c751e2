"""The PDF handout: one A4 landscape page per step, its end state in vectors, the caption under it.

The pictures are drawn by Manim's own camera code (:class:`scenes.writers.svg.SvgCamera`, the
camera on any cairo surface), here a ``cairo.PDFSurface``: paths, not pixels, so they print
sharp at any size. The handout is for paper, so it always uses the light theme, and the
scenes are laid out without the in-frame caption, which is set under the picture as real text
(searchable, copyable). Each page has a bookmark and a footer naming the scene and step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cairo
import numpy as np

__all__ = ["PAGE_SIZE", "write_handout"]

PAGE_SIZE = (841.89, 595.28)  # A4 landscape, points
MARGIN = 36.0  # half an inch
CAPTION_PT, FOOTER_PT = 14.0, 9.0
FONT = "DejaVu Sans"


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def _lines(ctx: cairo.Context, text: str, width: float) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` in the current font."""
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if line and ctx.text_extents(trial).x_advance > width:
            lines.append(line)
            line = word
        else:
            line = trial
    lines.append(line)
    return lines


def _draw_page(ctx: cairo.Context, scene, caption: str, footer: str) -> None:
    """The scene's current display list in a box at the top, the caption and footer under it."""
    from scenes.writers.svg import SvgCamera, colour_hex, display_list

    page_w, page_h = PAGE_SIZE
    camera = scene.camera
    frame_w, frame_h = float(camera.frame_width), float(camera.frame_height)
    cx, cy = (float(v) for v in np.asarray(camera.frame_center)[:2])
    box_w = page_w - 2 * MARGIN
    box_h = box_w * frame_h / frame_w
    ctx.save()
    ctx.rectangle(MARGIN, MARGIN, box_w, box_h)
    ctx.clip()
    ctx.set_source_rgb(*_rgb(colour_hex(camera.background_color)))
    ctx.paint()
    sx, sy = box_w / frame_w, box_h / frame_h
    # scene units -> points, y up -> y down, as mobjects_to_svg does for pixels
    ctx.set_matrix(cairo.Matrix(sx, 0, 0, -sy, MARGIN + box_w / 2 - cx * sx, MARGIN + box_h / 2 + cy * sy))
    SvgCamera(ctx, pixel_width=round(box_w), pixel_height=round(box_h), frame_width=frame_w,
              frame_height=frame_h, frame_center=np.array([cx, cy, 0.0])
              ).capture_mobjects(display_list(scene))
    ctx.restore()
    ctx.set_source_rgb(0.6, 0.6, 0.6)
    ctx.set_line_width(0.5)
    ctx.rectangle(MARGIN, MARGIN, box_w, box_h)
    ctx.stroke()
    ctx.select_font_face(FONT, cairo.FONT_SLANT_NORMAL, cairo.FONT_WEIGHT_NORMAL)
    ctx.set_font_size(CAPTION_PT)
    ctx.set_source_rgb(0.08, 0.08, 0.08)
    y = MARGIN + box_h + 2 * CAPTION_PT
    for line in _lines(ctx, caption, box_w):
        ctx.move_to(MARGIN, y)
        ctx.show_text(line)
        y += 1.4 * CAPTION_PT
    ctx.set_font_size(FOOTER_PT)
    ctx.set_source_rgb(0.4, 0.4, 0.4)
    ctx.move_to(MARGIN, page_h - MARGIN / 2)
    ctx.show_text(footer)


def write_handout(path: Path, pages: Sequence[tuple[str, str]], options, title: str) -> int:
    """Write the handout of ``pages`` ((scene, step) pairs, in order) to ``path``; return the
    page count. Each scene runs once, animations skipped, with the light theme and no in-frame
    captions (``options`` otherwise)."""
    from scenes.registry import get_scene_class
    from scenes.writers.svg import run_storyboard

    options = options.with_(theme="light", captions=False)
    surface = cairo.PDFSurface(str(path), *PAGE_SIZE)
    surface.set_metadata(cairo.PDFMetadata.TITLE, title)
    surface.set_metadata(cairo.PDFMetadata.CREATOR, "transformer-explained")
    ctx = cairo.Context(surface)
    count = 0
    scenes = list(dict.fromkeys(scene for scene, _ in pages))
    for scene_name in scenes:
        wanted = [step for scene, step in pages if scene == scene_name]
        total = len(get_scene_class(scene_name).storyboard(options))

        def draw(scene, index, step, scene_name=scene_name, wanted=wanted, total=total) -> None:
            nonlocal count
            if step.name not in wanted:
                return
            count += 1
            name = step.name.replace("_", " ")
            surface.add_outline(cairo.PDF_OUTLINE_ROOT, f"{scene_name}: {name}", f"page={count}", 0)
            _draw_page(ctx, scene, step.caption,
                       f"{title}  ·  {scene_name}, step {index + 1} of {total}: {name}  ·  page {count}")
            ctx.show_page()

        run_storyboard(get_scene_class(scene_name), options, draw, stop_after=wanted[-1])
    surface.finish()
    return count
