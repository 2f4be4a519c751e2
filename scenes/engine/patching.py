"""Manim patched only while we render: :func:`rendering` puts the engine's faster methods on
Manim's classes (:mod:`.fastpaths`, :mod:`.deferred`), and on the way out puts back exactly what
was there, so that a user's own Manim scenes in the same process (a notebook kernel) run on
Manim as imported.
"""

from __future__ import annotations

import contextlib

__all__ = ["Patches", "rendering", "active"]

_MISSING = object()


class Patches:
    """Attributes set on classes and modules, each with what it replaced (its own entry, or
    none: the attribute was inherited), put back in reverse order by :meth:`restore`."""

    def __init__(self) -> None:
        self.saved: list[tuple[object, str, object]] = []

    def set(self, owner, name: str, value) -> None:
        self.saved.append((owner, name, vars(owner).get(name, _MISSING)))
        setattr(owner, name, value)

    def restore(self) -> None:
        while self.saved:
            owner, name, old = self.saved.pop()
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)

    def sites(self) -> list[tuple[object, str]]:
        """Every (owner, attribute) patched, in order (for the tests)."""
        return [(owner, name) for owner, name, _ in self.saved]


_depth = 0
_patches: Patches | None = None


def active() -> Patches | None:
    """The patches in place (inside :func:`rendering`), else None."""
    return _patches


@contextlib.contextmanager
def rendering():
    """Within this block Manim runs with the engine's patches (nested blocks share one set);
    leaving the outermost block restores Manim's own attributes, even on an exception."""
    global _depth, _patches
    if _depth == 0:
        from . import fastpaths

        patches = Patches()
        try:
            fastpaths.install(patches)
        except BaseException:
            patches.restore()
            raise
        _patches = patches
    _depth += 1
    try:
        yield _patches
    finally:
        _depth -= 1
        if _depth == 0:
            patches, _patches = _patches, None
            patches.restore()
