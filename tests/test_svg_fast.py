"""The faster SVG export gives exactly what the slower one gave.

* :mod:`scenes.engine.fastpaths`: Manim's boundary, subpath and copy methods and the dry run's
  animations reach exactly the values of Manim's own code (points bit for bit, colours, what
  the scene holds), and the shortcut is really taken;
* ``svg all --jobs 2`` (scenes exported by forked processes) writes the same files, byte for
  byte, as ``--jobs 1``, and a scene that fails in a worker is one line and exit 1 while the
  other scenes are written (in a catalogue of tiny scenes, swapped in by a ``sitecustomize``).
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


# ---- fast paths: the same values as Manim's code ----------------------------------------------

def _mobjects():
    """A few mobjects of the kinds the scenes animate: text paths, cells, lines, a group."""
    from manim import DOWN, RIGHT, Line, Rectangle, RoundedRectangle, VGroup

    from scenes.toolkit.text import number_text, plain_text

    number = number_text("-0.52", 16, "#ffffff").shift(RIGHT * 1.25)
    label = plain_text("Q = X · W", 24, "#ffcc00").shift(DOWN * 2)
    cells = VGroup(*(Rectangle(width=0.6, height=0.3, fill_color="#3366cc", fill_opacity=0.1 * k,
                               stroke_width=0).shift(RIGHT * 0.7 * k) for k in range(4)))
    line = Line([-3, 1, 0], [2.5, 1.3, 0], stroke_width=2)
    box = RoundedRectangle(corner_radius=0.1, width=2, height=1).shift(DOWN + RIGHT)
    return [number, label, cells, line, box]


def _state(mobjects) -> list:
    """Every value an SVG of these mobjects depends on, member by member."""
    out = []
    for mob in mobjects:
        for m in mob.get_family():
            out.append((type(m).__name__, m.points.tobytes(), m.points.shape,
                        *(np.asarray(getattr(m, k)).tobytes() for k in (
                            "fill_rgbas", "stroke_rgbas", "background_stroke_rgbas",
                            "sheen_direction")),
                        *(repr(getattr(m, k)) for k in (  # value and type (int or float)
                            "stroke_width", "background_stroke_width", "sheen_factor")),
                        m.z_index, len(m.submobjects), m.updating_suspended))
    return out


def _play_all(fast: bool):
    """The same plays on fresh mobjects in a dry run, with or without the shortcuts."""
    from manim import (
        LEFT, UP, Create, FadeIn, FadeOut, GrowFromCenter, GrowFromEdge, LaggedStart,
        ReplacementTransform, Scene, Transform, tempconfig,
    )

    from scenes.engine.fastpaths import end_states_only

    taken = []
    with tempconfig({"dry_run": True, "disable_caching": True, "verbosity": "WARNING",
                     "progress_bar": "none"}):
        scene = Scene(skip_animations=True)
        number, label, cells, line, box = _mobjects()
        other = _mobjects()
        plays = [
            [FadeIn(number), Create(line)],
            [LaggedStart(*(FadeIn(c, shift=0.1 * LEFT) for c in cells), lag_ratio=0.3)],
            [GrowFromCenter(box), GrowFromEdge(label, UP)],
            [ReplacementTransform(number.copy(), other[0]), Transform(line, other[3])],
            [ReplacementTransform(cells.copy(), other[2]), FadeOut(label, shift=UP)],
            [FadeOut(box), FadeIn(number)],
        ]
        with end_states_only() if fast else _nothing():
            for anims in plays:
                scene.play(*anims, run_time=0.5)
                for anim in anims:
                    for leaf in getattr(anim, "animations", [anim]):
                        taken.append(getattr(leaf, "_end_only", False))
        everything = [number, label, cells, line, box, *other]
        return _state(everything), [type(m).__name__ for m in scene.mobjects], taken


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_dry_run_end_states_are_manims():
    slow_state, slow_scene, slow_taken = _play_all(fast=False)
    fast_state, fast_scene, fast_taken = _play_all(fast=True)
    assert not any(slow_taken)
    assert all(fast_taken)  # every animation here took its shortcut
    assert fast_scene == slow_scene
    assert len(fast_state) == len(slow_state)
    for fast, slow in zip(fast_state, slow_state, strict=True):
        assert fast == slow


def test_updaters_take_manims_own_path():
    from manim import FadeIn, Scene, tempconfig

    from scenes.engine.fastpaths import end_states_only

    with tempconfig({"dry_run": True, "disable_caching": True, "verbosity": "WARNING"}):
        scene = Scene(skip_animations=True)
        number = _mobjects()[0]
        calls = []
        number.add_updater(lambda m, dt: calls.append(dt))
        anim = FadeIn(number)
        with end_states_only():
            scene.play(anim, run_time=0.5)
    assert anim._end_only is False and calls  # its updater ran, as in Manim


def test_fade_out_shortcut_only_for_finite_values_without_negative_zero():
    """FadeOut skips its copies only if every member's points and colours are finite float64
    numbers without -0.0 (one odd number anywhere, in any member, and Manim's code runs), and
    either way the scene ends as Manim's code leaves it."""
    from manim import FadeOut, Scene, tempconfig

    from scenes.engine.fastpaths import end_states_only

    def odd(mob, attr: str, member: int, value):
        """``mob`` with ``value`` in the last row of one member's ``attr`` (or that array
        made float32 when ``value`` is None)."""
        part = mob.family_members_with_points()[member]
        array = getattr(part, attr)
        if value is None:
            setattr(part, attr, array.astype(np.float32))
        else:
            array[-1, 0] = value
        return mob

    cases = [(None, None, None)]
    for attr in ("points", "fill_rgbas", "stroke_rgbas", "background_stroke_rgbas"):
        for value in (np.nan, np.inf, -np.inf, -0.0, None):
            cases += [(attr, member, value) for member in (0, 3)]
    with tempconfig({"dry_run": True, "disable_caching": True, "verbosity": "WARNING",
                     "progress_bar": "none"}):
        for attr, member, value in cases:
            ends, taken = [], []
            for fast in (False, True):
                cells = _mobjects()[2]
                if attr is not None:
                    odd(cells, attr, member, value)
                scene = Scene(skip_animations=True)
                scene.add(cells)
                anim = FadeOut(cells)
                placeholder = anim.starting_mobject  # (Animation's, until begin copies)
                with end_states_only() if fast else _nothing():
                    scene.play(anim, run_time=0.5)
                ends.append((_state([cells]), list(scene.mobjects)))
                taken.append(anim.starting_mobject is placeholder)  # no copy at all
            assert taken == [False, attr is None], (attr, member, value)
            assert ends[0][0] == ends[1][0] and ends[0][1] == ends[1][1] == [], (attr, member, value)


def test_boundary_subpaths_and_copies_match_manim(engine):
    from manim import Mobject, VMobject


    boundary = VMobject.get_points_defining_boundary
    for mob in _mobjects():
        original = np.array(tuple(p for sm in mob.get_family() for p in sm.get_anchors()))
        fast = boundary(mob)
        assert fast.dtype == original.dtype and np.array_equal(fast, original)
        for m in mob.family_members_with_points():
            mine = m.get_subpaths_from_points(m.points)
            nppcc = m.n_points_per_cubic_curve
            theirs = list(m._gen_subpaths_from_points(
                m.points, lambda n, m=m: not m.consider_points_equals(m.points[n - 1],
                                                                      m.points[n])))
            assert len(mine) == len(theirs)
            assert all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
            assert nppcc == 4
    group = _mobjects()[2]
    group.alias = group.submobjects[1]  # a shared reference stays shared in the copy
    twin = copy.deepcopy(group)
    assert twin.alias is twin.submobjects[1] and twin.alias is not group.alias
    assert _state([twin]) == _state([group])
    assert twin.submobjects[0].fill_color == group.submobjects[0].fill_color
    assert twin.submobjects[0].fill_color is not group.submobjects[0].fill_color
    assert isinstance(twin, Mobject)


def test_points_equal_as_numpy_allclose_says(engine):
    """The fast ``consider_points_equals`` answers as ``np.allclose`` for arrays of points
    (near and far, infinite, NaN, signed zeros, one point against several) and takes
    Manim's own way for anything else."""
    from manim import VMobject


    vm = VMobject()
    rng = np.random.default_rng(3)
    base = rng.uniform(-5, 5, size=(4, 3))
    specials = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e300]
    cases = []
    for _ in range(400):
        a = base.copy()
        b = base + rng.choice([0.0, 1e-9, 1e-7, 1e-6, 2e-6, 1e-3], size=base.shape)
        for arr in (a, b):
            if rng.random() < 0.3:
                arr[rng.integers(4), rng.integers(3)] = rng.choice(specials)
        cases.append((a, b))
        cases.append((a, b[0]))  # a subpath's last points against the point before them
    for a, b in cases:
        assert vm.consider_points_equals(a, b) == np.allclose(a, b, atol=1e-6), (a, b)
    assert vm.consider_points_equals([0, 0, 0], (0, 0, 1e-7)) is True  # not arrays: Manim's


