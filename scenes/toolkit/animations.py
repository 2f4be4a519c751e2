"""Verbs: the animations of the attention maths, each played on a scene.

* :func:`play_worked_cell`: one cell of a matrix product in full: row i of A and column j of B
  are highlighted, each pair of entries meets in a row ``a × b = product``, the products are
  summed, and the sum lands in cell (i, j) of C.
* :func:`play_fill`: the remaining cells of a product appear quickly, row by row.
* :func:`play_morph`: the numbers of a matrix turn into other numbers in place (scaling by
  1/√d_k, masking to −∞, exponentiating, dividing).
* :func:`play_softmax`: softmax row by row: exponentiate, sum the row, divide by the sum.

Numbers are never computed here: products, exponentials and sums come from sources that
:mod:`transformer_core.explain` derives from the trace. Animations move small subsets of
mobjects, added last, so that Manim redraws only what moves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from manim import (
    LEFT, RIGHT, AnimationGroup, Create, FadeIn, FadeOut, LaggedStart, Line,
    ReplacementTransform, Scene, VGroup,
)

from transformer_core.explain import format_value, lookup

from .mobjects import ValueMatrix, mono_advance, number_text, plain_text
from .provenance import mark, mark_equation

__all__ = ["WorkedCell", "build_worked_cell", "play_worked_cell", "play_fill", "play_morph",
           "play_softmax", "cross_fade", "relayout", "settle", "swap"]


class WorkedCell(VGroup):
    """The written-out dot product for cell (i, j) of C = A · B: one line ``a × b = p`` per
    term, aligned with the rows of B, then a rule and the sum.

    The arithmetic is done on the numbers as printed (README, "Worked arithmetic"): each
    product is the printed factors multiplied and rounded half away from zero to the same
    decimals, and the sum adds the printed products, so every line checks by hand. The model
    adds unrounded products; where its value (the cell of C) differs in the last place, it is
    written beside the sum ("model ≈ 2.36   sum = 2.37") and is what lands in C.

    When B shows a window of its rows, the terms of the rows left out are one line, "+ 60 more
    terms", where B has its ⋮. Each shown line still checks by hand, but the sum cannot be
    checked from what is printed: it is then the model's own total, written "sum ≈"."""

    def __init__(self, trace, a: ValueMatrix, b: ValueMatrix, c: ValueMatrix, i: int, j: int,
                 products_source: str, font_size: float, right_x: float):
        super().__init__()
        theme = a.theme
        self.i, self.j = i, j
        d = max(a.decimals, b.decimals)
        products_source = f"explain.worked_products({a.source}, {b.source}, {d})"
        sum_source = f"explain.worked_sum({a.source}, {b.source}, {d})"
        products = lookup(trace, products_source)  # [n, m, k]
        terms = b.row_ids
        adv = mono_advance(font_size)
        width = max(len(format_value(float(v), d)) for v in
                    [*a.values[i, terms], *b.values[terms, j], *products[i, j, terms]]) * adv
        op_w = 3.0 * adv
        # x of the right edge of each slot: a, "×", b, "=", product
        x_prod = right_x
        x_eq = x_prod - width - op_w / 2
        x_b = x_eq - op_w / 2
        x_times = x_b - width - op_w / 2
        x_a = x_times - op_w / 2
        self.left_terms, self.right_terms, self.products, self.ops = (VGroup() for _ in range(4))
        self.more = VGroup()
        for t in terms:
            y = b.cell_centre(t, j)[1]
            left = a.number(i, t).copy()
            right = b.number(t, j).copy()
            for mob, x in ((left, x_a), (right, x_b)):
                mob.move_to([x, y, 0], aligned_edge=RIGHT)
            text = format_value(float(products[i, j, t]), d)
            prod = number_text(text, font_size, theme.text)
            prod.move_to([x_prod, y, 0], aligned_edge=RIGHT)
            mark(prod, "number", products_source, (i, j, t), text, d)
            times = plain_text("×", font_size, theme.muted).move_to([x_times, y, 0])
            equals = plain_text("=", font_size, theme.muted).move_to([x_eq, y, 0])
            self.left_terms.add(left)
            self.right_terms.add(right)
            self.products.add(prod)
            self.ops.add(times, equals)
        ys = [b.cell_centre(t, j)[1] for t in terms]
        for slot, count in b.row_gaps:  # the slot after the last row shown before the gap
            before = [k for k, t in enumerate(terms) if b._row_slot[t] < slot]
            y = ys[before[-1]] - b.cell_h if before else ys[0] + b.cell_h
            more = plain_text(f"+ {count} more term{'s' if count > 1 else ''}", font_size,
                              theme.muted)
            more.kind = "prose"
            self.more.add(more.move_to([x_prod, y, 0], aligned_edge=RIGHT))
            ys.append(y)
        bottom = min(ys) - b.cell_h / 2
        self.rule = Line([x_prod - width - 0.05, bottom - 0.04, 0], [x_prod + 0.05, bottom - 0.04, 0],
                         stroke_color=theme.muted, stroke_width=2)
        total = float(lookup(trace, sum_source)[i, j])
        text = format_value(total, d)
        self.total = mark(number_text(text, font_size, theme.text), "number", sum_source,
                          (i, j), text, d)
        self.total.move_to([x_prod, bottom - 0.08 - c.cell_h / 2, 0], aligned_edge=RIGHT)
        self.sigma = plain_text("sum =", font_size, theme.muted)
        self.sigma.next_to(self.total, LEFT, buff=0.15)
        self.add(self.left_terms, self.ops, self.right_terms, self.products, self.more,
                 self.rule, self.sigma, self.total)
        lines = [[self.left_terms[k], self.right_terms[k], self.products[k]]
                 for k in range(len(terms))]
        self.model = c.number(i, j).copy()
        self.approx = None
        if b.row_gaps:
            # terms left out: every shown line holds, the sum is the model's total of them all
            for left, right, prod in lines:
                mark_equation(self, "product", [left, right], prod)
            self.sigma.become(plain_text("sum ≈", font_size, theme.muted)
                              .next_to(self.total, LEFT, buff=0.15))
            self.model.move_to(self.total, aligned_edge=RIGHT)
            self.remove(self.total)
            self.total = self.model
            self.add(self.total)
            self.landing = self.total
            return
        mark_equation(self, "dot", lines, self.total)
        # the model's own value, when the printed arithmetic does not reach it exactly
        if self.model.text != text:
            # on the sum's line, to its left, where the factors' columns leave room
            self.model.next_to(self.sigma, LEFT, buff=0.45)
            sign = plain_text("model ≈", font_size, theme.muted)
            sign.next_to(self.model, LEFT, buff=0.15)
            self.approx = VGroup(sign, self.model)
            self.add(self.approx)
            h = 0.5 * 10.0 ** -d
            bound = sum((abs(a.values[i, t]) + abs(b.values[t, j]) + h) * h + h
                        for t in terms) + h
            mark_equation(self, "approx", [self.total], self.model, bound=float(bound))
        self.landing = self.model if self.approx is not None else self.total


