"""A dry run's ``ReplacementTransform`` leaves its point alignment owed (:mod:`scenes.toolkit.
deferred`), and whatever looks at the replaced mobject afterwards sees exactly Manim's values.

Each test plays the same animations twice on fresh mobjects, once as Manim plays them and once
in :func:`~scenes.engine.fastpaths.end_states_only`, and compares every value an SVG depends on
(points bit for bit, colours, widths, family, update flags) and what the scene holds.
"""

from __future__ import annotations

import pytest

from tests.test_svg_fast import _mobjects, _nothing, _state


def _others():
    """Targets of other shapes than :func:`_mobjects` (other point and submobject counts), so
    that aligning them has work to do."""
    from manim import DOWN, LEFT, Arc, Circle, Rectangle, VGroup

    from scenes.toolkit.text import number_text, plain_text

    number = number_text("123.4", 16, "#ff8800").shift(LEFT)
    label = plain_text("softmax", 20, "#00ccff").shift(DOWN)
    cells = VGroup(*(Rectangle(width=0.5, height=0.5, fill_color="#cc3366", fill_opacity=0.2,
                               stroke_width=1).shift(LEFT * 0.6 * k) for k in range(6)))
    arc = Arc(radius=1.5, angle=2.0, stroke_width=3)
    circle = Circle(radius=0.4, fill_opacity=0.5)
    return [number, label, cells, arc, circle]


def _scene():
    """A dry-run scene as the SVG export makes it (no pixels, no progress-bar description)."""
    from manim import Scene

    from scenes.engine.dry_run import no_pixels

    scene = Scene(skip_animations=True)
    no_pixels(scene)
    return scene


def _dry_run():
    from manim import tempconfig

    return tempconfig({"dry_run": True, "disable_caching": True, "verbosity": "WARNING",
                       "progress_bar": "none"})


def _run(fast: bool, story):
    """``story(scene, mobjects, others)`` plays and returns the mobjects to compare; returns
    (whether each was still owed before it was compared, their states, the scene's mobjects)."""
    from scenes.engine.deferred import is_owed
    from scenes.engine.fastpaths import end_states_only

    with _dry_run():
        scene = _scene()
        mobjects, others = _mobjects(), _others()
        with end_states_only() if fast else _nothing():
            kept = story(scene, mobjects, others)
            # (inside: out of the engine's block Manim's own get_family settles what it reads)
            owed = [any(is_owed(m) for m in _family_unsettled(k)) for k in kept]
        on_screen = [(type(m).__name__, id(m)) for m in scene.mobjects]
        ids = {id(m): k for k, m in enumerate([*mobjects, *others, *kept])}
        on_screen = [(name, ids.get(i)) for name, i in on_screen]
        return owed, _state([*mobjects, *others, *kept]), on_screen


def _family_unsettled(mob) -> list:
    return mob.get_family()  # reads submobjects only: settles nothing


def _same(story) -> list[bool]:
    owed_slow, slow, slow_screen = _run(False, story)
    owed_fast, fast, fast_screen = _run(True, story)
    assert not any(owed_slow)
    assert fast_screen == slow_screen
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow, strict=True):
        assert a == b
    return owed_fast


def test_a_copy_replaced_and_never_seen_again_stays_owed_and_settles_to_manims_values():
    from manim import FadeIn, LaggedStart, ReplacementTransform

    def story(scene, mobjects, others):
        number, label, cells, line, box = mobjects
        scene.add(number, cells)
        sources = [number.copy(), cells.copy()]
        scene.play(ReplacementTransform(sources[0], others[0]),
                   LaggedStart(ReplacementTransform(sources[1], others[2]), FadeIn(label)),
                   FadeIn(box), run_time=0.5)
        scene.play(FadeIn(line), run_time=0.3)  # scenes go on, the copies left behind
        return sources

    assert _same(story) == [True, True]  # not settled until compared here


def test_cells_of_a_group_on_screen_moved_into_another_then_the_group_swapped_out():
    from manim import FadeIn, ReplacementTransform, VGroup

    def story(scene, mobjects, others):
        cells, new_cells = mobjects[2], others[2]
        holder = VGroup(cells, mobjects[4])
        old = list(cells)
        scene.add(holder)
        scene.play(*(ReplacementTransform(a, b) for a, b in zip(cells, new_cells[:4], strict=True)),
                   FadeIn(mobjects[0]), run_time=0.4)
        scene.remove(*holder.get_family())  # as animations.swap does
        scene.add(new_cells)
        return old

    owed = _same(story)
    assert all(owed)


def test_writing_to_an_owed_member_settles_first():
    from manim import ReplacementTransform

    def story(scene, mobjects, others):
        source = mobjects[2].copy()
        scene.play(ReplacementTransform(source, others[2]), run_time=0.4)
        source[1].set_fill(opacity=0.7)  # Manim: after the alignment; here: settles, then this
        source.shift([0.5, 0, 0])
        return [source]

    assert _same(story) == [False]


def test_changing_an_owed_members_family_settles_it_first():
    from manim import Circle, ReplacementTransform

    def story(scene, mobjects, others):
        source = mobjects[2].copy()
        first = source.submobjects[0]
        scene.play(ReplacementTransform(source, others[2]), run_time=0.4)
        source.remove(first)  # Manim: after the alignment and the interpolation
        source.add(Circle(radius=0.2))
        return [source, first]

    assert _same(story) == [False, False]


def test_replacing_inside_an_owed_member_settles_it_first():
    from manim import ReplacementTransform, VGroup

    def story(scene, mobjects, others):
        parts = mobjects[2]
        scene.add(VGroup(parts))
        first = parts[0]
        anim = ReplacementTransform(parts, others[2])
        anim.begin()  # owed from here on (in the dry run)
        scene.replace(first, others[0])  # changes the owed member's own list
        anim.finish()
        return [parts]

    assert _same(story) == [False]


@pytest.mark.parametrize("case", ["updater", "shared"])
def test_transforms_it_cannot_defer_run_as_before(case):
    from manim import ReplacementTransform, VGroup

    from scenes.engine.deferred import is_owed
    from scenes.engine.fastpaths import end_states_only

    with _dry_run():
        scene = _scene()
        mobjects, others = _mobjects(), _others()
        source = mobjects[2].copy()
        target = others[2]
        if case == "updater":
            source[0].add_updater(lambda m, dt: None)
        else:
            target = VGroup(others[2], source[0])  # the target holds a member of the source
        with end_states_only():
            scene.play(ReplacementTransform(source, target), run_time=0.4)
        assert not any(is_owed(m) for m in source.get_family())
