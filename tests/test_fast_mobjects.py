"""The fast builds of ``scenes.toolkit.mobjects`` make exactly what Manim makes.

A matrix cell (:func:`filled_cell`) is compared, attribute by attribute and bit for bit, with
the ``Rectangle`` Manim's constructor makes (many sizes, colours, opacities and places), and
stays the same through copies and animations.
"""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
from manim import (
    BLUE, FadeIn, FadeOut, ManimColor, Mobject, Rectangle, ReplacementTransform, Transform, VGroup,
)

from scenes.toolkit.mobjects import ValueMatrix, filled_cell
from scenes.toolkit.theme import THEMES
from tests.same_state import state_differences


def manim_cell(width, height, color, opacity, centre) -> Rectangle:
    """A cell as it was made before :func:`filled_cell`."""
    return Rectangle(width=width, height=height, stroke_width=0, fill_color=color,
                     fill_opacity=opacity).move_to(centre)


def _cases(count: int, seed: int = 7):
    """(width, height, colour, opacity, centre): theme fills and other colours and opacities."""
    rng = random.Random(seed)
    colours = [c for t in THEMES.values() for c in (t.negative, t.positive, t.heat, t.masked,
                                                    t.text)]
    colours += ["#abcdef", "RED", ManimColor("#123456"), BLUE]
    for k in range(count):
        theme = rng.choice(list(THEMES.values()))
        value = rng.choice([0.0, -0.0, float("-inf"), float("nan"), rng.uniform(-3, 3)])
        colour, opacity = theme.value_fill(value, rng.choice([1.0, 2.5, 0.0]), k % 3 == 0)
        if k % 4 == 1:
            colour, opacity = rng.choice(colours), rng.choice([0.0, 1.0, np.float64(0.3)])
        size = (rng.uniform(0.05, 3.0), rng.uniform(0.05, 2.0))
        centre = np.array([rng.uniform(-7, 7), rng.uniform(-4, 4), rng.choice([0.0, 1.5])])
        yield (*size, colour, opacity, centre)


def test_filled_cell_is_manims_rectangle():
    for case in _cases(300):
        real, fast = manim_cell(*case), filled_cell(*case)
        assert type(fast) is Rectangle
        assert state_differences(real, fast) == [], case
        for name in ("points", "fill_rgbas", "stroke_rgbas", "background_stroke_rgbas"):
            assert getattr(fast, name).tobytes() == getattr(real, name).tobytes()
        assert fast.stroke_width == real.stroke_width == 0
        assert fast.fill_opacity == real.fill_opacity


def test_cells_share_nothing():
    """Changing one cell changes no other, nor the next one made of the same size."""
    case = (0.8, 0.4, "#3D8BFD", 0.5, np.array([1.0, -2.0, 0.0]))
    a, b = filled_cell(*case), filled_cell(*case)
    for name, value in vars(a).items():
        if isinstance(value, (np.ndarray, list, dict, Mobject, ManimColor)):
            assert value is not vars(b)[name], name
    a.set_fill("#FD7E14", 1.0).shift([1, 1, 0]).stretch(2, 0)
    a.grid_lines.add(Rectangle())
    a.sheen_direction[0] = 5.0
    assert state_differences(manim_cell(*case), b) == []
    assert state_differences(manim_cell(*case), filled_cell(*case)) == []


def test_cells_copy_and_animate_as_manims():
    start = ((0.6, 0.3, "#FD7E14", 0.4, np.array([-1.0, 0.5, 0.0])),
             (1.1, 0.7, "#B36BFF", 0.62, np.array([2.0, -1.0, 0.0])))
    made = {"manim": [manim_cell(*c) for c in start], "fast": [filled_cell(*c) for c in start]}
    states = {}
    for kind, (a, b) in made.items():
        seen = [a.copy(), copy.deepcopy(b), VGroup(a, b).copy()]
        for anim in (FadeIn(a), Transform(a, b), ReplacementTransform(b.copy(), a),
                     FadeOut(b)):
            anim.begin()
            for alpha in (0.0, 0.37, 1.0):
                anim.interpolate(alpha)
                seen.append(anim.mobject.copy())
            anim.finish()
        seen.append(a.copy().become(b))
        states[kind] = seen
    assert state_differences(states["manim"], states["fast"]) == []


def test_matrix_cells_are_those_rectangles(tr):
    theme = THEMES["light"]
    m = ValueMatrix(tr, "encoder.blocks.0.attn.pattern[0]", theme, sequential=True, vmax=1.0)
    assert len(m.fills) == m.n_rows * m.n_cols > 1
    for i in range(m.n_rows):
        for j in range(m.n_cols):
            colour, opacity = theme.value_fill(float(m.values[i, j]), 1.0, True)
            real = manim_cell(m.cell_w - 0.04, m.cell_h - 0.04, colour, opacity,
                              m._cell_centre(i, j))
            assert state_differences(real, m.fill(i, j)) == [], (i, j)


@pytest.mark.parametrize("attribute", ["points", "fill_rgbas"])
def test_state_differences_sees_one_bit(attribute):
    """The comparison these tests rest on notices the smallest change."""
    case = (0.5, 0.5, "#3D8BFD", 0.5, np.zeros(3))
    real, fast = manim_cell(*case), filled_cell(*case)
    array = getattr(fast, attribute)
    array.flat[0] = np.nextafter(array.flat[0], np.inf)
    assert state_differences(real, fast) != []
    assert state_differences(real, filled_cell(*case)) == []
    assert state_differences(0.0, -0.0) != [] and state_differences(1, 1.0) != []
