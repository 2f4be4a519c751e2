"""Where two objects' states differ, attribute by attribute, for tests of the fast builds
(``scenes.toolkit.mobjects``) that must make exactly what Manim makes."""

from __future__ import annotations

import enum

import numpy as np
from manim import ManimColor, Mobject

__all__ = ["state_differences"]


def state_differences(a, b, path: str = "", seen: dict | None = None) -> list[str]:
    """Every place where ``a`` and ``b`` differ: types, dict keys and their order, list lengths,
    values (arrays bit for bit, with their dtype and shape; other objects, mobjects or not,
    attribute by attribute), and which objects are shared (one met again must pair with the
    same twin). Empty when they are the same. A
    mobject's ``original_id`` (the ``id()`` of what it was copied from) must only be present
    in both."""
    seen = {} if seen is None else seen
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} != {type(b).__name__}"]
    if isinstance(a, np.ndarray):
        same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        return [] if same else [f"{path}: arrays differ"]
    if isinstance(a, ManimColor):
        return state_differences(a._internal_value, b._internal_value, f"{path}.value", seen)
    if isinstance(a, Mobject) or (hasattr(a, "__dict__") and not isinstance(a, enum.Enum)):
        if id(a) in seen:
            return [] if seen[id(a)] is b else [f"{path}: shared differently"]
        seen[id(a)] = b
        return state_differences(a.__dict__, b.__dict__, path, seen)
    if isinstance(a, dict):
        if list(a) != list(b):
            return [f"{path}: keys {list(a)} != {list(b)}"]
        return [d for k in a if k != "original_id"
                for d in state_differences(a[k], b[k], f"{path}[{k!r}]", seen)]
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in state_differences(x, y, f"{path}[{i}]", seen)]
    if isinstance(a, float):  # bit for bit: -0.0 is not 0.0, NaN is NaN
        same = np.float64(a).tobytes() == np.float64(b).tobytes()
        return [] if same else [f"{path}: {a!r} != {b!r}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
