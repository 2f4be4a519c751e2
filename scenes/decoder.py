"""The decoder, with its real numbers: masked self-attention, cross-attention to the encoder,
the final linear layer and softmax over the vocabulary, and the words it picks.

    masked:  softmax(Q Kᵀ/√d_k + M) V, M = −∞ above the diagonal (no looking ahead)
    cross:   softmax(Q_dec K_encᵀ/√d_k) V_enc
    logits = x W_U + b_U,   probs = softmax(logits) over the vocabulary

With ``translate`` (encoder-decoder) the decoder reads ``<bos>`` and the French words and
attends to the encoder's English words; with ``lm`` (decoder-only) the same scene runs without
the cross-attention step and shows next-word probabilities.

Reads ``decoder.embed``/``pos_embed``, ``decoder.blocks.L.resid_pre``, ``decoder.blocks.L.attn``
``.masked``/``.mask``/``.pattern``, ``decoder.blocks.L.cross_attn.pattern`` (translate),
``logits``, ``probs``, and the trace's ``target_tokens``/``tokens``/``output_tokens``/``vocab``.
The most probable words, the training targets and their −log p come from
:mod:`transformer_core.explain`.

Runs under Manim's CLI too: ``manim -ql scenes/decoder.py DecoderScene``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from manim import (  # noqa: E402
    DOWN, LEFT, RIGHT, UP, Arrow, Create, FadeIn, FadeOut, LaggedStart, ReplacementTransform,
    VGroup, Write,
)

from scenes.toolkit.mobjects import (  # noqa: E402
    TokenRow, ValueMatrix, attention_heatmap, cell_height_for, cell_width_for, fit_into,
    formula, rounded_box, window,
)
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene, current_options, decoder_only, modern_block, languages,
)
from scenes.toolkit.style import NOTE, SUM_NUM, TITLE  # noqa: E402
from scenes.toolkit.text import DIGIT_HEIGHT, label_text, plain_text  # noqa: E402
from transformer_core.explain import (  # noqa: E402
    lookup, next_word_targets, top_k_ids,
)

__all__ = ["DecoderScene"]

TOP = 3  # most probable words listed per position


class DecoderScene(StoryScene):
    """The decoder's view: its inputs, masked and cross-attention, logits, probabilities."""

    # Any number of positions: a long input folds its rows (first and last positions, a ⋮
    # for the rest) in every matrix and table.
    TABLE_ROWS = 8  # row slots of the per-position tables
    SQUARE = 7  # row and column slots of the masked self-attention squares

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        source, target = languages(options)
        if modern_block(options):
            steps = [
                Step("title", "A decoder-only model with today's block reads a sentence and, "
                              "at every position, predicts the word that comes next."),
                Step("inputs", "Each word becomes a row of X, its embedding alone: no "
                               "positional encoding is added, since attention rotates q and k "
                               "by position instead."),
            ]
        elif decoder_only(options):
            steps = [
                Step("title", "A decoder-only model reads a sentence and, at every position, "
                              "predicts the word that comes next."),
                Step("inputs", "Each word becomes a row of X: its embedding × √d_model plus "
                               "the positional encoding, exactly as in the encoder."),
            ]
        else:
            steps = [
                Step("title", f"The decoder predicts each next {target} word from the "
                              "words before it and, through cross-attention, the encoded "
                              f"{source} sentence, at every position in one run."),
                Step("inputs", f"The decoder reads <bos> followed by the {target} words "
                               "(in training, the reference translation shifted right by one "
                               "place), each turned into a row of X."),
            ]
        steps.append(Step("masked_attention", "Masked self-attention: a score becomes −∞ "
                                              "wherever a position would look at a later "
                                              "word, so softmax gives that word no weight."))
        if not decoder_only(options):
            steps.append(Step("cross_attention",
                              f"Cross-attention: each {target} position (a row) queries the "
                              f"encoder's {source} words (columns), and the weights line up "
                              "with the word about to be translated."))
        steps += [
            Step("logits", "A final linear layer turns each position's output row into one "
                           "score, a logit, for every word of the vocabulary."),
            Step("probabilities", "Softmax turns each row of logits into probabilities that "
                                  "sum to 1; here are the three most probable words per "
                                  "position and the total of all the others."),
            Step("next_word", "The most probable word at each position is the prediction, and "
                              "training lowers −log p of the word that really comes next."
                 if decoder_only(options) else
                 "This one run reads the whole French sentence at once, as training reads its "
                 "reference, and at every position the loss asks for the next word; writing "
                 "word by word, each pick fed back, is the generate scene."),
        ]
        return steps

    def setup(self) -> None:
        super().setup()
        cfg, t = self.trace.config, self.trace
        layer = self.options.layer
        self.block = f"decoder.blocks.{layer}"
        self.prefix = f"{self.block}.attn"
        self.stack = "decoder"
        self.encdec = cfg.mode == "encdec"
        self.pre = cfg.norm_position == "pre"
        self.tok = "target_tokens" if self.encdec else "tokens"
        self.cross = f"{self.block}.cross_attn" if self.encdec else None
        self.n = len(lookup(t, self.tok))
        self.top = top_k_ids(t["probs"], TOP)  # [pos, TOP] word ids, most probable first
        self.targets = next_word_targets(t)  # [pos] word ids
        self.table_rows = window(self.n, self.TABLE_ROWS)

    def check_options(self) -> None:
        super().check_options()
        n = self.trace.config.n_dec_layers
        if not 0 <= self.options.layer < n:
            raise ValueError(f"layer {self.options.layer} is out of range: this model's "
                             f"decoder has {n} (0..{n - 1})")

    # ---- helpers ----------------------------------------------------------------------------

    def with_gaps(self, rows: list[list]) -> list[list]:
        """The table rows of the positions in ``table_rows``, with a row of ⋮ wherever
        positions are left out."""
        return self.gapped(rows, self.table_rows, self.n)


    # ---- steps ------------------------------------------------------------------------------

    def step_title(self) -> None:
        theme, t = self.theme, self.trace
        title = plain_text("The decoder" if self.encdec else "A decoder-only model", TITLE,
                           theme.text)
        rows = VGroup()
        if self.encdec:
            rows.add(VGroup(self.note("the encoder reads", 20),
                            TokenRow(t, "tokens", theme, font_size=24)).arrange(RIGHT, 0.3))
        rows.add(VGroup(self.note("the decoder reads", 20),
                        TokenRow(t, self.tok, theme, font_size=24)).arrange(RIGHT, 0.3))
        left, right, _, _ = self.content_box()
        if max(r.width for r in rows) > right - left:  # a long sentence: its label above it
            for row in rows:
                row.arrange(DOWN, buff=0.15, aligned_edge=LEFT)
        for row in rows[1:]:
            row.align_to(rows[0], LEFT)
        rows.arrange(DOWN, buff=0.35, aligned_edge=LEFT)
        if self.pre:  # today's block: norm first, add back, a final norm before the output
            norm = "RMS-\nNorm" if t.config.norm == "rmsnorm" else "Layer-\nNorm"
            ffn = "SwiGLU\nfeed-fwd" if t.config.ffn == "swiglu" else "Feed-\nforward"
            names = [norm, "Masked\nself-attention", "+ x", norm, ffn, "+ x", norm, "Linear",
                     "Softmax"]
        else:
            names = ["Masked\nself-attention", "Add &\nNorm"]
            if self.encdec:
                names += ["Cross-\nattention", "Add &\nNorm"]
            names += ["Feed-\nforward", "Add &\nNorm", "Linear", "Softmax"]
        colors = {"Masked\nself-attention": theme.query, "Cross-\nattention": theme.key,
                  "Feed-\nforward": theme.value, "SwiGLU\nfeed-fwd": theme.value,
                  "Linear": theme.output, "Softmax": theme.output}
        boxes = VGroup()
        for name in names:
            label = plain_text(name, 17, theme.text, line_spacing=0.8)
            label.kind = "prose"
            box = rounded_box(corner_radius=0.1, width=max(label.width + 0.3, 1.0),
                              height=0.95, stroke_width=2.5,
                              stroke_color=colors.get(name, theme.muted))
            boxes.add(VGroup(box, label.move_to(box)))
        boxes.arrange(RIGHT, buff=0.32)
        arrows = VGroup(*(Arrow(a.get_right(), b.get_left(), buff=0.05, stroke_width=3,
                                color=theme.muted, max_tip_length_to_length_ratio=0.35)
                          for a, b in zip(boxes[:-1], boxes[1:], strict=True)))
        diagram = VGroup(boxes, arrows)
        if self.encdec:
            cross = boxes[2]
            feed = self.note("keys and values from the encoder's output", 16)
            feed.set_color(theme.key)
            feed.next_to(cross, UP, buff=0.5)
            down = Arrow(feed.get_bottom(), cross.get_top(), buff=0.06, stroke_width=3,
                         color=theme.key, max_tip_length_to_length_ratio=0.3)
            diagram.add(feed, down)
        else:
            blocks = 6 if self.pre else 4
            repeat = self.note(f"× {t.config.n_dec_layers} blocks, then the output layer", 16)
            repeat.next_to(VGroup(boxes[:blocks]), DOWN, buff=0.2)
            diagram.add(repeat)
        group = VGroup(title, rows, diagram).arrange(DOWN, buff=0.55)
        left, right, bottom, top = self.content_box()
        fit_into(group, left, right, bottom, top + 0.6)
        self.play(Write(title), run_time=1.0)
        self.play(LaggedStart(*(FadeIn(r) for r in rows), lag_ratio=0.4), run_time=1.4)
        self.play(LaggedStart(*(FadeIn(b) for b in boxes), lag_ratio=0.15),
                  LaggedStart(*(Create(a) for a in arrows), lag_ratio=0.15), run_time=1.8)
        self.play(FadeIn(diagram[2:]), run_time=0.6)
        self.end_state(title, rows, diagram, hold=2.5)

    def step_inputs(self) -> None:
        x_src = "decoder.blocks.0.resid_pre"
        if "decoder.pos_embed" not in self.trace:
            self.inputs_rotary(x_src)
            return
        e, pe, x, plus, titles = self.sum_layout(
            ("decoder.embed", "decoder.pos_embed", x_src),
            ("token embedding × √d_model", "positional encoding PE",
             "X = embedding + positional encoding"))
        panel = self.embed_panel("decoder", x)
        self.fit(e, pe, x, plus, titles, panel)
        self.play(*self.heading("The decoder's input" if self.encdec else "Words → X"),
                  *self.leave(), run_time=0.8)
        self.play(FadeIn(e), FadeIn(titles[0]), FadeIn(panel[0]), run_time=1.0)
        self.play(FadeIn(plus), FadeIn(pe), FadeIn(titles[1]), FadeIn(panel[1]), run_time=1.0)
        self.play_sum(e, pe, x, extra=[FadeIn(titles[2])])
        self.end_state(e, plus, pe, x, titles, panel, hold=2.0)

    def inputs_rotary(self, x_src: str) -> None:
        """No positional table: X is the embedding rows, scaled only if the model says so."""
        theme, t = self.theme, self.trace
        x = self.matrix(x_src, row_labels=self.tok, col_labels="dim", name="X", name_side=UP,
                        rows=self.fold(self.TABLE_ROWS), cols=self.dims(t.config.d_model, budget=12))
        scaled = "× √d_model" if t.config.scale_embedding else "(not scaled)"
        notes = VGroup(
            self.note(f"X = the rows of W_E for the words {scaled}", NOTE, theme.text),
            self.note("No positional encoding is added here: each attention layer turns q "
                      "and k by the word's position (rotary positions).", NOTE),
        ).arrange(DOWN, buff=0.2)
        notes.next_to(x, DOWN, buff=0.4)
        self.fit(x, notes)
        self.play(*self.heading("Words → X"), *self.leave(), run_time=0.8)
        self.play(FadeIn(x), FadeIn(notes), run_time=1.2)
        self.end_state(x, notes, hold=2.0)

    def step_masked_attention(self) -> None:
        theme, t = self.theme, self.trace
        size = SUM_NUM
        ch = cell_height_for(size)
        masked_src, pattern_src = self.src("masked"), self.src("pattern")
        cw = max(cell_width_for(lookup(t, s), 2, size, pad=0.12)
                 for s in (masked_src, pattern_src))
        kw = dict(cell_w=cw, cell_h=ch, font_size=size, rotate_col_labels=True)
        square = self.fold(self.SQUARE)
        kw.update(rows=square, cols=square)
        m = self.matrix(masked_src, row_labels=self.tok, col_labels=self.tok, **kw)
        p = attention_heatmap(t, pattern_src, theme, self.tok, **kw)
        p.remove(p.row_labels)
        p.row_labels = VGroup()
        p.shape_below()
        p.shift(m.cell_centre(0, m.col_ids[-1]) + RIGHT * (cw + 1.3) - p.cell_centre(0, 0))
        arrow = Arrow(m.brackets.get_right(), p.brackets.get_left(), buff=0.12,
                      stroke_width=3, color=theme.muted, max_tip_length_to_length_ratio=0.2)
        over = self.note("softmax", NOTE).next_to(arrow, UP, buff=0.08)
        heads = VGroup(self.note("scaled scores, masked", NOTE, theme.text),
                       self.note("attention weights", NOTE, theme.text))
        for head, mob in zip(heads, (m, p), strict=True):
            head.next_to(mob.col_labels, UP, buff=0.15).align_to(mob.brackets, LEFT)
        note = self.note("−∞ above the diagonal: position i may only look at positions "
                         "0 … i,\nthe words already written; exp(−∞) = 0.", NOTE)
        note.next_to(VGroup(m, p), DOWN, buff=0.3).align_to(m.brackets, LEFT)
        where = self.note(f"layer {self.options.layer}, head {self.h}", NOTE)
        where.next_to(heads[1], RIGHT, buff=0.5)
        self.fit(m, p, arrow, over, heads, note, where)
        self.play(*self.heading("Masked self-attention"), *self.leave(), run_time=0.8)
        self.play(FadeIn(m), FadeIn(heads[0]), FadeIn(where), run_time=1.0)
        hidden = [(i, j) for i, j in m.all_cells() if not np.isfinite(m.values[i, j])]
        rects = VGroup(*(m.cell_rect(i, j) for i, j in hidden))
        self.play(Create(rects), FadeIn(note), run_time=1.0)
        self.play(Create(arrow), FadeIn(over), run_time=0.6)
        copy = m.cells().copy()
        self.play(ReplacementTransform(copy, p.cells()), FadeIn(p.brackets),
                  FadeIn(p.col_labels), FadeIn(heads[1]), FadeOut(rects), run_time=1.5)
        self.end_state(m, p, arrow, over, heads, note, where, hold=2.5)

    def step_cross_attention(self) -> None:
        theme, t = self.theme, self.trace
        size = SUM_NUM + 1
        src = f"{self.cross}.pattern[{self.h}]"
        english = max(plain_text(str(w), size, theme.muted).width for w in t.tokens)
        cw = max(cell_width_for(t[f"{self.cross}.pattern"][self.h], 2, size), english + 0.16)
        ch = cell_height_for(size) * 1.1
        words = window(len(t.tokens), max(3, int(9.5 / cw)))
        a = ValueMatrix(t, src, theme, cell_w=cw, cell_h=ch, font_size=size,
                        row_labels=self.tok, col_labels="tokens", sequential=True, vmax=1.0,
                        rows=self.fold(self.TABLE_ROWS), cols=words)
        # the word each position writes next (its most probable word)
        nexts = VGroup()
        for i in a.row_ids:
            baseline = a.cell_centre(i, 0)[1] - size * DIGIT_HEIGHT / 2
            arrow = label_text("→", size, theme.muted)
            arrow.kind = "prose"
            word = self.word(int(self.top[i, 0]), size, theme.output)
            arrow.shift([a.brackets.get_right()[0] + 0.2, baseline, 0])
            word.shift([arrow.get_right()[0] + 0.12, baseline, 0])
            nexts.add(VGroup(arrow, word))
        source, target = languages(self.options)
        head_rows = self.note(f"{target.capitalize()} positions:\nqueries from the decoder", NOTE)
        head_cols = self.note(f"{source.capitalize()} words: keys and values from the encoder's "
                              "output", NOTE)
        head_next = self.note("writes next", NOTE, theme.output)
        head_cols.next_to(a.col_labels, UP, buff=0.2).align_to(a.brackets, LEFT)
        head_next.next_to(nexts, UP, buff=0.2).align_to(nexts, LEFT)
        head_next.align_to(a.col_labels, DOWN)
        # the rows' header sits left of the row labels, so that the two headers never run
        # into each other as one line
        head_rows = self.note(f"{target.capitalize()}\npositions:\nqueries from\nthe decoder",
                              NOTE)
        head_rows.next_to(a.row_labels, LEFT, buff=0.35)
        eq = formula(r"\mathrm{softmax}\!\left(\frac{Q_{\mathrm{dec}}\,K_{\mathrm{enc}}^\top}"
                     r"{\sqrt{d_k}}\right) V_{\mathrm{enc}}", font_size=32, color=theme.text)
        eq.next_to(a, DOWN, buff=0.35)
        where = self.note(f"layer {self.options.layer}, head {self.h}", NOTE)
        where.next_to(eq, RIGHT, buff=0.6)
        self.fit(a, nexts, head_rows, head_cols, head_next, eq, where)
        self.play(*self.heading("Cross-attention"), *self.leave(), FadeIn(where),
                  run_time=0.8)
        self.play(FadeIn(a.row_labels), FadeIn(a.col_labels), FadeIn(head_rows),
                  FadeIn(head_cols), FadeIn(a.brackets), run_time=1.0)
        self.play(LaggedStart(*(FadeIn(a.row(i)) for i in a.row_ids), lag_ratio=0.2),
                  FadeIn(a.ellipses), run_time=2.0)
        self.play(FadeIn(eq), run_time=0.6)
        self.play(FadeIn(head_next), LaggedStart(*(FadeIn(n) for n in nexts), lag_ratio=0.15),
                  run_time=1.2)
        self.end_state(a, nexts, head_rows, head_cols, head_next, eq, where, hold=2.5)

    def step_logits(self) -> None:
        theme, t = self.theme, self.trace
        n_vocab = len(t.vocab)
        size = NOTE
        left, right, bottom, top = self.content_box()
        rows = lookup(t, self.tok)
        label_w = max(plain_text(str(w), size, theme.muted).width for w in rows) + 0.2
        best_w = 2.9
        # A large vocabulary (your own model's) shows a window of readable columns.
        window = "explain.vocab_window(probs)"
        columns = [int(k) for k in lookup(t, window)]
        source, labels = "logits", "vocab"
        if len(columns) < n_vocab:
            source = f"explain.take_columns(logits, {window})"
            labels = f"explain.take_columns(vocab, {window})"
        cw = min(0.4, (right - left - label_w - best_w - 0.4) / len(columns))
        ch = cell_height_for(size) * 1.15
        lg = ValueMatrix(t, source, theme, cell_w=cw, cell_h=ch, show_numbers=False,
                         row_labels=self.tok, col_labels=labels, rotate_col_labels=True,
                         label_font_size=14, rows=self.fold(self.TABLE_ROWS))
        best = VGroup()
        for i in lg.row_ids:
            k = int(self.top[i, 0])
            value = self.number("logits", (i, k), 2, size)
            word = self.word(k, size, theme.output)
            line = VGroup(value, word)
            word.shift([value.get_right()[0] + 0.15 - word.get_left()[0], 0, 0])
            line.shift([lg.brackets.get_right()[0] + 0.3 - line.get_left()[0],
                        lg.cell_centre(i, 0)[1] - size * DIGIT_HEIGHT / 2, 0])
            best.add(line)
        best_head = self.note("largest logit", NOTE, theme.output)
        best_head.next_to(best, UP, buff=0.2).align_to(best, LEFT)
        rings = VGroup(*(lg.cell_rect(i, columns.index(int(self.top[i, 0])))
                         for i in lg.row_ids))
        for ring in rings:
            ring.set_stroke(width=2)
        if self.pre:  # the last stream row goes through the final norm first
            eq = formula(r"\mathrm{logits} = \mathrm{Norm}(x)\,W_U" +
                         (r" + b_U" if t.config.bias else ""), font_size=32, color=theme.text)
        else:
            eq = formula(r"\mathrm{logits} = x\,W_U" + (r" + b_U" if t.config.bias else ""),
                         font_size=32, color=theme.text)
        shown = ("" if len(columns) == n_vocab else
                 f"\nshown: {len(columns)} of the {n_vocab} words (each position's most probable, "
                 "then the likeliest others)")
        what = self.note(f"x: the decoder's output row at each position ({t.config.d_model} "
                         f"numbers); W_U: {t.config.d_model} × {n_vocab}{shown}", NOTE)
        info = VGroup(eq, what).arrange(RIGHT, buff=0.5)
        info.next_to(lg, DOWN, buff=0.35)
        self.fit(lg, best, best_head, rings, info)
        self.play(*self.heading("The final linear layer: logits"), *self.leave(),
                  run_time=0.8)
        self.play(FadeIn(eq), FadeIn(what), FadeIn(lg.row_labels), FadeIn(lg.col_labels),
                  FadeIn(lg.brackets), run_time=1.0)
        self.play(LaggedStart(*(FadeIn(lg.row(i)) for i in lg.row_ids), lag_ratio=0.2),
                  run_time=1.6)
        self.play(Create(rings), FadeIn(best_head), LaggedStart(*(FadeIn(b) for b in best),
                                                                lag_ratio=0.15), run_time=1.4)
        self.end_state(lg, rings, best, best_head, info, hold=2.5)

    def step_probabilities(self) -> None:
        theme, t = self.theme, self.trace
        size = NOTE + 2
        row_h = cell_height_for(size) * 1.25
        labels = {i: self.token_label(self.tok, i, size) for i in self.table_rows}
        label_w = max(m.width for m in labels.values())
        rows = []
        for i in self.table_rows:
            row = [labels[i]]
            for r in range(TOP):
                k = int(self.top[i, r])
                color = theme.output if r == 0 else theme.text
                row += [self.word(k, size, color), self.number("probs", (i, k), 3, size)]
            row.append(self.number(f"explain.rest_mass(probs, {TOP})", (i, 0), 3, size))
            row.append(self.number("explain.column(explain.row_sum(probs))", (i, 0), 3, size))
            rows.append(row)
        word_w = max(m.width for row in rows for m in row[1:-1:2])
        num_w = max(m.width for row in rows for m in row[2:-1])
        widths = [label_w] + [word_w, num_w] * TOP + [num_w, num_w]
        gaps = [0.0] + [0.5, 0.2] * TOP + [0.8, 0.8]
        aligns = ["right"] + ["left", "right"] * TOP + ["right", "right"]
        rows = self.with_gaps(rows)
        table = self.table(rows, widths, gaps, row_h, aligns)
        heads = ["input word", "1st", "", "2nd", "", "3rd", "", "the rest", "sum of all"]
        head_row = []
        for text in heads:
            if text:
                mob = label_text(text, NOTE, theme.muted)
                mob.kind = "prose"
                head_row.append(mob)
            else:
                head_row.append(None)
        header = self.table([head_row], widths, gaps, row_h,
                            ["right", "left", "left", "left", "left", "left", "left", "right",
                             "right"])
        header.shift(UP * row_h * 1.1)
        eq = formula(r"p(\text{word}) = \frac{e^{\,\mathrm{logit}(\text{word})}}"
                     r"{\sum_{w} e^{\,\mathrm{logit}(w)}}", font_size=32, color=theme.text)
        note = self.note(f"over all {len(t.vocab)} words of the vocabulary; each row sums to 1",
                         NOTE)
        info = VGroup(eq, note).arrange(RIGHT, buff=0.5)
        info.next_to(VGroup(header, table), DOWN, buff=0.45)
        self.fit(header, table, info)
        self.play(*self.heading("Softmax over the vocabulary"), *self.leave(), run_time=0.8)
        self.play(FadeIn(eq), FadeIn(note), FadeIn(header), run_time=0.8)
        by_row = [VGroup(*(m for m in row if m is not None)) for row in rows]
        self.play(LaggedStart(*(FadeIn(r, shift=0.1 * RIGHT) for r in by_row),
                              lag_ratio=0.25), run_time=2.4)
        self.end_state(header, table, info, hold=3.0)

    def step_next_word(self) -> None:
        theme = self.theme
        size = NOTE + 2
        row_h = cell_height_for(size) * 1.3
        loss_src = "explain.neg_log(probs)"
        rows = []
        for i in self.table_rows:
            k, target = int(self.top[i, 0]), int(self.targets[i])
            good = k == target
            rows.append([
                self.token_label(self.tok, i, size),
                self.word(k, size, theme.output),
                self.number("probs", (i, k), 3, size),
                self.word(target, size, theme.text if good else theme.highlight),
                self.number("probs", (i, target), 3, size),
                self.number(loss_src, (i, target), 3, size),
            ])
        head_texts = ["input", "most probable", "p", "next word\n(training target)", "p",
                      "−log p"]
        head_row = []
        for text in head_texts:
            mob = plain_text(text, NOTE, theme.muted, line_spacing=0.8)
            mob.kind = "prose"
            head_row.append(mob)
        widths = [max(r[k].width for r in rows) for k in range(len(rows[0]))]
        widths[3] = max(widths[3], head_row[3].width)
        widths[5] = max(widths[5], head_row[5].width)
        gaps = [0.0, 0.6, 0.25, 0.8, 0.25, 0.6]
        aligns = ["right", "left", "right", "left", "right", "right"]
        rows = self.with_gaps(rows)
        table = self.table(rows, widths, gaps, row_h, aligns)
        for mob in head_row:  # bottoms on a line above the first row
            mob.shift(UP * -mob.get_bottom()[1])
        header = self.table([head_row], widths, gaps, row_h, aligns)
        header.shift(UP * (row_h * 0.75))
        bottom = VGroup()
        if self.encdec:
            forcing = self.note("teacher forcing: the input is the whole French sentence "
                                "(<bos> + the words), not the model's own picks fed back,\n"
                                "so every position is predicted in this one run; writing word "
                                "by word is the generate scene", NOTE)
            bottom.add(forcing)
        else:
            if self.options.model in ("lm", "modern") and self.options.checkpoint is None:
                note = self.note("after “the” many adjectives fit, so the model spreads its "
                                 "probability\nand −log p is large; where the grammar leaves no "
                                 "choice it is near 0", NOTE)
            else:  # a model whose grammar is not the shipped one's
                note = self.note("where many words fit, the model spreads its probability and "
                                 "−log p is large;\nwhere it is sure of the next word, −log p is "
                                 "near 0", NOTE)
            bottom.add(note)
        loss = self.note("one training step: the loss is the mean of the −log p column, "
                         "and backpropagation lowers it", NOTE, theme.text)
        bottom.add(loss)
        bottom.arrange(DOWN, buff=0.25, aligned_edge=LEFT)
        bottom.next_to(VGroup(header, table), DOWN, buff=0.45).align_to(table, LEFT)
        self.fit(header, table, bottom)
        # No arrows from a pick to the next input: in this run the input is given (teacher
        # forcing), and feeding picks back is the generate scene's loop.
        links = VGroup()
        heading = "Every next word at once, and the loss" if self.encdec else \
            "Next-word prediction"
        self.play(*self.heading(heading), *self.leave(), run_time=0.8)
        self.play(FadeIn(header), LaggedStart(*(FadeIn(VGroup(*(m for m in r[:3] if m))) for r in rows),
                                              lag_ratio=0.2), run_time=2.0)
        if len(links):
            self.play(Create(links), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(VGroup(*(m for m in r[3:] if m))) for r in rows),
                              lag_ratio=0.2),
                  run_time=1.6)
        self.play(LaggedStart(*(FadeIn(b) for b in bottom), lag_ratio=0.4), run_time=1.4)
        self.end_state(header, table, links, bottom, hold=3.0)