def test_colour_arrays_as_manim_makes_them(engine):
    """The fast ``generate_rgbas_array`` gives Manim's array, bit for bit, for one colour and
    one opacity of every kind, and takes Manim's way for gradients, several opacities and
    sheen."""
    from manim import BLUE, RED, ManimColor, VMobject

    from scenes.engine import fastpaths

    manims = fastpaths.MANIMS["rgbas"]
    plain, shiny = VMobject(), VMobject()
    shiny.sheen_factor = 0.3
    colours = [RED, ManimColor("#6cb6ff"), "#ECEFF4", "#ff7a85", None, [RED, BLUE], (BLUE,)]
    opacities = [None, 0, 1, 0.35, np.float64(0.6), 1 / 3, [0.2, 0.9]]
    for vm in (plain, shiny):
        for colour in colours:
            for opacity in opacities:
                mine = vm.generate_rgbas_array(colour, opacity)
                theirs = manims(vm, colour, opacity)
                assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
                assert mine.tobytes() == theirs.tobytes(), (colour, opacity)
    with pytest.raises(ValueError):
        plain.generate_rgbas_array("not a colour", 1.0)


def test_family_as_manim_lists_it(engine):
    """The fast ``get_family`` lists what Manim's lists, in its order, for random trees, and
    shared members and cycles (left to Manim's own method) come out as Manim has them."""
    from manim import Mobject, VGroup, VMobject

    from scenes.engine import fastpaths

    assert Mobject.get_family.__module__ == fastpaths.__name__  # ours, compared with Manim's

    def manim_family(mob):  # what Manim's get_family returns
        from manim.utils.iterables import remove_list_redundancies

        return remove_list_redundancies(list(mob._iter_family(set())))

    rng = np.random.default_rng(4)
    for _ in range(30):
        nodes = [VGroup() if rng.random() < 0.4 else VMobject() for _ in range(25)]
        for k, node in enumerate(nodes[1:], start=1):
            nodes[rng.integers(k)].submobjects.append(node)  # a random tree under nodes[0]
        for root in (nodes[0], nodes[rng.integers(25)]):
            assert root.get_family() == manim_family(root)
    shared = VMobject()
    a, b = VGroup(shared), VGroup(shared)
    top = VGroup(a, b)
    assert top.get_family() == manim_family(top) == [top, a, b, shared]  # its last place
    a.submobjects.append(top)  # a cycle
    assert top.get_family() == manim_family(top)


