"""The rest of a Transformer block, after one head of attention, with its real numbers.

    MultiHead(X) = Concat(head_0, ..., head_{h-1}) W_O
    x = LayerNorm(X + MultiHead(X))                   ("Add & Norm")
    FFN(x) = max(0, x W_1 + b_1) W_2 + b_2
    output = LayerNorm(x + FFN(x))                    ("Add & Norm")

Reads, for the block ``B`` of the attention scene (``encoder.blocks.L`` for ``translate``,
``decoder.blocks.L`` for the decoder-only ``lm``): ``B.attn.pattern``/``z``/``concat``/``out``,
``param:B.attn.W_O``, ``B.resid_pre``/``resid_mid``/``resid_post``, ``B.ln1.*``/``B.ln2.*`` with
``param:B.lnN.gamma``/``beta``, ``B.mlp.hidden``/``act``/``out`` with ``param:B.mlp.W_1``/
``b_1``/``W_2``/``b_2``. Concatenation, the stacked W_O, the products of the worked cell and the
standardised rows of LayerNorm come from :mod:`transformer_core.explain`.

Runs under Manim's CLI too: ``manim -ql scenes/multihead.py MultiHeadScene``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manim import (  # noqa: E402
    DOWN, LEFT, RIGHT, UP, Arrow, Create, FadeIn, FadeOut, LaggedStart, Line,
    ReplacementTransform, VGroup, Write,
)

from scenes.toolkit.animations import (  # noqa: E402
    build_worked_cell, play_fill, play_morph, play_worked_cell, relayout, swap,
)
from scenes.toolkit.mobjects import (  # noqa: E402
    TokenRow, ValueMatrix, cell_height_for, cell_width_for, fit_into, formula, rounded_box,
)
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene, current_options, decoder_only, load_trace, modern_block,
    model_name,
)
from scenes.toolkit.style import NOTE, STRIP_NUM, SUM_NUM, TITLE  # noqa: E402
from scenes.toolkit.text import plain_text  # noqa: E402
from transformer_core.explain import (  # noqa: E402
    block_example, largest_unit, lookup, n_attention_layers,
)

__all__ = ["MultiHeadScene"]

HEAT = 0.175  # cell width of the 32-wide feed-forward heat-maps


class MultiHeadScene(StoryScene):
    """Heads → concat → W_O → Add & Norm → feed-forward → Add & Norm, for one block."""

    # Any number of positions: a long sentence folds its rows (see ``Layouts.fold``).

    @staticmethod
    def positions(trace) -> int:
        """The rows it shows: the sentence's tokens (the block is the encoder's, or a
        language model's)."""
        return len(trace.tokens)

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        if modern_block(options):
            return cls.modern_storyboard()
        kind = "a decoder-only" if decoder_only(options) else "an encoder"
        # what really reads the block's output, for this model and layer
        cfg = load_trace(options.model, options.sentence, options.checkpoint).config
        if cfg.mode == "encdec" and options.layer == cfg.n_enc_layers - 1:
            after = "the encoder's output, which the decoder's cross-attention reads as keys and values"
        elif options.layer < n_attention_layers(cfg) - 1:
            after = f"passed on to layer {options.layer + 1}"
        else:
            after = "the last layer's output, which W_U turns into next-word scores"
        return [
            Step("title", f"After attention, {kind} block combines its heads, adds its input "
                          "back, normalises, and passes every word through a small "
                          "feed-forward network."),
            Step("heads", "Each head has its own attention weights, so each head's output Z "
                          "mixes the words differently: four numbers per word and head."),
            Step("concat", "Concatenating the heads puts their outputs side by side: "
                           "n_heads × d_head = d_model = 8 numbers per word."),
            Step("project", "Multiplying by the learned matrix W_O mixes the heads' numbers "
                            "into the attention output, one row of d_model numbers per word."),
            Step("residual", "The residual connection adds the block's input X back, so "
                             "attention only has to learn a change to each word's row."),
            Step("norm", "LayerNorm rescales each row to mean 0 and variance 1 (μ and σ² are "
                         "that row's own), then applies the learned scale γ and shift β."),
            Step("ffn_hidden", "The feed-forward layer widens each word on its own to "
                               "4 × d_model = 32 hidden units: x·W_1 + b_1."),
            Step("relu", "ReLU keeps the positive hidden units and sets the negative ones to "
                         "zero."),
            Step("ffn_out", "Multiplying by W_2 and adding b_2 brings each word back to "
                            "d_model = 8 numbers."),
            Step("residual_2", "A second residual connection adds the feed-forward layer's "
                               "input back to its output."),
            Step("norm_2", "A second LayerNorm gives the block's output: one row of d_model "
                           f"numbers per word, {after}."),
        ]

    def setup(self) -> None:
        super().setup()
        pick = block_example(self.trace, self.prefix, self.h)
        self.row, self.out_col = pick["row"], pick["out_col"]
        self.worked_row = self.row  # a long sentence folds its rows around it (Layouts.fold)

    # ---- helpers ----------------------------------------------------------------------------

    def sym(self, tex: str, size: float = 26):
        """A small fixed formula in the muted colour (names of weights, shapes)."""
        return formula(tex, font_size=size, color=self.theme.muted)

    def title_over(self, text: str, mob: ValueMatrix, size: float = NOTE, buff: float = 0.15):
        above = mob.col_labels if len(mob.col_labels) else mob.brackets
        head = self.note(text, size, self.theme.text).next_to(above, UP, buff=buff)
        return head.align_to(mob.brackets, LEFT)

    def norm_layout(self, x_src: str, ln: str, x_title: str, font_size: float = SUM_NUM):
        """x with its row means μ and variances σ² beside it; under it the learned γ and β
        (one per column) and LayerNorm(x), columns aligned; the formula beside the output.
        Returns ``(x, mu, var, gamma, beta, out, z, extras)``: ``z`` (not placed on screen)
        is the standardised x drawn on the output's cells."""
        t, theme = self.trace, self.theme
        z_src = f"explain.standardise({x_src}, {ln}.mean, {ln}.var, config:ln_eps)"
        g_src = f"explain.column(param:{ln}.gamma).T"
        b_src = f"explain.column(param:{ln}.beta).T"
        out_src = f"{ln}.out"
        cw = max(cell_width_for(lookup(t, s), 2, font_size, pad=0.1)
                 for s in (x_src, z_src, g_src, b_src, out_src))
        ch = cell_height_for(font_size)
        rows = self.fold()
        kw = dict(cell_w=cw, cell_h=ch, font_size=font_size, rows=rows)
        x = self.matrix(x_src, row_labels=self.tok, col_labels="dim", **kw)
        mu = self.matrix(f"explain.column({ln}.mean)", cell_h=ch, font_size=font_size,
                         colored=False, rows=rows)
        var = self.matrix(f"explain.column({ln}.var)", cell_h=ch, font_size=font_size,
                          colored=False, rows=rows)
        mu.move_cells_onto(x).shift(RIGHT * (x.brackets.get_right()[0] - mu.brackets.get_left()[0]
                                             + 0.35))
        var.move_cells_onto(x).shift(RIGHT * (mu.brackets.get_right()[0]
                                              - var.brackets.get_left()[0] + 0.25))
        kw.pop("rows")
        gamma = self.matrix(g_src, **kw)
        beta = self.matrix(b_src, **kw)
        gamma.shift(x.cell_centre(x.row_ids[-1], 0) + DOWN * (ch + 0.25) - gamma.cell_centre(0, 0))
        beta.shift(gamma.cell_centre(0, 0) + DOWN * (ch + 0.1) - beta.cell_centre(0, 0))
        out = self.matrix(out_src, row_labels=self.tok, rows=rows, **kw)
        out.shift(beta.cell_centre(0, 0) + DOWN * (ch + 0.3) - out.cell_centre(0, 0))
        z = self.matrix(z_src, rows=rows, **kw).move_cells_onto(out)
        sym = VGroup()
        for tex, m in ((r"\mu", mu), (r"\sigma^2", var)):
            sym.add(formula(tex, font_size=30, color=theme.text).next_to(m.brackets, UP, 0.12))
        for tex, m in ((r"\gamma", gamma), (r"\beta", beta)):
            s = formula(tex, font_size=28, color=theme.text)
            sym.add(s.next_to(m.brackets, LEFT, buff=0.2))
        heads = VGroup()
        eq = formula(r"\mathrm{LayerNorm}(x) = \gamma\,\frac{x-\mu}{\sqrt{\sigma^2+\epsilon}}"
                     r" + \beta", font_size=30, color=theme.text)
        eq.next_to(out.brackets, RIGHT, buff=0.5).align_to(out.brackets, UP)
        note = self.note(f"← LayerNorm(x), one row at a time, for\nx = {x_title};\nμ and σ² "
                         "are the mean and variance\nof each row's 8 numbers", NOTE)
        note.next_to(eq, DOWN, buff=0.3, aligned_edge=LEFT)
        return x, mu, var, gamma, beta, out, z, VGroup(sym, heads, eq, note)

    def play_norm(self, x, mu, var, gamma, beta, out, z, extras) -> None:
        sym, heads, eq, note = extras
        self.play(FadeIn(sym[0]), FadeIn(mu.brackets), run_time=0.5)
        self.play(LaggedStart(*(ReplacementTransform(x.row(i).copy(), mu.row(i))
                                for i in x.row_ids), lag_ratio=0.15), FadeIn(mu.ellipses),
                  run_time=1.2)
        self.play(FadeIn(sym[1]), FadeIn(var.brackets), run_time=0.5)
        self.play(LaggedStart(*(ReplacementTransform(x.row(i).copy(), var.row(i))
                                for i in x.row_ids), lag_ratio=0.15), FadeIn(var.ellipses),
                  run_time=1.2)
        self.play(FadeIn(eq), FadeIn(note), Create(z.brackets),
                  FadeIn(out.row_labels), run_time=0.8)
        self.play(ReplacementTransform(x.cells().copy(), z.cells()), run_time=1.2)
        self.play(FadeIn(gamma), FadeIn(beta), FadeIn(sym[2:]), run_time=0.8)
        play_morph(self, z, out, run_time=1.2)
        swap(self, z, out)

    # ---- today's block: pre-norm, RMSNorm, grouped-query attention, SwiGLU ------------------

    @staticmethod
    def modern_storyboard() -> list[Step]:
        return [
            Step("title", "Today's block normalises first: each sub-layer reads RMSNorm(x) and "
                          "adds its result back into x, the residual stream, which itself is "
                          "never normalised."),
            Step("pre_norm", "RMSNorm divides each row by its root mean square and scales by "
                             "γ; unlike LayerNorm it subtracts no mean and adds no β."),
            Step("heads", "Each head has its own attention weights, so each head's output Z "
                          "mixes the words differently: four numbers per word and head."),
            Step("grouped", "Grouped-query attention: the query heads share one K/V head, so "
                            "each word stores fewer keys and values."),
            Step("concat", "Concatenating the heads puts their outputs side by side: "
                           "n_heads × d_head = d_model = 8 numbers per word."),
            Step("project", "Multiplying by the learned matrix W_O mixes the heads' numbers "
                            "into the attention output, one row of d_model numbers per word."),
            Step("residual", "The attention output is added into the residual stream X, which "
                             "is left as it is: no norm after the addition."),
            Step("pre_norm_2", "A second RMSNorm prepares the stream's rows for the "
                               "feed-forward layer, again without touching the stream."),
            Step("gate_up", "SwiGLU widens each word twice: a gate x·W_gate and a value "
                            "x·W_up, each of d_ff numbers."),
            Step("swiglu", "SiLU(gate) ⊙ up: each gate unit, passed through SiLU(g) = "
                           "g·sigmoid(g), scales the matching unit of up."),
            Step("ffn_out", "Multiplying by W_down brings each word back to d_model numbers, "
                            "with no bias."),
            Step("residual_2", "The feed-forward output is added into the stream, and that sum "
                               "is the block's output: the next block normalises it again."),
        ]

    def modern_title(self) -> None:
        theme, cfg = self.theme, self.trace.config
        title = plain_text("Inside today's Transformer block", TITLE, theme.text)
        tokens = TokenRow(self.trace, self.tok, theme, font_size=26)
        norm = "RMSNorm" if cfg.norm == "rmsnorm" else "LayerNorm"
        ffn = "SwiGLU" if cfg.ffn == "swiglu" else "Feed-forward"
        names = [(norm, theme.muted), ("Masked multi-head\nattention", theme.query),
                 (norm, theme.muted), (ffn, theme.value)]
        boxes = VGroup()
        for text, color in names:
            label = plain_text(text, 20, theme.text, line_spacing=0.8)
            label.kind = "prose"
            box = rounded_box(corner_radius=0.12, width=label.width + 0.4, height=1.05,
                              stroke_color=color, stroke_width=2.5)
            boxes.add(VGroup(box, label.move_to(box)))
        boxes.arrange(RIGHT, buff=0.5)
        # the residual stream: a line under the boxes that each sub-layer reads and adds into
        y = boxes.get_bottom()[1] - 0.8
        x0, x1 = boxes.get_left()[0] - 1.0, boxes.get_right()[0] + 1.0
        stream = Arrow([x0, y, 0], [x1, y, 0], buff=0, stroke_width=5, color=theme.highlight,
                       max_tip_length_to_length_ratio=0.03)
        s_in = self.note("x", 20, theme.text).next_to(stream, LEFT, buff=0.15)
        s_out = self.note("output", 20, theme.text).next_to(stream, RIGHT, buff=0.15)
        wires = VGroup()
        for k in (0, 2):  # stream → norm → sub-layer → ⊕ on the stream
            norm_box, sub = boxes[k], boxes[k + 1]
            wires.add(Arrow([norm_box.get_x(), y, 0], norm_box.get_bottom(), buff=0.05,
                            stroke_width=2.5, color=theme.muted,
                            max_tip_length_to_length_ratio=0.25))
            wires.add(Arrow(norm_box.get_right(), sub.get_left(), buff=0.05, stroke_width=2.5,
                            color=theme.muted, max_tip_length_to_length_ratio=0.3))
            plus = self.note("+", 26, theme.highlight).move_to([sub.get_x(), y + 0.28, 0])
            wires.add(Arrow(sub.get_bottom(), [sub.get_x(), y + 0.05, 0], buff=0.05,
                            stroke_width=2.5, color=theme.muted,
                            max_tip_length_to_length_ratio=0.25), plus)
        s_note = self.note("the residual stream: blocks add into it, nothing normalises it", 16,
                           theme.highlight).next_to(stream, DOWN, buff=0.15)
        diagram = VGroup(boxes, stream, s_in, s_out, wires, s_note)
        eqs = VGroup(
            formula(r"x \leftarrow x + \mathrm{Attention}(\mathrm{RMSNorm}(x))", font_size=32,
                    color=theme.text),
            formula(r"x \leftarrow x + W_{down}\big(\mathrm{SiLU}(x' W_{gate}) \odot x' W_{up}\big),"
                    r"\quad x' = \mathrm{RMSNorm}(x)", font_size=30, color=theme.text),
        ).arrange(DOWN, buff=0.25)
        info = self.note(f"{model_name(self.options, short=True)}, layer {self.options.layer}", 20)
        group = VGroup(title, tokens, diagram, eqs, info).arrange(DOWN, buff=0.4)
        left, right, bottom, top = self.content_box()
        fit_into(group, left, right, bottom, top + 0.6)
        self.play(Write(title), LaggedStart(*(FadeIn(t) for t in tokens), lag_ratio=0.15),
                  run_time=1.2)
        self.play(Create(stream), FadeIn(s_in), FadeIn(s_out), FadeIn(s_note), run_time=1.0)
        self.play(LaggedStart(*(FadeIn(b) for b in boxes), lag_ratio=0.2), FadeIn(wires),
                  run_time=1.6)
        self.play(FadeIn(eqs, shift=0.2 * DOWN), FadeIn(info), run_time=1.0)
        self.end_state(title, tokens, diagram, eqs, info, hold=2.5)

    def rms_step(self, x_src: str, ln: str, x_title: str, heading: str) -> None:
        """x (the stream), each row's rms beside it, γ under it, RMSNorm(x) below; beside the
        output the formula and, for the worked row, what LayerNorm would have used instead."""
        t, theme = self.trace, self.theme
        size = SUM_NUM
        z_src = f"explain.rms_standardise({x_src}, {ln}.rms)"
        g_src = f"explain.column(param:{ln}.gamma).T"
        out_src = f"{ln}.out"
        cw = max(cell_width_for(lookup(t, s), 2, size, pad=0.1)
                 for s in (x_src, z_src, g_src, out_src))
        ch = cell_height_for(size)
        kw = dict(cell_w=cw, cell_h=ch, font_size=size)
        x = self.matrix(x_src, row_labels=self.tok, col_labels="dim", **kw)
        rms = self.matrix(f"explain.column({ln}.rms)", cell_h=ch, font_size=size, colored=False)
        rms.move_cells_onto(x).shift(RIGHT * (x.brackets.get_right()[0]
                                              - rms.brackets.get_left()[0] + 0.35))
        gamma = self.matrix(g_src, **kw)
        gamma.shift(x.cell_centre(x.n_rows - 1, 0) + DOWN * (ch + 0.25) - gamma.cell_centre(0, 0))
        out = self.matrix(out_src, row_labels=self.tok, **kw)
        out.shift(gamma.cell_centre(0, 0) + DOWN * (ch + 0.3) - out.cell_centre(0, 0))
        z = self.matrix(z_src, **kw).move_cells_onto(out)
        sym = VGroup(formula(r"\mathrm{rms}", font_size=28, color=theme.text).next_to(
                         rms.brackets, UP, 0.12),
                     formula(r"\gamma", font_size=28, color=theme.text).next_to(
                         gamma.brackets, LEFT, buff=0.2))
        eq = formula(r"\mathrm{RMSNorm}(x) = \gamma\,\frac{x}{\sqrt{\mathrm{mean}(x^2)+\epsilon}}",
                     font_size=30, color=theme.text)
        lay = formula(r"\mathrm{LayerNorm}(x) = \gamma\,\frac{x-\mu}{\sqrt{\sigma^2+\epsilon}}"
                      r" + \beta", font_size=26, color=theme.muted)
        r = self.row
        word = str(lookup(t, self.tok)[r])
        row_x = f"{x_src}[{r}]"
        compare = VGroup(
            self.inline(f"{word}: rms =", (f"{ln}.rms", (r,), 2), ", while LayerNorm would use"),
            self.inline("μ =", (f"explain.mean({row_x})", (), 2), "and σ =",
                        (f"explain.sqrt(explain.variance({row_x}))", (), 2),
                        ": RMSNorm drops μ and β"),
        ).arrange(DOWN, buff=0.15, aligned_edge=LEFT)
        note = self.note(f"x = {x_title}; the stream\nitself is left unchanged", NOTE)
        side = VGroup(eq, lay, compare, note).arrange(DOWN, buff=0.3, aligned_edge=LEFT)
        side.next_to(out.brackets, RIGHT, buff=0.5).align_to(gamma.brackets, UP)
        self.fit(x, rms, gamma, out, sym, side)
        z.move_cells_onto(out)
        prev = getattr(self, "current", None)
        if prev is not None:
            self.play(*self.heading(heading), *self.leave(prev), *relayout(prev, x), run_time=1.0)
        else:
            self.play(*self.heading(heading), *self.leave(), FadeIn(x), run_time=1.0)
        self.play(FadeIn(sym[0]), FadeIn(rms.brackets), run_time=0.5)
        self.play(LaggedStart(*(ReplacementTransform(x.row(i).copy(), rms.row(i))
                                for i in range(x.n_rows)), lag_ratio=0.15), run_time=1.2)
        self.play(FadeIn(eq), Create(z.brackets), FadeIn(out.row_labels), run_time=0.8)
        self.play(ReplacementTransform(x.cells().copy(), z.cells()), run_time=1.2)
        self.play(FadeIn(gamma), FadeIn(sym[1]), run_time=0.6)
        play_morph(self, z, out, run_time=1.2)
        swap(self, z, out)
        self.play(FadeIn(lay), FadeIn(compare), FadeIn(note), run_time=1.0)
        self.end_state(x, rms, gamma, out, sym, side, hold=2.5)
        self.current = out
        self.stream = x

    def step_pre_norm(self) -> None:
        self.rms_step(f"{self.block}.resid_pre", f"{self.block}.ln1", "X, the stream",
                      "Norm first: RMSNorm(X)")

    def step_pre_norm_2(self) -> None:
        self.rms_step(f"{self.block}.resid_mid", f"{self.block}.ln2",
                      "X + attention output", "Norm first again: RMSNorm")

    def step_grouped(self) -> None:
        theme, t = self.theme, self.trace
        cfg, p = t.config, self.prefix
        ch = cell_height_for(SUM_NUM)
        kvs = VGroup()
        for g in range(cfg.kv_heads):
            k = self.matrix(f"{p}.k[{g}]", cell_h=ch, font_size=SUM_NUM, name=f"K_{g}",
                            name_side=UP, name_color=theme.key,
                            row_labels=self.tok if g == 0 else None)
            v = self.matrix(f"{p}.v[{g}]", cell_h=ch, font_size=SUM_NUM, name=f"V_{g}",
                            name_side=UP, name_color=theme.value)
            kvs.add(VGroup(k, v).arrange(RIGHT, buff=0.4, aligned_edge=DOWN))
        kvs.arrange(RIGHT, buff=1.0, aligned_edge=DOWN)
        qs = VGroup()
        for h in range(cfg.n_heads):
            color = (theme.query, theme.key, theme.value, theme.output)[h % 4]
            label = self.note(f"query head {h}", NOTE + 2, theme.text)
            box = rounded_box(corner_radius=0.1, width=label.width + 0.3, height=0.6,
                              stroke_color=color, stroke_width=2.5)
            qs.add(VGroup(box, label.move_to(box)))
        qs.arrange(RIGHT, buff=0.6).next_to(kvs, UP, buff=0.9)
        links = VGroup(*(Arrow(qs[h].get_bottom(), kvs[h // cfg.group].get_top(), buff=0.1,
                               stroke_width=3, color=theme.muted,
                               max_tip_length_to_length_ratio=0.15)
                         for h in range(cfg.n_heads)))
        per = "explain.kv_numbers({}, config:d_head)"
        memory = VGroup(
            self.inline("Cached per word and layer: K and V of", ("config:kv_heads", (), 0),
                        "K/V head(s) =", (per.format("config:kv_heads"), (), 0),
                        "numbers; with one K/V head per query head:",
                        (per.format("config:n_heads"), (), 0)),
            self.inline("W_K and W_V hold", ("explain.size(param:" + p + ".W_K)", (), 0), "+",
                        ("explain.size(param:" + p + ".W_V)", (), 0), "weights instead of",
                        ("explain.size(param:" + p + ".W_Q)", (), 0), "+",
                        ("explain.size(param:" + p + ".W_Q)", (), 0)),
        ).arrange(DOWN, buff=0.18, aligned_edge=LEFT)
        memory.next_to(kvs, DOWN, buff=0.45)
        self.fit(qs, links, kvs, memory)
        self.play(*self.heading("Grouped-query attention"), *self.leave(), run_time=0.8)
        self.play(FadeIn(qs), run_time=0.6)
        self.play(FadeIn(kvs), LaggedStart(*(Create(a) for a in links), lag_ratio=0.3),
                  run_time=1.4)
        self.play(FadeIn(memory), run_time=1.0)
        self.end_state(qs, links, kvs, memory, hold=3.0)

    def step_gate_up(self) -> None:
        t = self.trace
        b = self.block
        size = SUM_NUM
        ch = cell_height_for(size)
        x_src = f"{b}.ln2.out"
        cw = 2 * HEAT  # its numbers were on screen a step ago: a heat map here
        x = self.matrix(x_src, cell_w=cw, cell_h=ch, row_labels=self.tok, show_numbers=False)
        d_ff = t.config.d_ff
        gate = self.matrix(f"{b}.mlp.gate", cell_w=HEAT, cell_h=ch, show_numbers=False)
        up = self.matrix(f"{b}.mlp.up", cell_w=HEAT, cell_h=ch, show_numbers=False)
        gate.shift(x.cell_centre(0, x.n_cols - 1) + RIGHT * (cw / 2 + 0.45 + HEAT / 2)
                   - gate.cell_centre(0, 0))
        up.next_to(gate, RIGHT, buff=0.5)
        wg = self.matrix(f"param:{b}.mlp.W_gate", cell_w=HEAT, cell_h=HEAT, show_numbers=False)
        wu = self.matrix(f"param:{b}.mlp.W_up", cell_w=HEAT, cell_h=HEAT, show_numbers=False)
        wg.next_to(gate, UP, buff=0.5)
        wu.next_to(up, UP, buff=0.5)
        names = VGroup(
            self.sym(rf"W_{{gate}}\ \ (8 \times {d_ff})").next_to(wg, UP, buff=0.12),
            self.sym(rf"W_{{up}}\ \ (8 \times {d_ff})").next_to(wu, UP, buff=0.12),
            self.sym(r"\mathrm{gate} = x W_{gate}").next_to(gate, DOWN, buff=0.2),
            self.sym(r"\mathrm{up} = x W_{up}").next_to(up, DOWN, buff=0.2),
        )
        names.add(self.sym(r"x").next_to(x, UP, buff=0.15))
        note = self.note(f"x = RMSNorm of the stream; {d_ff} units each, no bias "
                         "(two matrices where ReLU's FFN has one)", NOTE)
        note.next_to(VGroup(x, gate, up, names), DOWN, buff=0.35)
        self.fit(x, gate, up, wg, wu, names, note)
        self.play(*self.heading("SwiGLU: gate and up"), *self.leave(self.current),
                  *relayout(self.current, x), run_time=1.0)
        self.play(FadeIn(wg), FadeIn(wu), FadeIn(names[:2]), FadeIn(names[4]), run_time=0.8)
        self.play(FadeIn(gate), FadeIn(names[2]), run_time=1.0)
        self.play(FadeIn(up), FadeIn(names[3]), FadeIn(note), run_time=1.0)
        self.end_state(x, gate, up, wg, wu, names, note, hold=2.0)
        self.gate_parts = (x, gate, up)

    def step_swiglu(self) -> None:
        theme, t = self.theme, self.trace
        b = self.block
        x, gate, up = self.gate_parts
        ch = gate.cell_h
        act = self.matrix(f"{b}.mlp.act", cell_w=HEAT, cell_h=ch, show_numbers=False)
        glu = self.matrix(f"{b}.mlp.glu", cell_w=HEAT, cell_h=ch, show_numbers=False,
                          row_labels=self.tok)
        act.move_to(gate)
        glu.next_to(VGroup(act, up), DOWN, buff=0.8)
        names = VGroup(
            self.sym(r"\mathrm{SiLU}(\mathrm{gate})").next_to(act, UP, buff=0.15),
            self.sym(r"\mathrm{up}").next_to(up, UP, buff=0.15),
            self.sym(r"\mathrm{SiLU}(\mathrm{gate}) \odot \mathrm{up}").next_to(glu, DOWN,
                                                                                 buff=0.2),
        )
        times = formula(r"\odot", font_size=34, color=theme.text).move_to(
            (act.get_right() + up.get_left()) / 2)
        # one worked unit: the worked word's largest |glu| unit
        r = self.row
        j = largest_unit(t[f"{b}.mlp.glu"][r])
        word = str(lookup(t, self.tok)[r])
        g, a, u, y = (f"{b}.mlp.{n}" for n in ("gate", "act", "up", "glu"))
        work = VGroup(
            self.inline(f"{word}, unit", ("dim", (j,), 0), ": gate g =", (g, (r, j), 2),
                        ", sigmoid(g) =", (f"explain.sigmoid({g})", (r, j), 2)),
            self.inline("SiLU(g) = g · sigmoid(g) =", (a, (r, j), 2), ";  up =", (u, (r, j), 2)),
            self.inline("SiLU(g) × up =", (a, (r, j), 2), "×", (u, (r, j), 2), "=",
                        (y, (r, j), 2)),
        ).arrange(DOWN, buff=0.15, aligned_edge=LEFT)
        silu = formula(r"\mathrm{SiLU}(g) = \frac{g}{1 + e^{-g}}", font_size=30,
                       color=theme.text)
        side = VGroup(silu, work).arrange(DOWN, buff=0.3, aligned_edge=LEFT)
        side.next_to(glu, RIGHT, buff=0.6)
        hl = VGroup(act.cell_rect(r, j), up.cell_rect(r, j), glu.cell_rect(r, j))
        for ring in hl:
            ring.set_stroke(theme.highlight, 2.5)
        self.fit(act, up, glu, names, times, side, hl)
        self.play(*self.heading("SwiGLU: SiLU(gate) ⊙ up"), *self.leave(gate, up),
                  ReplacementTransform(gate, act), up.animate.move_to(up.get_center()),
                  FadeIn(names[:2]), FadeIn(silu), run_time=1.2)
        self.play(FadeIn(times), FadeIn(glu), FadeIn(names[2]), run_time=1.2)
        self.play(Create(hl), FadeIn(work), run_time=1.2)
        self.end_state(act, up, glu, names, times, side, hl, hold=2.5)
        self.act = glu

    def modern_ffn_out(self) -> None:
        t = self.trace
        b = self.block
        size = SUM_NUM
        ch = cell_height_for(size)
        out_src = f"{b}.mlp.out"
        cw = cell_width_for(lookup(t, out_src), 2, size, pad=0.1)
        glu = self.matrix(f"{b}.mlp.glu", cell_w=HEAT, cell_h=ch, show_numbers=False,
                          row_labels=self.tok, vmax=self.act.vmax)
        out = self.matrix(out_src, cell_w=cw, cell_h=ch, font_size=size)
        w = self.matrix(f"param:{b}.mlp.W_down", cell_w=cw, cell_h=0.085, show_numbers=False)
        out.shift(glu.cell_centre(0, glu.n_cols - 1) + RIGHT * (HEAT / 2 + 0.45 + cw / 2)
                  - out.cell_centre(0, 0))
        w.shift(out.cell_centre(0, 0) + UP * (ch / 2 + 0.3) - w.cell_centre(w.n_rows - 1, 0))
        d_ff = t.config.d_ff
        names = VGroup(
            self.sym(rf"W_{{down}}\ \ ({d_ff} \times 8)").next_to(w, LEFT, buff=0.25),
            self.sym(r"\mathrm{SiLU}(x W_{gate}) \odot x W_{up}").next_to(glu, UP, buff=0.15),
            self.sym(r"\mathrm{FFN}(x)\ \ (8 \text{ per word again})").next_to(out, DOWN,
                                                                              buff=0.2),
        )
        names[1].align_to(glu.brackets, LEFT)
        names[2].align_to(out.brackets, LEFT)
        self.fit(glu, out, w, names)
        self.play(*self.heading("SwiGLU: down again"), *self.leave(self.act),
                  *relayout(self.act, glu), run_time=1.0)
        self.play(FadeIn(w), FadeIn(names[:2]), run_time=0.8)
        self.play(Create(out.brackets), FadeIn(names[2]), run_time=0.5)
        play_fill(self, out, run_time=1.5)
        self.end_state(glu, out, w, names, hold=2.0)
        self.mlp_out = out

    # ---- steps ------------------------------------------------------------------------------

    def step_title(self) -> None:
        if self.pre:
            self.modern_title()
            return
        theme = self.theme
        causal = self.causal
        title = plain_text("Inside a Transformer block", TITLE, theme.text)
        tokens = TokenRow(self.trace, self.tok, theme, font_size=26)
        names = [("X", None), ("Masked multi-head\nattention" if causal else
                                "Multi-head\nattention", theme.query),
                 ("Add & Norm", theme.text), ("Feed-forward", theme.value),
                 ("Add & Norm", theme.text), ("output", None)]
        boxes = VGroup()
        for text, color in names:
            label = plain_text(text, 20, theme.text, line_spacing=0.8)
            label.kind = "prose"
            if color is None:
                boxes.add(VGroup(label))
                continue
            box = rounded_box(corner_radius=0.12, width=label.width + 0.4, height=1.05,
                              stroke_color=color, stroke_width=2.5)
            boxes.add(VGroup(box, label.move_to(box)))
        boxes.arrange(RIGHT, buff=0.55)
        arrows = VGroup(*(Arrow(a.get_right(), b.get_left(), buff=0.08, stroke_width=3,
                                color=theme.muted, max_tip_length_to_length_ratio=0.3)
                          for a, b in zip(boxes[:-1], boxes[1:], strict=True)))
        skips = VGroup()
        for start, end in ((0, 2), (2, 4)):  # residual connections around each sub-layer
            x0 = (boxes[start].get_right()[0] + boxes[start + 1].get_left()[0]) / 2
            x1 = boxes[end].get_x()
            top = boxes[start + 1].get_top()[1] + 0.35
            y0 = boxes[start].get_y()
            path = VGroup(Line([x0, y0, 0], [x0, top, 0]), Line([x0, top, 0], [x1, top, 0]))
            path.set_stroke(theme.highlight, 2.5)
            tip = Arrow([x1, top, 0], boxes[end].get_top() + UP * 0.02, buff=0,
                        stroke_width=2.5, color=theme.highlight,
                        max_tip_length_to_length_ratio=0.5)
            skips.add(VGroup(path, tip))
        skip_note = self.note("residual connections", 16)
        skip_note.next_to(skips, UP, buff=0.12)
        skip_note.set_color(theme.highlight)
        diagram = VGroup(boxes, arrows, skips, skip_note)
        eqs = VGroup(
            formula(r"\mathrm{MultiHead}(X) = \mathrm{Concat}(\mathrm{head}_0, \dots, "
                    r"\mathrm{head}_{h-1})\,W_O", font_size=34, color=theme.text),
            formula(r"\mathrm{FFN}(x) = \max(0,\; x W_1 + b_1)\, W_2 + b_2", font_size=34,
                    color=theme.text),
        ).arrange(DOWN, buff=0.3)
        cfg = self.trace.config
        where = (f"{model_name(self.options, short=True)}'s encoder" if cfg.mode == "encdec"
                 else model_name(self.options, short=True))
        info = self.note(f"{where}, layer {self.options.layer}", 20)
        group = VGroup(title, tokens, diagram, eqs, info).arrange(DOWN, buff=0.45)
        left, right, bottom, top = self.content_box()
        fit_into(group, left, right, bottom, top + 0.6)
        self.play(Write(title), LaggedStart(*(FadeIn(t) for t in tokens), lag_ratio=0.15),
                  run_time=1.2)
        self.play(LaggedStart(*(FadeIn(b) for b in boxes), lag_ratio=0.2),
                  LaggedStart(*(Create(a) for a in arrows), lag_ratio=0.2), run_time=1.6)
        self.play(Create(skips), FadeIn(skip_note), run_time=1.0)
        self.play(FadeIn(eqs, shift=0.2 * DOWN), FadeIn(info), run_time=1.0)
        self.end_state(title, tokens, diagram, eqs, info, hold=2.5)

    def step_heads(self) -> None:
        theme, t = self.theme, self.trace
        cfg = t.config
        p = self.prefix
        ch = cell_height_for(SUM_NUM + 1)
        cw = cell_width_for(t[f"{p}.z"], 2, SUM_NUM + 1)
        zs, maps, heads = VGroup(), VGroup(), VGroup()
        for h in range(cfg.n_heads):
            z = self.matrix(f"{p}.z[{h}]", cell_w=cw, cell_h=ch, font_size=SUM_NUM + 1,
                            row_labels=self.tok if h == 0 else None, col_labels="dim",
                            rows=self.fold())
            zs.add(z)
        x = 0.0
        for z in zs:  # side by side, rows aligned
            z.shift([x - z.brackets.get_left()[0], -z.brackets.get_top()[1], 0])
            x = z.brackets.get_right()[0] + 1.0
        for h, z in enumerate(zs):
            pattern = self.matrix(f"{p}.pattern[{h}]", cell_w=min(0.36, 2.2 / self.n),
                                  cell_h=min(0.3, 1.8 / self.n), show_numbers=False,
                                  sequential=True, vmax=1.0)
            pattern.next_to(z.col_labels, UP, buff=0.55).set_x(z.brackets.get_x())
            maps.add(pattern)
            color = (theme.query, theme.key, theme.value, theme.output)[h % 4]
            head = self.note(f"head {h}: attention weights", NOTE, color)
            head.next_to(pattern, UP, buff=0.15)
            sub = self.note(f"Z of head {h}", NOTE, theme.text)
            sub.next_to(z.col_labels, UP, buff=0.1).set_x(z.brackets.get_x())
            heads.add(VGroup(head, sub))
        self.fit(zs, maps, heads)
        self.play(*self.heading("Multi-head attention"), *self.leave(), run_time=0.8)
        for z, pattern, head in zip(zs, maps, heads, strict=True):
            self.play(FadeIn(pattern), FadeIn(head[0]), run_time=0.8)
            self.play(FadeIn(z), FadeIn(head[1]), run_time=1.0)
        self.end_state(zs, maps, heads, hold=2.5)
        self.zs = zs

    def step_concat(self) -> None:
        theme, t = self.theme, self.trace
        p = self.prefix
        zs = self.zs
        cfg = t.config
        concat = self.matrix(f"explain.concat_heads({p}.z)", cell_w=zs[0].cell_w,
                             cell_h=zs[0].cell_h, font_size=SUM_NUM + 1, row_labels=self.tok,
                             col_labels="dim", rows=zs[0].row_ids)
        braces = VGroup()
        for h in range(cfg.n_heads):
            c0, c1 = h * cfg.d_head, (h + 1) * cfg.d_head - 1
            y = concat.col_labels.get_top()[1] + 0.12
            x0 = concat.cell_centre(0, c0)[0] - concat.cell_w / 2 + 0.05
            x1 = concat.cell_centre(0, c1)[0] + concat.cell_w / 2 - 0.05
            color = (theme.query, theme.key, theme.value, theme.output)[h % 4]
            line = Line([x0, y, 0], [x1, y, 0], stroke_color=color, stroke_width=3)
            label = self.note(f"head {h}", NOTE, color).next_to(line, UP, buff=0.1)
            braces.add(VGroup(line, label))
        title = self.note("Concat(head 0, head 1): one row per word, d_model columns", NOTE,
                          theme.text)
        title.next_to(braces, UP, buff=0.3)
        self.fit(concat, braces, title)
        moves = []
        for h, z in enumerate(zs):
            for i, j in z.all_cells():
                if True:
                    col = h * cfg.d_head + j
                    moves.append(ReplacementTransform(z.number(i, j), concat.number(i, col)))
                    moves.append(ReplacementTransform(z.fill(i, j), concat.fill(i, col)))
        self.play(*self.heading("Concatenate the heads"),
                  *(FadeOut(m) for m in self.mobjects if m not in (
                      self.caption_mobject, self.heading_mob, *zs)),
                  *(FadeOut(VGroup(z.brackets, z.col_labels)) for z in zs),
                  ReplacementTransform(zs[0].row_labels, concat.row_labels), run_time=0.8)
        self.play(*moves, FadeIn(concat.brackets), FadeIn(concat.col_labels),
                  FadeOut(VGroup(*(z.ellipses for z in zs))), FadeIn(concat.ellipses),
                  run_time=1.5)
        self.play(FadeIn(braces), FadeIn(title), run_time=0.8)
        self.end_state(concat, braces, title, hold=2.5)
        self.concat = concat

    def step_project(self) -> None:
        theme, t = self.theme, self.trace
        p = self.prefix
        size = SUM_NUM
        a_src = f"{p}.concat"
        w_src = f"explain.stack_heads(param:{p}.W_O)"
        ch = cell_height_for(size)
        cw = max(cell_width_for(lookup(t, s), 2, size, pad=0.1)
                 for s in (a_src, w_src, f"{p}.out"))
        kw = dict(cell_w=cw, cell_h=ch, font_size=size)
        a = self.matrix(a_src, row_labels=self.tok, rows=self.fold(), **kw)
        w = self.matrix(w_src, col_labels="dim", row_labels="dim", name="W_O", name_side=RIGHT,
                        name_color=theme.output, **kw)
        out = self.matrix(f"{p}.out", name=r"\mathrm{out}", name_side=RIGHT, rows=self.fold(),
                          **kw)
        self.product_layout(a, w, out, gap_v=0.62)
        work = build_worked_cell(t, a, w, out, self.row, self.out_col,
                                 f"explain.matmul_products({a_src}, {w_src})", font_size=size)
        self.fit(a, w, out, work)
        prev = self.concat
        self.play(*self.heading("Output projection: Concat · W_O"), *self.leave(prev),
                  *relayout(prev, a), run_time=1.2)
        self.play(FadeIn(w), Create(out.brackets), FadeIn(out.name), run_time=0.8)
        self.end_state(a, w, out.brackets, out.name)
        hl = play_worked_cell(self, a, w, out, work)
        play_fill(self, out, done=[(self.row, self.out_col)])
        self.end_state(a, w, out, work, hl, hold=2.5)
        self.out = out

    def step_residual(self) -> None:
        b = self.block
        a, bb, c, plus, titles = self.sum_layout(
            (f"{b}.resid_pre", f"{self.prefix}.out", f"{b}.resid_mid"),
            ("X, the block's input", "attention output", "X + attention output"))
        if self.pre:
            panel = self.residual_panel(r"X + \mathrm{MultiHead}(\mathrm{RMSNorm}(X))",
                                        "Attention read the normed rows;\nits output is added "
                                        "to the\nunnormed stream X.")
        else:
            panel = self.residual_panel(r"X + \mathrm{MultiHead}(X)",
                                        "Each word keeps its own row\nand adds what attention "
                                        "found.")
        panel.next_to(c.brackets, RIGHT, buff=0.7).align_to(c.brackets, UP)
        self.fit(a, bb, c, plus, titles, panel)
        self.play(*self.heading("Add: the residual connection"), *self.leave(self.out),
                  *relayout(self.out, bb), run_time=1.0)
        self.play(FadeIn(a), FadeIn(plus), FadeIn(titles[:2]), run_time=0.8)
        self.play_sum(a, bb, c, extra=[FadeIn(titles[2])])
        self.play(FadeIn(panel), run_time=0.6)
        self.end_state(a, bb, c, plus, titles, panel, hold=2.0)
        self.current = c

    def residual_panel(self, tex: str, text: str) -> VGroup:
        eq = formula(tex, font_size=32, color=self.theme.text)
        note = self.note(text, NOTE)
        return VGroup(eq, note).arrange(DOWN, buff=0.3, aligned_edge=LEFT)

    def step_norm(self) -> None:
        self._norm(f"{self.block}.resid_mid", f"{self.block}.ln1",
                   "X + attention output", "Norm: LayerNorm(X + attention output)")

    def _norm(self, x_src: str, ln: str, x_title: str, heading: str) -> None:
        parts = self.norm_layout(x_src, ln, x_title)
        x, mu, var, gamma, beta, out, z, extras = parts
        self.fit(x, mu, var, gamma, beta, out, extras)
        z.move_cells_onto(out)
        self.play(*self.heading(heading), *self.leave(self.current), *relayout(self.current, x),
                  run_time=1.0)
        self.play_norm(*parts)
        self.end_state(x, mu, var, gamma, beta, out, extras, hold=2.0)
        self.current = out

    def step_ffn_hidden(self) -> None:
        theme, t = self.theme, self.trace
        b = self.block
        size = SUM_NUM
        ch = cell_height_for(size)
        x_src = f"{b}.ln1.out"
        cw = cell_width_for(t[x_src], 2, size, pad=0.1)
        rows = self.fold()
        x = self.matrix(x_src, cell_w=cw, cell_h=ch, font_size=size, row_labels=self.tok,
                        col_labels="dim", rows=rows)
        hidden = self.matrix(f"{b}.mlp.hidden", cell_w=HEAT, cell_h=ch, show_numbers=False,
                             rows=rows)
        w1 = self.matrix(f"param:{b}.mlp.W_1", cell_w=HEAT, cell_h=HEAT, show_numbers=False)
        b1 = self.matrix(f"explain.column(param:{b}.mlp.b_1).T", cell_w=HEAT, cell_h=HEAT,
                         show_numbers=False)
        # x left of hidden (rows aligned); W_1 and b_1 above hidden (columns aligned)
        hidden.shift(x.cell_centre(0, x.col_ids[-1]) + RIGHT * (cw / 2 + 0.45 + HEAT / 2)
                     - hidden.cell_centre(0, 0))
        b1.shift(hidden.cell_centre(0, 0) + UP * (ch / 2 + 0.35 + HEAT / 2) - b1.cell_centre(0, 0))
        w1.shift(b1.cell_centre(0, 0) + UP * (HEAT + 0.25) - w1.cell_centre(w1.n_rows - 1, 0))
        names = VGroup(
            self.sym(r"W_1\ \ (8 \times 32)").next_to(w1, UP, buff=0.12),
            self.sym(r"+\,b_1").next_to(b1, RIGHT, buff=0.2),
            self.sym(r"x W_1 + b_1\ \ (32 \text{ per word})"),
        )
        names[2].next_to(hidden, DOWN, buff=0.2).align_to(hidden.brackets, LEFT)
        strip, strip_title = self.hidden_strip(f"{b}.mlp.hidden", x, hidden)
        # what the ReLU step turns them into, laid out (and fitted) together
        act = self.matrix(f"{b}.mlp.act", cell_w=HEAT, cell_h=ch, show_numbers=False,
                          vmax=hidden.vmax, rows=rows).move_cells_onto(hidden)
        act_strip = self.matrix(f"explain.fold({b}.mlp.act[{self.row}], config:d_model)",
                                cell_w=strip.cell_w, cell_h=strip.cell_h, font_size=STRIP_NUM,
                                vmax=strip.vmax).move_cells_onto(strip)
        relu = formula(r"\mathrm{ReLU}(h) = \max(0,\,h)", font_size=30, color=theme.text)
        relu.next_to(names[2], DOWN, buff=0.2).align_to(hidden.brackets, LEFT)
        # after ReLU the map under it is no longer xW_1 + b_1: its name changes with it
        act_name = self.sym(r"\mathrm{ReLU}(x W_1 + b_1)\ \ (32 \text{ per word})")
        act_name.move_to(names[2], aligned_edge=LEFT)
        self.fit(x, hidden, w1, b1, names, strip, strip_title, act, act_strip, relu, act_name)
        link = self.strip_link(strip, hidden)
        self.relu_parts = (act, act_strip, relu, act_name)
        self.play(*self.heading("Feed-forward: widen"), *self.leave(self.current),
                  *relayout(self.current, x), run_time=1.0)
        self.play(FadeIn(w1), FadeIn(b1), FadeIn(names[:2]), run_time=0.8)
        self.play(FadeIn(hidden.brackets), LaggedStart(*(FadeIn(hidden.row(i))
                                                         for i in hidden.row_ids),
                                                       lag_ratio=0.2),
                  FadeIn(names[2]), run_time=1.4)
        self.play(Create(link), FadeIn(strip_title), run_time=0.6)
        self.play(ReplacementTransform(hidden.row(self.row).copy(), strip.body()),
                  run_time=1.2)
        self.end_state(x, w1, b1, hidden, names, strip, strip_title, link, hold=2.0)
        self.ffn = (x, w1, b1, hidden, names, strip, strip_title, link)

    def hidden_strip(self, source: str, x: ValueMatrix, hidden: ValueMatrix):
        """One word's 32 hidden units as four rows of d_model numbers, above x."""
        t = self.trace
        word = lookup(t, self.tok)[self.row]
        src = f"explain.fold({source}[{self.row}], config:d_model)"
        strip = self.matrix(src, cell_w=x.cell_w, cell_h=cell_height_for(STRIP_NUM),
                            font_size=STRIP_NUM)
        strip.shift(x.cell_centre(0, 0) + UP * (x.col_labels.height + 0.5
                                                + strip.n_rows * strip.cell_h)
                    - strip.cell_centre(0, 0))
        title = self.note(f"the 32 hidden units of “{word}”, in rows of 8", NOTE,
                          self.theme.text)
        title.next_to(strip.brackets, UP, buff=0.12).align_to(strip.brackets, LEFT)
        return strip, title

    def strip_link(self, strip: ValueMatrix, hidden: ValueMatrix) -> VGroup:
        rect = hidden.row_rect(self.row)
        rect.stretch_to_fit_height(hidden.cell_h)
        start = rect.get_corner(UP + LEFT)
        end = strip.brackets.get_corner(DOWN + RIGHT)
        line = Line(start, end, stroke_color=self.theme.highlight, stroke_width=2)
        return VGroup(rect, line)

    def step_relu(self) -> None:
        x, w1, b1, hidden, names, strip, strip_title, link = self.ffn
        act, act_strip, eq, act_name = self.relu_parts
        self.play(*self.heading("ReLU"), FadeIn(eq), run_time=0.8)
        play_morph(self, strip, act_strip, run_time=1.4, lag_ratio=0.02)
        swap(self, strip, act_strip)
        play_morph(self, hidden, act, run_time=1.2, extra=[FadeOut(names[2]), FadeIn(act_name)])
        swap(self, hidden, act)
        names = VGroup(*names[:2], act_name, *names[3:])
        self.ffn = (x, w1, b1, hidden, names, strip, strip_title, link)
        self.end_state(x, w1, b1, act, names, act_strip, strip_title, link, eq, hold=2.0)
        self.act = act

    def step_ffn_out(self) -> None:
        if self.pre:
            self.modern_ffn_out()
            return
        theme, t = self.theme, self.trace
        b = self.block
        size = SUM_NUM
        ch = cell_height_for(size)
        out_src = f"{b}.mlp.out"
        b2_src = f"explain.column(param:{b}.mlp.b_2).T"
        cw = max(cell_width_for(lookup(t, s), 2, size, pad=0.1) for s in (out_src, b2_src))
        rows = self.fold()
        act = self.matrix(f"{b}.mlp.act", cell_w=HEAT, cell_h=ch, show_numbers=False,
                          row_labels=self.tok, vmax=self.act.vmax, rows=rows)
        out = self.matrix(out_src, cell_w=cw, cell_h=ch, font_size=size, rows=rows)
        w2 = self.matrix(f"param:{b}.mlp.W_2", cell_w=cw, cell_h=0.085, show_numbers=False)
        b2 = self.matrix(b2_src, cell_w=cw, cell_h=ch, font_size=size)
        out.shift(act.cell_centre(0, act.col_ids[-1]) + RIGHT * (HEAT / 2 + 0.45 + cw / 2)
                  - out.cell_centre(0, 0))
        b2.shift(out.cell_centre(0, 0) + UP * (ch + 0.3) - b2.cell_centre(0, 0))
        w2.shift(b2.cell_centre(0, 0) + UP * (ch / 2 + 0.25)
                 - w2.cell_centre(w2.n_rows - 1, 0) + UP * 0.085 / 2)
        names = VGroup(
            self.sym(r"W_2\ \ (32 \times 8)").next_to(w2, LEFT, buff=0.25),
            self.sym(r"+\,b_2").next_to(b2, LEFT, buff=0.25),
            self.sym(r"\mathrm{ReLU}(x W_1 + b_1)\ \ (32 \text{ per word})"),
            self.sym(r"\mathrm{FFN}(x)\ \ (8 \text{ per word again})"),
        )
        names[2].next_to(act, UP, buff=0.15).align_to(act.brackets, LEFT)
        names[3].next_to(out, DOWN, buff=0.2).align_to(out.brackets, LEFT)
        eq = formula(r"\mathrm{FFN}(x) = \max(0,\; x W_1 + b_1)\, W_2 + b_2", font_size=30,
                     color=theme.text)
        eq.next_to(names[2], UP, buff=0.6).align_to(act.brackets, LEFT)
        names.add(eq)
        self.fit(act, out, w2, b2, names)
        self.play(*self.heading("Feed-forward: narrow again"), *self.leave(self.act),
                  *relayout(self.act, act), run_time=1.0)
        self.play(FadeIn(w2), FadeIn(b2), FadeIn(names[:3]), FadeIn(eq), run_time=0.8)
        self.play(Create(out.brackets), FadeIn(names[3]), run_time=0.5)
        play_fill(self, out, run_time=1.5)
        self.end_state(act, out, w2, b2, names, hold=2.0)
        self.mlp_out = out

    def step_residual_2(self) -> None:
        b = self.block
        if self.pre:  # the stream, not the normed rows, is what the FFN's output is added to
            a, bb, c, plus, titles = self.sum_layout(
                (f"{b}.resid_mid", f"{b}.mlp.out", f"{b}.resid_post"),
                ("x, the stream", "FFN(RMSNorm(x))", "x + FFN(RMSNorm(x)): the block's output"))
            panel = self.residual_panel(r"x + \mathrm{FFN}(\mathrm{RMSNorm}(x))",
                                        "No norm after the addition:\nthe next block (or the "
                                        "final norm)\nnormalises its own copy.")
        else:
            a, bb, c, plus, titles = self.sum_layout(
                (f"{b}.ln1.out", f"{b}.mlp.out", f"{b}.resid_post"),
                ("x, the feed-forward layer's input", "FFN(x)", "x + FFN(x)"))
            panel = self.residual_panel(r"x + \mathrm{FFN}(x)",
                                        "Again the sub-layer only adds\na change to each row.")
        panel.next_to(c.brackets, RIGHT, buff=0.7).align_to(c.brackets, UP)
        self.fit(a, bb, c, plus, titles, panel)
        self.play(*self.heading("Add: the second residual connection"), *self.leave(self.mlp_out),
                  *relayout(self.mlp_out, bb), run_time=1.0)
        self.play(FadeIn(a), FadeIn(plus), FadeIn(titles[:2]), run_time=0.8)
        self.play_sum(a, bb, c, extra=[FadeIn(titles[2])])
        self.play(FadeIn(panel), run_time=0.6)
        self.end_state(a, bb, c, plus, titles, panel, hold=2.0)
        self.current = c

    def step_norm_2(self) -> None:
        self._norm(f"{self.block}.resid_post", f"{self.block}.ln2", "x + FFN(x)",
                   "Norm: LayerNorm(x + FFN(x)), the block's output")

