"""Exact, faster versions of a few of Manim's methods and, in a dry run, animations that reach
their end state without the copies made for the frames in between. Each gives Manim's result bit
for bit (a copy shares one thing Manim would copy: a glyph's parsed SVG path, never read again)
and leaves anything it was not written for (a class with its own method, points that are not
finite float64) to Manim's own code. Installed only inside
:func:`scenes.engine.patching.rendering`; why each is faster is said where it is defined, what it
saves in docs/engine.md, and tests/test_svg_fast.py compares each with Manim's own.
"""

from __future__ import annotations

import contextlib
import copy
import enum

import numpy as np

from . import deferred

__all__ = ["install", "end_states_only"]

_end_states_only = False
MANIMS: dict = {}  # Manim's own methods that install() replaced, by name (for the tests)
_ATOMIC = (type(None), bool, int, float, str, bytes, complex)
_COLOUR_ATTRS = ("fill_rgbas", "stroke_rgbas", "background_stroke_rgbas", "stroke_width",
                 "background_stroke_width", "sheen_direction", "sheen_factor")
_CHECKED = ("points", *_COLOUR_ATTRS[:3])  # what FadeOut's shortcut needs finite, without -0.0
_COLOUR_VALUE = "_ManimColor__value"  # a ManimColor's one attribute (its RGBA array)


