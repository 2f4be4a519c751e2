"""One attention head of the tiny trained Transformer, computed on screen with its real numbers.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V,   Q = X W_Q,  K = X W_K,  V = X W_V

Reads, for the attention prefix ``P`` (``encoder.blocks.L.attn`` for ``translate``,
``decoder.blocks.L.attn`` for the causal ``lm``) and head ``h``: the embeddings
``encoder.embed``/``pos_embed`` (layer 0) or ``resid_pre``, ``param:P.W_Q/W_K/W_V``,
``P.q/k/v``, ``P.scores``, ``P.scaled``, ``P.mask``/``P.masked``, ``P.pattern``, ``P.z``.

Runs under Manim's CLI too: ``manim -ql scenes/attention.py AttentionScene`` (options from the
``SCENE_*`` environment variables, see :mod:`scenes.storyboard`).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file by Manim's CLI: make ``scenes`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manim import UP, FadeIn, Text  # noqa: E402

from scenes.storyboard import FONT, SceneOptions, Step, StoryScene, current_options  # noqa: E402

__all__ = ["AttentionScene"]


class AttentionScene(StoryScene):
    """softmax(QKᵀ/√d_k)·V for one head, step by step."""

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        causal = options.model == "lm"
        steps = [
            Step("title", "Self-attention mixes information between the words of a sentence; "
                          "here every number is the real value computed by a small trained model."),
            Step("embed", "Each word becomes one row of X: its learned embedding plus a "
                          "positional encoding that says where the word stands."),
            Step("query", "Q = X·W_Q: each entry of Q is the dot product of a row of X "
                          "(one word) with a column of the learned matrix W_Q."),
            Step("keys_values", "The same X multiplied by the learned matrices W_K and W_V "
                                "gives the keys K and the values V."),
            Step("scores", "Q·Kᵀ scores every query word (a row) against every key word "
                           "(a column) with a dot product: a large score means a good match."),
            Step("scale", "Every score is divided by √d_k, the square root of the key length, "
                          "so that softmax does not saturate."),
        ]
        if causal:
            steps.append(Step("mask", "The causal mask sets the score to −∞ wherever a word "
                                      "would look at a later word, so that pair gets no weight."))
        steps += [
            Step("softmax", "Softmax turns each row into weights: exponentiate, add up the row, "
                            "divide by the sum; every row now sums to 1."),
            Step("weighted_sum", "Z = weights·V: each word's output row is the weighted sum "
                                 "of the value rows, using that word's attention weights."),
            Step("summary", "One head of attention: softmax(QKᵀ/√d_k)·V turns the rows of X "
                            "into context-aware rows of Z, one per word."),
        ]
        return steps

    def _placeholder(self, name: str) -> None:
        for mob in list(self.mobjects):
            if mob is not self.caption_mobject:
                self.remove(mob)
        title = Text(name, font=FONT, font_size=36, color=self.theme.text).to_edge(UP)
        self.play(FadeIn(title), run_time=0.5)
        self.wait(0.5)

    def step_title(self) -> None:
        self._placeholder("title")

    def step_embed(self) -> None:
        self._placeholder("embed")

    def step_query(self) -> None:
        self._placeholder("query")

    def step_keys_values(self) -> None:
        self._placeholder("keys_values")

    def step_scores(self) -> None:
        self._placeholder("scores")

    def step_scale(self) -> None:
        self._placeholder("scale")

    def step_mask(self) -> None:
        self._placeholder("mask")

    def step_softmax(self) -> None:
        self._placeholder("softmax")

    def step_weighted_sum(self) -> None:
        self._placeholder("weighted_sum")

    def step_summary(self) -> None:
        self._placeholder("summary")
