"""One training step with its real gradients: the data, the forward pass, the loss, the
backward pass, one update of gradient descent and the loss going down.

    L = −(1/T) Σ_i log p_i(target_i)          the mean cross-entropy over T positions
    ∂L/∂logits = (p − y) / T                   y: one-hot targets
    ∂L/∂W_U = hᵀ · ∂L/∂logits                  h: the last block's output
    W ← W − lr·∇W                              plain gradient descent

Reads a :class:`transformer_core.training_step.TrainingTrace` (``training_step(model, sentence,
lr)``): the forward records, ``grad.logits``, ``grad:PARAM``, ``step:targets/loss/loss_after/lr``,
``after:`` (the forward pass with the new weights) and ``init:`` (the seeded initial model of the
shipped training run). Which cells are worked out comes from
:func:`transformer_core.training_step.training_example`; every derived number from
:mod:`transformer_core.explain`.

Runs under Manim's CLI too: ``SCENE_MODEL=lm manim -ql scenes/training.py TrainingScene``.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import functools  # noqa: E402

import numpy as np  # noqa: E402
from manim import (  # noqa: E402
    DOWN, LEFT, RIGHT, UP, Arrow, Create, FadeIn, LaggedStart, VGroup, Write,
)

from scenes.toolkit.mobjects import (  # noqa: E402
    ValueMatrix, attention_heatmap, cell_height_for, rounded_box, window,
)
from scenes.toolkit.layouts import FOLD_ROWS, is_gap_row  # noqa: E402
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene, current_options, decoder_only,
)
from scenes.toolkit.style import NOTE, symbol  # noqa: E402
from scenes.toolkit.provenance import mark, mark_equation  # noqa: E402
from scenes.toolkit.text import label_text, number_text, plain_text  # noqa: E402
from transformer_core.explain import (  # noqa: E402
    attention_prefix, decimals_for, format_value, lookup, neg_log, resolve, target_probs,
)
from transformer_core.records import block_output  # noqa: E402

__all__ = ["TrainingScene"]


@functools.lru_cache(maxsize=4)
def load_step(model: str, sentence: str | None, lr: float | None, checkpoint: str | None = None,
              stamp=None):
    """The recorded training step (read-only, so one copy serves every scene); with
    ``checkpoint``, that file's model (``stamp`` tells a rewritten file apart)."""
    from transformer_core import runs

    return runs.training(model, sentence, lr, checkpoint)


