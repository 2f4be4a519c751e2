"""Nouns: value-true matrices, token rows and attention heat-maps.

Every number is text in a monospace font with fixed decimals (laid out by Pango, drawn as one
path: :class:`scenes.toolkit.text.FlatText`), marked with the trace source and index it shows
(:func:`scenes.toolkit.provenance.mark`); every token label is marked with its position. User text
(tokens) only ever reaches Pango as a plain string: never LaTeX, never markup. LaTeX
(``MathTex``) is used for fixed formulas only.

Cells are coloured by value (see :mod:`scenes.toolkit.theme`): diverging blue/orange around zero, or
sequential for attention weights in [0, 1].
"""

from __future__ import annotations

import copy
import enum
import functools
import math
import weakref
from collections.abc import Sequence

import numpy as np
from manim import (
    DOWN, LEFT, ORIGIN, PI, RIGHT, UP, MathTex, Mobject, Rectangle, RoundedRectangle, VGroup,
    VMobject,
)

from transformer_core.explain import format_value, lookup

from .provenance import mark
from .style import MIN_FONT_SIZE
from .text import (
    DIGIT_HEIGHT, FONT, MONO, FlatText, label_text, mono_advance, number_text, plain_text,
)
from ..engine.textcache import persistent_formula
from .theme import Theme

__all__ = [
    "FlatText", "plain_text", "number_text", "formula", "mono_advance", "cell_width_for",
    "cell_height_for", "filled_cell", "rounded_box", "ValueMatrix", "TokenRow", "attention_heatmap", "fit_into",
    "window",
]

_SHARED = (type(None), bool, int, float, str, bytes, complex)  # what copy.deepcopy returns as is


@functools.cache
@persistent_formula
def _formula(tex: tuple[str, ...], font_size: float) -> MathTex:
    return MathTex(*tex, font_size=font_size)


def formula(*tex: str, font_size: float = 36, color: str | None = None) -> MathTex:
    """A fixed LaTeX formula (compiled and built once, kept in the user's cache, then copied)."""
    mob = _formula(tuple(tex), font_size).copy()
    if color is not None:
        mob.set_color(color)
    return mob


@functools.lru_cache(maxsize=64)
def _cell_template(width: float, height: float) -> tuple[Rectangle, np.ndarray]:
    """A borderless Rectangle of this size, made by Manim once (never shown, only read), and
    its centre as ``move_to`` finds it."""
    template = Rectangle(width=width, height=height, stroke_width=0)
    return template, template.get_critical_point(ORIGIN)


def filled_cell(width: float, height: float, color, opacity: float,
                centre: np.ndarray) -> Rectangle:
    """``Rectangle(width=width, height=height, stroke_width=0, fill_color=color,
    fill_opacity=opacity).move_to(centre)``, the same object to the last bit, in a fraction of
    the time: a matrix has hundreds of cells, and Manim's constructor (styles set and reset
    several times over) was a tenth of an SVG export.

    Every attribute comes from a template of the same size that Manim made (numbers, strings
    and enum members as they are, everything else deep-copied as ``copy.deepcopy`` would),
    except the three the arguments decide: the fill, computed by Manim's own
    ``generate_rgbas_array``; its opacity; and the points, moved as ``move_to`` moves them (the
    template's centre subtracted from ``centre``, the difference added to every point)."""
    template, template_centre = _cell_template(width, height)
    cell = _twin_of(template)
    cell.fill_rgbas = template.generate_rgbas_array(color, opacity)
    cell.fill_opacity = opacity
    cell.points = template.points + (centre - template_centre)
    return cell


@functools.lru_cache(maxsize=256)
def _rounded_template(arguments: tuple) -> RoundedRectangle:
    """A RoundedRectangle made by Manim once with these keyword arguments (never shown, only
    read); ``arguments``: (name, type, exact value, value) of each, see :func:`_exactly`."""
    return RoundedRectangle(**{name: value for name, _, _, value in arguments})


