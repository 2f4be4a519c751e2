"""Words → tokens → ids → rows of W_E → × √d_model, + the positional encoding = X, with the
model's real numbers.

    x_pos = W_E[id(word_pos)] · √d_model + PE(pos)
    PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),   PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))

Reads the first stack's embedding (``encoder`` for ``translate``, ``decoder`` for ``lm``):
``param:S.W_E``, the trace's ``tokens``/``token_ids``/``input_vocab``/``unknown``,
``S.embed``, ``S.pos_embed`` and ``S.blocks.0.resid_pre`` (= X). The one-hot rows, the rows
of W_E picked by the ids, the PE table over every position and its columns as waves come from
:mod:`transformer_core.explain`.

Runs under Manim's CLI too: ``manim -ql scenes/embedding.py EmbeddingScene``.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manim import (  # noqa: E402
    DOWN, LEFT, RIGHT, UP, Arrow, Create, Dot, FadeIn, FadeOut, LaggedStart, Line,
    ReplacementTransform, VGroup, VMobject, Write,
)

from scenes.toolkit.animations import play_fill, play_morph, relayout, swap  # noqa: E402
from scenes.toolkit.mobjects import TokenRow, ValueMatrix, cell_width_for, formula  # noqa: E402
from scenes.toolkit.provenance import mark, mark_equation  # noqa: E402
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene, current_options, modern_block,
)
from scenes.toolkit.style import TITLE  # noqa: E402
from scenes.toolkit.text import DIGIT_HEIGHT, MONO, label_text, number_text  # noqa: E402
from transformer_core.explain import embedding_table, format_value, lookup, resolve  # noqa: E402

__all__ = ["EmbeddingScene"]

NUM = 15  # numbers and labels of the vocabulary table (two blocks of up to 17 rows side by
# side); at 14 a number made of 1s would fall just short of the 480p digit height
MID = 16  # numbers of the sentence's matrices
TABLE_ROW = 0.28  # row pitch of W_E: 17 rows and their labels fit above a two-line caption
MAX_VOCAB = 34  # two blocks of 17 rows: the whole of W_E on screen
# A larger vocabulary (SmolLM2's 49,152 words × 576) is drawn through a window: its first and
# row 0 and the sentence's rows, and its first and last columns (the true shape beside).
TABLE_COLS = 10
WINDOW_ROW = 0.24  # its row pitch: a row and a gap (⋮) for each word of the sentence
WAVE_COLUMNS = (0, 1, 2, 4)  # PE columns drawn as waves: sine and cosine, slower, slowest
WAVE_W, WAVE_H, WAVE_GAP = 5.0, 0.75, 0.42  # one wave's plot: width, height, gap to the next


class EmbeddingScene(StoryScene):
    """Text → tokens → ids → rows of W_E → × √d_model; + PE = X."""

    @classmethod
    def too_big(cls, trace, name: str) -> str | None:
        """The whole of W_E is drawn: a larger vocabulary (a model trained on your own
        corpus) is refused in one line. A pretrained model's is drawn through a window."""
        n = len(trace.input_vocab)
        if n > MAX_VOCAB and trace.tokenization != "bpe":
            return (f"the {name} scene draws the whole embedding table, at most {MAX_VOCAB} "
                    f"words, and this model's vocabulary has {n}")
        return None

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        steps = [
            Step("title", "Before attention can mix the words of a sentence, each word must "
                          "become a row of numbers: this scene shows how."),
            Step("tokens", "The text is lower-cased and split into words, and a word the model "
                           "never saw becomes the visible token <unk>."),
            Step("ids", "Each token is looked up in the model's vocabulary, and its place in "
                        "that list is its id."),
            Step("table", "The embedding table W_E holds one learned row of d_model numbers for "
                          "every word of the vocabulary (shown to one decimal)."),
            Step("one_hot", "A one-hot vector (1 at the word's id, 0 elsewhere) times W_E "
                            "picks out exactly that word's row."),
            Step("stack", "Each token's id picks its row of W_E, and the rows stacked in the "
                          "order of the sentence make one matrix, one row per word."),
        ]
        if modern_block(options):  # rotary positions: nothing is scaled or added to X
            return steps + [
                Step("no_table", "Today's block adds no positional encoding: these rows are X "
                                 "itself, and position enters in every attention layer, which "
                                 "turns q and k by the word's position."),
            ]
        return steps + [
            Step("scale", "As in the paper, the rows are multiplied by √d_model, so that the "
                          "positional encoding added next does not drown them."),
            Step("pe_table", "The positional encoding gives every position the model can read "
                             "its own fixed row of sines and cosines; nothing in it is "
                             "learned."),
            Step("pe_entry", "One entry worked out from the formula: the angle, then its sine "
                             "in an even column or its cosine in an odd one."),
            Step("waves", "Each column of PE is a wave of its own frequency: the first columns "
                          "turn fast, the last ones barely move, and the dots are this "
                          "sentence's positions."),
            Step("sum", "X = embedding × √d_model + PE, row by row: the matrix the attention "
                        "scene starts from."),
        ]

    # ---- set-up -----------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        cfg, t = self.trace.config, self.trace
        self.stack = "encoder" if cfg.mode == "encdec" else "decoder"
        self.tok = "tokens"
        self.W, self.vocab_src, self.ids_src = embedding_table(t, self.stack)
        self.size_src = "config:src_vocab_size" if cfg.mode == "encdec" else "config:tgt_vocab_size"
        self.n = len(t.tokens)
        self.vocab_size = len(lookup(t, self.vocab_src))
        self.pe_src = "explain.pe_table(config:max_len, config:d_model)"
        self.angle_src = f"explain.pe_angle({self.pe_src}, config:d_model)"
        self.rows_src = f"explain.gather_rows({self.W}, {self.ids_src})"
        self.x_src = f"{self.stack}.blocks.0.resid_pre"
        self.p = 0  # the token whose one-hot row is worked out
        self.entry = (self.n - 1, 2)  # the PE entry worked out: last position, column 2 (sine)

    # ---- helpers ----------------------------------------------------------------------------

    def step_no_table(self) -> None:
        theme, t = self.theme, self.trace
        e = self.e
        x = self.matrix(self.x_src, font_size=MID, row_labels=self.tok, col_labels="dim",
                        cell_w=e.cell_w, cell_h=e.cell_h, cols=e.col_ids)
        scaled = "× √d_model" if t.config.scale_embedding else "not scaled"
        head = self.note(f"X = the embedding rows ({scaled}), nothing added", MID, theme.text)
        r = self.n - 1
        ang = f"{self.stack}.blocks.0.attn.angle"
        word = str(lookup(t, self.tok)[r])
        lines = VGroup(
            self.note("Where position went: inside attention, q and k of each word are turned "
                      "by position × θ_i (rotary positions).", MID),
            self.inline(f"e.g. {word}, position", ("dim", (r,), 0), ": its first pair turns by",
                        (ang, (r, 0), 2), "rad, its last pair by",
                        (ang, (r, t.config.d_head // 2 - 1), 2), "rad", size=MID),
            self.note("Scores then depend only on how far apart two words are: see the "
                      "attention scene with --model modern.", MID),
        ).arrange(DOWN, buff=0.2, aligned_edge=LEFT)
        head.next_to(x.col_labels, UP, buff=0.2).align_to(x.brackets, LEFT)
        lines.next_to(x, DOWN, buff=0.45)
        self.fit(x, head, lines)
        self.play(*self.heading("No positional table"), *self.leave(e), *relayout(e, x),
                  run_time=1.0)
        self.play(FadeIn(head), run_time=0.6)
        self.play(FadeIn(lines), run_time=1.2)
        self.end_state(x, head, lines, hold=3.0)

    def label(self, source: str, index: int, size: float = MID, color: str | None = None):
        """A token or word (a string of the trace), marked with its source."""
        text = str(lookup(self.trace, source)[index])
        mob = label_text(text, size, color or self.theme.text)
        return mark(mob, "token", source, (index,), text)

    def id_numbers(self, m: ValueMatrix, source: str, first: int = 0) -> VGroup:
        """Left of ``m``'s row labels, the id of each row (``dim``: the row number itself)."""
        group, baseline = VGroup(), m.font_size * DIGIT_HEIGHT / 2
        right = min(lab.get_left()[0] for lab in m.row_labels) - 0.2
        for i in (m.row_ids if m.windowed else range(m.n_rows)):
            index = first + i if source == "dim" else i
            value = lookup(self.trace, source)[index] if source != "dim" else index
            text = str(int(value))
            mob = label_text(text, NUM, self.theme.muted, font=MONO)
            mob.shift([right - mob.get_right()[0], m.cell_centre(i, 0)[1] - baseline, 0])
            group.add(mark(mob, "dim" if source == "dim" else "number", source, (index,),
                           text, 0))
        return group

    def token_lines(self, size: float) -> VGroup:
        """The tokens in boxes, on one line if the frame allows at ``size``, else two."""
        left, right, _, _ = self.content_box()
        row = TokenRow(self.trace, self.tok, self.theme, font_size=size, buff=0.18)
        if row.width <= right - left or self.n < 2:
            return VGroup(row)
        half = math.ceil(self.n / 2)
        lines = VGroup(TokenRow(self.trace, f"{self.tok}[0:{half}]", self.theme,
                                font_size=size, buff=0.18),
                       TokenRow(self.trace, f"{self.tok}[{half}:{self.n}]", self.theme,
                                font_size=size, buff=0.18))
        lines.first = (0, half)
        return lines

    def table_blocks(self) -> tuple[VGroup, VGroup]:
        """W_E in two blocks side by side (the first and second half of the vocabulary), rows
        labelled with their word, and left of the words their ids; a big vocabulary in one
        block through a window that holds the sentence's rows."""
        if self.vocab_size > MAX_VOCAB:
            t = self.trace
            m = self.matrix(self.W, decimals=1, font_size=NUM, cell_h=WINDOW_ROW,
                            cell_w=cell_width_for(lookup(t, self.rows_src), 1, NUM, pad=0.1),
                            row_labels=self.vocab_src, col_labels="dim", label_font_size=NUM,
                            max_cols=TABLE_COLS,
                            rows=sorted({0, *(int(i) for i in t.token_ids)}))
            m.first = 0
            column = self.id_numbers(m, "dim", 0)
            return VGroup(m), VGroup(column)
        half = math.ceil(self.vocab_size / 2)
        blocks, ids = VGroup(), VGroup()
        for a, b in ((0, half), (half, self.vocab_size)):
            m = self.matrix(f"{self.W}[{a}:{b}]", decimals=1, font_size=NUM, cell_h=TABLE_ROW,
                            cell_w=cell_width_for(lookup(self.trace, self.W), 1, NUM, pad=0.1),
                            row_labels=f"{self.vocab_src}[{a}:{b}]", col_labels="dim",
                            label_font_size=NUM)
            m.first = a
            column = self.id_numbers(m, "dim", a)
            blocks.add(m)
            ids.add(column)
            VGroup(m, column)  # noqa: B018  (arranged together below)
        pairs = VGroup(*(VGroup(m, c) for m, c in zip(blocks, ids, strict=True)))
        pairs.arrange(RIGHT, buff=0.6, aligned_edge=UP)
        return blocks, ids

    def block_of(self, word_id: int) -> tuple[int, int]:
        """(block, row in it) of ``word_id``'s row of the table."""
        for k, m in enumerate(self.blocks):
            if m.windowed:  # one block, indexed by the true ids
                return k, word_id
            if m.first <= word_id < m.first + m.n_rows:
                return k, word_id - m.first
        raise IndexError(word_id)

    # ---- steps ------------------------------------------------------------------------------

    def step_title(self) -> None:
        theme, cfg = self.theme, self.trace.config
        title = self.note("Words → vectors", TITLE, theme.text)
        eq = formula(r"X = \mathrm{Embedding}(\mathrm{word}) \cdot \sqrt{d_{model}} + PE",
                     font_size=40, color=theme.text)
        what = ("the English→French model's encoder" if cfg.mode == "encdec"
                else "SmolLM2-135M" if self.options.model == "smollm2"
                else "the small language model")
        info = self.inline(f"{what}: a vocabulary of", (self.size_src, (), 0),
                           "words, d_model =", ("config:d_model", (), 0), size=20)
        group = VGroup(title, eq, self.typed_sentence(24), info).arrange(DOWN, buff=0.55)
        self.fit(group)
        self.play(Write(title), run_time=1.0)
        self.play(FadeIn(eq, shift=0.2 * DOWN), run_time=1.0)
        self.play(FadeIn(group[2]), FadeIn(info), run_time=1.0)
        self.end_state(group, hold=2.0)

    def typed_sentence(self, size: float):
        """The sentence as typed, in quotes (plain text: never markup). Too wide even at 16
        (a very long word), it is wrapped onto at most three lines, cut with "…" beyond:
        shrunk further, it would fall below the readable size."""
        import textwrap

        left, right, _, _ = self.content_box()
        text = f"“{self.trace.sentence}”"
        if len(text) > 400:  # laid out whole, a 100 000-letter word would take Pango long
            text = text[:399] + "…"
        mob = self.note(text, size, self.theme.text)
        while mob.width > right - left and size > 16:
            size -= 2
            mob = self.note(text, size, self.theme.text)
        per_line = len(text)
        while mob.width > right - left and per_line > 8:
            per_line = max(8, int(per_line * (right - left) / mob.width * 0.95))
            lines = textwrap.wrap(text, per_line, break_long_words=True)
            if len(lines) > 3:
                lines = [*lines[:2], lines[2][:per_line - 1] + "…"]
            mob = self.note("\n".join(lines), size, self.theme.text)
        return mob

    def step_tokens(self) -> None:
        theme, t = self.theme, self.trace
        typed = self.typed_sentence(22)
        rule = self.note("every character is a token" if t.tokenization == "chars" else
                         "byte-pair pieces: frequent words whole, rarer ones in parts;\n"
                         "· marks a space, ↵ a new line" if t.tokenization == "bpe" else
                         "lower-case, drop . , ! ? ; : \" and split at spaces", 16)
        tokens = self.token_lines(24).arrange(DOWN, buff=0.3)
        arrow = Arrow(UP * 0.45, DOWN * 0.45, buff=0, stroke_width=3, color=theme.muted,
                      max_tip_length_to_length_ratio=0.3)
        parts = [typed, arrow, tokens]
        if t.unknown:
            unknown = ", ".join(f"‘{w}’" if len(w) <= 24 else f"‘{w[:20]}…’ ({len(w)} letters)"
                                for w in t.unknown)  # a long word, shortened: still readable
            parts.append(self.note(f"not in the vocabulary, so shown as <unk>: {unknown}", 16))
        column = VGroup(*parts).arrange(DOWN, buff=0.35)
        rule.next_to(arrow, RIGHT, buff=0.3)
        self.fit(column, rule)
        self.play(*self.heading("Text → tokens"), *self.leave(), run_time=0.8)
        self.play(FadeIn(typed), run_time=0.6)
        self.play(Create(arrow), FadeIn(rule), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(b) for line in tokens for b in line), lag_ratio=0.1),
                  run_time=1.2)
        if len(parts) > 3:
            self.play(FadeIn(parts[3]), run_time=0.6)
        self.end_state(*parts, rule, hold=2.0)

    def step_ids(self) -> None:
        theme = self.theme
        lines = self.token_lines(24)
        rows = VGroup()
        for k, line in enumerate(lines):
            first = lines.first[k] if hasattr(lines, "first") else 0
            src = (self.ids_src if len(lines) == 1
                   else f"{self.ids_src}[{first}:{first + len(line.boxes)}]")
            ids = VGroup()
            for j, box in enumerate(line.boxes):
                text = str(int(lookup(self.trace, src)[j]))
                mob = mark(number_text(text, 20, theme.text), "number", src, (j,), text, 0)
                ids.add(mob.next_to(box, DOWN, buff=0.3))
            tok_head = self.note("token", 16).next_to(line, LEFT, buff=0.4)
            id_head = self.note("id", 16).next_to(ids, LEFT, buff=0.4).set_y(ids.get_y())
            id_head.align_to(tok_head, RIGHT)
            rows.add(VGroup(line, ids, tok_head, id_head))
        rows.arrange(DOWN, buff=0.45)
        note = self.inline("id = the place of the token in the vocabulary of",
                           (self.size_src, (), 0), "words, counted from 0", size=16)
        if self.trace.tokenization == "bpe":  # a pretrained vocabulary: its own special tokens
            specials = self.note(f"the first ids are special tokens: id 0 is "
                                 f"{lookup(self.trace, self.vocab_src)[0]}", 16)
        else:
            specials = self.note("ids 0 to 3 are kept for <pad>, <bos>, <eos> and <unk>", 16)
        group = VGroup(rows, note, specials).arrange(DOWN, buff=0.35)
        group[0].shift(0.2 * UP)
        self.fit(group)
        self.play(*self.heading("Tokens → ids"), *self.leave(), run_time=0.8)
        self.play(FadeIn(VGroup(*(r[0] for r in rows))), run_time=0.6)
        self.play(*(FadeIn(r[2:]) for r in rows),
                  LaggedStart(*(FadeIn(i, shift=0.2 * DOWN) for r in rows for i in r[1]),
                              lag_ratio=0.08), run_time=1.2)
        self.play(FadeIn(note), FadeIn(specials), run_time=0.6)
        self.end_state(rows, note, specials, hold=2.0)

    def step_table(self) -> None:
        self.blocks, self.ids = self.table_blocks()
        name = self.note("W_E: one row for each word of the vocabulary, d_model columns", 16,
                         self.theme.text)
        name.next_to(VGroup(self.blocks, self.ids), UP, buff=0.25)
        name.align_to(VGroup(self.blocks, self.ids), LEFT)
        self.fit(self.blocks, self.ids, name)
        self.play(*self.heading("The embedding table W_E"), *self.leave(), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(VGroup(m, c)) for m, c in zip(self.blocks, self.ids,
                                                                       strict=True)),
                              lag_ratio=0.3), FadeIn(name), run_time=1.0)
        self.end_state(self.blocks, self.ids, name, hold=2.5)
        self.table_name = name

    def step_one_hot(self) -> None:
        theme, t, p = self.theme, self.trace, self.p
        hot_src = f"explain.onehot({self.ids_src}, {self.size_src})[{p}]"
        columns = VGroup()
        for m, ids in zip(self.blocks, self.ids, strict=True):
            a, b = m.first, m.first + m.n_rows
            if m.windowed:  # the same rows as the table's window
                col = self.matrix(f"explain.column({hot_src})", decimals=0, font_size=NUM,
                                  cell_h=m.cell_h, cell_w=0.34, sequential=True, vmax=1.0,
                                  rows=m.row_ids)
            else:
                col = self.matrix(f"explain.column({hot_src})[{a}:{b}]", decimals=0,
                                  font_size=NUM, cell_h=m.cell_h, cell_w=0.34,
                                  sequential=True, vmax=1.0)
            top, last = m.row_ids[0], m.row_ids[-1]
            if m.windowed:  # the table may have been shrunk to fit: the column follows its rows
                col.scale((m.cell_centre(top, 0)[1] - m.cell_centre(last, 0)[1])
                          / (col.cell_centre(top, 0)[1] - col.cell_centre(last, 0)[1]))
            col.shift(m.cell_centre(top, m.col_ids[0])[1] * UP
                      - col.cell_centre(top, 0)[1] * UP)
            col.shift((ids.get_right()[0] - col.brackets.get_right()[0]) * RIGHT)
            columns.add(col)
        k, row = self.block_of(int(t.token_ids[p]))
        block = self.blocks[k]
        result = self.matrix(f"explain.matmul(explain.onehot({self.ids_src}, {self.size_src}), "
                             f"{self.W})[{p}:{p + 1}]", font_size=NUM, cell_h=TABLE_ROW + 0.06,
                             cols=block.col_ids if block.windowed else None)
        lhs = VGroup(self.note("one-hot(", MID, theme.text), self.label(self.tok, p),
                     self.note(") · W_E  =", MID, theme.text)).arrange(RIGHT, buff=0.06)
        rhs = self.inline("= row", (self.ids_src, (p,), 0), "of W_E", size=MID)
        line = VGroup(lhs, result, rhs).arrange(RIGHT, buff=0.25)
        for piece in (lhs, rhs):
            piece.align_to(result.numbers[0], DOWN)
        table = VGroup(self.blocks, columns)
        line.next_to(table, UP, buff=0.35).align_to(table, LEFT)
        hot_head = self.note("one-hot", NUM).next_to(columns[0], UP, buff=0.12)
        self.fit(self.blocks, columns, line, hot_head)
        pick, one = block.row_rect(row), columns[k].cell_rect(row, 0)
        self.play(*self.heading("One-hot · W_E = one row"), FadeOut(self.table_name),
                  FadeOut(self.ids), FadeIn(columns), FadeIn(hot_head), run_time=1.0)
        self.play(Create(one), Create(pick), run_time=0.8)
        self.play(FadeIn(lhs), FadeIn(result.brackets),
                  ReplacementTransform(block.row(row).copy(), VGroup(result.fills, result.numbers)),
                  run_time=1.2)
        self.play(FadeIn(rhs), run_time=0.5)
        self.end_state(self.blocks, columns, hot_head, one, pick, line, hold=2.5)

    def step_stack(self) -> None:
        t = self.trace
        cw = max(cell_width_for(lookup(t, src), 2, MID, pad=0.1)
                 for src in (self.rows_src, f"{self.stack}.embed"))
        e = self.matrix(self.rows_src, font_size=MID, row_labels=self.tok, col_labels="dim",
                        cell_w=cw, max_cols=TABLE_COLS)
        ids = self.id_numbers(e, self.ids_src)
        head = self.note("the rows of W_E picked by the ids, in the order of the sentence", MID,
                         self.theme.text)
        head.next_to(e.col_labels, UP, buff=0.2).align_to(ids, LEFT)
        id_head = self.note("id", NUM).next_to(ids, UP, buff=0.12)
        self.fit(e, ids, head, id_head)
        outlines, copies = VGroup(), VGroup()
        for i in range(self.n):
            k, row = self.block_of(int(t.token_ids[i]))
            outlines.add(self.blocks[k].row_rect(row))
            copies.add(self.blocks[k].row(row).copy())
        self.play(*self.heading("Ids → rows → one matrix"), *self.leave(*self.blocks),
                  LaggedStart(*(Create(o) for o in outlines), lag_ratio=0.1), run_time=1.2)
        # the picked rows stay while the table goes (quickly: redrawing it is what costs)
        self.add(copies)
        self.play(FadeOut(self.blocks), FadeOut(outlines), run_time=0.6)
        self.play(LaggedStart(*(ReplacementTransform(c, e.row(i)) for i, c in enumerate(copies)),
                              lag_ratio=0.1),
                  FadeIn(e.brackets), FadeIn(e.row_labels), FadeIn(e.col_labels), FadeIn(ids),
                  FadeIn(head), FadeIn(id_head), run_time=1.6)
        self.end_state(e, ids, head, id_head, hold=2.0)
        self.e, self.e_extras = e, VGroup(ids, head, id_head)

    def step_scale(self) -> None:
        theme = self.theme
        e = self.e
        embed = self.matrix(f"{self.stack}.embed", font_size=MID, row_labels=self.tok,
                            col_labels="dim", cell_w=e.cell_w, cell_h=e.cell_h)
        embed.move_cells_onto(e)
        i, j = self.p, 0
        op = formula(r"\times\sqrt{d_{model}}", font_size=40, color=theme.text)
        root = self.inline("√d_model = √", ("config:d_model", (), 0), "=",
                           ("explain.sqrt(config:d_model)", (), 2), size=MID)
        # worked on the printed numbers (README, "Worked arithmetic"); the model's own
        # value follows when it differs in the last place
        root_src = "explain.sqrt(config:d_model)"
        by_hand = f"explain.worked_times({self.rows_src}, {root_src}, 2, 2, 2)"
        model = (f"{self.stack}.embed", (i, j), 2)
        differs = (format_value(resolve(self.trace, by_hand, (i, j)), 2)
                   != format_value(resolve(self.trace, *model[:2]), 2))
        worked = self.inline("e.g.", (self.rows_src, (i, j), 2), "×", (root_src, (), 2), "=",
                             (by_hand, (i, j), 2), *((";  model ≈", model) if differs else ()),
                             size=MID)
        mark_equation(worked, "product", [worked[1], worked[3]], worked[5])
        if differs:
            mark_equation(worked, "approx", [worked[5]], worked[7],
                          bound=(abs(resolve(self.trace, self.rows_src, (i, j)))
                                 + resolve(self.trace, root_src)) * 0.005 + 0.01)
        panel = VGroup(op, root, worked).arrange(DOWN, buff=0.35, aligned_edge=LEFT)
        panel.next_to(e, RIGHT, buff=0.7).align_to(e.brackets, UP)
        self.fit(e, self.e_extras, panel)
        embed.move_cells_onto(e)
        cell = e.cell_rect(i, j)
        head = self.note("token embedding = row of W_E × √d_model", MID, theme.text)
        head.move_to(self.e_extras[1]).align_to(self.e_extras[1], LEFT)
        self.play(*self.heading("Scaling the rows"), FadeIn(panel[:2]), run_time=0.8)
        self.play(Create(cell), FadeIn(worked), run_time=0.8)
        play_morph(self, e, embed, run_time=1.4, lag_ratio=0.03)
        swap(self, e, embed)
        self.play(ReplacementTransform(self.e_extras[1], head), run_time=0.6)
        self.end_state(embed, self.e_extras[0], self.e_extras[2], head, panel, cell, hold=2.0)

    def step_pe_table(self) -> None:
        theme = self.theme
        pe = self.matrix(self.pe_src, font_size=MID, row_labels="dim", col_labels="dim")
        pos_head = self.note("pos", NUM).next_to(pe.row_labels, UP, buff=0.12)
        pos_head.align_to(pe.row_labels, RIGHT)
        rows = pe.outline((0, 0), (self.n - 1, pe.n_cols - 1))
        mine = self.inline("this sentence: positions 0 to", ("dim", (self.n - 1,), 0), size=NUM)
        eq = formula(r"PE_{(pos,\,2i)} &= \sin\!\left(pos / 10000^{2i/d_{model}}\right)",
                     r"\\",
                     r"PE_{(pos,\,2i+1)} &= \cos\!\left(pos / 10000^{2i/d_{model}}\right)",
                     font_size=26, color=theme.text)
        every = self.inline("one row for each of the", ("config:max_len", (), 0),
                            "positions the model reads", size=MID)
        panel = VGroup(eq, every).arrange(DOWN, buff=0.4, aligned_edge=LEFT)
        panel.next_to(pe, RIGHT, buff=0.6)
        mine.next_to(pe, DOWN, buff=0.25).align_to(pe.brackets, LEFT)
        self.fit(pe, pos_head, rows, mine, panel)
        self.play(*self.heading("Positional encoding PE"), *self.leave(), run_time=0.8)
        self.play(FadeIn(panel), run_time=0.8)
        self.play(FadeIn(pe.brackets), FadeIn(pe.row_labels), FadeIn(pe.col_labels),
                  FadeIn(pos_head), run_time=0.6)
        play_fill(self, pe, run_time=1.6)
        self.play(Create(rows), FadeIn(mine), run_time=0.8)
        self.end_state(pe, pos_head, rows, mine, panel, hold=2.0)
        self.pe, self.pe_extras, self.pe_panel = pe, VGroup(pos_head, rows, mine), panel

    def step_pe_entry(self) -> None:
        pos, col = self.entry
        fn = "sin" if col % 2 == 0 else "cos"
        where = self.inline("position", ("dim", (pos,), 0), ", column", ("dim", (col,), 0),
                            f"(2i = {col // 2 * 2}):", size=MID)
        angle = self.inline("angle =", ("dim", (pos,), 0),
                            f"/ 10000^({col // 2 * 2}/8) =", (self.angle_src, (pos, col), 2),
                            size=MID)
        value = self.inline(f"{fn}(", (self.angle_src, (pos, col), 2), ") =",
                            (self.pe_src, (pos, col), 2), size=MID)
        work = VGroup(where, angle, value).arrange(DOWN, buff=0.25, aligned_edge=LEFT)
        work.next_to(self.pe_panel, DOWN, buff=0.5).align_to(self.pe_panel, LEFT)
        cell = self.pe.cell_rect(pos, col)
        self.play(*self.heading("One entry of PE"), Create(cell), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(w) for w in work), lag_ratio=0.5), run_time=1.6)
        self.end_state(self.pe, self.pe_extras, self.pe_panel, cell, work, hold=2.5)

    def step_waves(self) -> None:
        theme, t, cfg = self.theme, self.trace, self.trace.config
        colors = (theme.query, theme.key, theme.value, theme.output)
        plots, outlines = VGroup(), VGroup()
        sx = WAVE_W / (cfg.max_len - 1)
        pos_src = f"{self.stack}.pos_embed"
        for k, (col, color) in enumerate(zip(WAVE_COLUMNS, colors, strict=True)):
            y0 = -k * (WAVE_H + WAVE_GAP)
            axis = Line([0, y0, 0], [WAVE_W, y0, 0], stroke_width=1.5, color=theme.muted)
            wave = lookup(t, f"explain.pe_wave(config:max_len, config:d_model, {col})")
            curve = VMobject(stroke_color=color, stroke_width=3)
            curve.set_points_as_corners([[x * sx, y0 + y * WAVE_H / 2, 0] for x, y in wave])
            dots = VGroup()
            for p in range(self.n):
                value = float(t[pos_src][p, col])
                dot = Dot([p * sx, y0 + value * WAVE_H / 2, 0], radius=0.05, color=color)
                dot.value_source = (pos_src, (p, col))
                dots.add(dot)
            fn = "sin" if col % 2 == 0 else "cos"
            name = self.inline("column", ("dim", (col,), 0), f": {fn}(pos / 10000^({col // 2 * 2}/8))",
                               size=NUM)
            name.set_color(color)
            name.next_to(axis, UP, buff=WAVE_H / 2 + 0.02).align_to(axis, LEFT)
            plot = VGroup(axis, curve, dots, name)
            plot.column, plot.half_height = col, WAVE_H / 2  # value v is drawn v · WAVE_H/2 up
            plots.add(plot)
            outlines.add(self.pe.column_rect(col).set_stroke(color=color))
        ticks = VGroup()
        bottom = -(len(WAVE_COLUMNS) - 1) * (WAVE_H + WAVE_GAP) - WAVE_H / 2 - 0.12
        for p in range(cfg.max_len):
            text = str(p)
            mob = mark(label_text(text, NUM, theme.muted, font=MONO), "dim", "dim", (p,), text,
                       0)
            mob.shift([p * sx - mob.get_x(), bottom - mob.height, 0])
            ticks.add(mob)
        axis_name = self.note("position", NUM).next_to(ticks, DOWN, buff=0.1)
        graph = VGroup(plots, ticks, axis_name)
        graph.next_to(self.pe, RIGHT, buff=0.6).align_to(self.pe.brackets, UP)
        self.fit(self.pe, self.pe_extras, graph, outlines)
        self.play(*self.heading("Each column is a wave"), *self.leave(self.pe, self.pe_extras),
                  FadeIn(ticks), FadeIn(axis_name), run_time=0.8)
        for plot, outline in zip(plots, outlines, strict=True):
            self.play(Create(outline), FadeIn(plot[0]), FadeIn(plot[3]), Create(plot[1]),
                      run_time=1.0)
            self.play(LaggedStart(*(FadeIn(d, scale=0.5) for d in plot[2]), lag_ratio=0.1),
                      run_time=0.5)
        self.end_state(self.pe, self.pe_extras, outlines, graph, hold=2.5)
        self.waves = plots

    def step_sum(self) -> None:
        theme = self.theme
        r = self.entry[0]
        cw = max(cell_width_for(lookup(self.trace, src), 2, NUM, pad=0.1)
                 for src in (self.x_src, f"{self.stack}.embed", f"{self.stack}.pos_embed"))
        x = self.matrix(self.x_src, font_size=NUM, row_labels=self.tok, col_labels="dim",
                        cell_w=cw)
        kw = dict(font_size=NUM, cell_w=x.cell_w, cell_h=x.cell_h)
        parts = VGroup()
        for source, text in ((f"{self.stack}.embed", "embedding × √d_model"),
                             (f"{self.stack}.pos_embed", "+ positional encoding"),
                             (self.x_src, "= X")):
            m = self.matrix(f"{source}[{r}:{r + 1}]", **kw)
            head = self.note(text, NUM, theme.text).next_to(m, UP, buff=0.12)
            head.align_to(m.brackets, LEFT)
            parts.add(VGroup(head, m))
        parts.arrange(DOWN, buff=0.3, aligned_edge=LEFT)
        # every piece on one baseline (aligning bottoms set a word without descenders lower
        # than "(position" beside it)
        pieces = [label_text("row", MID, theme.text), self.label(self.tok, r),
                  label_text("(position", MID, theme.muted), number_text(str(r), MID, theme.muted),
                  label_text(")", MID, theme.muted)]
        pieces[3].shift(-pieces[3].get_corner(DOWN + LEFT))  # digits sit on the baseline
        for piece in (pieces[0], pieces[2], pieces[4]):
            piece.kind = "prose"
        x_at = 0.0
        for k, piece in enumerate(pieces):
            piece.shift([x_at - piece.get_left()[0], 0, 0])
            x_at = piece.get_right()[0] + (0.03 if k == 3 else 0.1)
        row_of = VGroup(*pieces)
        mark(row_of[3], "dim", "dim", (r,), str(r), 0)
        right = VGroup(row_of, parts).arrange(DOWN, buff=0.3, aligned_edge=LEFT)
        right.next_to(x, RIGHT, buff=0.5)
        self.fit(x, right)
        top, middle, bottom = (p[1] for p in parts)
        self.play(*self.heading("Embedding + positional encoding = X"), *self.leave(), run_time=0.8)
        self.play(FadeIn(x.brackets), FadeIn(x.row_labels), FadeIn(x.col_labels),
                  FadeIn(row_of), FadeIn(parts[0]), FadeIn(parts[1]), run_time=1.0)
        self.play(FadeIn(parts[2][0]), FadeIn(bottom.brackets),
                  ReplacementTransform(VGroup(top.fills, top.numbers).copy(),
                                       VGroup(bottom.fills, bottom.numbers)),
                  FadeOut(VGroup(middle.fills, middle.numbers).copy(),
                          target_position=bottom.get_center()), run_time=1.2)
        hl = x.row_rect(r)
        self.play(Create(hl), ReplacementTransform(VGroup(bottom.fills, bottom.numbers).copy(),
                                                   VGroup(*x.row(r))), run_time=1.0)
        play_fill(self, x, done=[(r, j) for j in range(x.n_cols)], run_time=1.4)
        self.end_state(x, hl, row_of, parts, hold=2.5)
