"""Scenes: pictures of a trace. Importing the package does not import Manim.

One storyboard per module (``attention``, ``multihead``, ``decoder``, ...); ``scenes.registry``
names them; ``scenes.toolkit`` is what they share (the storyboard base, layouts, mobjects,
animations, style); ``scenes.writers`` writes videos, SVGs and web files; ``scenes.cli_support``
is what the commands of ``cli.py`` share.
"""
