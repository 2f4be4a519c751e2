"""The attention scene's content written the way a typical Manim user writes it: the baseline.

    manim -ql scripts/naive_attention.py NaiveAttention

Same story and the same real numbers as ``scenes/attention.py`` (X, W_Q, Q, K, V, Q·Kᵀ, the
scaling by √d_k, the softmax weights, Z = weights·V), but built with Manim's everyday tools:
``DecimalMatrix`` (one ``MathTex`` per entry), ``MathTex`` labels, ``Text`` captions, ``Write``
and ``TransformFromCopy``, and Manim's default caching left on. ``scripts/bench_all.py`` renders
it cold, beside our scene, to compare render time per second of video.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manim import (  # noqa: E402
    DOWN, RIGHT, UP, DecimalMatrix, FadeIn, FadeOut, MathTex, Scene, Text,
    TransformFromCopy, VGroup, Write,
)

from transformer_core.trace import run_with_trace  # noqa: E402

__all__ = ["NaiveAttention"]

PREFIX = "encoder.blocks.0.attn"
HEAD = 0


class NaiveAttention(Scene):
    """softmax(QKᵀ/√d_k)·V for head 0 of the translate model, the everyday way."""

    def construct(self) -> None:
        t = run_with_trace("translate", None)
        x = t["encoder.blocks.0.resid_pre"]
        w_q = t.param(f"{PREFIX}.W_Q")[HEAD]
        q, k, v = (t[f"{PREFIX}.{n}"][HEAD] for n in "qkv")
        scores, scaled = t[f"{PREFIX}.scores"][HEAD], t[f"{PREFIX}.scaled"][HEAD]
        pattern, z = t[f"{PREFIX}.pattern"][HEAD], t[f"{PREFIX}.z"][HEAD]

        def caption(text: str) -> Text:
            return Text(text, font_size=22).to_edge(DOWN)

        def matrix(values, scale=0.5) -> DecimalMatrix:
            return DecimalMatrix(values.tolist(), element_to_mobject_config={"num_decimal_places": 2}
                                 ).scale(scale)

        def step(text: str, *mobs, hold: float = 2.0) -> None:
            cap = caption(text)
            self.play(Write(cap))
            self.play(*(Write(m) for m in mobs))
            self.wait(hold)
            self.play(FadeOut(cap, *mobs))

        title = Text("Self-attention, one head", font_size=40)
        step("Every number is the real value computed by a small trained model.", title)

        words = VGroup(*(Text(w, font_size=24) for w in t.tokens)).arrange(DOWN, buff=0.35)
        xm = matrix(x, 0.45)
        group = VGroup(words, xm).arrange(RIGHT).move_to(UP * 0.3)
        step("Each word becomes one row of X: its embedding plus a positional encoding.", group)

        xm = matrix(x, 0.4)
        wq = matrix(w_q, 0.4)
        qm = matrix(q, 0.4)
        eq = VGroup(xm, MathTex(r"\times"), wq, MathTex("="), qm).arrange(RIGHT).move_to(UP * 0.3)
        cap = caption("Q = X W_Q: each entry is a row of X dotted with a column of W_Q.")
        self.play(Write(cap), Write(xm), Write(wq))
        self.play(TransformFromCopy(VGroup(xm, wq), qm), FadeIn(eq[1], eq[3]))
        self.wait(2)
        self.play(FadeOut(cap, eq))

        kv = VGroup(
            VGroup(MathTex("K ="), matrix(k, 0.45)).arrange(RIGHT),
            VGroup(MathTex("V ="), matrix(v, 0.45)).arrange(RIGHT),
        ).arrange(RIGHT, buff=0.8).move_to(UP * 0.3)
        step("The same X times W_K and W_V gives the keys K and the values V.", kv)

        sm = VGroup(MathTex(r"QK^T ="), matrix(scores, 0.5)).arrange(RIGHT).move_to(UP * 0.3)
        step("Q times K transposed scores every query word against every key word.", sm)

        sc = VGroup(MathTex(r"\frac{QK^T}{\sqrt{d_k}} ="), matrix(scaled, 0.5)).arrange(RIGHT)
        step("Every score is divided by the square root of d_k.", sc.move_to(UP * 0.3))

        pm = VGroup(MathTex(r"\mathrm{softmax}\left(\frac{QK^T}{\sqrt{d_k}}\right) ="),
                    matrix(pattern, 0.5)).arrange(RIGHT).move_to(UP * 0.3)
        step("Softmax turns each row into weights that sum to 1.", pm)

        zm = VGroup(MathTex("Z = "), matrix(pattern, 0.4), MathTex(r"\times"), matrix(v, 0.4),
                    MathTex("="), matrix(z, 0.4)).arrange(RIGHT).move_to(UP * 0.3)
        step("Z = weights times V: each output row is a weighted sum of value rows.", zm)

        summary = MathTex(r"\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\left(\frac{QK^T}"
                          r"{\sqrt{d_k}}\right)V").shift(UP * 0.5)
        step("One head of attention turns the rows of X into context-aware rows of Z.", summary,
             hold=3.0)
        self.wait(0.5)