_KEPT = (str, int, bool, float, np.float64, type(None))  # arguments told apart by type and bits


def _exactly(name: str, value):
    """A key for one argument that tells it apart from every argument a constructor could
    treat differently (type and bits: 0.0 from -0.0, 1 from 1.0 and ``True``); ``None`` for
    any other kind of value (a colour object, a list...), and for NaN and the infinities."""
    kind = type(value)
    if kind not in _KEPT:
        return None
    if kind is float or kind is np.float64:
        if not math.isfinite(value):
            return None
        return (name, kind, float.hex(float(value)), value)
    return (name, kind, value, value)


def rounded_box(*, width: float, height: float, corner_radius: float,
                **style) -> RoundedRectangle:
    """``RoundedRectangle(width=width, height=height, corner_radius=corner_radius, **style)``,
    the same object to the last bit: rounding its corners makes an arc and a line per corner
    (mobjects, styles and all), a twentieth of an SVG export, and the same boxes come back
    again and again (a token's, a parameter's).

    The first box made with these arguments (the same types and bits) is made by Manim and
    kept as a template; every box is a twin of it (see :func:`_twin`): Manim's constructor
    reads nothing but its arguments, so it would make the same points, colours and everything
    else again. Any other kind of argument (not a string, number or ``None``) takes the
    constructor."""
    arguments = dict(style, width=width, height=height, corner_radius=corner_radius)
    keys = [_exactly(name, value) for name, value in sorted(arguments.items())]
    if any(key is None for key in keys):
        return RoundedRectangle(**arguments)
    return _twin_of(_rounded_template(tuple(keys)))


def _twin(value, memo: dict):
    """``value`` as Manim's constructor left it, for a new owner: numbers, strings and enum
    members shared (as ``copy.deepcopy`` shares them), mobjects and lists made anew with twins
    of their contents (a mobject without the ``original_id`` a ``copy()`` would add), anything
    else deep-copied; ``memo`` keeps what was shared shared."""
    if type(value) in _SHARED or isinstance(value, enum.Enum):
        return value
    if id(value) in memo:
        return memo[id(value)]
    if isinstance(value, Mobject):
        twin = memo[id(value)] = type(value).__new__(type(value))
        twin.__dict__.update((k, _twin(v, memo)) for k, v in value.__dict__.items())
        return twin
    if type(value) is list:
        twin = memo[id(value)] = []
        twin.extend(_twin(v, memo) for v in value)
        return twin
    return copy.deepcopy(value, memo)


def _twin_of(template: Mobject) -> Mobject:
    """``_twin(template, {})``, the fast way when ``template`` has a plan (:func:`twin_state`)."""
    state = twin_state(template)
    if state is None:
        return _twin(template, {})
    twin = type(template).__new__(type(template))
    twin.__dict__.update(state)
    return twin


def twin_state(template: Mobject) -> dict | None:
    """What :func:`_twin` makes of each value of ``template``'s ``__dict__`` (a new mobject's
    state, in the same order), made the fast way, or None when ``template`` has no plan.

    Cells, boxes and texts are twins of a few templates, hundreds of times per scene. A
    template whose values are numbers, strings, enum members, arrays, colours, empty lists and
    mobjects of the same kinds, none of them met twice (not even the template itself), has a
    plan: its shared values in one dict copied whole, the rest made anew key by key, as
    :func:`_twin` makes them (arrays by their own ``__deepcopy__``, which ``copy.deepcopy``
    calls; colours by ``copy.deepcopy``; empty lists new; mobjects by their own plans). With
    nothing met twice, the memo :func:`_twin` keeps has nothing to share. Templates are only
    read, never changed, so a plan made once holds."""
    entry = _plans.get(id(template))
    if entry is None or entry[0] is not template:
        entry = _plans[id(template)] = (template, _plan(template, set()))
    return None if entry[1] is None else _state_from(entry[1], template)


