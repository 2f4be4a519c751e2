"""The per-step checks every scene passes, and the capture of a scene's end states they read.

:func:`capture` plays a registered scene with animations skipped (no pixels) and records, at the
end of every storyboard step, each text-like mobject: what it shows, the trace value it claims
(its provenance, see :mod:`scenes.toolkit.provenance`), its box and font size. Captures are
memoised per (scene, options), so a scene's own tests and :mod:`tests.test_every_scene` share
one run. The ``assert_*`` functions are the checks; ``test_every_scene`` applies all of them to
every registered scene.
"""

from __future__ import annotations

import functools
from decimal import ROUND_HALF_UP, Decimal
import tempfile
from dataclasses import dataclass, field

from manim import MathTex, Text, tempconfig

from scenes.registry import get_scene_class
from scenes.toolkit.mobjects import ValueMatrix
from scenes.toolkit.provenance import DRAWN_MEASURES, iter_sourced
from scenes.toolkit.storyboard import SceneOptions, using_options
from scenes.toolkit.style import MIN_FONT_SIZE
from scenes.toolkit.text import DIGIT_HEIGHT, FlatText, number_text
from transformer_core.verify import Shown as Checked
from transformer_core.explain import resolve
from transformer_core.verify import first_mismatch

FRAME_W, FRAME_H = 16 / 9 * 8.0, 8.0
# 480p: 60 pixels per scene unit; a digit must be at least this high (about 9 pixels)
MIN_DIGIT_HEIGHT = MIN_FONT_SIZE * DIGIT_HEIGHT * 0.98


@dataclass
class Shown:
    """One text-like mobject as it was at the end of a step."""

    text: str | None
    kind: str | None
    source: str | None
    index: tuple | None
    decimals: int | None
    box: tuple[float, float, float, float]  # left, bottom, right, top
    font_size: float | None
    cls: str


@dataclass
class StepState:
    name: str
    caption: str
    caption_shown: str | None
    texts: list[Shown]
    boxes: list[tuple[float, float, float, float]]  # every top-level mobject with points
    # drawn quantities (see provenance.mark_drawn): (source, index, value, {measure: (shown,
    # factor)})
    drawn: list[tuple[str, tuple, float, dict]] = field(default_factory=list)
    # highlight outlines of matrix cells (ValueMatrix.outline) whose matrix is on screen too:
    # (the outline's centre, the centre of the cells it outlines, its matrix's source, cells)
    outlines: list[tuple[tuple, tuple, str, tuple]] = field(default_factory=list)
    # windowed matrices on screen (see ValueMatrix's rows/cols): where each drawn number and
    # ellipsis is against where its true index puts it (see :func:`_window`)
    windows: list[dict] = field(default_factory=list)
    # equations written out (see provenance.mark_equation), as the texts drawn:
    # (kind, terms (texts, nested as marked), result text, bound)
    equations: list[tuple[str, list, str, float | None]] = field(default_factory=list)


def _box(mob) -> tuple[float, float, float, float]:
    pts = mob.get_all_points()
    return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()),
            float(pts[:, 1].max()))


def record(scene, index, step) -> StepState:
    """The state of ``scene`` at the end of ``step`` (a step listener)."""
    texts, seen = [], set()
    sourced = {id(m) for m, *_ in iter_sourced(scene.mobjects)}
    for top in scene.mobjects:
        for mob in top.get_family():
            if id(mob) in seen or not isinstance(mob, (FlatText, Text, MathTex)):
                continue
            seen.add(id(mob))
            if not len(mob.get_all_points()):
                continue
            texts.append(Shown(
                text=getattr(mob, "display_text", None) if id(mob) in sourced
                else getattr(mob, "text", None),
                kind=getattr(mob, "kind", None), source=getattr(mob, "source_name", None),
                index=getattr(mob, "source_index", None), decimals=getattr(mob, "decimals", None),
                box=_box(mob), font_size=float(mob.font_size), cls=type(mob).__name__))
            if id(mob) in sourced:
                assert mob.text == mob.display_text  # the marked text is the text drawn
    boxes = [_box(m) for m in scene.mobjects if len(m.get_all_points())]
    drawn, seen = [], set()
    for top in scene.mobjects:
        for mob in top.get_family():
            if id(mob) in seen or getattr(mob, "drawn_source", None) is None:
                continue
            seen.add(id(mob))
            drawn.append((mob.drawn_source, mob.drawn_index, mob.drawn_value,
                          {k: (DRAWN_MEASURES[k](mob), f) for k, f in mob.drawn_measures.items()}))
    on_screen = {id(m) for top in scene.mobjects for m in top.get_family()}
    outlines, seen = [], set()
    for top in scene.mobjects:
        for mob in top.get_family():
            marks = mob.__dict__.get("outlines")
            if marks is None or id(mob) in seen or not len(mob.points):
                continue
            seen.add(id(mob))
            matrix, first, last = marks[0](), marks[1], marks[2]
            if matrix is None or id(matrix) not in on_screen:
                continue  # its matrix has left: nothing to be on
            cells = (matrix.cell_centre(*first) + matrix.cell_centre(*last)) / 2
            outlines.append((tuple(mob.get_center()[:2]), tuple(cells[:2]),
                             getattr(matrix, "source", None), (first, last)))
    windows, seen = [], set()
    for top in scene.mobjects:
        for mob in top.get_family():
            if isinstance(mob, ValueMatrix) and id(mob) not in seen and mob.windowed:
                seen.add(id(mob))
                windows.append(_window(mob, on_screen))
    equations, seen = [], set()
    for top in scene.mobjects:
        for mob in top.get_family():
            marks = mob.__dict__.get("equations")
            if not marks or id(mob) in seen:
                continue
            seen.add(id(mob))
            for kind, terms, result, bound in marks:
                parts = [result, *_flat(terms)]
                if all(id(p) in on_screen and len(p.get_all_points()) for p in parts):
                    equations.append((kind, _texts(terms), result.text, bound))
    cap = scene.caption_mobject
    return StepState(step.name, step.caption, getattr(cap, "step_caption", None), texts, boxes,
                     drawn, outlines, windows, equations)