def _same_number(a, b) -> bool:
    """The same type and bits (``None`` as ``None``, NaN as NaN, -0.0 apart from 0.0)."""
    return type(a) is type(b) and (a is None or np.asarray(a).tobytes() == np.asarray(b).tobytes())


def _random_tree(rng, specials=()):
    """A random tree of VGroups and VMobjects, some without points, with coordinates drawn
    from a few small values (many ties, zeros of both signs) and ``specials``."""
    from manim import VGroup, VMobject

    values = [-2.0, -1.5, -0.0, 0.0, 0.0, 1.0, 3.25, *specials]
    nodes = []
    for _ in range(rng.integers(1, 12)):
        node = VGroup() if rng.random() < 0.3 else VMobject()
        if rng.random() < 0.75:
            node.points = rng.choice(values, size=(4 * int(rng.integers(1, 3)), 3))
        nodes.append(node)
    for k, node in enumerate(nodes[1:], start=1):
        nodes[rng.integers(k)].submobjects.append(node)
    return nodes[0]


def test_extremes_and_lengths_as_manim_finds_them(engine, monkeypatch):
    """The fast ``reduce_across_dimension`` and ``length_over_dim`` give Manim's numbers bit
    for bit (type, sign of zero) for random trees full of ties and zeros and for the scenes'
    kinds of mobjects, without Manim's code; NaN is left to Manim's code, whose answer
    depends on where it is."""
    from manim import Mobject

    from scenes.engine import fastpaths

    manims = dict(fastpaths.MANIMS)

    def refuse(*args):
        raise AssertionError("left to Manim's code")

    def compare(trees, dims) -> None:
        for tree in trees:
            for dim in dims:
                for func in (max, min):
                    mine = tree.reduce_across_dimension(func, dim)
                    theirs = manims["reduce"](tree, func, dim)
                    assert _same_number(mine, theirs), (func, dim, mine, theirs)
                mine, theirs = tree.length_over_dim(dim), manims["length"](tree, dim)
                assert _same_number(mine, theirs), (dim, mine, theirs)

    rng = np.random.default_rng(11)
    trees = [_random_tree(rng) for _ in range(300)] + _mobjects()
    with monkeypatch.context() as patched:
        patched.setitem(fastpaths.MANIMS, "reduce", refuse)
        patched.setitem(fastpaths.MANIMS, "length", refuse)
        compare(trees, (0, 1, 2))
    assert Mobject().reduce_across_dimension(max, 0) is None  # empty: Manim's None and 0
    assert Mobject().length_over_dim(1) == 0 and type(Mobject().length_over_dim(1)) is int
    nan_trees = [_random_tree(rng, specials=(np.nan, np.inf, -np.inf)) for _ in range(300)]
    compare(nan_trees, (0, 1))
    assert any(np.isnan(t.reduce_across_dimension(max, 0) or 0) for t in nan_trees)