_plans: dict[int, tuple] = {}  # id(template) -> (template, its plan or None)
_ARRAY, _COLOUR, _EMPTY_LIST, _MOBJECT = range(4)


def _plan(mob: Mobject, seen: set[int]) -> tuple | None:
    """(shared values with a place for the others, [(key, how, plan of a mobject)]), or None."""
    from manim import ManimColor

    if id(mob) in seen:
        return None
    seen.add(id(mob))
    shared: dict = {}
    rest: list[tuple] = []
    for key, value in mob.__dict__.items():
        kind = type(value)
        if kind in _SHARED or isinstance(value, enum.Enum):
            shared[key] = value
            continue
        if id(value) in seen:
            return None
        if not isinstance(value, Mobject):
            seen.add(id(value))  # (a mobject's own plan adds it)
        shared[key] = None  # keeps the key's place in the order
        if kind is np.ndarray and value.dtype != object:
            rest.append((key, _ARRAY, None))
        elif kind is ManimColor:
            rest.append((key, _COLOUR, None))
        elif kind is list and not value:
            rest.append((key, _EMPTY_LIST, None))
        elif isinstance(value, Mobject):
            inner = _plan(value, seen)
            if inner is None:
                return None
            rest.append((key, _MOBJECT, inner))
        else:
            return None
    return shared, rest


def _state_from(plan: tuple, mob: Mobject) -> dict:
    shared, rest = plan
    state = dict(shared)
    values = mob.__dict__
    for key, how, inner in rest:
        value = values[key]
        if how == _ARRAY:
            state[key] = value.__deepcopy__({})
        elif how == _COLOUR:
            state[key] = copy.deepcopy(value)
        elif how == _EMPTY_LIST:
            state[key] = []
        else:
            twin = type(value).__new__(type(value))
            twin.__dict__.update(_state_from(inner, value))
            state[key] = twin
    return state


def cell_width_for(values: np.ndarray, decimals: int, font_size: float, pad: float = 0.2) -> float:
    """The cell width that fits the widest formatted entry of ``values``."""
    widest = max(len(format_value(float(v), decimals)) for v in np.ravel(values))
    return widest * mono_advance(font_size) + pad


def cell_height_for(font_size: float) -> float:
    return font_size * DIGIT_HEIGHT * 2.3


