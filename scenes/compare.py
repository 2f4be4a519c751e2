"""The paper's block and today's block side by side, on the same sentence, with real numbers.

``lm`` (the 2017 block: sinusoidal positions added to X, post-LayerNorm, every head with its
own K and V, ReLU feed-forward, biases) and ``modern`` (rotary positions, pre-RMSNorm,
grouped-query attention, SwiGLU, no biases) were trained on the same sentences with the same
words. Each step names one difference once and shows both models' numbers for it.

Reads the trace of :func:`transformer_core.compare.compare_run`: the modern run's records
(``decoder.blocks.L...``, ``param:...``) and the paper run's under ``paper.`` (records
``paper.NAME``, parameters ``paper.param.NAME``).

Runs under Manim's CLI too: ``manim -ql scenes/compare.py CompareScene``.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manim import DOWN, LEFT, RIGHT, UP, FadeIn, Line, VGroup, Write  # noqa: E402

from scenes.toolkit.mobjects import TokenRow, cell_width_for, fit_into, formula  # noqa: E402
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene,
)
from scenes.toolkit.style import NOTE, SUM_NUM, TITLE  # noqa: E402
from scenes.toolkit.text import label_text, plain_text  # noqa: E402
from transformer_core.explain import largest_unit, lookup, top_k_ids  # noqa: E402

__all__ = ["CompareScene"]

P = "paper."  # the paper model's records in the comparison trace


@functools.lru_cache(maxsize=4)
def _comparison(sentence: str | None):
    from transformer_core.compare import compare_run

    return compare_run(sentence=sentence)


class CompareScene(StoryScene):
    """The 2017 block (lm) beside today's block (modern), one difference per step."""

    model_kinds = ("modern",)
    max_tokens = 6

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        return [
            Step("title", "Two small language models trained on the same sentences: the "
                          "paper's block on the left, today's LLM block on the right."),
            Step("positions", "Position: the paper adds a sine table to X; today's block adds "
                              "nothing and turns q and k by the position instead."),
            Step("norm", "Normalisation: LayerNorm subtracts each row's mean and adds β; "
                         "RMSNorm only divides by the root mean square and scales by γ."),
            Step("stream", "Where the norm sits: after each addition in the paper, so the "
                           "stream stays at size 1; before each sub-layer today, so the "
                           "stream grows."),
            Step("heads", "Keys and values: the paper gives every head its own; grouped-query "
                          "attention shares one K/V head, halving what each word caches."),
            Step("ffn", "Feed-forward: ReLU of one widening in the paper; SwiGLU multiplies a "
                        "SiLU gate by a second widening, with no biases."),
            Step("output", "The output: the paper unembeds the last block's output; today's "
                           "block puts one more RMSNorm first, and both predict a next word."),
        ]

    def setup(self) -> None:
        super().setup()
        self.trace = _comparison(self.options.sentence)
        self.focus()
        self.i = self.n - 1  # the last word: the furthest from position 0
        self.word_text = str(lookup(self.trace, self.tok)[self.i])

    # ---- helpers ----------------------------------------------------------------------------

    def row(self, source: str, decimals: int = 2):
        """Row ``self.i`` of a [pos, d] record as a one-row matrix."""
        src = f"explain.column({source}[{self.i}]).T"
        cw = cell_width_for(lookup(self.trace, src), decimals, SUM_NUM, pad=0.1)
        return self.matrix(src, cell_w=cw, font_size=SUM_NUM, decimals=decimals)

    def side(self, title: str, *parts) -> VGroup:
        head = self.note(title, NOTE + 4, self.theme.text)
        body = VGroup(*parts).arrange(DOWN, buff=0.25, aligned_edge=LEFT)
        return VGroup(head, body).arrange(DOWN, buff=0.35, aligned_edge=LEFT)

    def show_sides(self, heading: str, left: VGroup, right: VGroup, below=None) -> None:
        left_right = VGroup(left, right).arrange(RIGHT, buff=0.9, aligned_edge=UP)
        x = (left.get_right()[0] + right.get_left()[0]) / 2
        divider = Line([x, left_right.get_top()[1], 0], [x, left_right.get_bottom()[1], 0],
                       stroke_width=1.5, color=self.theme.muted)
        parts = [left_right, divider]
        if below is not None:
            below.next_to(left_right, DOWN, buff=0.4)
            parts.append(below)
        self.fit(*parts)
        self.play(*self.heading(heading), *self.leave(), run_time=0.8)
        self.play(FadeIn(left), FadeIn(divider), run_time=1.2)
        self.play(FadeIn(right), run_time=1.2)
        if below is not None:
            self.play(FadeIn(below), run_time=0.8)
        self.end_state(*parts, hold=5.0)

    def prose(self, text: str, size: float = NOTE, color: str | None = None):
        """Words on a baseline at y = 0 (table cells line up by their baselines)."""
        mob = label_text(text, size, color or self.theme.muted)
        mob.kind = "prose"
        return mob

    def eq(self, tex: str, size: float = 28):
        return formula(tex, font_size=size, color=self.theme.text)

    # ---- steps ------------------------------------------------------------------------------

    def step_title(self) -> None:
        theme = self.theme
        title = plain_text("The paper's block and today's block", TITLE, theme.text)
        tokens = TokenRow(self.trace, self.tok, theme, font_size=26)
        rows = [("positions", "sine table added to X", "q, k turned (RoPE)"),
                ("norm", "LayerNorm", "RMSNorm"),
                ("norm sits", "after each addition", "before each sub-layer"),
                ("keys, values", "one K/V per head", "shared K/V (grouped)"),
                ("feed-forward", "ReLU, with biases", "SwiGLU, no biases"),
                ("before W_U", "nothing", "a final RMSNorm")]
        table = [[None, self.prose("paper (lm)", NOTE + 2, theme.text),
                  self.prose("today (modern)", NOTE + 2, theme.text)]]
        for what, left, right in rows:
            table.append([self.prose(what, NOTE + 2), self.prose(left, NOTE + 2, theme.text),
                          self.prose(right, NOTE + 2, theme.query)])
        grid = self.table(table, widths=[2.4, 3.6, 3.6], gaps=[0, 0.4, 0.4], row_h=0.45,
                          aligns=["left", "left", "left"])
        note = self.note("Same sentences, same words, same sizes; every number that follows "
                         "is computed by one of the two models.", NOTE)
        group = VGroup(title, tokens, grid, note).arrange(DOWN, buff=0.45)
        left, right, bottom, top = self.content_box()
        fit_into(group, left, right, bottom, top + 0.6)
        self.play(Write(title), FadeIn(tokens), run_time=1.2)
        self.play(FadeIn(grid), run_time=1.4)
        self.play(FadeIn(note), run_time=0.6)
        self.end_state(title, tokens, grid, note, hold=3.0)

    def step_positions(self) -> None:
        i, w = self.i, self.word_text
        b = "decoder.blocks.0"
        left = self.side(
            "paper: X = embedding × √d + PE",
            self.note(f"{w} (position {i}): its embedding row", NOTE), self.row(f"{P}decoder.embed"),
            self.note("+ the sine table's row for its position", NOTE),
            self.row(f"{P}decoder.pos_embed"),
            self.note("= its row of X", NOTE), self.row(f"{P}{b}.resid_pre"))
        right = self.side(
            "today: X = embedding, nothing added",
            self.note(f"{w}: its row of X is its embedding", NOTE), self.row(f"{b}.resid_pre"),
            self.note("position enters in attention: pair 0 of its q, k turns by", NOTE),
            self.inline("a = position × θ₀ =", (f"{b}.attn.angle", (i, 0), 2), "rad"),
            self.note("(the attention scene shows the turn)", NOTE))
        self.show_sides("Positions", left, right)

    def step_norm(self) -> None:
        i, w = self.i, self.word_text
        b = "decoder.blocks.0"
        x_p, x_m = f"{P}{b}.resid_mid", f"{b}.resid_pre"
        left = self.side(
            "paper: LayerNorm",
            self.eq(r"\gamma\,\frac{x-\mu}{\sqrt{\sigma^2+\epsilon}} + \beta"),
            self.note(f"its input for {w} (X + attention)", NOTE), self.row(x_p),
            self.inline("μ =", (f"{P}{b}.ln1.mean", (i,), 2), ",  σ² =",
                        (f"{P}{b}.ln1.var", (i,), 2)),
            self.note("output", NOTE), self.row(f"{P}{b}.ln1.out"))
        right = self.side(
            "today: RMSNorm",
            self.eq(r"\gamma\,\frac{x}{\sqrt{\mathrm{mean}(x^2)+\epsilon}}"),
            self.note(f"its input for {w} (the stream X)", NOTE), self.row(x_m),
            self.inline("rms =", (f"{b}.ln1.rms", (i,), 2), ":  no μ, no β"),
            self.note("output", NOTE), self.row(f"{b}.ln1.out"))
        self.show_sides("Which norm", left, right)

    def step_stream(self) -> None:
        theme, t = self.theme, self.trace
        i, w = self.i, self.word_text
        n_layers = t.config.n_dec_layers
        stages = []
        for k in range(n_layers):
            b = f"decoder.blocks.{k}"
            stages += [(f"block {k} input", f"{P}{b}.resid_pre", f"{b}.resid_pre"),
                       (f"block {k} after attention", f"{P}{b}.ln1.out", f"{b}.resid_mid"),
                       (f"block {k} output", f"{P}{b}.ln2.out", f"{b}.resid_post")]
        rows = [[self.prose("stream of " + w, NOTE, theme.text),
                 self.prose("paper: rms of the row", NOTE, theme.text),
                 self.prose("today: rms of the row", NOTE, theme.text)]]
        for label, paper, modern in stages:
            rows.append([self.prose(label, NOTE),
                         self.number(f"explain.rms({paper}[{i}])", (), 2),
                         self.number(f"explain.rms({modern}[{i}])", (), 2, color=theme.query)])
        table = self.table(rows, widths=[3.4, 2.6, 2.6], gaps=[0, 0.4, 0.4], row_h=0.42,
                           aligns=["left", "right", "right"])
        eqs = VGroup(self.eq(r"\text{paper: } x \leftarrow \mathrm{LN}(x + \mathrm{Sub}(x))"),
                     self.eq(r"\text{today: } x \leftarrow x + \mathrm{Sub}(\mathrm{RMSNorm}(x))")
                     ).arrange(RIGHT, buff=0.8)
        note = self.note("The paper's stream is renormalised after every addition; today's "
                         "stream is only ever added to (a clean path for gradients).", NOTE)
        group = VGroup(eqs, table, note).arrange(DOWN, buff=0.4)
        self.fit(group)
        self.play(*self.heading("Where the norm sits"), *self.leave(), run_time=0.8)
        self.play(FadeIn(eqs), run_time=1.0)
        self.play(FadeIn(table), run_time=1.6)
        self.play(FadeIn(note), run_time=0.6)
        self.end_state(group, hold=5.0)

    def step_heads(self) -> None:
        b = "decoder.blocks.0.attn"
        kv = "explain.kv_numbers(explain.count({}), config:d_head)"
        left = self.side(
            "paper: every head its own K, V",
            self.inline("K/V heads:", (f"explain.count({P}param.{b}.W_K)", (), 0),
                        "for", (f"explain.count({P}param.{b}.W_Q)", (), 0), "query heads"),
            self.inline("W_K, W_V:", (f"explain.size({P}param.{b}.W_K)", (), 0), "+",
                        (f"explain.size({P}param.{b}.W_V)", (), 0), "weights"),
            self.inline("cached per word and layer:",
                        (kv.format(f"{P}param.{b}.W_K"), (), 0), "numbers"))
        right = self.side(
            "today: grouped-query attention",
            self.inline("K/V heads:", (f"explain.count(param:{b}.W_K)", (), 0),
                        "for", (f"explain.count(param:{b}.W_Q)", (), 0), "query heads"),
            self.inline("W_K, W_V:", (f"explain.size(param:{b}.W_K)", (), 0), "+",
                        (f"explain.size(param:{b}.W_V)", (), 0), "weights"),
            self.inline("cached per word and layer:",
                        (kv.format(f"param:{b}.W_K"), (), 0), "numbers"))
        below = self.note("Both query heads of today's block read the same keys and values; "
                          "in a large model this shrinks the KV cache that generation keeps.",
                          NOTE)
        self.show_sides("Keys and values", left, right, below)

    def step_ffn(self) -> None:
        i, w = self.i, self.word_text
        b = "decoder.blocks.0.mlp"
        t = self.trace
        j_p = largest_unit(t[f"{P}{b}.act"][i])
        j_m = largest_unit(t[f"{b}.glu"][i])
        left = self.side(
            "paper: ReLU",
            self.eq(r"\max(0,\; x W_1 + b_1)\, W_2 + b_2"),
            self.inline("hidden units:", (f"explain.count(explain.column({P}param.{b}.b_1))", (),
                                          0)),
            self.inline(f"{w}, unit", ("dim", (j_p,), 0), ": h =", (f"{P}{b}.hidden", (i, j_p), 2),
                        "→ ReLU =", (f"{P}{b}.act", (i, j_p), 2)),
            self.inline("weights:", (f"explain.size({P}param.{b}.W_1)", (), 0), "+",
                        (f"explain.size({P}param.{b}.W_2)", (), 0), "+ biases",
                        (f"explain.size({P}param.{b}.b_1)", (), 0), "+",
                        (f"explain.size({P}param.{b}.b_2)", (), 0)))
        right = self.side(
            "today: SwiGLU",
            self.eq(r"\big(\mathrm{SiLU}(x W_{gate}) \odot x W_{up}\big)\, W_{down}"),
            self.inline("hidden units:", (f"explain.count(param:{b}.W_gate.T)", (), 0)),
            self.inline(f"{w}, unit", ("dim", (j_m,), 0), ": SiLU(g) =", (f"{b}.act", (i, j_m), 2),
                        "× up", (f"{b}.up", (i, j_m), 2), "=", (f"{b}.glu", (i, j_m), 2)),
            self.inline("weights:", (f"explain.size(param:{b}.W_gate)", (), 0), "+",
                        (f"explain.size(param:{b}.W_up)", (), 0), "+",
                        (f"explain.size(param:{b}.W_down)", (), 0), ", no biases"))
        self.show_sides("Feed-forward", left, right)

    def step_output(self) -> None:
        theme, t = self.theme, self.trace
        i, w = self.i, self.word_text
        k_p = int(top_k_ids(t[f"{P}probs"], 1)[i, 0])
        k_m = int(top_k_ids(t["probs"], 1)[i, 0])
        last = f"decoder.blocks.{t.config.n_dec_layers - 1}"
        left = self.side(
            "paper: logits = x W_U + b_U",
            self.note(f"x = the last block's output for {w}", NOTE), self.row(f"{P}{last}.ln2.out"),
            VGroup(self.note("most probable next word:", NOTE), self.word(k_p, NOTE + 2, theme.output),
                   self.number(f"{P}probs", (i, k_p), 3)).arrange(RIGHT, buff=0.15))
        right = self.side(
            "today: logits = RMSNorm(x) W_U",
            self.note(f"x = the stream after the last block for {w}", NOTE),
            self.row(f"{last}.resid_post"),
            self.inline("after the final RMSNorm (rms", ("decoder.ln_f.rms", (i,), 2), ")"),
            self.row("decoder.ln_f.out"),
            VGroup(self.note("most probable next word:", NOTE), self.word(k_m, NOTE + 2, theme.output),
                   self.number("probs", (i, k_m), 3)).arrange(RIGHT, buff=0.15))
        self.show_sides("Output", left, right)