def test_extremes_left_to_manim_when_not_plain(engine):
    """Other reduce functions, other dtypes, a class with its own method, shared members and
    cycles take Manim's own code (the same answers, or the same error)."""
    from manim import VGroup, VMobject

    from scenes.engine import fastpaths

    manims = fastpaths.MANIMS
    a, b = VMobject(), VMobject()
    a.points = np.array([[1.0, -0.0, 2.0], [3.0, 0.0, -1.0]])
    b.points = np.array([[-4.0, 5.0, 0.0]])
    group = VGroup(a, b)
    for func in (np.max, np.min, lambda column: column[-1]):  # not Python's max or min
        assert _same_number(group.reduce_across_dimension(func, 0),
                            manims["reduce"](group, func, 0))
    smaller = VMobject()
    smaller.points = np.array([[7.0, 1.0, 0.0]], dtype=np.float32)
    assert _same_number(VGroup(a, smaller).reduce_across_dimension(max, 0), np.float32(7.0))

    class Fixed(VMobject):
        def reduce_across_dimension(self, reduce_func, dim):
            return np.float64(-99.0)

    assert _same_number(VGroup(a, Fixed()).reduce_across_dimension(min, 0), np.float64(-99.0))
    assert _same_number(VGroup(a, Fixed()).length_over_dim(0), np.float64(102.0))
    shared = VGroup(group, group)  # a member met twice: the same numbers, by Manim's code
    assert _same_number(shared.reduce_across_dimension(max, 1),
                        manims["reduce"](shared, max, 1))
    assert _same_number(shared.length_over_dim(1), np.float64(5.0))
    group.submobjects.append(shared)  # a cycle: Manim's error
    with pytest.raises(RecursionError):
        group.reduce_across_dimension(max, 0)
    with pytest.raises(AssertionError):  # Manim's check of the dimension
        a.reduce_across_dimension(max, 3)


def test_extremum_along_dim_as_manim_finds_it(engine):
    """``get_extremum_along_dim`` (every critical point) gives Manim's numbers for every key."""
    from scenes.engine import fastpaths

    manims = fastpaths.MANIMS["extremum"]
    rng = np.random.default_rng(5)
    mobs = _mobjects() + [_random_tree(rng, specials=(np.nan, np.inf)) for _ in range(100)]
    for mob in mobs:
        points = mob.get_points_defining_boundary()
        if not len(points):
            continue
        for dim in (0, 1, 2):
            for key in (-1, 0, 1, np.array(-1.0), np.array(0.0), np.array(1.0)):
                for given in (None, points, points.tolist()):
                    mine = mob.get_extremum_along_dim(given, dim=dim, key=key)
                    assert _same_number(mine, manims(mob, given, dim, key)), (dim, key)


# ---- svg all in forked processes --------------------------------------------------------------

BROKEN_SCENE = '''
from tests.tiny_scene import TinyScene

class BrokenScene(TinyScene):
    def step_matrix(self):
        raise RuntimeError("the matrix step broke")
'''

CATALOGUE = '''
import scenes.registry as registry
registry.SCENES.clear()
for name, module, cls in {scenes!r}:
    registry.SCENES[name] = registry.SceneInfo(module=module, cls=cls, description="test scene")
'''