def window(n: int, budget: int | None, keep: Sequence[int] = ()) -> list[int]:
    """The indices of an axis of ``n`` entries shown in ``budget`` slots: all of them when they
    fit; else the first and the last ones, with every index of ``keep`` (the worked row) among
    them, and one slot (a ⋮ or ⋯) for each run left out. Sorted."""
    if budget is None or n <= budget:
        return list(range(n))
    keep = {int(k) for k in keep if 0 <= k < n}
    for side in range(budget, -1, -1):
        shown = sorted(set(range((side + 1) // 2)) | set(range(n - side // 2, n)) | keep)
        gaps = sum(1 for a, b in zip(shown, shown[1:], strict=False) if b - a > 1) + (shown[0] > 0) + (
            shown[-1] < n - 1)
        if len(shown) + gaps <= budget:
            return shown
    raise ValueError(f"{budget} slots cannot show the {len(keep)} entries kept")


def _slots(shown: list[int], n: int) -> tuple[dict[int, int], list[tuple[int, int]], int]:
    """({index: slot}, [(slot of a gap, how many indices it stands for)], number of slots)."""
    where, gaps, slot, previous = {}, [], 0, -1
    for index in [*shown, n]:
        if index - previous > 1:
            gaps.append((slot, index - previous - 1))
            slot += 1
        if index < n:
            where[index] = slot
            slot += 1
        previous = index
    return where, gaps, slot


def _labels_for(trace, source: str | None, count: int,
                shown: Sequence[int]) -> list[tuple[str, tuple]]:
    """(text, index) of each shown row or column label named by ``source``."""
    if source is None:
        return []
    if source == "dim":
        return [(str(k), (k,)) for k in shown]
    names = lookup(trace, source)
    if len(names) != count:
        raise ValueError(f"{source} has {len(names)} labels for {count} rows or columns")
    return [(str(names[k]), (k,)) for k in shown]


class ValueMatrix(VGroup):
    """A matrix of trace values: coloured cells, numbers, brackets, row and column labels.

    ``source`` names a 2-D array (see :mod:`transformer_core.explain`), e.g.
    ``"encoder.blocks.0.attn.q[0]"``; the number in cell (i, j) is marked with that source and
    index (i, j). ``row_labels``/``col_labels`` name label sources: ``"tokens"``,
    ``"target_tokens"`` or ``"dim"`` (dimension numbers). Cell colour: diverging by value, or
    sequential (attention weights) when ``sequential``.
    """

    def __init__(
        self,
        trace,
        source: str,
        theme: Theme,
        *,
        decimals: int = 2,
        font_size: float = 16,
        cell_w: float | None = None,
        cell_h: float | None = None,
        row_labels: str | None = None,
        col_labels: str | None = None,
        label_font_size: float | None = None,
        rotate_col_labels: bool | None = None,
        sequential: bool = False,
        vmax: float | None = None,
        show_numbers: bool = True,
        colored: bool = True,
        name: str | None = None,
        name_color: str | None = None,
        name_side: np.ndarray = LEFT,
        rows: Sequence[int] | None = None,
        cols: Sequence[int] | None = None,
        max_rows: int | None = None,
        max_cols: int | None = None,
        keep_rows: Sequence[int] = (),
        keep_cols: Sequence[int] = (),
    ):
        super().__init__()
        values = np.asarray(lookup(trace, source), dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"{source} is not a matrix: shape {values.shape}")
        self.source, self.theme = source, theme  # (no trace: mobjects get deep-copied)
        self.values = values
        self.n_rows, self.n_cols = values.shape
        # the window: which rows and columns are drawn (true indices), and the slot of each
        self.row_ids = (sorted(int(i) for i in rows) if rows is not None
                        else window(self.n_rows, max_rows, keep_rows))
        self.col_ids = (sorted(int(j) for j in cols) if cols is not None
                        else window(self.n_cols, max_cols, keep_cols))
        self._row_slot, self.row_gaps, self.n_row_slots = _slots(self.row_ids, self.n_rows)
        self._col_slot, self.col_gaps, self.n_col_slots = _slots(self.col_ids, self.n_cols)
        self.windowed = bool(self.row_gaps or self.col_gaps)
        self._at = {(i, j): k for k, (i, j) in enumerate(
            (i, j) for i in self.row_ids for j in self.col_ids)}
        self.decimals, self.font_size = decimals, font_size
        self.show_numbers = show_numbers
        self.sequential, self.colored = sequential, colored
        finite = np.abs(values[np.isfinite(values)])
        self.vmax = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
        drawn = values[np.ix_(self.row_ids, self.col_ids)]
        self.cell_w = cell_w or cell_width_for(drawn, decimals, font_size)
        self.cell_h = cell_h or cell_height_for(font_size)
        label_font_size = label_font_size or max(MIN_FONT_SIZE, font_size)

        self.fills = VGroup()
        self.numbers = VGroup()
        for i in self.row_ids:
            for j in self.col_ids:
                centre = self._cell_centre(i, j)
                self.fills.add(self._fill(values[i, j], centre))
                if show_numbers:
                    self.numbers.add(self._number(i, j, centre))
        self.brackets = self._brackets(theme.text)
        # labels sit on the baseline of the numbers in their row (or just above the columns)
        baseline = self.font_size * DIGIT_HEIGHT / 2
        self.row_labels = VGroup()
        left = self.brackets[0].get_left()[0] - 0.14
        for text, index in _labels_for(trace, row_labels, self.n_rows, self.row_ids):
            label = label_text(text, label_font_size, theme.muted,
                               font=MONO if row_labels == "dim" else FONT)
            label.shift([left - label.get_right()[0],
                         self._cell_centre(index[0], 0)[1] - baseline, 0])
            self.row_labels.add(self._mark_label(label, row_labels, index, text))
        self.col_labels = VGroup()
        col = _labels_for(trace, col_labels, self.n_cols, self.col_ids)
        if col:
            size = label_font_size
            font = MONO if col_labels == "dim" else FONT
            mobs = [label_text(t, size, theme.muted, font=font) for t, _ in col]
            widest = max(m.width for m in mobs)
            rotate = widest > self.cell_w - 0.06 if rotate_col_labels is None else rotate_col_labels
            top = self.brackets.get_top()[1] + 0.1
            for mob, (text, index) in zip(mobs, col, strict=True):
                x = self._cell_centre(0, index[0])[0]
                if rotate:  # reads upwards, its baseline on the column's right
                    mob.rotate(PI / 2, about_point=np.zeros(3))
                    mob.shift([x + size * DIGIT_HEIGHT / 2, top, 0])
                else:
                    mob.shift([x - mob.get_x(), top + 0.3 * size * DIGIT_HEIGHT, 0])
                self.col_labels.add(self._mark_label(mob, col_labels, index, text))
        self.ellipses = self._ellipses(theme.muted) if show_numbers else VGroup()
        self.add(self.fills, self.brackets, self.numbers, self.ellipses, self.row_labels,
                 self.col_labels)
        # a window says the matrix's true shape beside it ("7 × 576"): in the row labels'
        # column where the rows left out are, else under the name, else under the matrix
        self.shape_label = None
        if self.windowed:
            text = f"{self.n_rows} × {self.n_cols}"
            shape = mark(label_text(text, MIN_FONT_SIZE + 1, theme.muted), "shape", source, (),
                         text)
            if self.row_gaps and len(self.row_labels):
                y = self._slot_centre(self.row_gaps[0][0], 0)[1] - baseline
                shape.shift([left - shape.get_right()[0], y, 0])
            self.shape_label = shape
            self.add(shape)
        self.name = None
        if name is not None:
            self.name = formula(name, font_size=34, color=name_color or theme.text)
            anchor = VGroup(self.brackets, self.row_labels) if name_side is LEFT else self.brackets
            if name_side is LEFT and self.shape_label is not None and len(self.row_labels):
                anchor = VGroup(anchor, self.shape_label)
            if name_side is UP and len(self.col_labels):
                anchor = VGroup(self.brackets, self.col_labels)
            self.name.next_to(anchor, name_side, buff=0.2)
            self.add(self.name)
        if self.shape_label is not None and not (self.row_gaps and len(self.row_labels)):
            if self.name is not None and name_side is not UP:
                self.shape_label.next_to(self.name, DOWN, buff=0.12)
            else:
                self.shape_label.next_to(self.brackets, DOWN, buff=0.1).align_to(
                    self.brackets, RIGHT)

    def shape_below(self) -> ValueMatrix:
        """Put the true shape under the matrix's right corner (after its row labels left)."""
        if self.shape_label is not None:
            self.shape_label.next_to(self.brackets, DOWN, buff=0.1).align_to(self.brackets,
                                                                             RIGHT)
        return self

    # ---- construction ---------------------------------------------------------------------

    def _cell_centre(self, i: int, j: int) -> np.ndarray:
        return self._slot_centre(self._row_slot[i], self._col_slot[j])

    def _slot_centre(self, r: int, c: int) -> np.ndarray:
        return np.array([(c - (self.n_col_slots - 1) / 2) * self.cell_w,
                         ((self.n_row_slots - 1) / 2 - r) * self.cell_h, 0.0])

    def _ellipses(self, color: str) -> VGroup:
        """⋮ in a left-out run of rows (under each drawn column), ⋯ in a left-out run of
        columns, ⋱ where both meet."""
        dots = VGroup()
        row_gaps = [r for r, _ in self.row_gaps]
        col_gaps = [c for c, _ in self.col_gaps]
        col_slots = sorted([*self._col_slot.values(), *col_gaps])
        row_slots = sorted([*self._row_slot.values(), *row_gaps])
        size = self.font_size * 1.1
        for r in row_gaps:
            for c in col_slots:
                glyph = "⋱" if c in col_gaps else "⋮"
                dots.add(plain_text(glyph, size, color).move_to(self._slot_centre(r, c)))
        for c in col_gaps:
            for r in row_slots:
                if r not in row_gaps:
                    dots.add(plain_text("⋯", size, color).move_to(self._slot_centre(r, c)))
        for dot in dots:
            dot.kind = "prose"
        return dots

    def _fill(self, value: float, centre: np.ndarray) -> Rectangle:
        color, opacity = self.theme.value_fill(float(value), self.vmax, self.sequential,
                                               bare=not self.show_numbers)
        opacity = opacity if self.colored else 0.0
        return filled_cell(self.cell_w - 0.04, self.cell_h - 0.04, color, opacity, centre)

    def _number(self, i: int, j: int, centre: np.ndarray) -> FlatText:
        value = float(self.values[i, j])
        text = format_value(value, self.decimals)
        color = self.theme.text if np.isfinite(value) else self.theme.muted
        # −∞ is drawn larger: its glyphs are much smaller than digits
        mob = number_text(text, self.font_size * (1.0 if np.isfinite(value) else 1.3), color)
        mob.move_to(centre)
        mob.align_to(centre + RIGHT * (self.cell_w / 2 - 0.09), RIGHT)
        return mark(mob, "number", self.source, (i, j), text, self.decimals)

    def _brackets(self, color: str) -> VGroup:
        w = self.n_col_slots * self.cell_w / 2 + 0.05
        h = self.n_row_slots * self.cell_h / 2 + 0.02
        tick = 0.12
        left = VMobject(stroke_color=color, stroke_width=2).set_points_as_corners(
            [[-w + tick, h, 0], [-w, h, 0], [-w, -h, 0], [-w + tick, -h, 0]])
        right = VMobject(stroke_color=color, stroke_width=2).set_points_as_corners(
            [[w - tick, h, 0], [w, h, 0], [w, -h, 0], [w - tick, -h, 0]])
        return VGroup(left, right)

    @staticmethod
    def _mark_label(mob: FlatText, source: str, index: tuple, text: str) -> FlatText:
        if source == "dim":
            return mark(mob, "dim", "dim", index, text, 0)
        return mark(mob, "token", source, index, text)

    # ---- access ---------------------------------------------------------------------------

    def number(self, i: int, j: int) -> FlatText:
        """The number of cell (i, j) (true indices; the cell must be in the window)."""
        return self.numbers[self._at[i, j]]

    def fill(self, i: int, j: int) -> Rectangle:
        return self.fills[self._at[i, j]]

    def shows(self, i: int, j: int) -> bool:
        return (i, j) in self._at

    def row_label(self, i: int):
        """The label of row ``i`` (true index, in the window)."""
        return self.row_labels[self.row_ids.index(i)]

    def col_label(self, j: int):
        return self.col_labels[self.col_ids.index(j)]

    def all_cells(self) -> list[tuple[int, int]]:
        """(i, j) of every drawn cell, row by row."""
        return list(self._at)

    def cell_centre(self, i: int, j: int) -> np.ndarray:
        return self.fill(i, j).get_center()

    def cells(self, rows: Sequence[int] | None = None, cols: Sequence[int] | None = None) -> VGroup:
        """Fills and numbers of the given rows and columns (all drawn ones by default)."""
        rows = self.row_ids if rows is None else rows
        cols = self.col_ids if cols is None else cols
        group = VGroup()
        for i in rows:
            for j in cols:
                group.add(self.fill(i, j))
                if len(self.numbers):
                    group.add(self.number(i, j))
        return group

    def row(self, i: int) -> VGroup:
        return self.cells(rows=[i])

    def column(self, j: int) -> VGroup:
        return self.cells(cols=[j])

    def row_rect(self, i: int) -> Rectangle:
        """An outline around row ``i``'s cells (for highlighting)."""
        return self.outline((i, self.col_ids[0]), (i, self.col_ids[-1]))

    def column_rect(self, j: int) -> Rectangle:
        return self.outline((self.row_ids[0], j), (self.row_ids[-1], j))

    def cell_rect(self, i: int, j: int) -> Rectangle:
        return self.outline((i, j), (i, j))

    def outline(self, first: tuple[int, int], last: tuple[int, int]) -> Rectangle:
        """An outline around the cells from ``first`` to ``last`` (row, column), where they are
        now. It remembers what it outlines (``outlines``: this matrix, weakly, and the two
        cells), so the tests can check that it still lies on them when it is shown."""
        a, b = self.cell_centre(*first), self.cell_centre(*last)
        rect = Rectangle(width=abs(b[0] - a[0]) + self.cell_w,
                         height=abs(b[1] - a[1]) + self.cell_h,
                         stroke_color=self.theme.highlight, stroke_width=3, fill_opacity=0)
        rect.outlines = (weakref.ref(self), tuple(first), tuple(last))
        return rect.move_to((a + b) / 2)

    def body(self) -> VGroup:
        return VGroup(self.fills, self.brackets, self.numbers, self.ellipses)

    def move_cells_onto(self, other: ValueMatrix) -> ValueMatrix:
        """Shift so that this matrix's cells lie exactly on ``other``'s (same cell size)."""
        i, j = other.row_ids[0], other.col_ids[0]
        self.shift(other.cell_centre(i, j) - self.cell_centre(i, j))
        return self


class TokenRow(VGroup):
    """The tokens of a sentence, each in a rounded box, left to right on one baseline."""

    def __init__(self, trace, source: str, theme: Theme, font_size: float = 28,
                 buff: float = 0.22):
        super().__init__()
        self.tokens = VGroup()
        self.boxes = VGroup()
        cap = font_size * DIGIT_HEIGHT
        x = 0.0
        for index, token in enumerate(lookup(trace, source)):
            label = mark(label_text(str(token), font_size, theme.text), "token", source,
                         (index,), str(token))
            label.shift([x + 0.15, 0, 0])
            box = rounded_box(corner_radius=0.08, width=label.width + 0.3,
                              height=cap * 2.4, stroke_color=theme.muted, stroke_width=1.5)
            box.move_to([label.get_x(), cap / 2 - 0.02 * cap, 0])
            x += label.width + 0.3 + buff
            self.tokens.add(label)
            self.boxes.add(box)
            self.add(VGroup(box, label))


def attention_heatmap(trace, source: str, theme: Theme, tokens: str, **kwargs) -> ValueMatrix:
    """Attention weights (rows: queries, columns: keys) on a sequential palette from 0 to 1,
    with token labels on both axes."""
    kwargs.setdefault("sequential", True)
    kwargs.setdefault("vmax", 1.0)
    return ValueMatrix(trace, source, theme, row_labels=tokens, col_labels=tokens, **kwargs)


def fit_into(mob: Mobject, left: float, right: float, bottom: float, top: float) -> Mobject:
    """Centre ``mob`` in the box, shrinking it only if it does not fit."""
    factor = min(1.0, (right - left) / mob.width, (top - bottom) / mob.height)
    if factor < 1.0:
        mob.scale(factor)
    mob.move_to([(left + right) / 2, (bottom + top) / 2, 0])
    return mob
