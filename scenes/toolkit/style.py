"""Sizes every scene shares, in one place: font sizes (Manim points) and spacing (scene units).

The frame is 8 units high; at 480p a unit is 60 pixels, so a digit at :data:`MIN_FONT_SIZE`
is about 9 pixels high. Colours are in :mod:`scenes.toolkit.theme`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIN_FONT_SIZE", "CAPTION", "HEADING", "NUM", "LABEL", "NOTE", "SUM_NUM", "STRIP_NUM", "TITLE", "GAP",
           "Pace", "PACES", "DENSE_NUMBERS", "NOTATION", "symbol"]

# The smallest text allowed on screen. A digit at font size 14 is 0.147 scene units high,
# about 9 pixels at 480p (the frame is 8 units high) and 20 pixels at 1080p.
MIN_FONT_SIZE = 14

CAPTION = 22  # the step's caption at the bottom of the frame
HEADING = 30  # the step's heading, top left
NUM = 16  # numbers in matrices
LABEL = 16  # token labels
NOTE = 16  # explanatory notes
SUM_NUM = 15  # numbers of the A + B = C layouts (two matrices of d_model side by side)
STRIP_NUM = 15  # numbers of a long strip of values (the 32 hidden units, folded)
TITLE = 44  # a scene's title on its first step
GAP = 0.32  # between a matrix and its neighbour in a product layout


@dataclass(frozen=True)
class Pace:
    """How long a step stays: its caption is on screen (fully) for at least ``len(caption) /
    chars_per_second`` seconds, and its end state is held still for at least ``hold`` seconds,
    ``dense_hold`` when it shows more than :data:`DENSE_NUMBERS` numbers."""

    chars_per_second: float
    hold: float
    dense_hold: float


# Subtitle guidance is about 15-17 characters a second; a matrix of numbers needs longer.
PACES = {
    "lecture": Pace(chars_per_second=12.0, hold=3.5, dense_hold=5.0),
    "normal": Pace(chars_per_second=15.0, hold=2.0, dense_hold=3.0),
    "brisk": Pace(chars_per_second=20.0, hold=1.0, dense_hold=1.5),
}
DENSE_NUMBERS = 40


# One notation in every scene: a parameter's name in the code → how the screen writes it.
# (Also: W_O for the output projection, X for a block's input, heads and layers from 0.)
NOTATION = {"gamma": "γ", "beta": "β"}


def symbol(name: str) -> str:
    """How the screen writes the parameter ``name`` (its last dotted part)."""
    return NOTATION.get(name, name)