def _window(m: ValueMatrix, on_screen: set[int]) -> dict:
    """A windowed matrix: its slot grid read off its drawn cells (the matrix may have been
    moved and scaled since it was made), then each number on screen as (true index, its
    centre, the centre of the slot its index maps to), and each ellipsis with its slot."""
    first = m.fill(m.row_ids[0], m.col_ids[0]).get_center()
    last = m.fill(m.row_ids[-1], m.col_ids[-1]).get_center()
    r0, c0 = m._row_slot[m.row_ids[0]], m._col_slot[m.col_ids[0]]
    r1, c1 = m._row_slot[m.row_ids[-1]], m._col_slot[m.col_ids[-1]]
    dx = (last[0] - first[0]) / (c1 - c0) if c1 > c0 else 0.0
    dy = (first[1] - last[1]) / (r1 - r0) if r1 > r0 else 0.0

    def slot(r, c):
        return (float(first[0] + (c - c0) * dx), float(first[1] - (r - r0) * dy))

    numbers = [(mob.source_index, tuple(mob.get_center()[:2]),
                slot(m._row_slot.get(mob.source_index[0], -1),
                     m._col_slot.get(mob.source_index[1], -1)),
                mob.source_index[0] in m._row_slot and mob.source_index[1] in m._col_slot)
               for mob in m.numbers if id(mob) in on_screen]
    gaps = [(r, c) for r, _ in m.row_gaps for c in range(m.n_col_slots)]
    gaps += [(r, c) for c, _ in m.col_gaps for r in range(m.n_row_slots)
             if (r, c) not in gaps]
    dots = [tuple(d.get_center()[:2]) for d in m.ellipses if id(d) in on_screen]
    shape = m.shape_label
    return dict(source=m.source, shape=(m.n_rows, m.n_cols),
                shape_text=shape.display_text if shape is not None and id(shape) in on_screen
                else None, numbers=numbers, dots=dots, gap_slots=[slot(*g) for g in gaps],
                tolerance=(abs(dx) / 2 or 1e9, abs(dy) / 2 or 1e9))


def _flat(terms):
    for t in terms:
        if isinstance(t, (list, tuple)):
            yield from _flat(t)
        else:
            yield t


def _texts(terms):
    return [_texts(t) if isinstance(t, (list, tuple)) else t.text for t in terms]


@functools.lru_cache(maxsize=64)
def capture(name: str, options: SceneOptions):
    """``(scene, states)``: scene ``name`` played with ``options``, animations skipped."""
    states: list[StepState] = []
    with tempfile.TemporaryDirectory() as media, tempconfig({
        "dry_run": True, "disable_caching": True, "media_dir": media, "verbosity": "WARNING",
        "progress_bar": "none",
    }), using_options(options):
        scene = get_scene_class(name)(skip_animations=True)
        scene.step_listeners.append(lambda s, i, step: states.append(record(s, i, step)))
        scene.render()
    return scene, states


def shown(state: StepState, source: str) -> dict[tuple, str]:
    """``{index: text}`` of the values of ``source`` shown in ``state``."""
    return {t.index: t.text for t in state.texts if t.source == source}


# ---- the checks --------------------------------------------------------------------------------

