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
    DOWN, LEFT, RIGHT, UP, Arrow, Create, FadeIn, FadeOut, LaggedStart,
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
    SceneOptions, Step, StoryScene, current_options, model_name,
)
from scenes.toolkit.style import NOTE, NUM, TITLE  # noqa: E402
from scenes.toolkit.text import number_text, plain_text  # noqa: E402
from transformer_core.explain import (  # noqa: E402
    format_value,
    lookup,
    worked_example,
)

__all__ = ["AttentionScene"]



class AttentionScene(StoryScene):
    """softmax(QKᵀ/√d_k)·V for one head, step by step."""

    # At 7 positions some step no longer fits the frame with every number at 480p size
    # (measured: tests/test_every_scene.py runs each scene at this limit); longer is refused.
    max_tokens = 6

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        causal = options.model == "lm"
        if options.layer == 0:
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
                                "gives the keys K and the values V."),
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

    # ---- steps ------------------------------------------------------------------------------

    def step_title(self) -> None:
        theme, cfg = self.theme, self.trace.config
        title = plain_text("Attention, with real numbers", TITLE, theme.text)
        eq = formula(r"\mathrm{Attention}(Q,K,V)=\mathrm{softmax}\!\left("
                     r"\frac{QK^\top}{\sqrt{d_k}}\right)V", font_size=50, color=theme.text)
        tokens = TokenRow(self.trace, self.tok, theme, font_size=28)
        what = (f"{model_name(self.options)}, encoder self-attention" if cfg.mode == "encdec"
                else f"{model_name(self.options)}, causal self-attention")
        info = self.note(f"{what}, layer {self.options.layer}, head {self.h} of "
                         f"{cfg.n_heads}", 22)
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
        if self.options.layer > 0:
            x = self.matrix(x_src, row_labels=self.tok, col_labels="dim", name="X")
            x_title = self.note(f"X = the output of layer {self.options.layer - 1}", 20,
                                theme.text)
            x_title.next_to(x.col_labels, UP, buff=0.2).set_x(x.brackets.get_x())
            self.fit(x, x_title)
            self.play(*self.heading("The input X"), *leave_title,
                      *(ReplacementTransform(tok, label) for tok, label in
                        zip(self.token_row.tokens, x.row_labels, strict=True)), run_time=1.2)
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
                  *(ReplacementTransform(tok, label) for tok, label in
                    zip(self.token_row.tokens, e.row_labels, strict=True)), run_time=1.2)
        self.play(FadeIn(e.body()), FadeIn(e.col_labels), FadeIn(titles[0]), FadeIn(panel[0]),
                  run_time=1.2)
        self.play(FadeIn(plus), FadeIn(pe), FadeIn(titles[1]), FadeIn(panel[1]),
                  run_time=1.2)
        self.wait(1.0)
        self.play_sum(e, pe, x, extra=[FadeIn(titles[2])])
        self.end_state(e, plus, pe, x, titles, panel, hold=2.5)
        self.x_mob, self.x_title = x, VGroup(e, plus, pe, titles, panel)

    # ---- shared layouts (also used by the block and decoder scenes) -------------------------

    def step_query(self) -> None:
        theme, t = self.theme, self.trace
        ch = cell_height_for(NUM)
        wq, q_src = f"param:{self.prefix}.W_Q[{self.h}]", self.src("q")
        cw = max(cell_width_for(t.param(f"{self.prefix}.W_Q")[self.h], 2, NUM),
                 cell_width_for(t[f"{self.prefix}.q"][self.h], 2, NUM))
        x = self.matrix(f"{self.block}.resid_pre", cell_h=ch, row_labels=self.tok, name="X")
        w = self.matrix(wq, cell_w=cw, cell_h=ch, col_labels="dim", name="W_Q",
                        name_side=RIGHT, name_color=theme.query)
        q = self.matrix(q_src, cell_w=cw, cell_h=ch, name="Q", name_side=RIGHT,
                        name_color=theme.query)
        self.product_layout(x, w, q, gap_v=0.7)
        work = build_worked_cell(t, x, w, q, self.qi, self.q_col,
                                 f"explain.matmul_products({self.block}.resid_pre, {wq})")
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
        theme = self.theme
        x, w, q, work, hl = self.qkv_parts
        made = {}
        for name, color in (("K", theme.key), ("V", theme.value)):
            mw = self.matrix(f"param:{self.prefix}.W_{name}[{self.h}]", cell_w=q.cell_w,
                             cell_h=q.cell_h, col_labels="dim", name=f"W_{name}",
                             name_side=RIGHT, name_color=color).move_cells_onto(w)
            m = self.matrix(self.src(name.lower()), cell_w=q.cell_w, cell_h=q.cell_h, name=name,
                            name_side=RIGHT, name_color=color).move_cells_onto(q)
            made[name] = (mw, m)
        finals = [self.matrix(self.src(name.lower()), row_labels=self.tok if k == 0 else None,
                              col_labels="dim", name=name, name_side=UP, name_color=color)
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
        cw = self.token_cell_width(t[f"{self.prefix}.scores"][self.h],
                                   t[f"{self.prefix}.k"][self.h])
        q = self.matrix(self.src("q"), cell_h=ch, row_labels=self.tok, name="Q",
                        name_color=theme.query)
        kt = self.matrix(f"{self.src('k')}.T", cell_w=cw, cell_h=ch, col_labels=self.tok,
                         name=r"K^\top", name_side=RIGHT, name_color=theme.key)
        s = self.matrix(self.src("scores"), cell_w=cw, cell_h=ch, name=r"QK^\top",
                        name_side=RIGHT)
        self.product_layout(q, kt, s, gap_v=0.7)
        products = f"explain.matmul_products({self.src('q')}, {self.src('k')}.T)"
        work = build_worked_cell(t, q, kt, s, self.qi, self.kj, products)
        note = self.note("Rows are queries (one per word) and columns are keys; softmax will "
                         "run along each row.\n3Blue1Brown's videos draw the transpose: "
                         "there the queries are columns.")
        note.next_to(VGroup(q, s), DOWN, buff=0.35)
        self.fit(q, kt, s, work, note)

        transpose = []  # K's entry (r, c) flies to Kᵀ's (c, r)
        for r in range(k_prev.n_rows):
            for c in range(k_prev.n_cols):
                transpose.append(ReplacementTransform(k_prev.number(r, c), kt.number(c, r)))
                transpose.append(ReplacementTransform(k_prev.fill(r, c), kt.fill(c, r)))
        for r, label in enumerate(k_prev.row_labels):
            transpose.append(ReplacementTransform(label, kt.col_labels[r]))
        self.play(*self.heading("Scores: Q · Kᵀ"), *relayout(q_prev, q),
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
        s2 = self.square(self.src("scores"), cw)
        scaled = self.square(self.src("scaled"), cw).move_cells_onto(s2)
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
        masked = self.square(self.src("masked"), m.cell_w).move_cells_onto(m)
        allowed = self.trace[f"{self.prefix}.mask"]
        cells = [(i, j) for i in range(m.n_rows) for j in range(m.n_cols) if not allowed[i, j]]
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
        m = self.square(base, m_prev.cell_w)
        e = self.square(f"explain.softmax_exp({base})", m.cell_w, heat=True).move_cells_onto(m)
        p = self.square(self.src("pattern"), m.cell_w, heat=True).move_cells_onto(m)
        # the row sums add the numbers as printed (README, "Worked arithmetic")
        e_sums = self.matrix(f"explain.column(explain.printed_row_sum("
                             f"explain.softmax_exp({base}), 2))", cell_h=m.cell_h, colored=False)
        p_sums = self.matrix(f"explain.column(explain.printed_row_sum({self.src('pattern')}, 2))",
                             cell_h=m.cell_h, sequential=True, vmax=1.0)
        for i in range(m.n_rows):
            mark_equation(e_sums, "sum", [e.number(i, j) for j in range(e.n_cols)],
                          e_sums.number(i, 0))
            mark_equation(p_sums, "sum", [p.number(i, j) for j in range(p.n_cols)],
                          p_sums.number(i, 0))
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
        cw = max(cell_width_for(t[f"{self.prefix}.v"][self.h], 2, NUM),
                 cell_width_for(t[f"{self.prefix}.z"][self.h], 2, NUM))
        a = self.square(self.src("pattern"), p_prev.cell_w, heat=True, name="A")
        v = self.matrix(self.src("v"), cell_w=cw, cell_h=ch, row_labels=self.tok,
                        col_labels="dim", name="V", name_side=RIGHT, name_color=theme.value)
        z = self.matrix(self.src("z"), cell_w=cw, cell_h=ch, name="Z", name_side=RIGHT,
                        name_color=theme.output)
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
        for source, name, color, _, _ in specs:
            heat = name == "A"
            grids.add(self.matrix(source, cell_w=0.3, cell_h=0.3, show_numbers=False,
                                  sequential=heat, vmax=1.0 if heat else None, name=name,
                                  name_side=UP, name_color=color))
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