class TrainingScene(StoryScene):
    """Forward, loss, backward, update, forward again: one step of training, animated."""

    # Any number of positions: a long sentence folds its per-position tables (see ``shown``).

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        encdec = not decoder_only(options)
        return [
            Step("data", "One training example: the words become ids, and at every position "
                         "the target is the word that really comes next."
                 if not encdec else
                 "One training example: the English words go to the encoder, the decoder "
                 "reads <bos> and the French words, and its targets are the French words "
                 "shifted by one."),
            Step("forward", "Forward pass: the words become X, the blocks transform it, and "
                            "the last layer gives every position a logit for each word."),
            Step("loss", "The loss: how probable the model found each correct next word, −log "
                         "of that, and the mean over the positions."),
            Step("logit_grad", "Backward starts at the logits: ∂L/∂logits = (p − y)/T, "
                               "negative only in the target's column, so gradient descent "
                               "raises the target's logit and lowers the others."),
            Step("w_u_grad", "The gradient of the output weights is hᵀ · ∂L/∂logits: each "
                             "entry adds up, over the positions, the hidden value times the "
                             "logit gradient."),
            Step("grad_sizes", "Backpropagation carries the gradient back through every "
                               "layer; the colour shows how large ‖∂L/∂W‖ is for each "
                               "weight matrix."),
            Step("grad_wq", "Down to one attention head: its query weights get a gradient "
                            "by the same rule, input transposed times the gradient at the "
                            "output, ∂L/∂W_Q = Xᵀ · ∂L/∂Q."),
            Step("update", "The update moves every weight a small step against its gradient, "
                           "W ← W − lr·∇W; the shipped models were trained with Adam over "
                           "many such steps."),
            Step("after", "Forward again with the new weights: each correct word's "
                          "probability before and after, and the loss before and after."),
            Step("init", "What many such steps did: the same attention head at "
                         "initialisation, before any training, beside the trained one."),
        ]

    def setup(self) -> None:
        super().setup()
        from transformer_core.records import final_hidden, training_example

        o = self.options
        stamp = os.stat(o.checkpoint).st_mtime_ns if o.checkpoint else None
        self.trace = t = load_step(o.model, o.sentence, o.lr, o.checkpoint, stamp)
        self.encdec = t.config.mode == "encdec"
        self.tok = "target_tokens" if self.encdec else "tokens"
        self.ids = "target_ids" if self.encdec else "token_ids"
        self.n = len(t.target_ids)
        self.h = o.head
        self.prefix = attention_prefix(t.config, o.layer)
        self.hidden = final_hidden(t)
        ex = training_example(t, o.layer, o.head)
        self.row, self.target, self.columns = ex["row"], ex["target"], ex["columns"]
        self.dim, self.wq_cell = ex["dim"], ex["wq_cell"]
        self.p_src = "explain.target_probs(probs, step:targets)"
        self.nlp_src = f"explain.neg_log({self.p_src})"
        self.lr_decimals = decimals_for(np.array([t.lr]), 1, 1, 6)

    # ---- helpers ----------------------------------------------------------------------------

    def grid(self, rows: list[list], gap: float = 0.35, row_h: float | None = None,
             aligns: list[str] | None = None) -> VGroup:
        """A table whose columns are as wide as their widest item."""
        n_cols = max(len(r) for r in rows)
        rows = [r + [None] * (n_cols - len(r)) for r in rows]
        widths = [max((m.width for m in col if m is not None), default=0.0)
                  for col in zip(*rows, strict=True)]
        gaps = [0.0] + [gap] * (n_cols - 1)
        aligns = aligns or ["right"] * n_cols
        row_h = row_h or cell_height_for(NOTE + 2) * 1.3
        return self.table(rows, widths, gaps, row_h, aligns)

    @staticmethod
    def with_dots(items: list, shown: list[int], dots) -> list:
        """``items`` (one per shown index) with ``dots()`` wherever indices are left out."""
        out, previous = [], -1
        for i, item in zip(shown, items, strict=True):
            if i - previous > 1:
                out.append(dots())
            out.append(item)
            previous = i
        return out

    def prose(self, text: str, size: float = NOTE, color: str | None = None):
        """Words (no trace values) on the baseline, left edge at x = 0."""
        mob = label_text(text, size, color or self.theme.muted)
        mob.kind = "prose"
        return mob

    def value(self, source: str, index: tuple, decimals: int, size: float = NOTE + 2,
              color: str | None = None):
        """A number on the baseline (``dim``: a position or dimension number)."""
        if source != "dim":
            return self.number(source, index, decimals, size, color)
        text = str(int(index[0]))
        mob = number_text(text, size, color or self.theme.text)
        mob.shift(-mob.get_corner(DOWN + LEFT))
        return mark(mob, "dim", "dim", index, text, 0)

    def lr_line(self, size: float = NOTE + 2) -> VGroup:
        return self.inline("learning rate lr =", ("step:lr", (), self.lr_decimals), size=size)

    # ---- steps ------------------------------------------------------------------------------

    def step_data(self) -> None:
        theme, t = self.theme, self.trace
        size = NOTE + 2
        title = plain_text("One training step, with real numbers", 40, theme.text)
        rows = []
        if self.encdec:  # a long English sentence: its first and last words, ⋯ between
            english = window(len(t.tokens), max(self.n, 8))

            def dots():
                return self.prose("⋯", size)

            rows.append([self.prose("English (encoder)", size)] + self.with_dots(
                [self.token_label("tokens", i, size, theme.text) for i in english], english,
                dots))
            rows.append([self.prose("ids", size)] + self.with_dots(
                [self.value("token_ids", (i,), 0, size, theme.muted) for i in english],
                english, dots))
        rows.append([self.prose("position", size)]
                    + [self.value("dim", (i,), 0, size, theme.muted) for i in range(self.n)])
        rows.append([self.prose("input word" if not self.encdec else "decoder reads", size)]
                    + [self.token_label(self.tok, i, size, theme.text) for i in range(self.n)])
        rows.append([self.prose("id", size)]
                    + [self.value(self.ids, (i,), 0, size, theme.muted) for i in range(self.n)])
        rows.append([self.prose("target: next word", size, theme.output)]
                    + [self.word(int(t.targets[i]), size, theme.output) for i in range(self.n)])
        rows.append([self.prose("target id", size)]
                    + [self.value("step:targets", (i,), 0, size, theme.muted)
                       for i in range(self.n)])
        aligns = ["right"] + ["left"] * (max(len(r) for r in rows) - 1)
        table = self.grid(rows, gap=0.4, aligns=aligns)
        note = self.note("the target at each position is the next input word; the last "
                         "position is trained to say <eos>, the end of the sentence", NOTE)
        group = VGroup(title, table, note).arrange(DOWN, buff=0.5)
        self.fit(group)
        self.play(Write(title), run_time=1.0)
        body = [VGroup(*(m for m in r if m is not None)) for r in rows]
        self.play(LaggedStart(*(FadeIn(r) for r in body[:-2]), lag_ratio=0.3), run_time=1.8)
        self.play(LaggedStart(*(FadeIn(r, shift=0.1 * DOWN) for r in body[-2:]),
                              lag_ratio=0.3), FadeIn(note), run_time=1.4)
        self.end_state(title, table, note, hold=2.5)

    def thumb(self, source: str, cw: float, labels: bool = False, sequential: bool = False):
        """A small heat-map of a record (no numbers) with a name under it."""
        kw = dict(sequential=True, vmax=1.0) if sequential else {}
        rows = len(lookup(self.trace, source))  # a long sentence: as high as eight words
        return ValueMatrix(self.trace, source, self.theme, cell_w=cw,
                           cell_h=min(0.26, 2.1 / rows),
                           show_numbers=False, row_labels=self.tok if labels else None,
                           label_font_size=14, **kw)

    def flow(self, items: list[tuple[str, str, float]], labels: bool) -> VGroup:
        """Thumbnails left to right with arrows between and a name under each."""
        theme = self.theme
        mats = [self.thumb(src, cw, labels and k == 0, sequential=src == "probs")
                for k, (src, _, cw) in enumerate(items)]
        row = VGroup(*mats).arrange(RIGHT, buff=0.55)
        arrows = VGroup(*(Arrow(a.brackets.get_right(), b.brackets.get_left(), buff=0.08,
                                stroke_width=3, color=theme.muted,
                                max_tip_length_to_length_ratio=0.25)
                          for a, b in zip(mats[:-1], mats[1:], strict=True)))
        names = VGroup()
        for m, (_, name, _) in zip(mats, items, strict=True):
            names.add(self.note(name, NOTE, theme.text).next_to(m.brackets, DOWN, buff=0.15))
        return VGroup(row, arrows, names)

    def step_forward(self) -> None:
        t = self.trace
        cfg = t.config
        dec = [("decoder.blocks.0.resid_pre", "X", 0.15)]
        if not self.encdec:
            dec += [(block_output(cfg, "decoder", k), f"after block {k}", 0.15)
                    for k in range(cfg.n_dec_layers)]
            if cfg.norm_position == "pre":
                dec += [("decoder.ln_f.out", "final norm", 0.15)]
        else:
            dec += [(self.hidden, "after the decoder block", 0.15)]
        dec += [("logits", "logits", 0.07), ("probs", "softmax: p", 0.07)]
        lower = self.flow(dec, labels=True)
        parts = [lower]
        if self.encdec:
            enc = [("encoder.blocks.0.resid_pre", "English X", 0.15),
                   ("encoder.blocks.0.ln2.out", "encoder output", 0.15)]
            upper = self.flow(enc, labels=False)
            upper.next_to(lower, UP, buff=0.9).align_to(lower, LEFT).shift(RIGHT * 1.2)
            feed = Arrow(upper[0][-1].brackets.get_bottom(), lower[0][1].brackets.get_top(),
                         buff=0.1, stroke_width=3, color=self.theme.key,
                         max_tip_length_to_length_ratio=0.2)
            parts += [upper, feed]
        note = self.note("each row is a position; colour shows the value (orange +, blue −); "
                         "the next steps use these exact numbers", NOTE)
        note.next_to(VGroup(*parts), DOWN, buff=0.45)
        self.fit(*parts, note)
        self.play(*self.heading("Forward pass"), *self.leave(), run_time=0.8)
        for part in parts:
            if isinstance(part, Arrow):
                self.play(Create(part), run_time=0.5)
                continue
            row, arrows, names = part
            anims = []
            for k, m in enumerate(row):
                anims.append(FadeIn(VGroup(m, names[k])))
                if k < len(arrows):
                    anims.append(Create(arrows[k]))
            self.play(LaggedStart(*anims, lag_ratio=0.5), run_time=2.0)
        self.play(FadeIn(note), run_time=0.6)
        self.end_state(*parts, note, hold=2.0)

    def step_loss(self) -> None:
        theme, t = self.theme, self.trace
        size = NOTE + 2
        p = target_probs(t["probs"], np.asarray(t.targets))
        dp = max(3, decimals_for(neg_log(p), 2, 3, 5))  # −log p near 0 needs more decimals
        rows = [[self.prose("input", NOTE), self.prose("target", NOTE, theme.output),
                 self.prose("p(target)", NOTE), self.prose("−log p", NOTE)]]
        for i in range(self.n):
            rows.append([self.token_label(self.tok, i, size),
                         self.word(int(t.targets[i]), size, theme.output),
                         self.value(self.p_src, (i,), dp, size),
                         self.value(self.nlp_src, (i,), dp, size)])
        table = self.grid(rows, gap=0.6, aligns=["right", "left", "right", "right"])
        dl = max(dp, decimals_for(np.array([t.loss]), 3, 3, 6))
        # the printed column's mean is the printed loss, or the loss is marked ≈ (README,
        # "Worked arithmetic")
        by_hand = f"explain.printed_mean({self.nlp_src}, {dp}, {dl})"
        holds = (format_value(resolve(t, by_hand), dl)
                 == format_value(resolve(t, "step:loss"), dl))
        loss = self.inline("mean of the −log p column: loss L " + ("=" if holds else "≈"),
                           ("step:loss", (), dl), size=size)
        column = [r[3] for r in rows[1:]]
        if holds:
            mark_equation(loss, "mean", column, loss[1])
        else:
            mark_equation(loss, "approx", [self.value(by_hand, (), dl, size)], loss[1],
                          bound=0.5 * 10.0 ** -dp + 0.5 * 10.0 ** -dl)
        from scenes.toolkit.mobjects import formula

        eq = formula(r"L = -\frac{1}{T}\sum_{i=1}^{T} \log p_i(\text{target}_i)",
                     font_size=32, color=theme.text)
        side = VGroup(eq, loss).arrange(DOWN, buff=0.45, aligned_edge=LEFT)
        side.next_to(table, RIGHT, buff=0.9)
        self.fit(table, side)
        self.play(*self.heading("The loss"), *self.leave(), run_time=0.8)
        self.play(FadeIn(VGroup(*rows[0])), FadeIn(eq), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(VGroup(*r[:3])) for r in rows[1:]), lag_ratio=0.2),
                  run_time=1.8)
        self.play(LaggedStart(*(FadeIn(r[3]) for r in rows[1:]), lag_ratio=0.2), run_time=1.4)
        self.play(FadeIn(loss, shift=0.1 * UP), run_time=0.8)
        self.end_state(table, side, hold=2.5)

    def step_logit_grad(self) -> None:
        theme, t = self.theme, self.trace
        size = NOTE + 2
        r = self.row
        cols = self.columns
        shown = np.array([t["grad.logits"][r, v] for v in cols])
        dg = decimals_for(shown, 2, 3, 6)
        dp = max(3, dg - 1)
        y_src = "explain.onehot(step:targets, config:tgt_vocab_size)"
        py_src = "explain.p_minus_y(probs, step:targets)"
        head = [self.prose("word", NOTE)] + [
            self.word(v, size, theme.output if v == self.target else theme.text) for v in cols]
        rows = [head,
                [self.prose("p", NOTE)] + [self.value("probs", (r, v), dp, size) for v in cols],
                [self.prose("y (1 for the target)", NOTE)]
                + [self.value(y_src, (r, v), 0, size) for v in cols],
                [self.prose("p − y", NOTE)]
                + [self.value(py_src, (r, v), dp, size) for v in cols],
                [self.prose("∂L/∂logit = (p − y)/T", NOTE, theme.text)]
                + [self.value("grad.logits", (r, v), dg, size,
                              theme.output if v == self.target else theme.text) for v in cols]]
        table = self.grid(rows, gap=0.6, aligns=["right"] + ["right"] * len(cols))
        where = self.inline("position", ("dim", (r,), 0), "(input", size=NOTE)
        where_tok = self.token_label(self.tok, r, NOTE, theme.text)
        where_tail = self.inline("), T =", ("explain.count(probs)", (), 0),
                                 f"positions; {len(t.vocab) - len(cols)} more words not shown",
                                 size=NOTE)
        # side by side on their common baseline (y = 0), not bottom to bottom: "(input" has
        # descenders, a word may not
        where_tok.shift([where.get_right()[0] + 0.1 - where_tok.get_left()[0], 0, 0])
        where_tail.shift([where_tok.get_right()[0] + 0.06 - where_tail.get_left()[0], 0, 0])
        where_line = VGroup(where, where_tok, where_tail)
        grad = ValueMatrix(t, "grad.logits", theme, cell_w=0.19, cell_h=0.27, show_numbers=False,
                           row_labels=self.tok, label_font_size=14,
                           rows=window(self.n, FOLD_ROWS, [r]))
        ring = grad.row_rect(r).set_stroke(theme.highlight, width=3)
        ghead = self.note("∂L/∂logits, every position × every word (autograd)", NOTE,
                          theme.text)
        ghead.next_to(grad.brackets, UP, buff=0.15).align_to(grad.brackets, LEFT)
        gnote = self.note("one row per position; in each row only the target word's cell is "
                          "negative (blue)", NOTE)
        gnote.next_to(grad.brackets, DOWN, buff=0.15).align_to(grad.brackets, LEFT)
        right = VGroup(grad, ring, ghead, gnote)
        left = VGroup(where_line, table).arrange(DOWN, buff=0.35, aligned_edge=LEFT)
        right.next_to(left, DOWN, buff=0.5).align_to(left, LEFT)
        self.fit(left, right)
        self.play(*self.heading("Backward: ∂L/∂logits"), *self.leave(), run_time=0.8)
        self.play(FadeIn(where_line), FadeIn(VGroup(*rows[0])), run_time=0.8)
        for row in rows[1:]:
            self.play(FadeIn(VGroup(*row), shift=0.1 * DOWN), run_time=0.8)
        self.play(FadeIn(VGroup(grad, ghead, gnote)), Create(ring), run_time=1.2)
        self.end_state(left, right, hold=2.5)

    def step_w_u_grad(self) -> None:
        theme, t = self.theme, self.trace
        size = NOTE + 2
        d, v = self.dim, self.target
        prod = f"explain.matmul_products({self.hidden}.T, grad.logits)"
        terms = lookup(t, prod)[d, v]
        dt = decimals_for(terms, 2, 3, 6)
        dh = 2
        dg = decimals_for(t["grad.logits"][:, v], 2, 3, 6)
        head = [self.prose("position", NOTE), self.prose("h", NOTE),
                None, self.prose("∂L/∂logit", NOTE), None, self.prose("product", NOTE)]
        rows = []
        shown = window(self.n, 7)  # a long sentence: the first and last positions' terms
        # each product from the printed factors, the sum of the printed products (README,
        # "Worked arithmetic")
        by_hand = f"explain.worked_times({self.hidden}.T[{d}], grad.logits.T[{v}], {dh}, {dg}, {dt})"
        for i in shown:
            rows.append([self.token_label(self.tok, i, size),
                         self.value(self.hidden, (i, d), dh, size),
                         self.prose("×", size),
                         self.value("grad.logits", (i, v), dg, size),
                         self.prose("=", size),
                         self.value(by_hand, (i,), dt, size)])
        products = [r[5] for r in rows]
        rows = [head, *self.gapped(rows, shown, self.n, dots_in=(0, 5))]
        windowed = len(shown) < self.n
        if windowed:  # the sum is still over every position, but cannot be checked by hand
            more = self.prose(f"+ {self.n - len(shown)} more terms", NOTE)
            rows[[k for k, r in enumerate(rows) if is_gap_row(r)][0]][3] = more
        printed_total = sum(int(round(resolve(t, by_hand, (i,)) * 10 ** dt)) for i in range(self.n))
        holds = (not windowed and
                 format_value(printed_total / 10 ** dt, dt) == format_value(t.grad("W_U")[d, v], dt))
        table = self.grid(rows, gap=0.35, aligns=["right", "right", "left", "right", "left",
                                                   "right"])
        total = self.inline("sum over positions = ∂L/∂W_U[" if holds
                            else f"sum over all {self.n} positions = ∂L/∂W_U[" if windowed
                            else "the model's ∂L/∂W_U[", ("dim", (d,), 0), ",", size=size)
        word = self.word(v, size, theme.output)
        tail = self.inline("] =" if holds else "] ≈", ("grad:W_U", (d, v), dt), size=size)
        # on the common baseline (y = 0), not bottom to bottom
        word.shift([total.get_right()[0] + 0.1 - word.get_left()[0], 0, 0])
        tail.shift([word.get_right()[0] + 0.08 - tail.get_left()[0], 0, 0])
        total_line = VGroup(total, word, tail)
        if holds:
            mark_equation(tail, "sum", products, tail[1])
        elif windowed:  # terms left out: the model's total, not a sum to check by hand
            pass
        else:  # the printed products' sum, then the model's unrounded value beside it
            printed = self.inline("sum over positions =",
                                  (f"explain.printed_row_sum({by_hand}, {dt})", (), dt), size=size)
            mark_equation(printed, "sum", products, printed[1])
            h = 0.5 * 10.0 ** -dt
            mark_equation(tail, "approx", [printed[1]], tail[1],
                          bound=self.n * (2 * h + h) + h)
            total_line = VGroup(printed, total_line).arrange(DOWN, buff=0.15, aligned_edge=LEFT)
        total_line.next_to(table, DOWN, buff=0.3).align_to(table, LEFT)
        which = self.inline("h: the last block's output, column", ("dim", (d,), 0), size=NOTE)
        which2 = self.inline("∂L/∂logit: its column for the word", size=NOTE)
        which_word = self.word(v, NOTE, theme.output)
        which_word.next_to(which2, RIGHT, buff=0.1).align_to(which2, DOWN)
        which_line = VGroup(which, VGroup(which2, which_word)).arrange(DOWN, buff=0.15,
                                                                        aligned_edge=LEFT)
        which_line.next_to(table, UP, buff=0.35).align_to(table, LEFT)
        gw = ValueMatrix(t, "grad:W_U", theme, cell_w=0.15, cell_h=0.3, show_numbers=False,
                         row_labels="dim", label_font_size=14)
        ring = gw.cell_rect(d, v).set_stroke(theme.highlight, width=3)
        ghead = self.note("∂L/∂W_U: d_model rows × one column per word", NOTE, theme.text)
        ghead.next_to(gw.brackets, UP, buff=0.15).align_to(gw.brackets, LEFT)
        from scenes.toolkit.mobjects import formula

        eq = formula(r"\frac{\partial L}{\partial W_U} = h^\top \cdot "
                     r"\frac{\partial L}{\partial\,\mathrm{logits}}", font_size=32,
                     color=theme.text)
        right = VGroup(eq, VGroup(ghead, gw, ring)).arrange(DOWN, buff=0.5, aligned_edge=LEFT)
        left = VGroup(which_line, table, total_line)
        right.next_to(left, RIGHT, buff=0.6)
        self.fit(left, right)
        self.play(*self.heading("Into the weights: ∂L/∂W_U"), *self.leave(), run_time=0.8)
        self.play(FadeIn(eq), FadeIn(ghead), FadeIn(gw), Create(ring), run_time=1.0)
        self.play(FadeIn(which_line), FadeIn(VGroup(*(m for m in rows[0] if m is not None))),
                  run_time=0.6)
        self.play(LaggedStart(*(FadeIn(VGroup(*(m for m in r if m is not None)))
                                for r in rows[1:]), lag_ratio=0.25), run_time=2.4)
        self.play(FadeIn(total_line, shift=0.1 * UP), run_time=0.8)
        self.end_state(left, right, hold=2.5)

    # ---- gradient sizes -----------------------------------------------------------------------

    def layout_params(self) -> list[tuple[str, list[list[str]]]]:
        """The parameters as drawn: (panel title, rows of parameter names)."""
        t = self.trace
        names = list(t.grads)
        panels = []

        def block(prefix: str) -> list[list[str]]:
            rows = []
            for sub in ("attn", "ln1", "cross_attn", "ln2", "mlp", "ln3"):
                row = [n for n in names if n.startswith(f"{prefix}.{sub}.")]
                if row:
                    rows.append(row)
            return rows

        for stack in ("encoder", "decoder"):
            if f"{stack}.W_E" not in names:
                continue
            panels.append((f"{stack}\nembedding", [[f"{stack}.W_E"]]))
            layers = t.config.n_enc_layers if stack == "encoder" else t.config.n_dec_layers
            for k in range(layers):
                panels.append((f"{stack} block {k}", block(f"{stack}.blocks.{k}")))
        panels.append(("output", [[n for n in ("decoder.ln_f.gamma", "W_U", "b_U")
                                   if n in names]]))
        return panels

    def chip(self, name: str, lo: float, hi: float):
        """A parameter: its short name, ‖∇W‖ and a fill whose strength is log ‖∇W‖."""
        theme, t = self.theme, self.trace
        src = f"explain.norm(grad:{name})"
        value = float(lookup(t, src))
        short = symbol(name.rsplit(".", 1)[-1])
        label = self.prose(short, 14, theme.text)
        num = self.value(src, (), decimals_for(np.array([value]), 2, 2, 6), 14)
        num.next_to(label, DOWN, buff=0.08)
        body = VGroup(label, num)
        strength = (math.log10(value) - lo) / (hi - lo) if hi > lo else 1.0
        box = rounded_box(corner_radius=0.06, width=max(body.width + 0.18, 0.76),
                          height=body.height + 0.16, stroke_width=2.2,
                          stroke_color=self.role_colors()[self.role(name)])
        box.set_fill(theme.positive, opacity=theme.max_fill * max(0.05, strength))
        box.move_to(body)
        chip = VGroup(box, body)
        chip.param = name
        return chip

    def role(self, name: str) -> str:
        """What a parameter belongs to, for its outline colour."""
        for part, role in ((".cross_attn.", "cross-attention"), (".attn.", "self-attention"),
                           (".mlp.", "feed-forward"), (".ln", self.norm_name())):
            if part in name:
                return role
        return "embedding, output"

    def norm_name(self) -> str:
        return "RMSNorm" if self.trace.config.norm == "rmsnorm" else "LayerNorm"

    def role_colors(self) -> dict[str, str]:
        theme = self.theme
        return {"self-attention": theme.query, "cross-attention": theme.key,
                "feed-forward": theme.value, self.norm_name(): theme.muted,
                "embedding, output": theme.output}

    def step_grad_sizes(self) -> None:
        theme, t = self.theme, self.trace
        sizes = [float(lookup(t, f"explain.norm(grad:{n})")) for n in t.grads]
        lo, hi = math.log10(min(sizes)), math.log10(max(sizes))
        panels = VGroup()
        self.chips = {}
        for title, rows in self.layout_params():
            rows_mob = VGroup()
            for row in rows:
                chips = [self.chip(n, lo, hi) for n in row]
                for c in chips:
                    self.chips[c.param] = c
                rows_mob.add(VGroup(*chips).arrange(RIGHT, buff=0.08))
            rows_mob.arrange(DOWN, buff=0.1, aligned_edge=LEFT)
            head = self.note(title, NOTE, theme.text)
            head.next_to(rows_mob, UP, buff=0.15).align_to(rows_mob, LEFT)
            frame = rounded_box(corner_radius=0.1,
                                width=max(rows_mob.width, head.width) + 0.24,
                                height=rows_mob.height + head.height + 0.45,
                                stroke_color=theme.muted, stroke_width=1.5)
            frame.move_to(VGroup(rows_mob, head))
            frame.align_to(rows_mob, LEFT).shift(LEFT * 0.12)
            panels.add(VGroup(frame, head, rows_mob))
        panels.arrange(RIGHT, buff=0.18, aligned_edge=UP)
        legend = VGroup(self.note("‖∂L/∂W‖: the square root of the sum of the squared "
                                  "gradients of all its entries; "
                                  f"{'darker' if self.options.theme == 'light' else 'brighter'}"
                                  " = larger (log scale)",
                                  NOTE))
        roles = {self.role(n) for n in t.grads}
        outline = VGroup(self.prose("outline:", NOTE))
        for role, color in self.role_colors().items():
            if role in roles:
                outline.add(self.prose(role, NOTE, color))
        outline.arrange(RIGHT, buff=0.25, aligned_edge=DOWN)
        legend.add(outline)
        legend.arrange(DOWN, buff=0.15)
        legend.next_to(panels, DOWN, buff=0.3)
        self.fit(panels, legend)
        self.play(*self.heading("Where the gradient is large"), *self.leave(), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(p) for p in reversed(panels)), lag_ratio=0.35),
                  run_time=2.6)
        self.play(FadeIn(legend), run_time=0.6)
        self.end_state(panels, legend, hold=2.5)

    def step_grad_wq(self) -> None:
        theme, t = self.theme, self.trace
        w_name = f"{self.prefix}.W_Q"
        g = t.grad(w_name)[self.h]
        dg = decimals_for(g, 2, 3, 6)
        size = NOTE
        w = self.matrix(f"param:{w_name}[{self.h}]", row_labels="dim", col_labels="dim",
                        font_size=size)
        gm = self.matrix(f"grad:{w_name}[{self.h}]", row_labels="dim", col_labels="dim",
                         decimals=dg, font_size=size)
        i, j = self.wq_cell
        gm.next_to(w, RIGHT, buff=1.2)
        ring = gm.cell_rect(i, j).set_stroke(theme.highlight, width=3)  # where gm now is
        heads = VGroup(self.note("W_Q, head weights", NOTE, theme.text),
                       self.note("∂L/∂W_Q (autograd)", NOTE, theme.text))
        for head, m in zip(heads, (w, gm), strict=True):
            head.next_to(m.col_labels, UP, buff=0.15).align_to(m.brackets, LEFT)
        where = self.note(f"{self.prefix.split('.')[0]} layer {self.options.layer}, head {self.h}",
                          NOTE)
        x_src = f"{self.prefix.rsplit('.', 1)[0]}.resid_pre"
        worked = self.inline("Σ over positions of X[pos,", ("dim", (i,), 0), "] · ∂L/∂Q[pos,",
                             ("dim", (j,), 0), "] =",
                             (f"explain.matmul({x_src}.T, grad.{self.prefix}.q[{self.h}])", (i, j),
                              dg), size=NOTE + 2)
        info = VGroup(where, worked).arrange(DOWN, buff=0.25, aligned_edge=LEFT)
        info.next_to(VGroup(w, gm), DOWN, buff=0.45).align_to(w.brackets, LEFT)
        self.fit(w, gm, ring, heads, info)
        self.play(*self.heading("One head: ∂L/∂W_Q"), *self.leave(), run_time=0.8)
        self.play(FadeIn(w), FadeIn(heads[0]), FadeIn(where), run_time=1.0)
        self.play(FadeIn(gm), FadeIn(heads[1]), run_time=1.2)
        self.play(Create(ring), FadeIn(worked), run_time=1.0)
        self.end_state(w, gm, ring, heads, info, hold=2.5)

    def step_update(self) -> None:
        theme, t = self.theme, self.trace
        v, d = self.target, self.dim
        size = NOTE + 1
        step_src = f"explain.column(explain.sgd_step(grad:W_U.T[{v}], step:lr))"
        dd = max(2, decimals_for(lookup(t, step_src), 2, 2, 6))
        w = self.matrix(f"explain.column(param:W_U.T[{v}])", row_labels="dim", decimals=dd,
                        font_size=size)
        s = self.matrix(step_src, decimals=dd, font_size=size)
        w2 = self.matrix(f"explain.column(after:param:W_U.T[{v}])", decimals=dd,
                         font_size=size)
        plus = plain_text("+", 28, theme.text)
        eq_sign = plain_text("=", 28, theme.text)
        row = VGroup(w, plus, s, eq_sign, w2).arrange(RIGHT, buff=0.4)
        heads = VGroup(self.note("W", NOTE, theme.text), self.note("−lr·∇W", NOTE, theme.text),
                       self.note("W′ = W − lr·∇W", NOTE, theme.text))
        for head, m in zip(heads, (w, s, w2), strict=True):
            head.next_to(m.brackets, UP, buff=0.2)
        rings = VGroup(*(m.cell_rect(d, 0).set_stroke(theme.highlight, width=3)
                         for m in (w, s, w2)))
        which = self.inline("W_U's column for", size=NOTE + 2)
        word = self.word(v, NOTE + 2, theme.output)
        word.next_to(which, RIGHT, buff=0.12).align_to(which, DOWN)
        lr = self.lr_line()
        top = VGroup(VGroup(which, word), lr).arrange(RIGHT, buff=0.8)
        top.next_to(heads, UP, buff=0.35)
        dlr = self.lr_decimals
        dgrad = decimals_for(np.array([t.grad("W_U")[d, v]]), 2, 3, 6)
        # worked on the printed lr and ∇W (README, "Worked arithmetic"); the model's W′
        # follows when it differs in the last place
        step_hand = f"explain.worked_times(step:lr, grad:W_U, {dlr}, {dgrad}, {dd})"
        new_hand = f"explain.worked_update(param:W_U, grad:W_U, step:lr, {dd}, {dgrad}, {dlr})"
        differs = (format_value(resolve(t, new_hand, (d, v)), dd)
                   != format_value(resolve(t, "after:param:W_U", (d, v)), dd))
        worked2 = self.inline("with lr =", ("step:lr", (), dlr), "and ∇W =", ("grad:W_U", (d, v), dgrad),
                              size=NOTE + 2)
        worked = self.inline(("param:W_U", (d, v), dd), "− (", (step_hand, (d, v), dd), ") =",
                             (new_hand, (d, v), dd),
                             *((";  model ≈", ("after:param:W_U", (d, v), dd)) if differs else ()),
                             size=NOTE + 2)
        mark_equation(worked, "update", [worked[0], worked2[1], worked2[3], worked[2]], worked[4])
        if differs:
            mark_equation(worked, "approx", [worked[4]], worked[6], bound=10.0 ** -dd)
        side = VGroup(worked2, worked).arrange(DOWN, buff=0.3, aligned_edge=LEFT)
        side.next_to(row, RIGHT, buff=0.8)
        note = VGroup(self.inline("the column moves along h of position",
                                  ("dim", (self.row,), 0), ",", size=NOTE),
                      self.note("so, to first order, the target's logit there rises", NOTE))
        note.arrange(DOWN, buff=0.12, aligned_edge=LEFT)
        note.next_to(side, DOWN, buff=0.4).align_to(side, LEFT)
        self.fit(row, heads, rings, top, side, note)
        self.play(*self.heading("The update: W ← W − lr·∇W"), *self.leave(), run_time=0.8)
        self.play(FadeIn(top), FadeIn(w), FadeIn(heads[0]), run_time=1.0)
        self.play(FadeIn(plus), FadeIn(s), FadeIn(heads[1]), run_time=1.0)
        self.play(FadeIn(eq_sign), FadeIn(w2), FadeIn(heads[2]), run_time=1.0)
        self.play(Create(rings), FadeIn(side), FadeIn(note), run_time=1.2)
        self.end_state(row, heads, rings, top, side, note, hold=2.5)

    def step_after(self) -> None:
        theme, t = self.theme, self.trace
        size = NOTE + 2
        p = target_probs(t["probs"], np.asarray(t.targets))
        dp = max(3, decimals_for(neg_log(p), 2, 3, 5))
        after_src = "explain.target_probs(after:probs, step:targets)"
        rows = [[self.prose("input", NOTE), self.prose("target", NOTE, theme.output),
                 self.prose("p before", NOTE), self.prose("p after", NOTE)]]
        for i in range(self.n):
            rows.append([self.token_label(self.tok, i, size),
                         self.word(int(t.targets[i]), size, theme.output),
                         self.value(self.p_src, (i,), dp, size),
                         self.value(after_src, (i,), dp, size)])
        table = self.grid(rows, gap=0.6, aligns=["right", "left", "right", "right"])
        dl = max(dp, decimals_for(np.array([t.loss, t.loss_after]), 3, 3, 6))
        up = t.loss_went_up
        loss = self.inline("loss", ("step:loss", (), dl), "→", ("step:loss_after", (), dl),
                           size=26)
        lr = self.lr_line()
        verdict = self.note(
            "the loss went UP: this learning rate is too large, the step overshot" if up else
            "the loss did not change: this learning rate is too small to move the weights"
            if t.loss_unchanged else "the loss went down: one small step of learning", NOTE + 2,
            theme.highlight if up else theme.text)
        side = VGroup(loss, lr, verdict).arrange(DOWN, buff=0.35, aligned_edge=LEFT)
        side.next_to(table, RIGHT, buff=0.9)
        self.fit(table, side)
        self.play(*self.heading("Forward again"), *self.leave(), run_time=0.8)
        self.play(FadeIn(VGroup(*rows[0])), LaggedStart(
            *(FadeIn(VGroup(*r[:3])) for r in rows[1:]), lag_ratio=0.15), run_time=1.6)
        self.play(LaggedStart(*(FadeIn(r[3], shift=0.1 * LEFT) for r in rows[1:]),
                              lag_ratio=0.15), run_time=1.6)
        self.play(FadeIn(loss), FadeIn(lr), run_time=0.8)
        self.play(FadeIn(verdict), run_time=0.6)
        self.end_state(table, side, hold=3.0)

    def step_init(self) -> None:
        theme = self.theme
        src = f"{self.prefix}.pattern[{self.h}]"
        tok = "tokens" if self.prefix.startswith("encoder") or not self.encdec else self.tok
        cw = 0.75
        kw = dict(cell_w=cw, cell_h=cell_height_for(NOTE) * 1.1, font_size=NOTE)
        square = window(len(lookup(self.trace, tok)), 7)
        kw.update(rows=square, cols=square)
        a = attention_heatmap(self.trace, f"init:{src}", theme, tok, **kw)
        b = attention_heatmap(self.trace, src, theme, tok, **kw)
        b.remove(b.row_labels)
        b.row_labels = VGroup()
        b.shape_below()
        b.next_to(a, RIGHT, buff=0.9)
        b.shift(UP * (a.brackets.get_bottom()[1] - b.brackets.get_bottom()[1]))
        heads = VGroup(self.note("at initialisation", NOTE + 2, theme.text),
                       self.note("after training", NOTE + 2, theme.text))
        heads[0].next_to(a.col_labels, UP, buff=0.2).align_to(a.brackets, LEFT)
        heads[1].align_to(heads[0], DOWN).align_to(b.brackets, LEFT)
        where = self.note(f"attention weights of {self.prefix.split('.')[0]} layer "
                          f"{self.options.layer}, head {self.h} on the same words (rows: "
                          "queries, columns: keys);\nleft: the seeded random weights the "
                          "shipped training run started from; right: the shipped model", NOTE)
        where.next_to(VGroup(a, b), DOWN, buff=0.35)
        self.fit(a, b, heads, where)
        self.play(*self.heading("What many steps did"), *self.leave(), run_time=0.8)
        self.play(FadeIn(a), FadeIn(heads[0]), FadeIn(where), run_time=1.2)
        self.play(FadeIn(b), FadeIn(heads[1]), run_time=1.2)
        self.end_state(a, b, heads, where, hold=3.0)

