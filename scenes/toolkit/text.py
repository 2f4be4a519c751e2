"""Text as single paths: numbers composed from cached monospace glyphs, labels cached by
string. Pango lays out the glyphs once (``Text``); after that, making, copying and drawing a
number is cheap, which is what keeps a scene of hundreds of numbers fast to render. The laid-out
points are also kept between runs (:mod:`scenes.engine.textcache`).

User text (tokens) reaches Pango only as a plain string: never markup, never LaTeX.
"""

from __future__ import annotations

import functools
import re

import numpy as np
from manim import Text, VMobject

from ..engine.textcache import persistent_glyphs, persistent_points

__all__ = ["FONT", "MONO", "FlatText", "plain_text", "label_text", "subscript_text",
           "number_text",
           "mono_advance", "DIGIT_HEIGHT"]

DIGIT_HEIGHT = 0.0105  # height of a digit (and of a capital) in scene units per point of size

FONT = "DejaVu Sans"  # captions, titles, token labels
MONO = "DejaVu Sans Mono"  # numbers: fixed width, so columns of numbers line up


class FlatText(VMobject):
    """Text drawn as one path rather than one mobject per glyph: copying it (which every
    Transform does) and drawing it are far cheaper than for ``Text``. ``text`` is the string
    shown; ``font_size`` follows any later scaling.

    A scene makes hundreds (every number of every matrix), and Manim's constructor (styles
    set and reset several times over) was most of that time. So a FlatText of a colour already
    seen starts as a twin of what that constructor made for the first one (the state before
    the points, which depends on the colour alone): numbers, strings and enum members shared,
    everything else copied, as :func:`scenes.toolkit.mobjects.filled_cell` makes cells."""

    def __init__(self, text: str, points: np.ndarray, font_size: float, color: str):
        template = _made_before(color) if type(color) is str else None
        if template is None:
            super().__init__(fill_color=color, fill_opacity=1.0, stroke_width=0)
        else:
            from .mobjects import _twin, twin_state

            state = twin_state(template)
            if state is not None:
                self.__dict__.update(state)
            else:
                memo = {id(template): self}  # the template's own mobject is this one
                for key, value in template.__dict__.items():
                    self.__dict__[key] = _twin(value, memo)
        self.set_points(np.array(points))
        self.text = text
        self.nominal_font_size = font_size
        self._spread = _spread(self.points)

    @property
    def font_size(self) -> float:
        return self.nominal_font_size * _spread(self.points) / self._spread


@functools.lru_cache(maxsize=256)
def _made_before(color: str) -> FlatText:
    """A FlatText of ``color`` as Manim's constructor leaves it, before any points (never
    shown, only read)."""
    template = FlatText.__new__(FlatText)
    VMobject.__init__(template, fill_color=color, fill_opacity=1.0, stroke_width=0)
    return template


def _spread(points: np.ndarray) -> float:
    """Root-mean-square distance of the points from their mean: grows with scaling, unchanged
    by moving or rotating."""
    if len(points) == 0:
        return 1.0
    return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean())) or 1.0


@functools.lru_cache(maxsize=4096)
@persistent_points
def _text_points(text: str, font: str, font_size: float, line_spacing: float) -> np.ndarray:
    mob = Text(text, font=font, font_size=font_size, line_spacing=line_spacing)
    pts = [g.points for g in mob.family_members_with_points()]
    return np.concatenate(pts) if pts else np.zeros((0, 3))


MONO_CHARS = "0123456789.\u2212\u221e-+"


@functools.cache
def _mono_glyphs(font_size: float) -> tuple[dict[str, np.ndarray], float]:
    """Each character of :data:`MONO_CHARS` as points relative to its monospace cell, and the
    advance width: numbers are then composed without asking Pango again."""
    return _mono_glyph_points(font_size, MONO_CHARS)


