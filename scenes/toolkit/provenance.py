"""Provenance: every number and token label on screen says which trace value it shows.

:func:`mark` records on a mobject the source name and index that
:func:`transformer_core.explain.resolve` turns back into the value, and the text drawn; the tests
and ``verify`` walk the screen with :func:`iter_sourced` and compare.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from manim import Mobject

__all__ = ["mark", "iter_sourced", "mark_drawn", "DRAWN_MEASURES", "mark_equation", "EQUATION_KINDS"]


def mark(mob: Mobject, kind: str, source_name: str, source_index: tuple, text: str,
         decimals: int | None = None) -> Mobject:
    """Record what ``mob`` shows: ``kind`` is "number" or "token"; ``text`` is the string it
    displays; ``source_name``/``source_index`` resolve to the value through
    :func:`transformer_core.explain.resolve`."""
    mob.kind = kind
    mob.source_name = source_name
    mob.source_index = tuple(int(i) for i in source_index)
    mob.display_text = text
    mob.decimals = decimals
    return mob


def iter_sourced(mobjects: Iterable[Mobject]) -> Iterator[tuple[Mobject, str, str, tuple]]:
    """Every marked mobject among ``mobjects`` and their families, once each, as
    ``(mobject, text, source_name, source_index)``."""
    seen: set[int] = set()
    for top in mobjects:
        for mob in top.get_family():
            if id(mob) in seen or getattr(mob, "source_name", None) is None:
                continue
            seen.add(id(mob))
            yield mob, mob.display_text, mob.source_name, mob.source_index


# How a drawn quantity is measured on its mobject.
DRAWN_MEASURES = {
    "stroke_width": lambda m: float(m.get_stroke_width()),
    "stroke_opacity": lambda m: float(m.get_stroke_opacity()),
    "fill_opacity": lambda m: float(m.get_fill_opacity()),
    "height": lambda m: float(m.height),
    "width": lambda m: float(m.width),
}


def mark_drawn(mob: Mobject, source_name: str, source_index: tuple, value: float,
               **measures: float | None) -> Mobject:
    """Record that a visual property of ``mob`` shows a trace value (a line's thickness, a
    bar's height): each measure of :data:`DRAWN_MEASURES` named in ``measures`` equals its
    factor × the value, or, for a factor of None, the same unknown factor for every mark of
    the same source and measure on screen (a height, which fitting the frame scales)."""
    mob.drawn_source = source_name
    mob.drawn_index = tuple(int(i) for i in source_index)
    mob.drawn_value = float(value)
    mob.drawn_measures = dict(measures)
    return mob


# The equations a scene writes out, and what "holds" means for each (tests/scene_checks.py
# checks them on the numbers as printed; the rule is in README.md, "Worked arithmetic"):
#   "product"  terms [a, b], result c:        c = a × b rounded half away from zero
#   "dot"      terms [[a, b, p], ...], result s: each p = a × b so rounded, s = Σ p exactly
#   "sum"      terms [t, ...], result s:     s = Σ t (rounded to s's decimals)
#   "mean"     terms [t, ...], result m:     m = Σ t / n rounded
#   "update"   terms [w, lr, g, step], result w':   step = lr × g rounded, w' = w − step
#   "approx"   terms [printed result], result: the model's value, written after "≈": it may
#              differ from the printed result by no more than the rounding of what was printed
EQUATION_KINDS = ("product", "dot", "sum", "mean", "update", "approx")


def mark_equation(holder: Mobject, kind: str, terms: list, result: Mobject,
                  bound: float | None = None) -> Mobject:
    """Record on ``holder`` (any mobject drawn with the equation) that its printed numbers
    form an equation of ``kind`` (see :data:`EQUATION_KINDS`); ``terms`` and ``result`` are the
    number mobjects as drawn. ``bound`` (for "approx") is how far rounding can take the printed
    result from the model's. A holder may carry several equations."""
    assert kind in EQUATION_KINDS, kind
    if "equations" not in holder.__dict__:
        holder.equations = []
    holder.equations.append((kind, terms, result, bound))
    return holder