def build_worked_cell(trace, a: ValueMatrix, b: ValueMatrix, c: ValueMatrix, i: int, j: int,
                      products_source: str, font_size: float = 16,
                      gap: float = 0.35) -> WorkedCell:
    """A :class:`WorkedCell` placed left of B's rows (and of B's row labels)."""
    anchor = VGroup(b.brackets, b.row_labels) if len(b.row_labels) else b.brackets
    return WorkedCell(trace, a, b, c, i, j, products_source, font_size,
                      anchor.get_left()[0] - gap)


def play_worked_cell(scene: Scene, a: ValueMatrix, b: ValueMatrix, c: ValueMatrix,
                     work: WorkedCell, speed: float = 1.0) -> VGroup:
    """Play the dot product of row i of A and column j of B into C[i, j]; returns the
    highlights (left on screen with the worked lines)."""
    i, j = work.i, work.j
    highlights = VGroup(a.row_rect(i), b.column_rect(j), c.cell_rect(i, j))
    scene.play(Create(highlights[0]), Create(highlights[1]), run_time=0.6 * speed)
    moves = []
    for k, t in enumerate(b.row_ids):
        moves.append(AnimationGroup(
            ReplacementTransform(a.number(i, t).copy(), work.left_terms[k]),
            ReplacementTransform(b.number(t, j).copy(), work.right_terms[k]),
        ))
    scene.play(LaggedStart(*moves, lag_ratio=0.12), FadeIn(work.ops), FadeIn(work.more),
               run_time=1.4 * speed)
    scene.play(LaggedStart(*(FadeIn(p, shift=0.1 * LEFT) for p in work.products),
                           lag_ratio=0.1), run_time=0.9 * speed)
    # the products gather into the sum and fade as it fades in: digits never morph into
    # other digits (unreadable mid-frames)
    gather = [FadeOut(p.copy(), target_position=work.total.get_center()) for p in work.products]
    scene.play(Create(work.rule), FadeIn(work.sigma), *gather, FadeIn(work.total),
               run_time=0.9 * speed)
    if work.approx is not None:
        scene.play(FadeIn(work.approx), run_time=0.6 * speed)
    # the model's value flies into C keeping its shape (a moved number is not morphed)
    scene.play(Create(highlights[2]), FadeIn(c.fill(i, j)),
               ReplacementTransform(work.landing.copy(), c.number(i, j)), run_time=0.7 * speed)
    return highlights