def install(patches) -> None:
    """Replace the methods, each through ``patches`` (a :class:`.patching.Patches`, which puts
    Manim's own back): called by :func:`.patching.rendering` only."""
    from manim import ManimColor, Mobject, VMobject

    originals = MANIMS
    originals.update({
        "boundary": VMobject.get_points_defining_boundary,
        "anchors": VMobject.get_anchors,
        "subpaths": VMobject.get_subpaths_from_points,
        "equals": VMobject.consider_points_equals,
        "gen": VMobject._gen_subpaths_from_points,
        "deepcopy": Mobject.__deepcopy__,
        "family": Mobject.get_family,
        "iter_family": Mobject._iter_family,
        "rgbas": VMobject.generate_rgbas_array,
        "colour": VMobject.interpolate_color,
        "reduce": Mobject.reduce_across_dimension,
        "length": Mobject.length_over_dim,
        "extremum": Mobject.get_extremum_along_dim,
    })
    plain_types: dict[type, bool] = {}

    def plain(cls) -> int:
        """A class whose family Manim finds with its own ``_iter_family``, and whose members
        are told apart by identity (as the sets ``get_family`` uses tell them apart): 1, or 2
        for a member whose transform still owes it work (its submobjects are read without
        settling: :mod:`scenes.engine.deferred`); 0 for any other class."""
        ok = plain_types.get(cls)
        if ok is None:
            ok = plain_types[cls] = (
                0 if not (cls._iter_family is originals["iter_family"]
                          and cls.__eq__ is object.__eq__ and cls.__hash__ is object.__hash__)
                else 2 if cls in deferred.OWED_CLASSES else 1)
        return ok

    # Every bounding box, alignment and frame: Manim runs one generator per family member,
    # then removes duplicates.
    def get_family(self, recurse=True):
        # Manim's order (each mobject, then its submobjects' families in turn) without a
        # generator per mobject. A member met twice (a shared submobject, a cycle) leaves it
        # to Manim, which keeps each member's last place and stops at cycles.
        family = []
        seen = set()
        stack = [self]
        while stack:
            mob = stack.pop()
            kind = plain(type(mob))
            if id(mob) in seen or not kind:
                return originals["family"](self, recurse)
            seen.add(id(mob))
            family.append(mob)
            subs = mob.submobjects if kind == 1 else deferred.raw_submobjects(mob)
            if subs:
                if type(subs) is not list:
                    return originals["family"](self, recurse)
                stack.extend(reversed(subs))
        return family

    # Every get_left, next_to, move_to...: Manim interleaves each curve's start and end
    # anchors point by point; here numpy interleaves the same rows into the same array.
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

    # Every Transform between shapes of different numbers of points: Manim calls np.allclose
    # once per curve; here one np.isclose compares all neighbouring anchors at once, element
    # by element as np.allclose does.
    def get_subpaths_from_points(self, points):
        cls = type(self)
        if (cls.consider_points_equals is not consider_points_equals
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

    from manim import BLACK

    parsed_colours: dict[str, np.ndarray] = {}

    # Several times in every VMobject's constructor and colour change.
    def generate_rgbas_array(self, color, opacity):
        # One colour (a ManimColor, a string or None for black) and one opacity, no sheen:
        # the (1, 4) array Manim makes of them (its red, green and blue, then the opacity as a
        # float, 0 for None), without its lists and conversions; a string parsed once.
        kind = type(color)
        if (not (kind is ManimColor or kind is str or color is None)
                or not (opacity is None or type(opacity) in (int, float, np.float64))
                or self.get_sheen_factor() != 0):
            return originals["rgbas"](self, color, opacity)
        if kind is str:
            rgb = parsed_colours.get(color)
            if rgb is None:
                rgb = parsed_colours[color] = ManimColor(color)._internal_value[:3].copy()
        else:
            rgb = (color if color is not None else BLACK)._internal_value[:3]
        rgbas = np.empty((1, 4))
        rgbas[0, :3] = rgb
        rgbas[0, 3] = 0.0 if opacity is None else opacity
        return rgbas

    # Every subpath's end, each time a Transform aligns two shapes: np.allclose's set-up
    # costs ten times its sums for four points.
    def consider_points_equals(self, p0, p1):
        # np.allclose(p0, p1, atol=...) for float arrays, as numpy.isclose computes it:
        # |p0 - p1| <= atol + rtol * |p1| where p1 is finite, or p0 == p1
        atol = self.tolerance_for_point_equality
        if not (type(p0) is np.ndarray and type(p1) is np.ndarray
                and p0.dtype == np.float64 and p1.dtype == np.float64
                and type(atol) is float and np.isfinite(atol)):
            return originals["equals"](self, p0, p1)
        with np.errstate(invalid="ignore"):
            close = ((np.abs(p0 - p1) <= atol + 1e-05 * np.abs(p1)) & np.isfinite(p1)) | (p0 == p1)
        return bool(close.all())

    from manim.mobject.svg.svg_mobject import VMobjectFromSVGPath

    keep_alive, nil = copy._keep_alive, object()

    # Every copy (every animation makes some): copy.deepcopy for each attribute. Here values
    # it returns as they are (numbers, strings, None, enum members) are taken as they are,
    # arrays are copied as it copies them (the same memo entries), and everything else still
    # goes through it with the same memo (shared references stay shared). A glyph's path_obj,
    # the parsed SVG path (hundreds of svgelements objects per formula) Manim builds the
    # glyph's points from and never reads again, is shared: copying it was nine tenths of the
    # time of copying a formula.
    def deepcopy(self, clone_from_id):
        cls = self.__class__
        result = cls.__new__(cls)
        clone_from_id[id(self)] = result
        parsed = isinstance(self, VMobjectFromSVGPath)
        for k, v in self.__dict__.items():
            kind = type(v)
            if kind in _ATOMIC or isinstance(v, enum.Enum):  # copy.deepcopy returns these
                setattr(result, k, v)
            elif kind is np.ndarray and not v.dtype.hasobject:
                # what copy.deepcopy does for an array (most of a mobject), without its look-ups
                copied = clone_from_id.get(id(v), nil)
                if copied is nil:
                    copied = clone_from_id[id(v)] = v.__deepcopy__(clone_from_id)
                    keep_alive(v, clone_from_id)
                setattr(result, k, copied)
            elif parsed and k == "path_obj":
                setattr(result, k, v)  # the parsed SVG path, read only while building: shared
            else:
                setattr(result, k, copy.deepcopy(v, clone_from_id))
        result.original_id = str(id(self))
        return result

    # A ManimColor (two in every VMobject) without pickling's generic path: a new instance
    # holding a deep copy of its RGBA array, as that path makes.
    def colour_deepcopy(self, memo):
        state = self.__dict__
        if type(self) is not ManimColor or state.keys() != {_COLOUR_VALUE}:
            return copy._reconstruct(self, memo, *self.__reduce_ex__(4))
        result = ManimColor.__new__(ManimColor)
        memo[id(self)] = result
        result.__dict__[_COLOUR_VALUE] = copy.deepcopy(state[_COLOUR_VALUE], memo)
        return result

    # Every part of every Transform and fade at every frame (a tenth of the drawing at
    # 1080p60): Manim calls bezier.interpolate once per attribute; here the same sum,
    # (1 - alpha) * start + alpha * end, is written out. The end (alpha = 1) is Manim's own.
    def interpolate_color(self, mobject1, mobject2, alpha):
        if alpha == 1.0 or type(self).interpolate_color is not interpolate_color:
            return originals["colour"](self, mobject1, mobject2, alpha)
        beta = 1 - alpha  # bezier.interpolate's (1 - alpha) * start + alpha * end, inlined
        for name in _COLOUR_ATTRS:
            setattr(self, name, beta * getattr(mobject1, name) + alpha * getattr(mobject2, name))
        return self

    def family_columns(self, dim):
        """Every family member's coordinates along ``dim`` (members without points left out),
        in Manim's order (each mobject, then its submobjects' in turn), found through
        ``submobjects`` as Manim's ``reduce_across_dimension`` recurses; ``None`` for anything
        left to Manim: a member met twice (shared, or a cycle), a class with its own
        ``reduce_across_dimension``, points that are not a 2-D float64 array with that
        column."""
        if type(dim) is not int or not 0 <= dim <= 2:
            return None
        columns = []
        seen = set()
        stack = [self]
        while stack:
            mob = stack.pop()
            if id(mob) in seen or type(mob).reduce_across_dimension is not reduce_across_dimension:
                return None
            seen.add(id(mob))
            points = mob.points
            if (type(points) is not np.ndarray or points.dtype != np.float64
                    or points.ndim != 2 or points.shape[1] <= dim):
                return None
            if len(points):
                columns.append(points[:, dim])
            subs = mob.submobjects
            if subs:
                if type(subs) is not list:
                    return None
                stack.extend(reversed(subs))
        return columns

    def extreme(columns, values, largest: bool):
        """What Python's ``max`` (``largest``) or ``min`` returns, applied as Manim applies it
        to ``columns`` (``values``: them all in one array); ``None`` if some number is NaN."""
        result = values.max() if largest else values.min()
        if result != 0:
            return result if result == result else None
        # Zero: which of 0.0 and -0.0. Python's max keeps the first of equal numbers in a
        # column, and Manim's max([submobject's, own]) the submobject's: the first zero of
        # the last column with one.
        for column in reversed(columns):
            zeros = np.flatnonzero(column == 0)
            if len(zeros):
                return column[zeros[0]]
        return None  # (not reached)

    # Every width and height (twice: through length_over_dim). Equal floats other than zero
    # have one representation, so the result is Manim's bit for bit; a zero gets the sign
    # Manim keeps (extreme). NaN (where Python's comparisons make the answer depend on the
    # order), another reduce function, points that are not 2-D float64, a class with its own
    # method or a member met twice (shared, or a cycle) is left to Manim's method.
    def reduce_across_dimension(self, reduce_func, dim):
        # Manim applies Python's max (or min) to each member's column and then to the
        # members' results: the largest (smallest) of all the numbers, which numpy finds in
        # one reduction over them all.
        if reduce_func is max or reduce_func is min:
            columns = family_columns(self, dim)
            if columns is not None:
                if not columns:
                    return None  # no points anywhere: Manim's None
                values = columns[0] if len(columns) == 1 else np.concatenate(columns)
                result = extreme(columns, values, reduce_func is max)
                if result is not None:
                    return result
        return originals["reduce"](self, reduce_func, dim)

    def length_over_dim(self, dim):
        # Manim's reduce_across_dimension(max) - reduce_across_dimension(min), both from one
        # array of all the numbers
        columns = family_columns(self, dim)
        if columns is not None:
            if not columns:
                return 0  # no points anywhere: Manim's 0
            values = columns[0] if len(columns) == 1 else np.concatenate(columns)
            top, bottom = extreme(columns, values, True), extreme(columns, values, False)
            if top is not None and bottom is not None:
                return top - bottom
        return originals["length"](self, dim)

    # Every critical point (move_to, next_to...).
    def get_extremum_along_dim(self, points=None, dim=0, key=0):
        # Manim's np.min / np.max of an array run the same ufunc reduction as its methods,
        # past numpy's dispatch for other types
        values = (self.get_points_defining_boundary() if points is None
                  else np.asarray(points))[:, dim]
        if type(values) is not np.ndarray:
            return originals["extremum"](self, points, dim, key)
        if key < 0:
            return values.min()
        if key == 0:
            return (values.min() + values.max()) / 2
        return values.max()

    patch = patches.set
    patch(Mobject, "reduce_across_dimension", reduce_across_dimension)
    patch(Mobject, "length_over_dim", length_over_dim)
    patch(Mobject, "get_extremum_along_dim", get_extremum_along_dim)
    patch(VMobject, "get_points_defining_boundary", get_points_defining_boundary)
    patch(VMobject, "interpolate_color", interpolate_color)
    patch(VMobject, "get_subpaths_from_points", get_subpaths_from_points)
    patch(VMobject, "consider_points_equals", consider_points_equals)
    patch(VMobject, "generate_rgbas_array", generate_rgbas_array)
    patch(Mobject, "__deepcopy__", deepcopy)
    patch(Mobject, "get_family", get_family)
    if "__deepcopy__" not in vars(ManimColor) and not hasattr(ManimColor, "__setstate__"):
        patch(ManimColor, "__deepcopy__", colour_deepcopy)
    _exact_still_points(patch)
    _install_end_states(patch)


def _exact_still_points(patch) -> None:
    """Make Manim's ``Mobject.interpolate`` leave points that do not move exactly as they are.

    A fade interpolates every point between two equal copies of it; ``(1 - a)·p + a·p`` is
    ``p`` give or take a rounding, so a fading glyph's points came out a little different at
    every frame, and :class:`.frames.FastPathCamera` built its path again each time. With equal
    start and end points the result is now those points themselves (the value the formula
    means), so the kept path is replayed. Anything that moves is interpolated by Manim as
    before, and so is every animation's start and end (``a`` = 0 or 1): end states (and so
    SVGs) are the same as before."""
    from manim import Mobject

    manim_interpolate = Mobject.interpolate
    MANIMS["interpolate"] = manim_interpolate

    def interpolate(self, mobject1, mobject2, alpha, *args, **kwargs):
        start, end = mobject1.points, mobject2.points
        # (start == end).all() is what np.array_equal computes for arrays of one shape,
        # without its conversions: this runs for every moving part at every frame.
        if not 0 < alpha < 1 or type(self).interpolate is not interpolate \
                or type(start) is not np.ndarray or type(end) is not np.ndarray \
                or start.shape != end.shape or not (start == end).all():
            return manim_interpolate(self, mobject1, mobject2, alpha, *args, **kwargs)
        self.points = end.copy()
        self.interpolate_color(mobject1, mobject2, alpha)
        return self

    patch(Mobject, "interpolate", interpolate)


@contextlib.contextmanager
def end_states_only():
    """Within this block ``FadeIn`` and ``Create`` reach their end state without the copies
    that serve the frames in between (see the module docstring): only for a dry run."""
    global _end_states_only
    from .patching import rendering

    with rendering():
        previous, _end_states_only = _end_states_only, True
        try:
            yield
        finally:
            _end_states_only = previous


def _unchanged_at_end(anim, straight: bool) -> bool:
    """True if playing ``anim`` to its end leaves its mobject's points and colours as they are."""
    from manim.utils.paths import straight_path

    from manim import Mobject, VMobject

    mob = anim.mobject
    if mob is None or (straight and anim.path_func is not straight_path()):
        return False
    family = mob.get_family()
    if any(m.updaters for m in family):
        return False
    members = mob.family_members_with_points()
    n = len(members)
    for i, member in enumerate(members):
        if anim.get_sub_alpha(1, i, n) != 1.0:
            return False
        if straight and (type(member).interpolate is not Mobject.interpolate
                         or type(member).interpolate_color is not VMobject.interpolate_color):
            return False
        points = member.points
        if (not isinstance(points, np.ndarray) or points.dtype != np.float64
                or not np.isfinite(points).all() or (np.signbit(points) & (points == 0)).any()):
            return False
    return True


def _install_end_states(patch) -> None:
    """Within :func:`end_states_only`, animations that skip what only the frames in between need.

    ``FadeIn(m)`` (and ``GrowFromPoint``, ``GrowFromCenter``, ``GrowFromEdge``, whose target is
    ``m`` too) ends with ``m.interpolate(start, copy_of_m, 1.0)``: each point becomes
    ``0.0 * start + p``, which is ``p`` itself whenever ``p`` is finite and not ``-0.0``, and each
    colour a copy of ``m``'s own; ``Create(m)`` ends with ``m.pointwise_become_partial(copy_of_m,
    0, 1)``, a copy of its own points. So these leave ``m`` as it was and do only what else they
    do (adding ``m`` to the scene, suspending and resuming its updating), when that holds: every
    part's final rate exactly 1, the straight path, no updaters, Manim's own ``interpolate``,
    finite points without ``-0.0``. ``Transform``, ``ReplacementTransform`` and ``FadeOut`` start
    from a copy that ``interpolate`` only reads: a snapshot of its points and colours stands in
    for it (:func:`_snapshot_start`); FadeOut most often needs no copy at all
    (:func:`_restoring_fade_out`), and a ReplacementTransform aligns the points of the mobject it
    replaces only if anything looks at it again (:mod:`scenes.engine.deferred`)."""
    from manim import (
        Create, FadeIn, FadeOut, GrowFromCenter, GrowFromEdge, GrowFromPoint, ReplacementTransform,
        Transform, VMobject,
    )

    def fast(cls, check):
        begin, interpolate, finish, update = (cls.begin, cls.interpolate, cls.finish,
                                              cls.update_mobjects)

        def fast_begin(self):
            self._end_only = _end_states_only and type(self) is cls and check(self)
            if not self._end_only:
                return begin(self)
            if self.suspend_mobject_updating:
                self.mobject.suspend_updating()
            return None

        def fast_interpolate(self, alpha):
            if not getattr(self, "_end_only", False):
                interpolate(self, alpha)

        def fast_finish(self):
            if not getattr(self, "_end_only", False):
                return finish(self)
            if self.suspend_mobject_updating and self.mobject is not None:
                self.mobject.resume_updating()
            return None

        def fast_update(self, dt):
            if not getattr(self, "_end_only", False):
                update(self, dt)

        patch(cls, "begin", fast_begin)
        patch(cls, "interpolate", fast_interpolate)
        patch(cls, "finish", fast_finish)
        patch(cls, "update_mobjects", fast_update)

    def create_check(anim) -> bool:
        members = anim.mobject.family_members_with_points() if anim.mobject is not None else []
        return (anim._get_bounds(1)[0] <= 0
                and all(type(m).pointwise_become_partial is VMobject.pointwise_become_partial
                        for m in members)
                and _unchanged_at_end(anim, straight=False))

    fast(FadeIn, lambda anim: _unchanged_at_end(anim, straight=True))
    fast(Create, create_check)
    for grow in (GrowFromPoint, GrowFromCenter, GrowFromEdge):  # their target: the mobject
        fast(grow, lambda anim: _unchanged_at_end(anim, straight=True))
    _snapshot_start(patch, FadeOut, reuse_target=True)
    for transform in (Transform, ReplacementTransform):
        _snapshot_start(patch, transform, reuse_target=False)
    deferred.install(patch, ReplacementTransform, _snapshot, lambda: _end_states_only)
    _restoring_fade_out(patch, FadeOut)


def _finite_without_negative_zero(value) -> bool:
    return (isinstance(value, np.ndarray) and value.dtype == np.float64
            and bool(np.isfinite(value).all()) and not (np.signbit(value) & (value == 0)).any())


def _restoring_fade_out(patch, cls) -> None:
    """``FadeOut(m)`` ends with its clean-up's ``interpolate(0)``, which puts ``m`` back as it
    started: each point and colour becomes ``1 * start + 0 * target``, which is ``start`` itself
    whenever the start is finite without ``-0.0`` (the faded target is finite), and each width
    and sheen ``1 * v + 0 * v`` (fading, shifting and scaling leave those as they are), which is
    computed here as Manim computes it. So no copy is needed at all: only that, and the removal."""
    from manim import Mobject, VMobject
    from manim.animation.transform import Transform
    from manim.mobject.types import vectorized_mobject
    from manim.utils.paths import straight_path

    lerp = vectorized_mobject.interpolate  # what VMobject.interpolate_color computes with
    begin, interpolate, finish, update, clean_up = (
        cls.begin, cls.interpolate, cls.finish, cls.update_mobjects, cls.clean_up_from_scene)

    def eligible(self) -> bool:
        mob = self.mobject
        if (not _end_states_only or type(self) is not cls or mob is None
                or self.path_func is not straight_path()
                or not np.isfinite(np.asarray(self.shift_vector, dtype=float)).all()
                or not np.isfinite(float(self.scale_factor))
                or any(m.updaters for m in mob.get_family())):
            return False
        members = mob.family_members_with_points()
        n = len(members)
        arrays = []  # every member's points and colours, checked at once
        for i, m in enumerate(members):
            kind = type(m)
            if (kind.interpolate is not Mobject.interpolate
                    or kind.interpolate_color is not VMobject.interpolate_color
                    or self.get_sub_alpha(0, i, n) != 0):
                return False
            for name in _CHECKED:
                value = getattr(m, name)
                if type(value) is not np.ndarray:  # a subclass of arrays (or not an array)
                    if not _finite_without_negative_zero(value):
                        return False
                elif value.dtype != np.float64:
                    return False
                else:
                    arrays.append(value)
        return _finite_without_negative_zero(np.concatenate(arrays, axis=None)) if arrays else True

    def fast_begin(self):
        # (its own mark: the snapshot begin sets ``_end_only`` when it takes the snapshot,
        # after which Manim's interpolations must still run)
        self._restores = eligible(self)
        if not self._restores:
            return begin(self)  # the snapshot begin (or Manim's own)
        self._end_only = True
        if self.suspend_mobject_updating:
            self.mobject.suspend_updating()
        return None

    def fast_interpolate(self, alpha):  # the clean-up's interpolate(0) is the one that counts
        if not getattr(self, "_restores", False):
            interpolate(self, alpha)

    def fast_finish(self):
        if not getattr(self, "_restores", False):
            return finish(self)
        if self.suspend_mobject_updating and self.mobject is not None:
            self.mobject.resume_updating()
        return None

    def fast_update(self, dt):
        if not getattr(self, "_restores", False):
            update(self, dt)

    def fast_clean_up(self, scene):
        if not getattr(self, "_restores", False):
            return clean_up(self, scene)
        Transform.clean_up_from_scene(self, scene)  # FadeOut's super(): the removal
        members = self.mobject.family_members_with_points()
        n = len(members)
        for i, member in enumerate(members):
            alpha = self.get_sub_alpha(0, i, n)
            for name in _COLOUR_ATTRS[3:]:  # widths and sheen: the target's are the same
                value = getattr(member, name)
                setattr(member, name, lerp(value, value, alpha))
        return None

    patch(cls, "begin", fast_begin)
    patch(cls, "interpolate", fast_interpolate)
    patch(cls, "finish", fast_finish)
    patch(cls, "update_mobjects", fast_update)
    patch(cls, "clean_up_from_scene", fast_clean_up)


class _Start:
    """A starting mobject's part as ``Mobject.interpolate`` reads it (its points and the colour
    attributes ``VMobject.interpolate_color`` reads), copied as ``Mobject.copy`` would copy them
    and never changed."""

    def __init__(self, mob) -> None:
        self.points = mob.points.copy()
        for name in _COLOUR_ATTRS:
            value = getattr(mob, name)
            setattr(self, name, value.copy() if isinstance(value, np.ndarray) else value)


class _StartFamily:
    """Stands for the copy of a mobject a Transform starts from: its parts with points."""

    def __init__(self, mob) -> None:
        self.parts = [_Start(m) for m in mob.family_members_with_points()]

    def family_members_with_points(self) -> list:
        return self.parts

    def update(self, dt: float = 0, recursive: bool = True) -> None:
        """The copy has no updaters (the mobject had none): nothing to do."""


def _align_and_snapshot(anim) -> None:
    """What a Transform's ``begin`` does to its mobject, the target's copy made: align the two,
    then take the start."""
    anim.mobject.align_data(anim.target_copy)
    _snapshot(anim)


def _snapshot(anim) -> None:
    """A Transform's start, as a snapshot where Manim's own ``interpolate`` applies."""
    from manim import Mobject, VMobject

    mob = anim.mobject
    if all(type(m).interpolate is Mobject.interpolate
           and type(m).interpolate_color is VMobject.interpolate_color
           for m in mob.family_members_with_points()):
        anim.starting_mobject = _StartFamily(mob)
        anim._end_only = True
    else:
        anim.starting_mobject = anim.create_starting_mobject()


def _snapshot_start(patch, cls, reuse_target: bool) -> None:
    """``cls`` (a Transform whose start is a copy of its mobject) in a dry run: Manim's
    ``begin``, except that the starting copy is a snapshot of what ``interpolate`` reads of it
    (the mobject's parts' points and colours, after the alignment). Every ``interpolate`` then
    runs Manim's own code on the same values. With ``reuse_target`` (FadeOut, whose target is a
    fresh faded copy used for nothing else), the target is aligned itself instead of a copy."""
    from manim.animation.animation import Animation

    begin = cls.begin

    def snapshot_begin(self):
        mob = self.mobject
        self._end_only = False
        if (not _end_states_only or type(self) is not cls or mob is None
                or cls.create_starting_mobject is not Animation.create_starting_mobject
                or any(m.updaters for m in mob.get_family())):
            return begin(self)
        self.target_mobject = self.create_target()
        self.target_copy = self.target_mobject if reuse_target else self.target_mobject.copy()
        _align_and_snapshot(self)
        if self.suspend_mobject_updating:
            mob.suspend_updating()
        self.interpolate(0)

    patch(cls, "begin", snapshot_begin)
