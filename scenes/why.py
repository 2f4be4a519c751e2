"""The why behind the steps, with the model's own numbers: why the scores are divided by √d_k,
what a dot product measures, softmax worked on one row (and why the max is subtracted), layer
norm rather than batch norm, why multi-head attention costs what one head costs, how many
parameters each part of a model has at real sizes, and the residual stream a block adds into.

Every number is a ``why.*`` record of :func:`transformer_core.whys.why_run` (the model's real
scores, activations and weights of the first layer's head ``--head``); the random vectors of
the √d_k step are seeded and labelled as an illustration on screen.

Runs under Manim's CLI too: ``manim -ql scenes/why.py WhyScene``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from manim import DOWN, LEFT, RIGHT, UP, Arc, Arrow, FadeIn, Line, VGroup  # noqa: E402

from scenes.toolkit.storyboard import SceneOptions, Step, StoryScene, current_options  # noqa: E402
from scenes.toolkit.style import NOTE  # noqa: E402
from scenes.toolkit.text import label_text  # noqa: E402
from transformer_core.explain import lookup  # noqa: E402

__all__ = ["WhyScene", "load_whys"]

PARTS = ("embedding", "attention", "feed-forward", "norms", "unembedding")  # whys.PARTS


@functools.lru_cache(maxsize=8)
def _whys(model: str, sentence: str | None, head: int, checkpoint: str | None, stamp):
    from transformer_core import runs

    return runs.whys(model, sentence, checkpoint, head=head)


def load_whys(options: SceneOptions):
    """The trace with the ``why.*`` records these options ask for (read-only, shared)."""
    stamp = None
    if options.checkpoint is not None:
        stat = os.stat(options.checkpoint)
        stamp = (stat.st_mtime_ns, stat.st_size)
    return _whys(options.model, options.sentence, options.head, options.checkpoint, stamp)


class WhyScene(StoryScene):
    """Seven whys, one per step, each with the model's numbers."""

    # Its rows are drawn whole: 8 numbers wide, not smollm2's 576 (see the sizes step for those).
    model_kinds = ("translate", "lm", "modern")

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        t = load_whys(options)
        dk = int(t["why.scale.d_k"])
        return [
            Step("scaling", f"The spread of q\u00b7k grows like \u221ad_k, so the scores are "
                            f"divided by \u221ad_k = \u221a{dk}: without it a wide head's softmax "
                            "would put almost all its weight on one word."),
            Step("dot", "A dot product measures how far two vectors point the same way: "
                        "a\u00b7b = |a| |b| cos \u03b8, large when they are long and aligned."),
            Step("softmax", "Softmax worked on this row: subtract the row's max, take exp, "
                            "divide by the sum; subtracting the max changes nothing but keeps "
                            "exp from overflowing."),
            Step("norm", "Layer norm normalises each token's row on its own; batch norm's "
                         "direction, down a column, would mix the tokens of the sentence."),
            Step("heads", "Splitting d_model into heads costs nothing extra: W_Q is the heads' "
                          "blocks side by side, with the same parameters and multiplications."),
            Step("sizes", "The same counting code gives each part's parameters for this model, "
                          "the paper's base model and SmolLM2-135M."),
            Step("residual", "A block adds into the stream instead of replacing it: the input "
                             "row plus the attention sub-layer's output is the new row."),
        ]

    def setup(self) -> None:
        super().setup()
        self.trace = load_whys(self.options)

    # ---- pieces -----------------------------------------------------------------------------

    def grid(self, rows: list[list], size: float = NOTE, gap: float = 0.22,
             row_h: float = 0.32) -> VGroup:
        """Rows of prose (a str) and numbers ((source, index, decimals)) in aligned columns:
        the first column left-aligned, the others right-aligned."""
        mobs = [[self.inline(piece, size=size) if not isinstance(piece, str)
                 else self.inline(piece, size=size) for piece in row] for row in rows]
        n = max(len(r) for r in mobs)
        mobs = [r + [None] * (n - len(r)) for r in mobs]
        widths = [max((m.width for m in col if m is not None), default=0.0)
                  for col in zip(*mobs, strict=True)]
        gaps = [0.0] + [gap] * (n - 1)
        aligns = ["left"] + ["right"] * (n - 1)
        return self.table(mobs, widths, gaps, row_h, aligns)

    def vec(self, label: str, source: str, decimals: int = 2) -> list:
        n = len(lookup(self.trace, source))
        return [label, *((source, (i,), decimals) for i in range(n))]

    def tokens_row(self, label: str) -> list:
        return [label, *self.trace.tokens]

    def show(self, title: str, *mobs) -> None:
        group = VGroup(*mobs).arrange(DOWN, buff=0.25, aligned_edge=LEFT)
        self.fit(group)
        self.play(*self.heading(title), *self.leave(), run_time=0.8)
        for m in mobs:
            self.play(FadeIn(m), run_time=0.8)
        self.end_state(group, hold=3.0)

    # ---- steps ------------------------------------------------------------------------------

    def step_scaling(self) -> None:
        words = list(self.trace.tokens)
        q = words[int(self.trace["why.scale.pos"])]
        real = self.grid([
            [f"this head's scores, query \u201c{q}\u201d:", *words],
            self.vec("q\u00b7k", "why.scale.row"),
            self.vec("softmax(q\u00b7k)", "why.scale.soft_raw"),
            self.vec("q\u00b7k / \u221ad_k", "why.scale.scaled"),
            self.vec("softmax(q\u00b7k / \u221ad_k)", "why.scale.soft_scaled"),
        ])
        spread = self.inline("spread (standard deviation) of all this head's scores:",
                             ("why.scale.real_std", (), 2), ", divided by \u221ad_k =",
                             ("why.scale.sqrt_d_k", (), 0), ":",
                             ("why.scale.real_std_scaled", (), 2))
        rand = self.grid([
            ["illustration, random q and k (seed 0):", "d_k", "spread of q\u00b7k", "\u221ad_k",
             "after / \u221ad_k"],
            ["", ("why.scale.rand_d_k", (0,), 0), ("why.scale.rand_std", (0,), 2),
             ("why.scale.rand_sqrt", (0,), 0), ("why.scale.rand_std_scaled", (0,), 2)],
            ["", ("why.scale.rand_d_k", (1,), 0), ("why.scale.rand_std", (1,), 2),
             ("why.scale.rand_sqrt", (1,), 0), ("why.scale.rand_std_scaled", (1,), 2)],
        ])
        big = self.grid([
            self.vec("illustration, d_k = 64, one random row: q\u00b7k", "why.scale.rand_row"),
            self.vec("softmax(q\u00b7k)", "why.scale.rand_soft_raw"),
            self.vec("softmax(q\u00b7k / 8)", "why.scale.rand_soft_scaled"),
        ])
        self.show("Why divide by \u221ad_k", real, spread, rand, big)

    def step_dot(self) -> None:
        t, theme = self.trace, self.theme
        i, j = (int(k) for k in t["why.dot.pos"])
        wa, wb = t.tokens[i], t.tokens[j]
        plane = np.asarray(t["why.dot.plane"], dtype=float)
        scale = 2.2 / max(float(np.abs(plane).max()), 1e-9)
        a_end = np.array([*plane[0], 0.0]) * scale
        b_end = np.array([*plane[1], 0.0]) * scale
        arrow_a = Arrow([0, 0, 0], a_end, buff=0, color=theme.heat, stroke_width=4)
        arrow_b = Arrow([0, 0, 0], b_end, buff=0, color=theme.output, stroke_width=4)
        ang_a = 0.0
        ang_b = float(np.arctan2(b_end[1], b_end[0]))
        arc = Arc(radius=0.5, start_angle=ang_a, angle=ang_b - ang_a, color=theme.muted)
        la = label_text(f"a = X[{wa}]", NOTE, theme.heat)
        la.kind = "prose"
        la.next_to(arrow_a.get_end(), RIGHT, buff=0.1)
        lb = label_text(f"b = X[{wb}]", NOTE, theme.output)
        lb.kind = "prose"
        lb.next_to(arrow_b.get_end(), UP, buff=0.1)
        figure = VGroup(arrow_a, arrow_b, arc, la, lb)
        note = VGroup(self.note("drawn in the plane a and b span: a projection"),
                      self.note("that keeps both lengths and the angle exactly")).arrange(
            DOWN, buff=0.12, aligned_edge=LEFT)
        rows = self.grid([
            self.vec(f"a (\u201c{wa}\u201d)", "why.dot.a"),
            self.vec(f"b (\u201c{wb}\u201d)", "why.dot.b"),
        ])
        eq = self.inline("|a| =", ("why.dot.len", (0,), 3), ",  |b| =", ("why.dot.len", (1,), 3),
                         ",  \u03b8 =", ("why.dot.angle", (), 1), "\u00b0,  cos \u03b8 =",
                         ("why.dot.cos", (), 4))
        eq2 = self.inline("a\u00b7b = |a| |b| cos \u03b8 =", ("why.dot.len", (0,), 3), "\u00d7",
                          ("why.dot.len", (1,), 3), "\u00d7", ("why.dot.cos", (), 4), "=",
                          ("why.dot.product", (), 3))
        text = VGroup(rows, eq, eq2, note).arrange(DOWN, buff=0.3, aligned_edge=LEFT)
        figure.next_to(text, RIGHT, buff=0.6)
        self.show("What a dot product measures", VGroup(text, figure))

    def step_softmax(self) -> None:
        words = list(self.trace.tokens)
        table = self.grid([
            ["", *words],
            self.vec("x = q\u00b7k / \u221ad_k", "why.soft.x"),
            self.vec("x \u2212 max", "why.soft.shifted"),
            self.vec("exp(x \u2212 max)", "why.soft.exp", 3),
            self.vec("\u00f7 sum", "why.soft.probs", 3),
        ])
        sums = self.inline("max =", ("why.soft.max", (), 2), ",  sum of the exps =",
                           ("why.soft.sum", (), 3))
        shift = self.inline("the same row +", ("why.soft.offset", (), 0),
                            ": exp overflows in float32 above", ("why.soft.f32_limit", (), 2),
                            "(all", ("why.soft.overflows", (), 0), "entries: \u221e/\u221e)")
        same = self.grid([self.vec("subtracting the max first gives", "why.soft.big_probs", 3)])
        self.show("Softmax, one row worked", table, sums, shift, same)

    def step_norm(self) -> None:
        t = self.trace
        kw = dict(decimals=1, font_size=NOTE, max_rows=5, max_cols=5)
        x = self.matrix("why.norm.x", row_labels="tokens", **kw)
        row = self.matrix("why.norm.row", **kw)
        col = self.matrix("why.norm.col", **kw)
        heads = []
        for m, text in ((x, "activations X"), (row, "per row (layer norm)"),
                        (col, "per column (batch norm's way)")):
            h = self.note(text, NOTE, self.theme.text)
            heads.append(VGroup(h, m).arrange(DOWN, buff=0.15))
        mats = VGroup(*heads).arrange(RIGHT, buff=0.5, aligned_edge=UP)
        causal = "and would let a word see the later words' values" \
            if t.config.mode != "encdec" else "so a word's row would change with the others"
        why = VGroup(self.note("a column's mean and spread come from every token of the sentence,"),
                     self.note(f"{causal}; a row needs only its own token")).arrange(
            DOWN, buff=0.12, aligned_edge=LEFT)
        if t.config.norm == "rmsnorm":
            why.add(self.note("this model's RMSNorm works per row too: it divides each row by "
                              "its root mean square, without subtracting the mean"))
            why.arrange(DOWN, buff=0.12, aligned_edge=LEFT)
        self.show("Layer norm, not batch norm", mats, why)

    def step_heads(self) -> None:
        t = self.trace
        h, dk = int(t["why.heads.h"]), int(t["why.heads.d_k"])
        wq = self.matrix("why.heads.W_Q", decimals=2, font_size=NOTE)
        cut = VGroup(*(Line(wq.cell_centre(0, k * dk) + LEFT * wq.cell_w / 2 + UP * wq.cell_h / 2,
                            wq.cell_centre(len(lookup(t, "why.heads.W_Q")) - 1, k * dk)
                            + LEFT * wq.cell_w / 2 + DOWN * wq.cell_h / 2,
                            color=self.theme.highlight, stroke_width=3) for k in range(1, h)))
        title = self.inline("W_Q of the first layer:", ("why.heads.d", (), 0), "\u00d7",
                            ("why.heads.d", (), 0), "=", ("why.heads.h", (), 0),
                            "heads' blocks of", ("why.heads.d", (), 0), "\u00d7",
                            ("why.heads.d_k", (), 0))
        cost = self.grid([
            ["", "W_Q, W_K, W_V parameters", "their multiplications", "Q\u00b7K\u1d40",
             "weights \u00b7 V"],
            ["one head of width d_model", *(("why.heads.cost", (0, k), 0) for k in range(4))],
            [f"{h} heads of width d_k", *(("why.heads.cost", (1, k), 0) for k in range(4))],
        ])
        n = self.inline("multiplications for", ("why.heads.tokens", (), 0),
                        "tokens; counted with every head its own K and V")
        self.show("Multi-head costs what one head costs", title, VGroup(wq, cut), cost, n)

    def step_sizes(self) -> None:
        cols = ["this model", "paper, base", "SmolLM2-135M"]
        rows = [["parameters", *cols]]
        for p, name in enumerate(PARTS):
            rows.append([name, *(("why.sizes.counts", (m, p), 0) for m in range(3))])
        rows.append(["total", *(("why.sizes.counts", (m, 5), 0) for m in range(3))])
        table = self.grid(rows, gap=0.4)
        shape = ["d_model", "heads", "d_k", "d_ff", "encoder layers", "decoder layers",
                 "vocabulary"]
        sizes = self.grid([["sizes", *cols],
                           *([s, *(("why.sizes.configs", (m, k), 0) for m in range(3))]
                             for k, s in enumerate(shape))], gap=0.4)
        note = VGroup(self.note("counted as this repository's model builds them (SmolLM2's "
                                "published sizes);"),
                      self.inline("the paper also shares one embedding table between both "
                                  "languages:", ("why.sizes.shared", (), 0), "fewer")).arrange(
            DOWN, buff=0.12, aligned_edge=LEFT)
        self.show("From a tiny model to real sizes", VGroup(table, sizes).arrange(
            RIGHT, buff=0.6, aligned_edge=UP), note)

    def step_residual(self) -> None:
        t = self.trace
        pos = int(t["why.resid.pos"])
        word = t.tokens[pos]
        rows = self.grid([
            self.vec(f"stream in, row \u201c{word}\u201d", "why.resid.x"),
            self.vec("+ attention's output", "why.resid.sub"),
            self.vec("= stream out", "why.resid.sum"),
        ])
        then = ("then layer norm (post-norm, as in the paper)" if t.config.norm_position == "post"
                else "the stream itself is not normed (pre-norm): the next sub-layer reads it")
        note = VGroup(self.note("the sub-layer writes a change into the row; what was there "
                                "stays: the skip path"),
                      self.note(f"around each sub-layer in the paper's figure; {then}")).arrange(
            DOWN, buff=0.12, aligned_edge=LEFT)
        self.show("The residual stream", rows, note)
