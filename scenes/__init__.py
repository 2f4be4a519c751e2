"""Scenes: pictures of a trace. Importing the package does not import Manim.

One storyboard per module (``attention``, ``multihead``, ``decoder``, ...); ``scenes.registry``
names them; ``scenes.toolkit`` is what they share (the storyboard base, layouts, mobjects,
animations, style); ``scenes.writers`` writes videos, SVGs and web files; ``scenes.engine`` is
the machinery that makes rendering fast (Manim patched only while we render); ``scenes.cli_support``
is what the commands of ``cli.py`` share. ``from scenes import show`` displays a scene in a
notebook (:mod:`scenes.notebook`).
"""

__all__ = ["show"]


def __getattr__(name: str):
    """``from scenes import show`` loads the notebook helpers (and Manim) only when asked."""
    if name == "show":
        from .notebook import show

        return show
    raise AttributeError(f"module 'scenes' has no attribute {name!r}")
