"""In a dry run, the costly half of a ``ReplacementTransform``'s work on the mobject it replaces
(aligning its points with the target's: a third of an SVG export's time) is done only if
anything ever looks at that mobject's points or colours again. Our scenes mostly write
``ReplacementTransform(x.copy(), y)`` or move cells of one matrix into another, after which
nothing but the finished animation holds the replaced mobject. Why the result is Manim's own is
said at :func:`install`."""

from __future__ import annotations

from typing import Any

__all__ = ["install", "is_owed", "settle", "OWED_CLASSES", "raw_submobjects"]

_OWED = "_end_state_owed"  # in each owed member's __dict__: its _Debt
_subclasses: dict[type, type] = {}  # a class -> its owed subclass
OWED_CLASSES: set[type] = set()
_FREE = frozenset({"get_family", "z_index"})  # read as they are: the debt cannot change them
_RECORDED = frozenset({"suspend_updating", "resume_updating"})


class _Debt:
    """What one deferred ``ReplacementTransform`` still owes its mobject's family."""

    __slots__ = ("anim", "members", "pairs", "calls", "settled", "finish_begin")

    def __init__(self, anim, members: list, pairs: list, finish_begin) -> None:
        self.anim = anim
        self.members = members  # (member, its own class)
        self.pairs = pairs  # the (member, target copy's member) pairs whose points to align
        self.calls: list[tuple] = []  # ("alpha", a) or (member, method name, args, kwargs)
        self.settled = False
        self.finish_begin = finish_begin  # (anim) -> None: the starting snapshot

    def record(self, member, name: str, *args, **kwargs):
        self.calls.append((member, name, args, kwargs))
        return member  # as suspend_updating and resume_updating return

    def settle(self) -> None:
        if self.settled:
            return
        self.settled = True
        for member, cls in self.members:
            del object.__getattribute__(member, "__dict__")[_OWED]
            object.__setattr__(member, "__class__", cls)
        for m1, m2 in self.pairs:
            m1.align_points(m2)
        anim = self.anim
        self.finish_begin(anim)
        for call in self.calls:
            if call[0] == "alpha":
                _INTERPOLATE[0](anim, call[1])
            else:
                member, name, args, kwargs = call
                getattr(member, name)(*args, **kwargs)
        self.calls.clear()
        self.pairs.clear()


def _no_update(self, dt: float = 0, recursive: bool = True):
    return self


def _owed_class(cls: type) -> type:
    sub = _subclasses.get(cls)
    if sub is not None:
        return sub

    def __getattribute__(self, name: str) -> Any:
        if name in _FREE:
            return object.__getattribute__(self, name)
        debt = object.__getattribute__(self, "__dict__")[_OWED]
        if name == "update":
            return _no_update.__get__(self)
        if name in _RECORDED:
            return lambda *args, **kwargs: debt.record(self, name, *args, **kwargs)
        debt.settle()
        return getattr(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "__dict__")[_OWED].settle()
        setattr(self, name, value)

    def __delattr__(self, name: str) -> None:
        object.__getattribute__(self, "__dict__")[_OWED].settle()
        delattr(self, name)

    sub = _subclasses[cls] = type(cls.__name__, (cls,), {
        "__getattribute__": __getattribute__, "__setattr__": __setattr__,
        "__delattr__": __delattr__, "__module__": cls.__module__,
        "__qualname__": cls.__qualname__})
    OWED_CLASSES.add(sub)
    return sub


def raw_submobjects(mob) -> list:
    """An owed member's submobjects, read without settling (they are final)."""
    return object.__getattribute__(mob, "__dict__")["submobjects"]


def is_owed(mob) -> bool:
    """True while ``mob`` is a member of a family whose transform still owes it work."""
    return type(mob) in OWED_CLASSES


def settle(mob) -> None:
    """Do now the deferred work ``mob`` is part of (nothing if there is none)."""
    if is_owed(mob):
        object.__getattribute__(mob, "__dict__")[_OWED].settle()


_INTERPOLATE: list = [None]  # the animation's own interpolate