def catalogue_env(tmp_path: Path, scenes) -> dict:
    """Every Python process sees a catalogue of ``scenes`` ((name, module, class) triples)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(CATALOGUE.format(scenes=list(scenes)))
    (site / "broken_scene.py").write_text(BROKEN_SCENE)
    path = os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"),
                TRANSFORMER_EXPLAINED_CACHE="", PYTHONPATH=path)


def svg_all(env, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "svg", "all", "--out", str(out),
                           *args], cwd=out.parent, env=env, capture_output=True, text=True,
                          timeout=600)


TINY = [("tiny", "tests.tiny_scene", "TinyScene"), ("tiny2", "tests.tiny_scene", "TinyScene"),
        ("tiny3", "tests.tiny_scene", "TinyScene")]


def test_svg_all_jobs_2_same_bytes_as_jobs_1(tmp_path):
    env = catalogue_env(tmp_path, TINY)
    one = svg_all(env, tmp_path / "one", "--jobs", "1")
    two = svg_all(env, tmp_path / "two", "--jobs", "2", "--theme", "dark")
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.svg"))
    assert [str(f) for f in files] == [f"{name}/{step}.svg" for name, _, _ in TINY
                                       for step in ("01-title", "02-matrix")]
    assert sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*")
                  if p.is_file()) == files
    for f in files:
        assert (tmp_path / "two" / f).read_bytes() == (tmp_path / "one" / f).read_bytes(), f
    # one line per file written, as with one process (in the order the workers wrote them)
    assert sorted(two.stdout.splitlines()) == sorted(str(tmp_path / "two" / f) for f in files)
    again = svg_all(env, tmp_path / "two", "--jobs", "2")
    assert again.returncode == 0
    assert again.stdout.splitlines() == [
        f"{name}: skipped, nothing changed since the last export into {tmp_path / 'two' / name} "
        "(--force exports anyway)" for name, _, _ in TINY]


def test_svg_all_hands_out_the_longest_scene_first(tmp_path, cache_home, monkeypatch):
    """Scenes go to the workers longest first by the CPU time of their last export (scenes
    never timed first, in the catalogue's order), and this export's times are kept."""
    from click.testing import CliRunner

    import cli
    from scenes.cli.jobs import record_render_times, render_times
    from scenes.engine import svg_jobs

    handed: list[list[str]] = []

    def export_scenes(folders, options, jobs, timings=None, **kwargs):
        handed.append(list(folders))
        timings.update({name: 2.0 + k for k, name in enumerate(folders)})

    monkeypatch.setattr(svg_jobs, "export_scenes", export_scenes)
    record_render_times("svg", {"attention": 5.0, "multihead": 9.0, "heads": 1.0})
    result = CliRunner().invoke(cli.main, ["svg", "all", "--jobs", "2", "--force", "--out",
                                           str(tmp_path / "svg")])
    assert result.exit_code == 0, result.output
    from scenes.cli_support import scenes_for  # `all` with translate: not compare

    untimed = [name for name in scenes_for("all", "translate")
               if name not in ("attention", "multihead", "heads")]
    assert handed == [untimed + ["multihead", "attention", "heads"]]
    assert render_times("svg") == {name: 2.0 + k for k, name in enumerate(handed[0])}


def test_svg_all_failing_scene_one_line_exit_1(tmp_path):
    env = catalogue_env(tmp_path, [TINY[0], ("broken", "broken_scene", "BrokenScene"), TINY[1]])
    out = tmp_path / "out"
    run = svg_all(env, out, "--jobs", "2")
    assert run.returncode == 1, run.stdout + run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines == ["Error: scene 'broken': RuntimeError: the matrix step broke (set "
                     "TRANSFORMER_DEBUG=1 to see the traceback)"]
    assert "Traceback" not in run.stdout + run.stderr
    for name in ("tiny", "tiny2"):  # the others are written in full
        assert sorted(p.name for p in (out / name).iterdir()) == ["01-title.svg", "02-matrix.svg"]
    # a scene's figures are renamed into place together: the broken scene wrote none
    assert not (out / "broken").exists() or not list((out / "broken").iterdir())
    # and it is not recorded as done: the next run exports it again (the others are skipped)
    again = svg_all(env, out, "--jobs", "2")
    assert again.returncode == 1
    assert not any(line.startswith("broken: skipped") for line in again.stdout.splitlines())
    assert f"tiny: skipped, nothing changed since the last export into {out / 'tiny'} " \
           "(--force exports anyway)" in again.stdout.splitlines()


@pytest.mark.parametrize("jobs", ["0", "two"])
def test_svg_jobs_must_be_a_positive_number(tmp_path, jobs):
    env = catalogue_env(tmp_path, TINY)
    run = svg_all(env, tmp_path / "out", "--jobs", jobs)
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: Invalid value for '--jobs'")
    assert not (tmp_path / "out").exists()
