"""Faster versions of a few of Manim's methods that give exactly the same results.

A profile of ``svg all`` found much of its time in three of Manim's methods, each written one
point at a time in Python:

* ``VMobject.get_points_defining_boundary`` (every ``get_left``, ``next_to``, ``move_to``...)
  interleaves each curve's start and end anchors point by point; here numpy interleaves the
  same rows into the same array;
* ``VMobject.get_subpaths_from_points`` (every Transform between shapes with different
  numbers of points) calls ``np.allclose`` once per curve; here one ``np.isclose`` compares all
  the curves' neighbouring anchors at once, element by element as ``np.allclose`` does;
* ``Mobject.__deepcopy__`` (every copy, and every animation makes some) goes through
  ``copy.deepcopy`` for each attribute; here values that ``copy.deepcopy`` returns as they are
  (numbers, strings, ``None``, enum members) are taken as they are, and everything else still
  goes through ``copy.deepcopy`` with the same memo (shared references stay shared).

Each replacement falls back to Manim's own code for anything it was not written for (a class
that overrides the method, points that are not finite). :func:`install` puts them in place
(once per process).
"""

from __future__ import annotations

import copy
import enum

import numpy as np

__all__ = ["install"]

_installed = False
_ATOMIC = (type(None), bool, int, float, str, bytes, complex)


def install() -> None:
    """Replace the methods (idempotent)."""
    global _installed
    if _installed:
        return
    from manim import Mobject, VMobject

    originals = {
        "boundary": VMobject.get_points_defining_boundary,
        "anchors": VMobject.get_anchors,
        "subpaths": VMobject.get_subpaths_from_points,
        "equals": VMobject.consider_points_equals,
        "gen": VMobject._gen_subpaths_from_points,
        "deepcopy": Mobject.__deepcopy__,
    }

    def get_points_defining_boundary(self):
        parts = []
        for sm in self.get_family():
            if getattr(type(sm), "get_anchors", None) is not originals["anchors"]:
                return originals["boundary"](self)
            points = sm.points
            if points.shape[0] == 1:
                parts.append(points)
                continue
            n = sm.n_points_per_cubic_curve
            starts, ends = points[::n], points[n - 1::n]
            if len(starts) != len(ends) or points.ndim != 2:
                return originals["boundary"](self)  # Manim's own error or result
            pairs = np.empty((2 * len(starts), points.shape[1]), dtype=points.dtype)
            pairs[0::2] = starts
            pairs[1::2] = ends
            parts.append(pairs)
        rows = [p for p in parts if len(p)]
        if not rows:
            return originals["boundary"](self)
        if any(r.dtype != np.float64 for r in rows):
            return originals["boundary"](self)
        return np.concatenate(rows)

    def get_subpaths_from_points(self, points):
        cls = type(self)
        if (cls.consider_points_equals is not originals["equals"]
                or cls._gen_subpaths_from_points is not originals["gen"]):
            return originals["subpaths"](self, points)
        if not isinstance(points, np.ndarray):
            return originals["subpaths"](self, points)
        nppcc = self.n_points_per_cubic_curve
        starts = np.arange(nppcc, len(points), nppcc)
        if len(starts) == 0 or points.ndim != 2 or points.dtype != np.float64:
            return originals["subpaths"](self, points)
        # np.allclose(points[n - 1], points[n], atol=...) for every n at once
        close = np.isclose(points[starts - 1], points[starts],
                           atol=self.tolerance_for_point_equality).all(axis=1)
        split = set(starts[~close].tolist())
        return list(originals["gen"](self, points, split.__contains__))

    def deepcopy(self, clone_from_id):
        cls = self.__class__
        result = cls.__new__(cls)
        clone_from_id[id(self)] = result
        for k, v in self.__dict__.items():
            if type(v) in _ATOMIC or isinstance(v, enum.Enum):  # copy.deepcopy returns these
                setattr(result, k, v)
            else:
                setattr(result, k, copy.deepcopy(v, clone_from_id))
        result.original_id = str(id(self))
        return result

    VMobject.get_points_defining_boundary = get_points_defining_boundary
    VMobject.get_subpaths_from_points = get_subpaths_from_points
    Mobject.__deepcopy__ = deepcopy
    _installed = True
