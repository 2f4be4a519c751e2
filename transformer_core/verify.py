"""Check what a scene shows against the model: every number and label, then the model itself.

The scene side (building each step's end state and collecting what it marked) lives in
``scenes``; this module only compares. ``python cli.py verify`` and the scene tests share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .explain import format_value, lookup, matches, resolve

__all__ = ["PYTORCH_TOLERANCE", "Mismatch", "Shown", "Verdict", "check_shown", "first_mismatch"]

# Relative to a tensor's largest entry where that is above 1; float32 sums in another order
# differ by about 1e-7.
PYTORCH_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Shown:
    """One marked number or label as it was on screen at the end of a step."""

    step: str
    kind: str  # "number", "dim", "token" or "shape"
    text: str
    source: str
    index: tuple
    decimals: int | None = None


@dataclass(frozen=True)
class Mismatch:
    """A number or label on screen that is not what the model computed."""

    shown: Shown
    expected: object  # the model's value (a float, or a token string)
    problem: str = ""  # set when the value could not even be looked up

    def __str__(self) -> str:
        s = self.shown
        where = f"{s.source}[{', '.join(map(str, s.index))}]" if s.index else s.source
        if self.problem:
            return f"step {s.step!r}: {s.text!r} claims {where}, which {self.problem}"
        value = self.expected
        if isinstance(value, float):
            value = format_value(value, (s.decimals if s.decimals is not None else 2) + 4)
        return f"step {s.step!r}: shows {s.text} for {where}, but the model computed {value}"


@dataclass(frozen=True)
class Verdict:
    """How many numbers and labels were checked, and the first that was wrong."""

    numbers: int
    labels: int
    steps: int
    mismatch: Mismatch | None


def first_mismatch(trace, item: Shown) -> Mismatch | None:
    """``None`` if ``item`` shows the trace's value, else what is wrong with it. A "shape" item
    is a window's true shape written beside it ("7 × 576")."""
    if item.kind == "shape":
        try:
            shape = " × ".join(str(n) for n in lookup(trace, item.source).shape)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            return Mismatch(item, None,
                            f"does not exist in the model's trace ({type(exc).__name__})")
        return None if item.text == shape else Mismatch(item, shape)
    try:
        value = resolve(trace, item.source, item.index)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        return Mismatch(item, None, f"does not exist in the model's trace ({type(exc).__name__})")
    if item.kind == "token":
        return None if item.text == value else Mismatch(item, value)
    if isinstance(value, str):
        return Mismatch(item, value, "is a token, not a number")
    decimals = item.decimals if item.decimals is not None else 2
    try:
        ok = matches(item.text, value, decimals)
    except ValueError:
        return Mismatch(item, value, "is not written as a number")
    return None if ok else Mismatch(item, value)


def check_shown(trace, items: Iterable[Shown]) -> Verdict:
    """Compare every item with the trace; the verdict keeps the first mismatch."""
    numbers = labels = 0
    steps: list[str] = []
    bad = None
    for item in items:
        if item.step not in steps:
            steps.append(item.step)
        if item.kind == "token":
            labels += 1
        else:
            numbers += 1
        if bad is None:
            bad = first_mismatch(trace, item)
    return Verdict(numbers, labels, len(steps), bad)
