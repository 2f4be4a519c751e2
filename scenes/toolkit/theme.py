"""Colour themes: ``dark`` (the default, for video) and ``light`` (white, for blog pages).

Cells are coloured by value with a translucent fill behind dark or light text, so the same
diverging palette (blue for negative, orange for positive) reads on both backgrounds: the fill
blends towards the background as the value nears zero, and the number stays legible on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Theme", "THEMES", "get_theme"]


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    text: str  # numbers, captions, titles
    muted: str  # row and column labels, notes
    negative: str  # diverging palette, value < 0
    positive: str  # diverging palette, value > 0
    heat: str  # sequential palette for attention weights in [0, 1]
    highlight: str  # the row, column and cell being worked on
    masked: str  # cells set to -inf
    query: str  # colours naming Q, K, V and Z wherever they appear
    key: str
    value: str
    output: str
    max_fill: float  # fill opacity of the largest magnitude in a matrix
    # the same for a heat map without numbers (nothing to keep legible on top: on white the
    # text-friendly fill washes out)
    bare_fill: float = 0.0

    @property
    def palette(self) -> dict[str, str]:
        return {"negative": self.negative, "positive": self.positive, "heat": self.heat}

    def value_fill(self, value: float, vmax: float, sequential: bool = False,
                   bare: bool = False) -> tuple[str, float]:
        """(colour, opacity) of a cell showing ``value`` in a matrix whose largest |value| is
        ``vmax``. Sequential fills run from nothing at 0 to ``max_fill`` at ``vmax`` (to
        ``bare_fill``, if larger, in a heat map without numbers: ``bare``)."""
        top = max(self.max_fill, self.bare_fill) if bare else self.max_fill
        if math.isinf(value):
            return self.masked, top * 0.6
        if not math.isfinite(value) or vmax <= 0:
            return self.text, 0.0
        strength = min(abs(value) / vmax, 1.0)
        if sequential:
            return self.heat, top * (strength if value > 0 else 0.0)
        return (self.positive if value >= 0 else self.negative), top * strength


THEMES: dict[str, Theme] = {
    "dark": Theme(
        name="dark",
        background="#101218",
        text="#ECEFF4",
        muted="#9AA4B5",
        negative="#3D8BFD",
        positive="#FD7E14",
        heat="#B36BFF",
        highlight="#FFE066",
        masked="#5C6370",
        query="#FF7A85",
        key="#7BD88F",
        value="#6CB6FF",
        output="#FFB86B",
        max_fill=0.62,
    ),
    "light": Theme(
        name="light",
        background="#FFFFFF",
        text="#1F2328",
        muted="#57606A",
        negative="#1F6FEB",
        positive="#E8590C",
        heat="#8250DF",
        highlight="#C2255C",
        masked="#8C959F",
        query="#CF222E",
        key="#1A7F37",
        value="#0969DA",
        output="#BC4C00",
        max_fill=0.45,
        bare_fill=0.9,
    ),
}


def get_theme(name: str) -> Theme:
    try:
        return THEMES[name]
    except KeyError:
        raise KeyError(f"unknown theme {name!r}; choose from {', '.join(THEMES)}") from None
