"""The engine: what exists only to make rendering fast and reproducible, and the only code that
reaches into Manim's internals. Scenes never import it; the writers use it around their renders.
See docs/engine.md."""