@persistent_glyphs
def _mono_glyph_points(font_size: float, chars: str) -> tuple[dict[str, np.ndarray], float]:
    ref = Text(chars, font=MONO, font_size=font_size)
    if len(ref.submobjects) != len(chars):
        raise RuntimeError(f"the font {MONO!r} lacks some of {chars!r}")
    zeros = Text("0" * 11, font=MONO, font_size=font_size)
    advance = (zeros.submobjects[10].get_left()[0] - zeros.submobjects[0].get_left()[0]) / 10
    origin = ref.submobjects[0].get_left()[0]
    glyphs = {}
    for k, (char, glyph) in enumerate(zip(chars, ref.submobjects, strict=True)):
        glyphs[char] = glyph.points - np.array([origin + k * advance, 0.0, 0.0])
    return glyphs, advance


@functools.lru_cache(maxsize=4096)
@persistent_points
def _baseline_points(text: str, font: str, font_size: float) -> np.ndarray:
    """Points of one line of text with its baseline on y = 0 and its left edge on x = 0, found
    by setting an "H" (which sits on the baseline) in front of it and dropping it."""
    mob = Text("H" + text, font=font, font_size=font_size)
    h, rest = mob.submobjects[0], mob.submobjects[1:]
    pts = [g.points for m in rest for g in m.family_members_with_points()]
    if not pts:
        return np.zeros((0, 3))
    points = np.concatenate(pts)
    return points - np.array([points[:, 0].min(), h.get_bottom()[1], 0.0])


def label_text(text: str, font_size: float, color: str, font: str = FONT) -> FlatText:
    """One line of plain text whose baseline is at y = 0 and left edge at x = 0 (not centred),
    so that labels of different words can be set on a common baseline."""
    return FlatText(text, _baseline_points(text, font, font_size), font_size, color)


def subscript_text(text: str, font_size: float, color: str, font: str = FONT):
    """One line of fixed text in which ``_X`` (one character) is set as a subscript, e.g.
    ``"Q = X · W_Q"``; returns a VGroup of :class:`FlatText` pieces on one baseline."""
    from manim import VGroup

    space = 0.0046 * font_size  # the advance of a space in DejaVu Sans
    group, x = VGroup(), 0.0
    for k, piece in enumerate(re.split(r"_(.)", text)):
        sub = k % 2 == 1
        if not piece.strip():
            x += space * len(piece)
            continue
        lead = len(piece) - len(piece.lstrip(" "))
        trail = len(piece) - len(piece.rstrip(" "))
        size = font_size * (0.68 if sub else 1.0)
        mob = label_text(piece.strip(" "), size, color, font)
        x += lead * space + (0.02 * font_size * DIGIT_HEIGHT if sub else 0.0)
        mob.shift([x, -0.35 * font_size * DIGIT_HEIGHT if sub else 0.0, 0])
        group.add(mob)
        x += mob.width + trail * space + (0.02 * font_size if sub else 0.0) * 0
    return group


def plain_text(text: str, font_size: float, color: str, font: str = FONT,
               line_spacing: float = -1) -> FlatText:
    """Text of a plain string (no markup is interpreted), as one path."""
    mob = FlatText(text, _text_points(text, font, font_size, line_spacing), font_size, color)
    return mob.move_to(np.zeros(3))


def number_text(text: str, font_size: float, color: str) -> FlatText:
    """A formatted number in the monospace font, composed from cached glyphs."""
    glyphs, advance = _mono_glyphs(font_size)
    if not all(c in glyphs for c in text):
        return plain_text(text, font_size, color, font=MONO)
    points = np.concatenate([glyphs[c] + np.array([k * advance, 0.0, 0.0])
                             for k, c in enumerate(text)])
    return FlatText(text, points, font_size, color).move_to(np.zeros(3))


def mono_advance(font_size: float) -> float:
    """Width of one character of the monospace font at ``font_size``."""
    return _mono_glyphs(font_size)[1]
