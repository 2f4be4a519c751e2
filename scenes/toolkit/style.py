"""Sizes every scene shares, in one place: font sizes (Manim points) and spacing (scene units).

The frame is 8 units high; at 480p a unit is 60 pixels, so a digit at :data:`MIN_FONT_SIZE`
is about 9 pixels high. Colours are in :mod:`scenes.toolkit.theme`.
"""

from __future__ import annotations

__all__ = ["MIN_FONT_SIZE", "CAPTION", "HEADING", "NUM", "LABEL", "NOTE", "SUM_NUM", "STRIP_NUM", "TITLE", "GAP"]

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