def _align_structure(m1, m2, pairs: list) -> None:
    """Manim's ``Mobject.align_data`` (0.22) without its ``align_points``, whose pairs are
    listed in ``pairs`` in the order Manim would align them."""
    m1.null_point_align(m2)
    m1.align_submobjects(m2)
    pairs.append((m1, m2))
    for a, b in zip(m1.submobjects, m2.submobjects, strict=True):
        _align_structure(a, b, pairs)


def install(patch, cls, finish_begin, active) -> None:
    """Defer ``cls`` (``ReplacementTransform``) while ``active()``; ``finish_begin(anim)`` is
    what its ``begin`` does after the alignment (the starting snapshot). ``patch(owner, name,
    value)`` sets each method (:class:`.patching.Patches`).

    ``ReplacementTransform(a, b)`` aligns ``a`` with a copy of ``b`` (first their structure: the same
    number of submobjects, level by level; then their points: curves inserted until each pair of
    members has as many), moves ``a``'s points and colours to the copy's, then swaps ``b`` into
    ``a``'s place in the scene. Our scenes write it mostly as ``ReplacementTransform(x.copy(), y)``
    or move cells of one matrix into another: afterwards nothing holds ``a`` but the finished
    animation, and the point alignment (a third of an SVG export's time) is never seen by anyone.

    So within :func:`.fastpaths.end_states_only`, an eligible ``ReplacementTransform``
    does at ``begin`` what Manim does to the structure (the same calls in the same order, so the
    families are exactly Manim's from then on), and leaves the rest *owed*: every member of ``a``'s
    family gets a subclass of its own class whose attribute access first *settles* the debt: puts
    the classes back, aligns the points of the pairs the structural pass met (in its order, which is
    Manim's), takes the starting snapshot, then makes every call the animation and the scene made
    on ``a`` meanwhile, in their order (the animation's ``interpolate`` with each alpha it was given;
    ``suspend_updating`` and ``resume_updating``). Manim aligns a pair's points before the next level's
    structure; doing all of the structure first gives the same result because neither reads what the
    other writes: a pair's point alignment reads and writes only those two members' points and colours
    (and, for a member without points, the centre of its family's points, which the structural steps
    keep: they move a member's points into a copy of it or add faded copies, never other points),
    and the structural steps read no points but those of the member they copy.

    Reading or writing anything of an owed member settles first, except what the debt cannot change:
    its family (its submobjects, final since ``begin``, read by :func:`get_family` and
    ``Mobject.get_family`` without settling), its ``z_index``, ``update`` (a no-op: nothing in ``a``'s
    family has updaters) and ``suspend_updating``/``resume_updating`` (recorded for the settlement).
    So scenes can add, remove and list mobjects around ``a`` freely, and whoever looks at ``a``'s
    points or colours sees what Manim would have shown; if no one does, that work is never done.

    ``Scene.replace`` (the clean-up's swap) looks for ``a`` through the scene's mobjects and their
    submobjects: here it reads an owed member's submobjects without settling it and settles one only
    if the swap must change that member's own list; it is otherwise Manim's own search, step by step.
    Outside a dry run Manim's ``replace`` runs as it is.

    Only a ``ReplacementTransform`` whose mobject and target share no member, have no updaters, and
    whose members all use Manim's own alignment methods and Python's own attribute access is
    deferred; any other runs as before.
    """
    from manim import Mobject, Scene, VectorizedPoint, VMobject
    from manim.animation.animation import Animation

    begin, interpolate, finish = cls.begin, cls.interpolate, cls.finish
    _INTERPOLATE[0] = interpolate
    replace = Scene.replace
    standard = {"align_data": Mobject.align_data, "null_point_align": Mobject.null_point_align,
                "align_submobjects": Mobject.align_submobjects,
                "add_n_more_submobjects": Mobject.add_n_more_submobjects,
                "push_self_into_submobjects": Mobject.push_self_into_submobjects,
                "align_points": VMobject.align_points,
                "get_point_mobject": VMobject.get_point_mobject}
    aligned_as_manim: dict[type, bool] = {}

    def as_manim(kind: type) -> bool:
        ok = aligned_as_manim.get(kind)
        if ok is None:
            ok = aligned_as_manim[kind] = (
                all(getattr(kind, name, None) is f for name, f in standard.items())
                and kind.__getattribute__ is object.__getattribute__
                and kind.__setattr__ is object.__setattr__
                and kind.__delattr__ is object.__delattr__
                and kind not in OWED_CLASSES)
        return ok

    def eligible(anim) -> bool:
        mob, target = anim.mobject, anim.target_mobject
        if (not active() or type(anim) is not cls or mob is None or target is None
                or cls.create_starting_mobject is not Animation.create_starting_mobject
                or not as_manim(VectorizedPoint)):
            return False
        family, target_family = mob.get_family(), target.get_family()
        ids = {id(m) for m in family}
        return (len(ids) == len(family) and not any(id(m) in ids for m in target_family)
                and all(not m.updaters and as_manim(type(m)) for m in family)
                and all(not m.updaters and as_manim(type(m)) for m in target_family))

    def deferred_begin(self) -> None:
        self._debt = None
        if not eligible(self):
            return begin(self)
        mob = self.mobject
        self.target_mobject = self.create_target()
        self.target_copy = self.target_mobject.copy()
        pairs: list = []
        _align_structure(mob, self.target_copy, pairs)
        self.starting_mobject = _NoStart()
        family = mob.get_family()
        debt = self._debt = _Debt(self, [(m, type(m)) for m in family], pairs, finish_begin)
        for m in family:
            m.__dict__[_OWED] = debt
        for m in family:
            object.__setattr__(m, "__class__", _owed_class(type(m)))
        if self.suspend_mobject_updating:
            debt.record(mob, "suspend_updating")
        debt.calls.append(("alpha", 0))
        return None

    def deferred_interpolate(self, alpha: float) -> None:
        debt = getattr(self, "_debt", None)
        if debt is None or debt.settled:
            return interpolate(self, alpha)
        debt.calls.append(("alpha", alpha))
        return None

    def deferred_finish(self) -> None:
        debt = getattr(self, "_debt", None)
        if debt is None or debt.settled:
            return finish(self)
        debt.calls.append(("alpha", 1))
        if self.suspend_mobject_updating and self.mobject is not None:
            debt.record(self.mobject, "resume_updating")
        return None

    def owed_aware_replace(self, old_mobject, new_mobject) -> None:
        if (not active() or old_mobject is None or new_mobject is None
                or old_mobject is new_mobject):
            return replace(self, old_mobject, new_mobject)
        try:
            found = (_replace_in_list(self.mobjects, None, old_mobject, new_mobject)
                     or _replace_in_list(self.foreground_mobjects, None, old_mobject,
                                         new_mobject))
        except _MustSettle as must:
            must.debt.settle()
            return replace(self, old_mobject, new_mobject)
        if not found:
            raise ValueError(f"Could not find {old_mobject} in scene")
        return None

    patch(cls, "begin", deferred_begin)
    patch(cls, "interpolate", deferred_interpolate)
    patch(cls, "finish", deferred_finish)
    patch(Scene, "replace", owed_aware_replace)