def assert_steps_ran(scene, states) -> None:
    """Every storyboard step ran in order, showed its caption, and the steps tile the video."""
    assert [s.name for s in states] == [s.name for s in scene.steps]
    if scene.options.captions:
        assert [s.caption_shown for s in states] == [s.caption for s in scene.steps]
    times = scene.step_times
    assert len(times) == len(states) and times[0][0] == 0.0
    assert all(b > a for a, b in times)
    assert all(times[k][1] == times[k + 1][0] for k in range(len(times) - 1))


def assert_one_sentence_steps(steps) -> None:
    """Unique slug names; each caption one plain sentence."""
    assert len({s.name for s in steps}) == len(steps) >= 2
    for step in steps:
        assert step.name.replace("_", "").isalnum() and step.name.islower(), step.name
        assert step.caption.endswith(".") and ". " not in step.caption, step.caption


def _check(scene, state: StepState, t: Shown) -> None:
    """The shared comparison ``python cli.py verify`` makes (:mod:`transformer_core.verify`)."""
    bad = first_mismatch(scene.trace, Checked(state.name, t.kind, t.text, t.source, t.index,
                                              t.decimals))
    assert bad is None, str(bad)


def assert_numbers_true(scene, states) -> None:
    """Every number on screen is the value of the trace source it claims, at its precision."""
    for state in states:
        for t in state.texts:
            if t.kind in ("number", "dim", "shape"):
                _check(scene, state, t)


def assert_windows_true(scene, states) -> None:
    """A matrix shown through a window: each number sits in the slot its true index maps to
    (rows and columns in order, the runs left out each standing as one ⋮/⋯ slot), every dot
    sits in a left-out slot, and its true shape is written beside it as the trace has it."""
    for state in states:
        for w in state.windows:
            where = (state.name, w["source"])
            if w["numbers"]:
                assert w["shape_text"] == " × ".join(map(str, w["shape"])), where
            for index, centre, expected, inside in w["numbers"]:
                assert inside, (*where, index)
                tx, ty = w["tolerance"]
                assert abs(centre[0] - expected[0]) < tx, (*where, index)
                assert abs(centre[1] - expected[1]) < ty, (*where, index)
            for dot in w["dots"]:
                tx, ty = w["tolerance"]
                assert any(abs(dot[0] - g[0]) < tx and abs(dot[1] - g[1]) < ty
                           for g in w["gap_slots"]), (*where, dot)


def assert_labels_true(scene, states) -> None:
    """Every word label is the trace's word at the index it claims."""
    for state in states:
        for t in state.texts:
            if t.kind == "token":
                _check(scene, state, t)


def assert_no_unsourced_digits(states) -> None:
    """A number that is not marked with its source would escape the checks above."""
    for state in states:
        for t in state.texts:
            if t.cls == "FlatText" and t.text and any(c.isdigit() for c in t.text):
                assert t.source is not None or t.kind == "prose", (state.name, t.text)


def assert_inside_frame(states) -> None:
    for state in states:
        for left, bottom, right, top in state.boxes:
            assert left >= -FRAME_W / 2 and right <= FRAME_W / 2, state.name
            assert bottom >= -FRAME_H / 2 and top <= FRAME_H / 2, state.name


def _overlap(a, b, slack=0.004) -> bool:
    return (min(a[2], b[2]) - max(a[0], b[0]) > slack
            and min(a[3], b[3]) - max(a[1], b[1]) > slack)


def assert_no_text_overlaps(states) -> None:
    """Numbers, labels, notes, names, headings and the caption: no two boxes intersect."""
    for state in states:
        boxes = [t for t in state.texts if t.cls in ("FlatText", "MathTex")]
        for k, a in enumerate(boxes):
            for b in boxes[k + 1:]:
                assert not _overlap(a.box, b.box), (state.name, a.text, b.text)


@functools.lru_cache(maxsize=4096)
def _height_at_minimum(text: str) -> float:
    """The height of ``text`` drawn as a number at the minimum font size: flat-topped digits
    ("1.47") stand a little lower than round ones ("0.38"), whose curves overshoot."""
    return number_text(text, MIN_FONT_SIZE, "#000000").height


def assert_readable_at_480p(states) -> None:
    """No text below the minimum font size; every number's digits at least as tall as the same
    digits drawn at the minimum size (and about 9 pixels at 480p)."""
    for state in states:
        for t in state.texts:
            assert t.font_size >= MIN_FONT_SIZE - 1e-6, (state.name, t.text, t.font_size)
            if t.kind == "number" and t.text and t.text[-1].isdigit():
                needed = min(MIN_DIGIT_HEIGHT, _height_at_minimum(t.text) * 0.999)
                assert t.box[3] - t.box[1] >= needed, (state.name, t.text)


def assert_outlines_on_their_cells(states) -> None:
    """Every highlight outline of matrix cells lies on those cells, where its matrix is now
    (not where the matrix was when the outline was made)."""
    for state in states:
        for centre, cells, source, which in state.outlines:
            assert abs(centre[0] - cells[0]) < 1e-3 and abs(centre[1] - cells[1]) < 1e-3, (
                state.name, source, which, centre, cells)


