"""A two-step storyboard that renders in seconds, for tests of the writers (not registered)."""

from __future__ import annotations

from manim import DOWN, FadeIn, Transform, VGroup, Write

from scenes.toolkit.mobjects import formula
from scenes.toolkit.storyboard import SceneOptions, Step, StoryScene, current_options
from scenes.toolkit.text import plain_text

__all__ = ["TinyScene", "register"]


class TinyScene(StoryScene):
    """A caption, a formula, a matrix of real values that moves, and a hold."""

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        return [Step("title", "A title and a formula appear."),
                Step("matrix", "A matrix of the model's values slides into place.")]

    def step_title(self) -> None:
        title = plain_text("Tiny", 40, self.theme.text)
        eq = formula(r"\sqrt{d_k}", font_size=40, color=self.theme.text)
        group = VGroup(title, eq).arrange(DOWN)
        self.play(Write(title), FadeIn(eq), run_time=0.5)
        self.end_state(group, hold=0.4)
        self.group = group

    def step_matrix(self) -> None:
        m = self.matrix("encoder.blocks.0.attn.pattern[0]", decimals=2, font_size=16)
        m.move_to([0, 0.5, 0])
        self.play(Transform(self.group, m.copy().shift(DOWN)), run_time=0.5)
        self.play(FadeIn(m), run_time=0.4)
        self.end_state(m, hold=0.5)


def register(monkeypatch) -> str:
    """Register :class:`TinyScene` as ``tiny`` for the duration of a test; returns the name."""
    from scenes import registry

    info = registry.SceneInfo(module=__name__, cls="TinyScene", description="test scene")
    monkeypatch.setitem(registry.SCENES, "tiny", info)
    return "tiny"
