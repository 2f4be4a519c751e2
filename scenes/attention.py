"""One attention head of the tiny trained Transformer, computed on screen with its real numbers.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V,   Q = X W_Q,  K = X W_K,  V = X W_V

Reads, for the attention prefix ``P`` (``encoder.blocks.L.attn`` for ``translate``,
``decoder.blocks.L.attn`` for the causal ``lm``) and head ``h``: ``embed``/``pos_embed`` of the
stack (layer 0), ``resid_pre`` (= X), ``param:P.W_Q/W_K/W_V``, ``P.q/k/v``, ``P.scores``,
``P.scaled``, ``P.mask``/``P.masked``, ``P.pattern``, ``P.z``. Products, exponentials and row
sums come from :mod:`transformer_core.explain`.

Rows are query positions and softmax runs along rows, as in the code (3Blue1Brown draws the
transpose; the scene says so once).

Runs under Manim's CLI too: ``manim -ql scenes/attention.py AttentionScene`` (options from the
``SCENE_*`` environment variables, see :mod:`scenes.toolkit.storyboard`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manim import (  # noqa: E402
    DOWN, LEFT, ORIGIN, RIGHT, UP, Angle, Arrow, Create, FadeIn, FadeOut, LaggedStart, Line,
    ReplacementTransform, VGroup, Write,
)

from scenes.toolkit.animations import (  # noqa: E402
    build_worked_cell, play_fill, play_morph, play_softmax, play_worked_cell, relayout, swap,
)
from scenes.toolkit.mobjects import (  # noqa: E402
    TokenRow, cell_height_for, cell_width_for, fit_into,
    formula,
)
from scenes.toolkit.provenance import mark, mark_equation  # noqa: E402
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene, current_options, decoder_only, modern_block, model_name,
)
from scenes.toolkit.style import NOTE, NUM, SUM_NUM, TITLE  # noqa: E402
from scenes.toolkit.text import label_text, number_text, plain_text  # noqa: E402
from transformer_core.explain import (  # noqa: E402
    format_value,
    lookup,
    worked_example,
)

__all__ = ["AttentionScene"]



class AttentionScene(StoryScene):
    """softmax(QKᵀ/√d_k)·V for one head, step by step."""

    # Any number of positions: a long sentence folds its rows (see ``Layouts.fold``).

    @staticmethod
    def positions(trace) -> int:
        """The rows it shows: the sentence's tokens (a translation model's encoder
        self-attention, or a language model's), never the decoder's input."""
        return len(trace.tokens)

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        causal = decoder_only(options)
        rotary = modern_block(options)
        if rotary:
            where = ("its learned embedding, with no positional encoding added"
                     if options.layer == 0 else f"the residual stream after layer {options.layer - 1}")
            embed = Step("embed", f"Each word's row of X is {where}; pre-norm: RMSNorm "
                                  "rescales every row before attention reads it.")
        elif options.layer == 0:
            embed = Step("embed", "Each word becomes one row of X: its learned embedding plus "
                                  "a positional encoding that says where the word stands.")
        else:
            embed = Step("embed", f"The input X of layer {options.layer} is the output of "
                                  f"layer {options.layer - 1}: still one row per word.")
        steps = [
            Step("title", "Self-attention mixes information between the words of a sentence; "
                          "every number shown is the real value computed by a small trained "
                          "model."),
            embed,
            Step("query", "Q = X·W_Q: each entry of Q is the dot product of a row of X "
                          "(one word) with a column of the learned matrix W_Q."),
            Step("keys_values", "The same X multiplied by the learned matrices W_K and W_V "
                                "gives the keys K and the values V."
                 if not rotary else
                 "The same rows times W_K and W_V give the keys K and the values V; with "
                 "grouped-query attention several query heads share one K/V head."),
        ]
        if rotary:
            steps += [
                Step("rotate", "Rotary positions: each pair of dimensions (i, i + d/2) of a "
                               "query or key is turned by the angle position × θ_i, so Q and K "
                               "now carry where each word stands."),
                Step("relative", "Because both vectors turn, a score depends only on how far "
                                 "apart the two words are: the same pair moved along the "
                                 "sentence scores the same."),
            ]
        steps += [
            Step("scores", "Q·Kᵀ scores every query word (a row) against every key word "
                           "(a column) with a dot product: a large score means a good match."),
            Step("scale", "Every score is divided by √d_k, the square root of the key length: "
                          "dot products of longer vectors spread wider, and the division keeps "
                          "that spread from growing with d_k."),
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

    # ---- set-up -----------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        t = self.trace
        # The worked examples use the query whose attention is most spread out (the most
        # interesting weighted sum), its largest entries, and the key it attends to most.
        pick = worked_example(t, self.prefix, self.h)
        self.qi, self.q_col, self.kj, self.z_col = (
            pick["query"], pick["q_col"], pick["key"], pick["z_col"])
        self.worked_row = self.qi
        # A long sentence folds its rows (see Layouts.fold): in the stacked layouts always, in
        # the query × key squares only past this many; the weighted sum shows the keys the
        # worked query attends to most among the first and last.
        t, h = self.trace, self.h
        self.square_rows = 13
        cw = self.token_cell_width(t[f"{self.prefix}.scores"][h],
                                   t[f"{self.prefix}.k"][self.kv_index("k")])
        self.keys = self.fold(max(3, int(7.6 / cw)), keep=[self.kj])  # beside Q
        cw = self.token_cell_width(t[f"{self.prefix}.scaled"][h], t[f"{self.prefix}.scores"][h])
        self.square_keys = self.fold(max(3, int(8.0 / cw)), keep=[self.kj])  # beside row sums
        self.sum_keys = self.fold(keep=[self.kj])

    # ---- steps ------------------------------------------------------------------------------

    def step_title(self) -> None:
        theme, cfg = self.theme, self.trace.config
        title = plain_text("Attention, with real numbers", TITLE, theme.text)
        eq = formula(r"\mathrm{Attention}(Q,K,V)=\mathrm{softmax}\!\left("
                     r"\frac{QK^\top}{\sqrt{d_k}}\right)V", font_size=50, color=theme.text)
        tokens = TokenRow(self.trace, self.tok, theme, font_size=28)
        what = (f"{model_name(self.options)}, encoder self-attention" if cfg.mode == "encdec"
                else f"{model_name(self.options)}, causal self-attention")
        shares = ""
        if cfg.group > 1:  # grouped-query attention: this query head reads shared K and V
            shares = (f"\n(its keys and values: K/V head {self.kv_index('k')} of "
                      f"{cfg.n_heads // cfg.group}, shared by {cfg.group} query heads)")
        info = self.note(f"{what}, layer {self.options.layer}, head {self.h} of "
                         f"{cfg.n_heads}{shares}", 22)
        group = VGroup(title, eq, tokens, info).arrange(DOWN, buff=0.55)
        left, right, bottom, top = self.content_box()
        fit_into(group, left, right, bottom, top + 0.6)
        self.play(Write(title), run_time=1.0)
        self.play(FadeIn(eq, shift=0.2 * DOWN), run_time=1.0)
        self.play(LaggedStart(*(FadeIn(t) for t in tokens), lag_ratio=0.15), FadeIn(info),
                  run_time=1.2)
        self.end_state(title, eq, tokens, info, hold=2.5)
        self.title_parts = (title, eq, info)
        self.token_row = tokens

    def step_embed(self) -> None:
        theme = self.theme
        x_src = f"{self.block}.resid_pre"
        title, eq, info = self.title_parts
        leave_title = [FadeOut(title), FadeOut(eq), FadeOut(info), FadeOut(self.token_row.boxes)]
        if self.pre:
            self.embed_prenorm(leave_title)
            return
        if self.options.layer > 0:
            x = self.matrix(x_src, row_labels=self.tok, col_labels="dim", name="X",
                            rows=self.fold())
            x_title = self.note(f"X = the output of layer {self.options.layer - 1}", 20,
                                theme.text)
            x_title.next_to(x.col_labels, UP, buff=0.2).set_x(x.brackets.get_x())
            self.fit(x, x_title)
            self.play(*self.heading("The input X"), *leave_title,
                      *self.tokens_to_labels(self.token_row.tokens, x), run_time=1.2)
            self.play(FadeIn(x.body()), FadeIn(x.col_labels), FadeIn(x.name), FadeIn(x_title),
                      run_time=1.2)
            self.end_state(x, x_title, hold=3.0)
            self.x_mob, self.x_title = x, x_title
            return
        e, pe, x, plus, titles = self.sum_layout(
            (f"{self.stack}.embed", f"{self.stack}.pos_embed", x_src),
            ("token embedding × √d_model", "positional encoding PE",
             "X = embedding + positional encoding"))
        panel = self.embed_panel(self.stack, x)
        self.fit(e, pe, x, plus, titles, panel)

        self.play(*self.heading("Words → X"), *leave_title,
                  *self.tokens_to_labels(self.token_row.tokens, e), run_time=1.2)
        self.play(FadeIn(e.body()), FadeIn(e.col_labels), FadeIn(titles[0]), FadeIn(panel[0]),
                  run_time=1.2)
        self.play(FadeIn(plus), FadeIn(pe), FadeIn(titles[1]), FadeIn(panel[1]),
                  run_time=1.2)
        self.wait(1.0)
        self.play_sum(e, pe, x, extra=[FadeIn(titles[2])])
        self.end_state(e, plus, pe, x, titles, panel, hold=2.5)
        self.x_mob, self.x_title = x, VGroup(e, plus, pe, titles, panel)

    # ---- today's block: pre-norm input and rotary positions ----------------------------------

    def embed_prenorm(self, leave_title) -> None:
        """Pre-norm: X (the embeddings, or the stream after the previous layer) and beside it
        X̂ = RMSNorm(X), the rows attention reads, with one entry worked out."""
        theme, t, b = self.theme, self.trace, self.block
        sources = (f"{b}.resid_pre", f"explain.column({b}.ln1.rms)", f"{b}.ln1.out")
        cw = max(cell_width_for(lookup(t, s), 2, SUM_NUM, pad=0.1) for s in sources)
        rows, cols = self.fold(), self.dims(t.config.d_model, budget=6)
        kw = dict(cell_w=cw, cell_h=cell_height_for(SUM_NUM), font_size=SUM_NUM, name_side=UP,
                  rows=rows)
        x = self.matrix(sources[0], row_labels=self.tok, col_labels="dim", name="X", cols=cols,
                        **kw)
        rms = self.matrix(sources[1], colored=False, name=r"\mathrm{rms}", **kw)
        xn = self.matrix(sources[2], col_labels="dim", name=r"\hat{X}", cols=cols, **kw)
        VGroup(x, rms, xn).arrange(RIGHT, buff=0.45, aligned_edge=DOWN)
        eq = formula(r"\hat{x} = \gamma \odot \frac{x}{\mathrm{rms}(x)},\qquad "
                     r"\mathrm{rms}(x) = \sqrt{\tfrac{1}{d}\textstyle\sum_j x_j^2 + \epsilon}",
                     font_size=30, color=theme.text)
        i = self.qi
        word = str(lookup(t, self.tok)[i])
        worked = self.inline(f"e.g. {word}, dim 0:", (sources[0], (i, 0), 2), "÷",
                             (f"{b}.ln1.rms", (i,), 2), "×  γ =", (f"param:{b}.ln1.gamma", (0,), 2),
                             "gives", (sources[2], (i, 0), 2))
        where = ("No positional encoding was added: position enters inside attention, by "
                 "rotating q and k." if self.options.layer == 0 else
                 "X is the residual stream; the block adds into it and never normalises it.")
        note = self.note(where, NOTE)
        panel = VGroup(eq, worked, note).arrange(DOWN, buff=0.25)
        panel.next_to(VGroup(x, rms, xn), DOWN, buff=0.4)
        self.fit(x, rms, xn, panel)
        self.play(*self.heading("Words → X → RMSNorm" if self.options.layer == 0 else
                                "The input X, normalised"), *leave_title,
                  *self.tokens_to_labels(self.token_row.tokens, x), run_time=1.2)
        self.play(FadeIn(x.body()), FadeIn(x.col_labels), FadeIn(x.name), run_time=1.0)
        self.play(FadeIn(rms), FadeIn(eq), run_time=1.0)
        self.play(FadeIn(xn), FadeIn(worked), FadeIn(note), run_time=1.2)
        self.end_state(x, rms, xn, panel, hold=2.5)
        self.x_mob, self.x_title = xn, VGroup(x, rms, panel)

    def rotation_pick(self) -> tuple[int, int]:
        """The query row and the pair shown turning: the worked query (or the last word, if
        that is the first, which does not turn), and pair 0, the fastest-turning one."""
        return (self.qi if self.qi > 0 else self.n - 1), 0

    def step_rotate(self) -> None:
        theme, t = self.theme, self.trace
        q_prev, k_prev, v_prev = self.qkv
        m, i = self.rotation_pick()
        half = t.config.d_head // 2
        ang = f"{self.prefix}.angle"
        q_src, r_src = self.src("q"), self.src("q_rot")
        cols = self.dims(t.config.d_head, keep=[i, i + half], budget=4)
        finals = [self.matrix(self.src(name), row_labels=self.tok if k == 0 else None,
                              col_labels="dim", name=tex, name_side=UP, name_color=color,
                              rows=self.fold(keep=[m]), cols=cols)
                  for k, (name, tex, color) in enumerate((
                      ("q_rot", r"Q_{rot}", theme.query), ("k_rot", r"K_{rot}", theme.key)))]
        VGroup(*finals).arrange(RIGHT, buff=0.6, aligned_edge=DOWN)
        # the pair as a 2-D vector, before and after its turn, drawn to scale
        x0, y0 = (float(t[f"{self.prefix}.q"][self.h][m, c]) for c in (i, i + half))
        x1, y1 = (float(t[f"{self.prefix}.q_rot"][self.h][m, c]) for c in (i, i + half))
        reach = max(abs(x0), abs(y0), abs(x1), abs(y1), 1e-6)
        unit = 1.3 / reach
        axes = VGroup(Line(LEFT * 1.5, RIGHT * 1.5, stroke_width=1.5, color=theme.muted),
                      Line(DOWN * 1.5, UP * 1.5, stroke_width=1.5, color=theme.muted))
        before = Arrow(ORIGIN, [x0 * unit, y0 * unit, 0], buff=0, stroke_width=4,
                       color=theme.muted, max_tip_length_to_length_ratio=0.15)
        after = Arrow(ORIGIN, [x1 * unit, y1 * unit, 0], buff=0, stroke_width=5,
                      color=theme.query, max_tip_length_to_length_ratio=0.15)
        arc = Angle(Line(ORIGIN, before.get_end()), Line(ORIGIN, after.get_end()), radius=0.45,
                    color=theme.text)
        ax_x = self.note(f"dim {i}", 14).next_to(axes[0], RIGHT, buff=0.08)
        ax_y = self.note(f"dim {i + half}", 14).next_to(axes[1], UP, buff=0.08)
        legend = self.note("grey: before, coloured: turned by a", 14)
        legend.next_to(axes, DOWN, buff=0.12)
        plot = VGroup(axes, before, after, arc, ax_x, ax_y, legend)
        word = str(lookup(t, self.tok)[m])
        lines = VGroup(
            self.inline(f"{word} stands at position", ("dim", (m,), 0), ";  pair", ("dim", (i,), 0),
                        "turns", ("explain.rope_freq(config:rope_theta, config:d_head)", (i,), 2),
                        "rad per position:"),
            self.inline("a = position × θ =", (ang, (m, i), 2), "rad"),
            self.inline("x' = x cos a − y sin a =", (q_src, (m, i), 2), "×",
                        (f"explain.cos({ang})", (m, i), 2), "−", (q_src, (m, i + half), 2), "×",
                        (f"explain.sin({ang})", (m, i), 2), "=", (r_src, (m, i), 2)),
            self.inline("y' = x sin a + y cos a =", (q_src, (m, i), 2), "×",
                        (f"explain.sin({ang})", (m, i), 2), "+", (q_src, (m, i + half), 2), "×",
                        (f"explain.cos({ang})", (m, i), 2), "=", (r_src, (m, i + half), 2)),
            self.note("Keys turn the same way, by their own positions; V is not turned.", NOTE),
        ).arrange(DOWN, buff=0.18, aligned_edge=LEFT)
        mats = VGroup(*finals)
        plot.next_to(mats, RIGHT, buff=0.7)
        lines.next_to(VGroup(mats, plot), DOWN, buff=0.4)
        hl = finals[0].outline((m, i), (m, i)), finals[0].outline((m, i + half), (m, i + half))
        self.fit(mats, plot, lines, *hl)
        self.play(*self.heading("Rotary positions: turn q and k"), *relayout(q_prev, finals[0]),
                  *relayout(k_prev, finals[1]), FadeOut(v_prev), run_time=1.2)
        self.end_state(*finals)
        self.play(FadeIn(axes), FadeIn(ax_x), FadeIn(ax_y), Create(before), FadeIn(lines[0]),
                  FadeIn(legend),
                  run_time=1.0)
        self.play(FadeIn(lines[1]), Create(arc), run_time=0.8)
        self.play(ReplacementTransform(before.copy(), after), FadeIn(lines[2]), FadeIn(lines[3]),
                  run_time=1.4)
        self.play(FadeIn(hl[0]), FadeIn(hl[1]), FadeIn(lines[4]), run_time=1.0)
        self.end_state(*finals, plot, lines, *hl, hold=3.0)
        self.qkv = (*finals, VGroup())  # V comes back for the weighted sum
        self.rotate_parts = VGroup(plot, lines, *hl)

    def step_relative(self) -> None:
        theme, t = self.theme, self.trace
        m, n = self.qi, self.kj
        q_row = f"{self.prefix}.q[{self.h}, {m}]"
        k_row = f"{self.prefix}.k[{self.kv_index('k')}, {n}]"
        src = f"explain.rope_shift_scores({q_row}, {k_row}, {m}, {n}, config:rope_theta)"
        table_values = lookup(t, src)
        qw, kw = (str(lookup(t, self.tok)[j]) for j in (m, n))
        rows = [[label_text(text, NOTE, theme.text) for text in
                 ("query position", "key position", "distance", "score q_rot · k_rot")]]
        for mob in rows[0]:
            mob.kind = "prose"
        for r in range(table_values.shape[0]):
            rows.append([self.number(src, (r, 0), 0), self.number(src, (r, 1), 0),
                         self.number(f"explain.rope_distance({src})", (r,), 0),
                         self.number(src, (r, 2), 2, color=theme.query if r < table_values.shape[0] - 1
                                     else theme.muted)])
        table = self.table(rows, widths=[1.9, 1.7, 1.2, 2.2], gaps=[0, 0.4, 0.4, 0.4],
                           row_h=0.5, aligns=["right", "right", "right", "right"])
        sentence = TokenRow(t, self.tok, theme, font_size=22)
        intro = self.note(f"The same two words, {qw} (query) and {kw} (key), placed at other "
                          "positions: each vector turned by its own position.", NOTE, theme.text)
        check = self.inline("First row: the sentence's own score, Q_rot·K_rotᵀ =",
                            (self.src("scores"), (m, n), 2))
        last = self.note("Last row: the distance changed by one, and so did the score.", NOTE)
        group = VGroup(sentence, intro, table, check, last).arrange(DOWN, buff=0.35)
        self.fit(group)
        self.play(*self.heading("Only the distance counts"), *self.leave(), run_time=0.8)
        self.play(FadeIn(sentence), FadeIn(intro), FadeIn(VGroup(*rows[0])), run_time=0.8)
        for r in range(1, len(rows)):
            self.play(FadeIn(VGroup(*rows[r])), run_time=0.5)
        self.play(FadeIn(check), FadeIn(last), run_time=0.8)
        self.end_state(group, hold=3.0)

    # ---- shared layouts (also used by the block and decoder scenes) -------------------------

    def step_query(self) -> None:
        theme, t = self.theme, self.trace
        ch = cell_height_for(NUM)
        wq, q_src = f"param:{self.prefix}.W_Q[{self.h}]", self.src("q")
        cw = max(cell_width_for(t.param(f"{self.prefix}.W_Q")[self.h], 2, NUM),
                 cell_width_for(t[f"{self.prefix}.q"][self.h], 2, NUM))
        rows, cfg = self.fold(), t.config
        terms = self.dims(cfg.d_model, budget=6)
        qcols = self.dims(cfg.d_head, keep=[self.q_col], budget=5)
        x = self.matrix(self.x_in, cell_h=ch, row_labels=self.tok, name=self.x_tex, rows=rows,
                        cols=terms)
        w = self.matrix(wq, cell_w=cw, cell_h=ch, col_labels="dim", name="W_Q",
                        name_side=RIGHT, name_color=theme.query, rows=terms, cols=qcols)
        q = self.matrix(q_src, cell_w=cw, cell_h=ch, name="Q", name_side=RIGHT,
                        name_color=theme.query, rows=rows, cols=qcols)
        self.product_layout(x, w, q, gap_v=0.7)
        work = build_worked_cell(t, x, w, q, self.qi, self.q_col,
                                 f"explain.matmul_products({self.x_in}, {wq})")
        self.fit(x, w, q, work)

        self.play(*self.heading("Queries: Q = X · W_Q"), *relayout(self.x_mob, x),
                  FadeOut(self.x_title), run_time=1.2)
        self.play(FadeIn(w), Create(q.brackets), FadeIn(q.name), run_time=0.8)
        self.end_state(x, w, q.brackets, q.name)
        hl = play_worked_cell(self, x, w, q, work)
        play_fill(self, q, done=[(self.qi, self.q_col)])
        self.end_state(x, w, q, work, hl, hold=2.0)
        self.qkv_parts = (x, w, q, work, hl)

    def step_keys_values(self) -> None:
        theme, t = self.theme, self.trace
        x, w, q, work, hl = self.qkv_parts
        made = {}
        for name, color in (("K", theme.key), ("V", theme.value)):
            mw = self.matrix(f"param:{self.prefix}.W_{name}[{self.kv_index('W_' + name)}]", cell_w=q.cell_w,
                             cell_h=q.cell_h, col_labels="dim", name=f"W_{name}",
                             name_side=RIGHT, name_color=color, rows=w.row_ids,
                             cols=w.col_ids).move_cells_onto(w)
            m = self.matrix(self.src(name.lower()), cell_w=q.cell_w, cell_h=q.cell_h, name=name,
                            name_side=RIGHT, name_color=color,
                            rows=q.row_ids, cols=q.col_ids).move_cells_onto(q)
            made[name] = (mw, m)
        finals = [self.matrix(self.src(name.lower()), row_labels=self.tok if k == 0 else None,
                              col_labels="dim", name=name, name_side=UP, name_color=color,
                              rows=self.fold(self.square_rows),
                              cols=self.dims(t.config.d_head, keep=[self.q_col], budget=4))
                  for k, (name, color) in enumerate((("Q", theme.query), ("K", theme.key),
                                                     ("V", theme.value)))]
        self.fit(VGroup(*finals).arrange(RIGHT, buff=0.6, aligned_edge=DOWN))  # rows share words

        (wk, k), (wv, v) = made["K"], made["V"]
        self.play(*self.heading("Keys and values: K = X · W_K,   V = X · W_V"),
                  FadeOut(work), FadeOut(hl), FadeOut(w), FadeOut(q), FadeIn(wk),
                  Create(k.brackets), FadeIn(k.name), run_time=1.0)
        play_fill(self, k, run_time=1.3)
        self.end_state(x, wk, k, hold=0.8)
        self.play(FadeOut(wk), FadeOut(k), FadeIn(wv), Create(v.brackets), FadeIn(v.name),
                  run_time=0.8)
        play_fill(self, v, run_time=1.3)
        self.end_state(x, wv, v, hold=0.8)
        self.play(FadeOut(x), FadeOut(wv), *relayout(v, finals[2]),
                  FadeIn(finals[0]), FadeIn(finals[1]), run_time=1.2)
        self.end_state(*finals, hold=2.0)
        self.qkv = finals

    def step_scores(self) -> None:
        theme, t = self.theme, self.trace
        q_prev, k_prev, v_prev = self.qkv
        ch = cell_height_for(NUM)
        qn, kn = self.q_name, self.k_name
        cw = self.token_cell_width(t[f"{self.prefix}.scores"][self.h],
                                   t[f"{self.prefix}.{kn}"][self.kv_index(kn)])
        q_tex, k_tex = (r"Q_{rot}", r"K_{rot}^\top") if self.rope else ("Q", r"K^\top")
        terms = self.dims(t.config.d_head, budget=5)
        q = self.matrix(self.src(qn), cell_h=ch, row_labels=self.tok, name=q_tex,
                        name_color=theme.query, rows=self.fold(), cols=terms)
        kt = self.matrix(f"{self.src(kn)}.T", cell_w=cw, cell_h=ch, col_labels=self.tok,
                         name=k_tex, name_side=RIGHT, name_color=theme.key, cols=self.keys,
                         rows=terms)
        s = self.matrix(self.src("scores"), cell_w=cw, cell_h=ch, name=r"QK^\top",
                        name_side=RIGHT, rows=self.fold(), cols=self.keys)
        self.product_layout(q, kt, s, gap_v=0.7)
        products = f"explain.matmul_products({self.src(qn)}, {self.src(kn)}.T)"
        work = build_worked_cell(t, q, kt, s, self.qi, self.kj, products)
        note = self.note("Rows are queries (one per word) and columns are keys; softmax will "
                         "run along each row.\n3Blue1Brown's videos draw the transpose: "
                         "there the queries are columns.")
        note.next_to(VGroup(q, s), DOWN, buff=0.35)
        self.fit(q, kt, s, work, note)

        transpose = []  # K's entry (r, c) flies to Kᵀ's (c, r)
        for r, c in k_prev.all_cells():
            if kt.shows(c, r):
                transpose.append(ReplacementTransform(k_prev.number(r, c), kt.number(c, r)))
                transpose.append(ReplacementTransform(k_prev.fill(r, c), kt.fill(c, r)))
            else:
                transpose.append(FadeOut(VGroup(k_prev.number(r, c), k_prev.fill(r, c))))
        labelled = k_prev.row_ids if len(k_prev.row_labels) else []
        for r, label in zip(labelled, k_prev.row_labels, strict=True):
            if r in kt.col_ids:
                transpose.append(ReplacementTransform(label, kt.col_label(r)))
            else:
                transpose.append(FadeOut(label))
        for j in kt.col_ids:
            if j not in k_prev.row_ids:
                transpose.append(FadeIn(kt.column(j)))
            if j not in labelled:
                transpose.append(FadeIn(kt.col_label(j)))
        transpose.append(FadeOut(k_prev.ellipses))
        transpose.append(FadeIn(kt.ellipses))
        self.play(*self.heading("Scores: Q · Kᵀ, rotated" if self.rope else "Scores: Q · Kᵀ"),
                  *relayout(q_prev, q),
                  FadeOut(v_prev), FadeOut(k_prev.col_labels), FadeOut(k_prev.brackets),
                  FadeOut(k_prev.name), *transpose, FadeIn(kt.brackets), FadeIn(kt.name),
                  run_time=1.6)
        self.end_state(q, kt)
        self.play(Create(s.brackets), FadeIn(s.name), run_time=0.5)
        hl = play_worked_cell(self, q, kt, s, work)
        play_fill(self, s, done=[(self.qi, self.kj)])
        self.play(FadeIn(note), run_time=0.6)
        self.end_state(q, kt, s, work, hl, note, hold=3.0)
        self.scores_parts = (q, kt, s, work, hl, note)

    def step_scale(self) -> None:
        t = self.trace
        q, kt, s, work, hl, note = self.scores_parts
        cw = max(self.token_cell_width(t[f"{self.prefix}.scaled"][self.h]), s.cell_w)
        rows = self.fold(self.square_rows)
        s2 = self.square(self.src("scores"), cw, rows=rows, cols=self.square_keys)
        scaled = self.square(self.src("scaled"), cw, rows=rows,
                             cols=self.square_keys).move_cells_onto(s2)
        panel = self.scale_panel().next_to(s2, RIGHT, buff=0.8)
        self.fit(s2, scaled, panel)

        self.play(*self.heading("Scaling: ÷ √dₖ"), FadeOut(q), FadeOut(kt), FadeOut(work),
                  FadeOut(hl), FadeOut(note), *relayout(s, s2), run_time=1.2)
        self.end_state(s2)
        self.play(FadeIn(panel), run_time=0.8)
        self.wait(0.8)
        play_morph(self, s2, scaled, run_time=1.4, lag_ratio=0.05)
        swap(self, s2, scaled)
        self.end_state(scaled, panel, hold=2.0)
        self.current, self.panel = scaled, panel

    def scale_panel(self) -> VGroup:
        theme = self.theme
        op = formula(r"\div\sqrt{d_k}", font_size=44, color=theme.text)
        d_text = format_value(float(self.trace.config.d_head), 0)
        dk = mark(number_text(d_text, NOTE + 4, theme.text), "number", "config:d_head", (),
                  d_text, 0)
        root_src = "explain.sqrt(config:d_head)"
        r_text = format_value(float(lookup(self.trace, root_src)), 2)
        rk = mark(number_text(r_text, NOTE + 4, theme.text), "number", root_src, (), r_text, 2)
        line = VGroup(self.note("dₖ =", NOTE + 4), dk, self.note(",   √dₖ =", NOTE + 4), rk)
        line.arrange(RIGHT, buff=0.12)
        for mob in (dk, rk):
            mob.align_to(line[0], DOWN)
        return VGroup(op, line).arrange(DOWN, buff=0.35)

    def step_mask(self) -> None:
        m = self.current
        masked = self.square(self.src("masked"), m.cell_w, rows=m.row_ids,
                             cols=m.col_ids).move_cells_onto(m)
        allowed = self.trace[f"{self.prefix}.mask"]
        cells = [(i, j) for i, j in m.all_cells() if not allowed[i, j]]
        # the ÷√d_k panel of the previous step gives way to what this step does
        note = self.note("−∞ wherever the key\ncomes after the query", NOTE + 4)
        note.move_to(self.panel).align_to(self.panel, LEFT)
        self.play(*self.heading("Causal mask"), FadeOut(self.panel), FadeIn(note), run_time=0.8)
        play_morph(self, m, masked, cells, run_time=1.6, lag_ratio=0.08)
        swap(self, m, masked)
        self.end_state(masked, note, hold=2.0)
        self.current = masked
        self.panel = note

    def step_softmax(self) -> None:
        theme = self.theme
        m_prev = self.current
        base = m_prev.source  # the scaled (or masked) scores
        rows, cols = m_prev.row_ids, m_prev.col_ids
        m = self.square(base, m_prev.cell_w, rows=rows, cols=cols)
        e = self.square(f"explain.softmax_exp({base})", m.cell_w, heat=True,
                        rows=rows, cols=cols).move_cells_onto(m)
        p = self.square(self.src("pattern"), m.cell_w, heat=True, rows=rows,
                        cols=cols).move_cells_onto(m)
        if m.col_gaps:  # keys left out: each sum is the model's, over every key
            e_src = f"explain.row_sum(explain.softmax_exp({base}))"
            p_src = f"explain.row_sum({self.src('pattern')})"
        else:  # the row sums add the numbers as printed (README, "Worked arithmetic")
            e_src = f"explain.printed_row_sum(explain.softmax_exp({base}), 2)"
            p_src = f"explain.printed_row_sum({self.src('pattern')}, 2)"
        e_sums = self.matrix(f"explain.column({e_src})", cell_h=m.cell_h, colored=False,
                             rows=rows)
        p_sums = self.matrix(f"explain.column({p_src})", cell_h=m.cell_h, sequential=True,
                             vmax=1.0, rows=rows)
        if not m.col_gaps:
            for i in rows:
                mark_equation(e_sums, "sum", [e.number(i, j) for j in cols], e_sums.number(i, 0))
                mark_equation(p_sums, "sum", [p.number(i, j) for j in cols], p_sums.number(i, 0))
        off = any(n.text != "1.00" for n in p_sums.numbers)
        e_sums.next_to(m.brackets, RIGHT, buff=0.3).match_y(m.brackets)
        p_sums.next_to(e_sums, RIGHT, buff=0.3)
        head_e = self.note("row sum\nof exp", 15).next_to(e_sums, UP, buff=0.15)
        head_p = self.note("row sum\nof weights", 15).next_to(p_sums, UP, buff=0.15)
        recipe = self.note("1. exp(x − row max)\n2. sum the row\n3. divide by the sum",
                           NOTE, theme.text)
        recipe.next_to(p_sums, RIGHT, buff=0.35).align_to(m.brackets, UP)
        why = self.note("Subtracting the row's\nlargest score first\nkeeps exp small and\n"
                        "changes nothing\nafter the division."
                        + ("\n\nRounded, a row of\nweights can add to\n0.99 or 1.01;\n"
                           "unrounded, to 1." if off else ""), 15)
        why.next_to(recipe, DOWN, buff=0.35, aligned_edge=LEFT)
        extras = VGroup(e_sums, p_sums, head_e, head_p, recipe, why)
        self.fit(m, e, p, extras)

        self.play(*self.heading("Softmax, row by row"), FadeOut(self.panel),
                  *relayout(m_prev, m), run_time=0.9)
        self.play(FadeIn(head_e), FadeIn(head_p), Create(e_sums.brackets),
                  Create(p_sums.brackets), FadeIn(recipe), FadeIn(why), run_time=0.8)
        self.end_state(m, head_e, head_p, e_sums.brackets, p_sums.brackets, recipe, why)
        play_softmax(self, m, e, p, e_sums, p_sums)
        self.end_state(p, *extras, hold=2.5)
        self.pattern, self.softmax_extras = p, extras

    def step_weighted_sum(self) -> None:
        theme, t = self.theme, self.trace
        p_prev = self.pattern
        ch = cell_height_for(NUM)
        cw = max(cell_width_for(t[f"{self.prefix}.v"][self.kv_index("v")], 2, NUM),
                 cell_width_for(t[f"{self.prefix}.z"][self.h], 2, NUM))
        a = self.square(self.src("pattern"), p_prev.cell_w, heat=True, name="A",
                        rows=self.fold(), cols=self.sum_keys)
        zcols = self.dims(t.config.d_head, keep=[self.z_col], budget=6)
        v = self.matrix(self.src("v"), cell_w=cw, cell_h=ch, row_labels=self.tok,
                        col_labels="dim", name="V", name_side=RIGHT, name_color=theme.value,
                        rows=self.sum_keys, cols=zcols)
        z = self.matrix(self.src("z"), cell_w=cw, cell_h=ch, name="Z", name_side=RIGHT,
                        name_color=theme.output, rows=self.fold(), cols=zcols)
        self.product_layout(a, v, z, gap_v=0.7 + a.col_labels.height)
        products = f"explain.matmul_products({self.src('pattern')}, {self.src('v')})"
        work = build_worked_cell(t, a, v, z, self.qi, self.z_col, products)
        legend = self.note("A = softmax(QKᵀ/√dₖ): the attention weights, one row per query")
        legend.next_to(VGroup(a, z), DOWN, buff=0.35)
        self.fit(a, v, z, work, legend)

        self.play(*self.heading("Weighted sum: Z = A · V"), FadeOut(self.softmax_extras),
                  *relayout(p_prev, a), run_time=1.2)
        self.play(FadeIn(v), Create(z.brackets), FadeIn(z.name), FadeIn(legend), run_time=0.8)
        self.end_state(a, v, z.brackets, z.name, legend)
        hl = play_worked_cell(self, a, v, z, work)
        play_fill(self, z, done=[(self.qi, self.z_col)])
        self.end_state(a, v, z, work, hl, legend, hold=2.5)

    def step_summary(self) -> None:
        theme = self.theme
        eq = formula(r"\mathrm{softmax}\Big(", "Q", r"K^\top", r"/\sqrt{d_k}", r"\Big)", "V",
                     "=", "Z", font_size=56, color=theme.text)
        for part, color in ((1, theme.query), (2, theme.key), (5, theme.value),
                            (7, theme.output)):
            eq[part].set_color(color)
        specs = [  # source, name, colour, role, the formula term it stands for
            (self.src("q"), "Q", theme.query, "queries: what\neach word seeks", eq[1]),
            (f"{self.src('k')}.T", r"K^\top", theme.key, "keys: what\neach word offers",
             eq[2]),
            (self.src("pattern"), "A", theme.text, "weights: softmax\nof scaled scores",
             VGroup(eq[0], eq[3], eq[4])),
            (self.src("v"), "V", theme.value, "values: what\neach word passes on", eq[5]),
            (self.src("z"), "Z", theme.output, "output: one new\nrow per word", eq[7]),
        ]
        grids, roles, arrows = VGroup(), VGroup(), VGroup()
        cell = min(0.3, 2.6 / self.n)  # a long sentence's grids stay as high as six words'
        for source, name, color, _, _ in specs:
            heat = name == "A"
            grids.add(self.matrix(source, cell_w=0.3, cell_h=cell, show_numbers=False,
                                  sequential=heat, vmax=1.0 if heat else None, name=name,
                                  name_side=UP, name_color=color, max_cols=6,
                                  max_rows=max(self.n, 6)))
        x = 0.0
        for grid in grids:  # bracket tops on one line, 0.9 apart
            grid.shift([x - grid.get_left()[0], -grid.brackets.get_top()[1], 0])
            x = grid.get_right()[0] + 0.9
        low = min(g.brackets.get_bottom()[1] for g in grids)
        for grid, spec in zip(grids, specs, strict=True):
            role = self.note(spec[3], 16)
            roles.add(role.move_to([grid.brackets.get_x(), low - 0.3 - role.height / 2, 0]))
        VGroup(eq, VGroup(grids, roles)).arrange(DOWN, buff=1.1)
        self.fit(eq, grids, roles)
        for grid, spec in zip(grids, specs, strict=True):
            arrows.add(Arrow(spec[4].get_bottom(), grid.name.get_top(), buff=0.12,
                             stroke_width=3, color=spec[2], max_tip_length_to_length_ratio=0.15))
        self.play(*self.heading("Summary"), *(FadeOut(m) for m in self.mobjects
                                             if m not in (self.caption_mobject,
                                                          self.heading_mob)),
                  run_time=0.8)
        self.play(Write(eq), run_time=1.2)
        self.play(LaggedStart(*(FadeIn(g) for g in grids), lag_ratio=0.2),
                  LaggedStart(*(Create(a) for a in arrows), lag_ratio=0.2), run_time=1.6)
        self.play(FadeIn(roles), run_time=0.8)
        self.end_state(eq, arrows, grids, roles, hold=3.5)