def assert_drawn_true(scene, states) -> None:
    """Every drawn quantity (a line's thickness, a bar's height) shows the trace value it
    claims: its value resolves from its source, and each measure is its factor × the value
    (a factor of None: one common factor per step, source and measure)."""
    for state in states:
        common: dict[tuple[str, str], list[float]] = {}
        for source, index, value, measures in state.drawn:
            truth = resolve(scene.trace, source, index)
            assert abs(truth - value) <= 1e-6, (state.name, source, index, value, truth)
            for measure, (shown_value, factor) in measures.items():
                if factor is not None:
                    assert abs(shown_value - factor * value) <= 1e-6 * max(1.0, factor), (
                        state.name, source, index, measure, shown_value, factor * value)
                elif value > 1e-3:  # tinier ones are drawn at a minimum size
                    common.setdefault((source, measure), []).append(shown_value / value)
        for key, ratios in common.items():
            assert max(ratios) - min(ratios) <= 1e-6 * max(ratios), (state.name, key)


# ---- worked arithmetic: every equation drawn holds for the numbers as printed ---------------

def _dec(text: str) -> Decimal:
    """A printed number, exactly (a leading "≈" is a mark, not part of the number)."""
    return Decimal(text.strip().lstrip("\u2248").strip().replace("\u2212", "-"))


def _places(text: str) -> int:
    body = text.strip()
    return len(body.split(".")[1]) if "." in body else 0


def _rounded(value: Decimal, places: int) -> Decimal:
    """Rounded half away from zero, as by hand; zero has no sign."""
    out = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return out.copy_abs() if out == 0 else out


def equation_problem(kind: str, terms: list, result: str, bound: float | None) -> str | None:
    """``None`` if the equation holds by the rule in README.md ("Worked arithmetic"), else
    what fails."""
    r, places = _dec(result), _places(result)
    if result.strip().startswith("\u2212") and r == 0:
        return f"{result} is a signed zero"
    if kind == "product":
        a, b = map(_dec, terms)
        want = _rounded(a * b, places)
    elif kind == "dot":
        for a, b, p in terms:
            want_p = _rounded(_dec(a) * _dec(b), _places(p))
            if _dec(p) != want_p:
                return f"{a} × {b} = {p}, by hand {want_p}"
        want = _rounded(sum(_dec(p) for *_, p in terms), places)
    elif kind == "sum":
        want = _rounded(sum(_dec(t) for t in terms), places)
    elif kind == "mean":
        want = _rounded(sum(_dec(t) for t in terms) / len(terms), places)
    elif kind == "update":
        w, lr, g, step = terms
        want_step = _rounded(_dec(lr) * _dec(g), _places(step))
        if _dec(step) != want_step:
            return f"{lr} × {g} = {step}, by hand {want_step}"
        want = _rounded(_dec(w) - _dec(step), places)
    elif kind == "approx":
        printed = _dec(terms[0])
        if abs(printed - r) > Decimal(repr(float(bound))):
            return f"{terms[0]} ≈ {result}: further apart than rounding explains ({bound})"
        return None
    else:
        return f"unknown kind {kind}"
    return None if r == want else f"{kind} {terms} = {result}, by hand {want}"


def assert_equations_hold(states) -> None:
    """Each equation drawn checks by hand with its numbers as printed."""
    for state in states:
        for kind, terms, result, bound in state.equations:
            problem = equation_problem(kind, terms, result, bound)
            assert problem is None, (state.name, problem)


# ---- pacing: time to read every caption and to look at every end state ----------------------

def assert_paced(scene) -> None:
    """At the scene's pace (``options.pace``; README, "Pacing"): each caption starts to fade
    in when the step's picture starts to change, is fully shown for at least its length / the
    pace's characters per second before the step ends, and every end state is held still for
    the pace's hold (its dense hold above DENSE_NUMBERS numbers)."""
    from scenes.toolkit.storyboard import DENSE_NUMBERS, PACES

    pace = PACES[scene.options.pace]
    assert len(scene.step_pacing) == len(scene.steps)
    for step, p in zip(scene.steps, scene.step_pacing, strict=True):
        fade_start, shown = p["caption_in"]
        assert abs(fade_start - p["start"]) < 1e-6, (step.name, "caption before the picture")
        assert shown - fade_start <= 2.5, (step.name, "caption slow to appear")
        readable = p["end"] - shown
        assert readable >= len(step.caption) / pace.chars_per_second - 1e-6, (
            step.name, len(step.caption), readable)
        hold = pace.dense_hold if p["numbers"] > DENSE_NUMBERS else pace.hold
        assert p["still"] >= hold - 1e-6, (step.name, p["still"], hold)
