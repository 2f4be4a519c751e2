"""Scenes: pictures of a trace. Importing the package does not import Manim.

``scenes.registry`` names the scenes; ``scenes.storyboard`` is the base class and the
options; ``scenes.mobjects`` and ``scenes.animations`` are the nouns and verbs;
``scenes.render`` writes videos.
"""