class _NoStart:
    """Stands for the starting copy until the debt is settled (which makes the real one)."""

    def update(self, dt: float = 0, recursive: bool = True) -> None:
        """Nothing to update: the mobject has no updaters."""


class _MustSettle(Exception):
    def __init__(self, debt: _Debt) -> None:
        super().__init__()
        self.debt = debt


def _replace_in_list(mobj_list: list, owner, old_m, new_m) -> bool:
    """Manim's ``Scene.replace`` search (Manim 0.22), step by step, reading an owed member's
    submobjects without settling it; raises :class:`_MustSettle` before changing an owed
    member's own list."""
    owed = owner is not None and type(owner) in OWED_CLASSES
    if new_m in mobj_list:
        if owed:
            raise _MustSettle(object.__getattribute__(owner, "__dict__")[_OWED])
        mobj_list.remove(new_m)
    for i in range(len(mobj_list)):
        if mobj_list[i] == old_m:
            if owed:
                raise _MustSettle(object.__getattribute__(owner, "__dict__")[_OWED])
            mobj_list[i] = new_m
            return True
    for mob in mobj_list:
        subs = raw_submobjects(mob) if type(mob) in OWED_CLASSES else mob.submobjects
        if _replace_in_list(subs, mob, old_m, new_m):
            return True
    return False