def play_fill(scene: Scene, c: ValueMatrix, done: Iterable[tuple[int, int]] = (),
              run_time: float = 1.4) -> None:
    """Fade in every cell of C not in ``done``, one row after another."""
    done = set(done)
    rows = []
    for i in c.row_ids:
        group = VGroup()
        for j in c.col_ids:
            if (i, j) not in done:
                group.add(c.fill(i, j))
                if len(c.numbers):
                    group.add(c.number(i, j))
        if len(group):
            rows.append(FadeIn(group))
    if rows:
        scene.play(LaggedStart(*rows, lag_ratio=0.3), run_time=run_time)


def play_morph(scene: Scene, old: ValueMatrix, new: ValueMatrix,
               cells: Sequence[tuple[int, int]] | None = None, run_time: float = 1.0,
               lag_ratio: float = 0.0, extra: Sequence = ()) -> None:
    """Turn the numbers and fills of ``old`` (on screen) into those of ``new`` (same cell
    geometry, not yet on screen). With all cells, ``new`` then stands in for ``old``."""
    if cells is None:
        cells = old.all_cells()
    anims = []
    for i, j in cells:
        parts = [ReplacementTransform(old.fill(i, j), new.fill(i, j))]
        if len(old.numbers) and len(new.numbers):
            parts.extend(cross_fade(old.number(i, j), new.number(i, j)))
        anims.append(AnimationGroup(*parts))
    scene.play(LaggedStart(*anims, lag_ratio=lag_ratio), *extra, run_time=run_time)


def play_softmax(scene: Scene, m: ValueMatrix, e: ValueMatrix, p: ValueMatrix,
                 e_sums: ValueMatrix, p_sums: ValueMatrix, slow_rows: int = 1) -> None:
    """Softmax of each row of M (on screen): M's numbers become E = exp(x − row max), E's row
    sum appears, E's numbers become P = E / sum, and P's row sum (1.00) appears. The first
    ``slow_rows`` rows are played slowly, the rest briskly. At the end P stands in for M."""
    for k, i in enumerate(m.row_ids):
        slow = k < slow_rows
        rect = m.row_rect(i)
        row_cells = [(i, j) for j in m.col_ids]
        scene.play(Create(rect), run_time=0.4 if slow else 0.2)
        play_morph(scene, m, e, row_cells, run_time=0.9 if slow else 0.35)
        scene.play(*(FadeOut(e.number(i, j).copy(), target_position=e_sums.number(i, 0).get_center())
                     for j in e.col_ids), FadeIn(e_sums.number(i, 0)),
                   FadeIn(e_sums.fill(i, 0)), run_time=0.8 if slow else 0.3)
        scene.play(*(ReplacementTransform(e.fill(i, j), p.fill(i, j)) for j in e.col_ids),
                   *(a for j in e.col_ids for a in cross_fade(e.number(i, j), p.number(i, j))),
                   FadeIn(p_sums.cells(rows=[i])), FadeOut(rect),
                   run_time=0.9 if slow else 0.35)


def cross_fade(old, new) -> list:
    """A number that changes value in place: the old one fades out as the new one fades in
    (a glyph-by-glyph morph would show unreadable mixtures of the two)."""
    return [FadeOut(old), FadeIn(new)]


def relayout(old: ValueMatrix, new: ValueMatrix) -> list:
    """Animations that carry a matrix on screen to a new layout of the same values: each part
    (fills, numbers, brackets, labels, name) moves to its new place; parts only one of the two
    has fade out or in."""
    anims = []
    for part in ("fills", "numbers", "ellipses", "brackets", "row_labels", "col_labels", "name",
                 "shape_label"):
        a, b = getattr(old, part), getattr(new, part)
        na = 0 if a is None else len(a.submobjects) or 1
        nb = 0 if b is None else len(b.submobjects) or 1
        if na and nb and na == nb:
            anims.append(ReplacementTransform(a, b))
            continue
        if na:
            anims.append(FadeOut(a))
        if nb:
            anims.append(FadeIn(b))
    return anims


def settle(scene: Scene, *mobs) -> None:
    """After piecewise animations, put each group back on screen as one mobject (its parts
    may have been added one by one, or have replaced the parts of an older group)."""
    for mob in mobs:
        scene.remove(*mob.get_family())
        scene.add(mob)


def swap(scene: Scene, old, new) -> None:
    """``new`` (drawn exactly where ``old`` is) replaces ``old`` on screen. ``old`` may have
    been broken up by Manim (adding an animation's group to the scene dissolves the groups its
    members belonged to), so every member of its family is removed, not just ``old``."""
    scene.remove(*old.get_family())
    settle(scene, new)
