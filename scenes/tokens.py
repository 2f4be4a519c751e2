"""Text → tokens → ids, before the embedding: the model's own tokenizer on the sentence.

For a byte-level BPE (a model trained with ``--tokens bpe``, or a model with its own such
tokenizer): the pre-tokenizer's words (a leading space shown as ``·``), each word's UTF-8 bytes
(every byte is a token of the vocabulary, so nothing is unknown), the merges the tokenizer
applies, one at a time and lowest rank first (the pair, its rank, the result, the sequence
after it), the final tokens, their ids, and the rows of W_E they pick (where ``embedding``
goes on). For the word-level shipped models: the simple split, the look-up that turns an
unknown word into ``<unk>``, and why a byte-level BPE cannot produce one.

Every symbol, byte, rank and id on screen is read from the trace's ``tokenizing`` story
(:meth:`transformer_core.tokenizer.Vocab.story`, sources ``tok:...``), which
:func:`transformer_core.tokenizer.replay` computed and the tests check against the tokenizer's
own output. Runs under Manim's CLI too: ``manim -ql scenes/tokens.py TokensScene``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manim import (  # noqa: E402
    DOWN, LEFT, RIGHT, UP, Arrow, Create, FadeIn, LaggedStart, ReplacementTransform,
    SurroundingRectangle, VGroup, Write,
)

from scenes.toolkit.mobjects import rounded_box  # noqa: E402
from scenes.toolkit.provenance import mark  # noqa: E402
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene, current_options, load_trace, wrap,
)
from scenes.toolkit.style import NOTE, TITLE  # noqa: E402
from scenes.toolkit.text import DIGIT_HEIGHT, MONO, label_text, number_text  # noqa: E402
from transformer_core.explain import embedding_table, lookup  # noqa: E402

__all__ = ["TokensScene"]

SYM = 22  # symbols, bytes and tokens in their boxes
HEX = 14  # a byte's value under it
ROW = 16  # the merge table
ROW_H = 0.36  # its row pitch
MERGE_COLUMNS = 3
PLAYED = 16  # merges animated one by one; the rest of a long run is played together
MAX_BYTES = 64  # every byte of the sentence in a box, at most three lines of them


def _rule(options: SceneOptions) -> str:
    """The model's tokenization rule: ``words``, ``chars`` or ``bpe``."""
    trace = load_trace(options.model, options.sentence, options.checkpoint)
    return (trace.tokenizing or {}).get("rule", trace.tokenization)


class TokensScene(StoryScene):
    """Sentence → (bytes → merges →) tokens → ids → rows of W_E."""

    @staticmethod
    def positions(trace) -> int:
        return len(trace.tokens)

    @classmethod
    def too_long(cls, trace, name: str) -> str | None:
        story = trace.tokenizing or {}
        if story.get("rule") == "bpe":
            n = sum(len(w) for w in story["bytes"])
            if n > MAX_BYTES:
                return (f"the {name} scene shows every byte of the sentence, at most {MAX_BYTES}, "
                        f"and this sentence has {n}; give a shorter sentence")
        return super().too_long(trace, name)

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        title = Step("title", "Before a model can read a sentence, its text is cut into tokens "
                              "from a fixed vocabulary, and each token becomes a number.")
        ids = Step("ids", "Each token's place in the vocabulary is its id, the only thing the "
                          "model receives.")
        rows = Step("rows", "Each id picks its row of the embedding table W_E: the numbers "
                            "everything the model computes starts from.")
        rule = _rule(options)
        if rule == "bpe":
            return [
                title,
                Step("words", "The pre-tokenizer cuts the text into words, each keeping the "
                              "space before it (shown as ·)."),
                Step("bytes", "Each word is written as its UTF-8 bytes, and all 256 bytes are "
                              "tokens of the vocabulary, so no text is ever unknown."),
                Step("first_merge", "The tokenizer joins the neighbouring pair whose merge it "
                                    "learned first (the lowest rank), one merge at a time."),
                Step("merges", "Merge after merge, always the lowest rank present, until no "
                               "neighbouring pair is in the tokenizer's merge list."),
                Step("tokens", "What is left are the tokens: common words whole, rarer words in "
                               "pieces, unseen characters as bytes."),
                ids, rows,
            ]
        return [
            title,
            Step("split", "This model's tokenizer lower-cases the text, drops punctuation and "
                          + ("makes every character a token." if rule == "chars" else
                             "splits it at spaces: one token per word.")),
            Step("lookup", "Each word is looked up in a fixed list of words, and a word that is "
                           "not in it becomes <unk>, whatever it was."),
            Step("bytes", "A byte-level BPE starts instead from the word's UTF-8 bytes, all 256 "
                          "of which are in its vocabulary, so it never needs <unk>."),
            ids, rows,
        ]

    # ---- set-up -----------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        t = self.trace
        self.story = t.tokenizing
        self.bpe = self.story["rule"] == "bpe"
        self.stack = "encoder" if t.config.mode == "encdec" else "decoder"
        self.W, self.vocab_src, self.ids_src = embedding_table(t, self.stack)
        self.n = len(t.tokens)

    # ---- helpers ----------------------------------------------------------------------------

    def sym(self, source: str, index: int, size: float = SYM, color: str | None = None):
        """A symbol (token, byte, word) of the story, marked with its source."""
        text = str(lookup(self.trace, source)[index])
        mob = label_text(text, size, color or self.theme.text)
        return mark(mob, "token", source, (index,), text)

    def boxes(self, words: list[list[tuple[str, int]]], under: list[list[tuple[str, int]]] | None
              = None, size: float = SYM, width: float | None = None,
              numbers: bool = False) -> VGroup:
        """Symbols in boxes, word by word (a wider gap between words), wrapped onto more lines
        at word boundaries when wider than ``width``; ``under`` puts a small label (a byte's
        value) under each (``numbers``: those are numbers, ids). ``.cells[w][j]`` is word w's
        symbol j (box, label[, under])."""
        theme = self.theme
        left, right, _, _ = self.content_box()
        width = width or right - left
        cap = size * DIGIT_HEIGHT
        cells, lines, line, x = [], VGroup(), VGroup(), 0.0
        for w, word in enumerate(words):
            group = VGroup()
            for j, (source, index) in enumerate(word):
                label = self.sym(source, index, size)
                parts = [label]
                if under is not None:
                    src, idx = under[w][j]
                    if numbers:
                        text = str(int(lookup(self.trace, src)[idx]))
                        small = mark(number_text(text, HEX + 2, theme.muted), "number", src,
                                     (idx,), text, 0)
                    else:
                        small = self.sym(src, idx, HEX, theme.muted)
                    parts.append(small)
                inner = max(p.width for p in parts)
                box = rounded_box(corner_radius=0.06, width=inner + 0.16, height=cap * 2.4,
                                  stroke_color=theme.muted, stroke_width=1.5)
                box.move_to([0, cap / 2, 0])
                label.move_to([0, label.get_y(), 0])
                cell = VGroup(box, label)
                if under is not None:
                    parts[1].next_to(box, DOWN, buff=0.08)
                    cell.add(parts[1])
                cell.shift([group.get_right()[0] + 0.06 + cell.width / 2 if len(group) else 0,
                            0, 0])
                group.add(cell)
            gap = 0.3 if len(line) else 0.0
            if len(line) and x + gap + group.width > width:
                lines.add(line)
                line, x, gap = VGroup(), 0.0, 0.0
            group.shift([x + gap - group.get_left()[0], 0, 0])
            x = group.get_right()[0]
            line.add(group)
            cells.append(group)
        if len(line):
            lines.add(line)
        step = cap * 2.4 + (0.5 if under is not None else 0.25)
        for k, ln in enumerate(lines):
            ln.shift([-ln.get_center()[0], -k * step - ln[0][0][0].get_y(), 0])  # centred
        lines.cells = cells
        return lines

    def boxed(self, source: str, index: int, size: float) -> VGroup:
        """One symbol in its box, centred at x = 0, its baseline at y = 0."""
        label = self.sym(source, index, size)
        cap = size * DIGIT_HEIGHT
        box = rounded_box(corner_radius=0.06, width=label.width + 0.16, height=cap * 2.4,
                          stroke_color=self.theme.muted, stroke_width=1.5)
        box.move_to([0, cap / 2, 0])
        label.move_to([0, label.get_y(), 0])
        return VGroup(box, label)

    def sequence(self, k: int) -> VGroup:
        """Every word's symbols after the first ``k`` merges (0: the bytes)."""
        if k == 0:
            words = [[(f"tok:bytes.{w}", j) for j in range(len(b))]
                     for w, b in enumerate(self.story["bytes"])]
        else:
            words = [[(f"tok:after.{k - 1}.{w}", j) for j in range(len(s))]
                     for w, s in enumerate(self.story["after"][k - 1])]
        return self.boxes(words)

    def merge_row(self, k: int, widths: list[float] | None = None, size: float = ROW) -> VGroup:
        """``n  left + right → result  rank r`` for merge ``k``, on one baseline (columns at
        ``widths``)."""
        theme = self.theme

        def prose(text: str, at: float = size):
            mob = label_text(text, at, theme.muted)
            mob.kind = "prose"
            return mob

        def num(text: str, kind: str, source: str, index: int, color: str):
            mob = number_text(text, size, color)
            mob.shift(-mob.get_corner(DOWN + LEFT))  # digits on the baseline
            return mark(mob, kind, source, (index,), text, 0)

        rank = str(self.story["merge_rank"][k])
        parts = [num(str(k + 1), "dim", "dim", k + 1, theme.muted),
                 self.sym("tok:merge_left", k, size), prose("+"),
                 self.sym("tok:merge_right", k, size), prose("→"),
                 self.sym("tok:merge_result", k, size), prose("rank", size - 2),
                 num(rank, "number", "tok:merge_rank", k, theme.text)]
        row, x = VGroup(), 0.0
        for i, p in enumerate(parts):
            p.shift([x - p.get_left()[0], 0, 0])
            x = (p.get_left()[0] + widths[i] if widths else p.get_right()[0]) + 0.12 * size / ROW
            row.add(p)
        return row

    def merge_table(self, shown: list[int], rows: int) -> VGroup:
        """The merges ``shown`` (indices; ``None`` stands for a run left out) as a table of up to
        ``rows`` rows per column, columns side by side."""
        plain = [self.merge_row(k) for k in shown if k is not None]
        widths = [max(r[i].width for r in plain) for i in range(8)] if plain else None
        cells = []
        for k in shown:
            if k is None:
                cells.append(None)
            else:
                cells.append(self.merge_row(k, widths))
        table, column = VGroup(), VGroup()
        y = 0.0
        for cell in cells:
            if len(column) == rows:
                table.add(column)
                column, y = VGroup(), 0.0
            if cell is None:
                cell = self.left_out
            cell.shift([-cell.get_left()[0], y, 0])
            column.add(cell)
            y -= ROW_H
        if len(column):
            table.add(column)
        table.arrange(RIGHT, buff=0.6, aligned_edge=UP)
        return table

    def title_info(self) -> VGroup:
        s = self.story
        if self.bpe:
            return self.inline("a byte-level BPE of", ("tok:vocab_size", (), 0), "tokens, of which",
                               ("tok:n_merges", (), 0), "were learned as merges of two smaller "
                               "ones", size=18)
        what = "characters" if s["rule"] == "chars" else "words"
        return self.inline("a vocabulary of", ("tok:vocab_size", (), 0),
                           f"{what}, special tokens included", size=18)

    def typed_sentence(self, size: float):
        left, right, _, _ = self.content_box()
        mob = self.note(f"“{self.trace.sentence}”", size, self.theme.text)
        while mob.width > right - left and size > 16:
            size -= 2
            mob = self.note(f"“{self.trace.sentence}”", size, self.theme.text)
        return mob

    # ---- steps: both kinds ------------------------------------------------------------------

    def step_title(self) -> None:
        theme = self.theme
        title = self.note("Text → tokens", TITLE, theme.text)
        group = VGroup(title, self.typed_sentence(26), self.title_info()).arrange(DOWN, buff=0.6)
        self.fit(group)
        self.play(Write(title), run_time=1.0)
        self.play(FadeIn(group[1]), FadeIn(group[2]), run_time=1.0)
        self.end_state(group, hold=2.0)

    def token_ids(self) -> VGroup:
        """The tokens in boxes with their ids under them."""
        words = [[("tokens", i)] for i in range(self.n)]
        under = [[("token_ids", i)] for i in range(self.n)]
        return self.boxes(words, under, size=24, numbers=True)

    def step_ids(self) -> None:
        rows = self.token_ids()
        note = self.inline("id = the token's place in the vocabulary of",
                           ("tok:vocab_size", (), 0), "tokens, counted from 0", size=NOTE)
        group = VGroup(rows, note).arrange(DOWN, buff=0.5)
        self.fit(group)
        self.play(*self.heading("Tokens → ids"), *self.leave(), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(c[:2]) for g in rows.cells for c in g), lag_ratio=0.05),
                  run_time=1.0)
        self.play(LaggedStart(*(FadeIn(c[2], shift=0.15 * DOWN) for g in rows.cells for c in g),
                              lag_ratio=0.05), FadeIn(note), run_time=1.2)
        self.end_state(group, hold=2.0)

    def step_rows(self) -> None:
        t, d = self.trace, self.trace.config.d_model
        cols = min(d, 8)
        src = f"explain.gather_rows({self.W}, {self.ids_src})"
        if cols < d:
            src = f"{src}.T[0:{cols}].T"
        m = self.matrix(src, font_size=16, row_labels="tokens", col_labels="dim",
                        decimals=2)
        ids = VGroup()
        for i in range(self.n):
            text = str(int(t.token_ids[i]))
            mob = mark(label_text(text, 14, self.theme.muted, font=MONO), "number", "token_ids",
                       (i,), text, 0)
            mob.next_to(m.row_labels[i], LEFT, buff=0.25)
            mob.align_to(m.row_labels[i], DOWN)
            ids.add(mob)
        head = self.inline("the row of W_E each id picks:", ("config:d_model", (), 0),
                           "numbers per token" + ("" if cols == d else f", the first {cols} shown"),
                           size=NOTE)
        head.next_to(m, UP, buff=0.3)
        cfg = t.config
        scale = " × √d_model" if cfg.scale_embedding else ""
        if cfg.positions == "rope":  # no table is added: q and k are rotated in attention
            nxt = self.note(f"these rows{scale} are X itself: positions enter inside attention, "
                            "by rotating q and k (RoPE)", NOTE)
        else:
            nxt = self.note(f"→ the embedding scene: the rows{scale}, + positional encoding = X",
                            NOTE)
        group = VGroup(head, VGroup(m, ids), nxt).arrange(DOWN, buff=0.3)
        self.fit(group)
        self.play(*self.heading("Ids → rows of W_E"), *self.leave(), run_time=0.8)
        self.play(FadeIn(head), FadeIn(m.row_labels), FadeIn(ids), run_time=0.8)
        self.play(FadeIn(VGroup(*(x for x in m if x is not m.row_labels))), run_time=1.0)
        self.play(FadeIn(nxt), run_time=0.5)
        self.end_state(group, hold=2.0)

    # ---- steps: a word-level tokenizer ------------------------------------------------------

    def pieces(self, source: str) -> VGroup:
        words = [[(source, i)] for i in range(len(self.story["pieces"]))]
        return self.boxes(words, size=20)

    def step_split(self) -> None:
        typed = self.typed_sentence(22)
        arrow = Arrow(UP * 0.4, DOWN * 0.4, buff=0, stroke_width=3, color=self.theme.muted,
                      max_tip_length_to_length_ratio=0.3)
        rule = self.note("every character is a token" if self.story["rule"] == "chars" else
                         "lower-case, drop . , ! ? ; : \" and split at spaces", NOTE)
        row = self.pieces("tok:pieces")
        column = VGroup(typed, arrow, row).arrange(DOWN, buff=0.35)
        rule.next_to(arrow, RIGHT, buff=0.3)
        self.fit(column, rule)
        heading = "Characters" if self.story["rule"] == "chars" else "Splitting at spaces"
        self.play(*self.heading(heading), *self.leave(), run_time=0.8)
        self.play(FadeIn(typed), run_time=0.6)
        self.play(Create(arrow), FadeIn(rule), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(c) for g in row.cells for c in g), lag_ratio=0.1),
                  run_time=1.2)
        self.end_state(column, rule, hold=2.0)

    def step_lookup(self) -> None:
        theme, s = self.theme, self.story
        left, right, _, _ = self.content_box()
        # each word over the token it becomes, in columns wrapped onto lines
        columns = [VGroup(self.boxed("tok:pieces", i, 20), self.boxed("tokens", i, 20))
                   .arrange(DOWN, buff=0.3) for i in range(self.n)]
        lines, line = VGroup(), VGroup()
        for col in columns:
            if len(line) and line.width + 0.3 + col.width > right - left:
                lines.add(line)
                line = VGroup()
            col.next_to(line, RIGHT, buff=0.3, aligned_edge=UP) if len(line) else None
            line.add(col)
        lines.add(line)
        lines.arrange(DOWN, buff=0.45)
        middle = self.note("each word looked up in the vocabulary ↓", NOTE)
        unknown = [p for p, k in zip(s["pieces"], s["known"], strict=True) if not k]
        if unknown:
            why = self.note(wrap(f"not in the vocabulary, so <unk>: {', '.join(unknown)}; the "
                                 "model reads the same row for every unknown word", 100), NOTE)
        else:
            why = self.note("every word of this sentence is in the vocabulary; any other word "
                            "would become <unk>", NOTE)
        column = VGroup(middle, lines, why).arrange(DOWN, buff=0.45)
        self.fit(column)
        marks = VGroup(*(SurroundingRectangle(col[1], color=theme.highlight, buff=0.05)
                         for col, known in zip(columns, s["known"], strict=True) if not known))
        self.play(*self.heading("Words → tokens"), *self.leave(), run_time=0.8)
        self.play(FadeIn(middle), *(FadeIn(col[0]) for col in columns), run_time=0.6)
        self.play(LaggedStart(*(FadeIn(col[1], shift=0.2 * DOWN) for col in columns),
                              lag_ratio=0.1), run_time=1.2)
        self.play(FadeIn(why), *(Create(m) for m in marks), run_time=0.8)
        self.end_state(column, marks, hold=2.0)

    def step_bytes(self) -> None:
        if self.bpe:
            return self.bpe_bytes()
        s = self.story
        n = len(s["example_hex"])
        text = str(s["example"])
        word = mark(label_text(text, 22, self.theme.text), "token", "tok:example", (), text)
        row = self.boxes([[("tok:example_bytes", j) for j in range(n)]],
                         [[("tok:example_hex", j) for j in range(n)]])
        lines = VGroup(
            self.note("its UTF-8 bytes, each a token of a byte-level vocabulary:", NOTE),
            self.note("the learned merges only join tokens into longer ones, so every text "
                      "is read, and nothing is <unk>", NOTE),
            self.note("train one: python cli.py train lm --corpus FILE --tokens bpe", NOTE,
                      self.theme.text))
        group = VGroup(word, lines[0], row, lines[1], lines[2]).arrange(DOWN, buff=0.4)
        self.fit(group)
        self.play(*self.heading("Bytes: never unknown"), *self.leave(), run_time=0.8)
        self.play(FadeIn(word), FadeIn(lines[0]), run_time=0.6)
        self.play(LaggedStart(*(FadeIn(c) for g in row.cells for c in g), lag_ratio=0.08),
                  run_time=1.2)
        self.play(FadeIn(lines[1]), FadeIn(lines[2]), run_time=0.8)
        self.end_state(group, hold=2.5)

    # ---- steps: a byte-level BPE ------------------------------------------------------------

    def step_words(self) -> None:
        typed = self.typed_sentence(22)
        arrow = Arrow(UP * 0.4, DOWN * 0.4, buff=0, stroke_width=3, color=self.theme.muted,
                      max_tip_length_to_length_ratio=0.3)
        rule = self.note("words, numbers and punctuation apart; · is a space", NOTE)
        row = self.boxes([[("tok:words", w)] for w in range(len(self.story["words"]))], size=20)
        column = VGroup(typed, arrow, row).arrange(DOWN, buff=0.35)
        rule.next_to(arrow, RIGHT, buff=0.3)
        self.fit(column, rule)
        self.play(*self.heading("Pre-tokenizing: words"), *self.leave(), run_time=0.8)
        self.play(FadeIn(typed), run_time=0.6)
        self.play(Create(arrow), FadeIn(rule), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(c) for g in row.cells for c in g), lag_ratio=0.1),
                  run_time=1.2)
        self.end_state(column, rule, hold=2.0)

    def bpe_bytes(self) -> None:
        s = self.story
        words = [[(f"tok:letters.{w}", j) for j in range(len(b))]
                 for w, b in enumerate(s["letters"])]
        under = [[(f"tok:hex.{w}", j) for j in range(len(b))] for w, b in enumerate(s["bytes"])]
        row = self.boxes(words, under)
        note = VGroup(
            self.note("each byte as the tokenizer's byte alphabet writes it, its value under "
                      "it", NOTE),
            self.note("a character outside ASCII is 2 to 4 bytes; from here on such a byte "
                      "alone is shown as <0xC3>", NOTE)).arrange(DOWN, buff=0.15)
        group = VGroup(row, note).arrange(DOWN, buff=0.5)
        self.fit(group)
        self.play(*self.heading("Words → bytes"), *self.leave(), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(c) for g in row.cells for c in g), lag_ratio=0.03),
                  run_time=1.5)
        self.play(FadeIn(note), run_time=0.6)
        self.end_state(group, hold=2.0)

    def table_rows(self, seq: VGroup) -> int:
        """How many merge rows fit in a column under ``seq`` and the table's heading."""
        _, _, bottom, top = self.content_box()
        return max(4, int((top - bottom - seq.height - 0.45 - 0.2 - 0.35) / ROW_H))

    def chosen(self, capacity: int) -> list[int | None]:
        """The merges the table shows: all of them if they fit, else the first ones, a line
        saying how many are left out, and the last three."""
        n = len(self.story["merge_rank"])
        if n <= capacity:
            return list(range(n))
        first = capacity - 4
        return [*range(first), None, *range(n - 3, n)]

    def step_first_merge(self) -> None:
        theme, s = self.theme, self.story
        if not s["merge_rank"]:
            seq = self.sequence(0)
            note = self.note("no neighbouring pair of this sentence is in the merge list", NOTE)
            group = VGroup(seq, note).arrange(DOWN, buff=0.5)
            self.fit(group)
            self.play(*self.heading("No merge applies"), *self.leave(), FadeIn(group),
                      run_time=0.8)
            self.end_state(group, hold=2.0)
            return
        w, p = s["merge_word"][0], s["merge_position"][0]
        before = self.sequence(0)
        pair = VGroup(before.cells[w][p], before.cells[w][p + 1])
        ring = SurroundingRectangle(pair, color=theme.highlight, buff=0.06)
        self.left_out = self.note("", ROW)
        row = self.merge_row(0, size=26)
        explain = VGroup(
            self.note("of all neighbouring pairs, the one whose merge has the lowest rank", NOTE),
            self.note("(rank 0 is the first merge the tokenizer learned: its most frequent pair)",
                      NOTE)).arrange(DOWN, buff=0.15)
        group = VGroup(before, row, explain).arrange(DOWN, buff=0.5)
        self.fit(group, ring)
        ring.move_to(SurroundingRectangle(pair, buff=0.06))
        after = self.sequence(1)
        after.move_to(before.get_center()).align_to(before, UP)
        self.play(*self.heading("The first merge"), *self.leave(), FadeIn(before), run_time=0.8)
        self.play(Create(ring), FadeIn(row), run_time=0.8)
        self.play(FadeIn(explain), run_time=0.6)
        joined = SurroundingRectangle(after.cells[w][p], color=theme.highlight, buff=0.06)
        self.play(ReplacementTransform(before, after), ReplacementTransform(ring, joined),
                  run_time=1.0)
        self.end_state(after, joined, row, explain, hold=2.0)

    def step_merges(self) -> None:
        s = self.story
        n = len(s["merge_rank"])
        self.left_out = self.note("", ROW)
        if n == 0:
            seq = self.sequence(0)
            self.fit(seq)
            self.play(*self.heading("All merges"), *self.leave(), FadeIn(seq), run_time=0.8)
            self.end_state(seq, hold=1.0)
            return
        # The sequence shrinks as symbols join: its first state (the bytes, the tallest)
        # reserves the room every later one is drawn in, centred at the top of it.
        room = self.sequence(0)
        rows = self.table_rows(room)
        left, right, _, _ = self.content_box()
        for columns in range(MERGE_COLUMNS, 0, -1):  # as many columns as the width allows
            shown = self.chosen(rows * columns)
            if None in shown:
                out = [s["merge_rank"][k] for k in range(n) if k not in shown]
                self.left_out = label_text(f"… {len(out)} more merges, of ranks {min(out)} to "
                                           f"{max(out)} …", ROW, self.theme.muted)
                self.left_out.kind = "prose"
            table = self.merge_table(shown, rows)
            if table.width <= right - left:
                break
        head = self.note("merges applied, in order:", NOTE)
        listing = VGroup(head, table).arrange(DOWN, buff=0.2, aligned_edge=LEFT)
        self.fit(VGroup(room, listing).arrange(DOWN, buff=0.45))

        def placed(seq: VGroup) -> VGroup:
            return seq.move_to(room.get_center()).align_to(room, UP)

        rows_of = {k: cell for cell, k in zip((r for c in table for r in c), shown, strict=True)
                   if k is not None}
        current = placed(self.sequence(1))  # the first merge's result, as the last step left it
        self.play(*self.heading(f"All {n} merges" if n > 1 else "The only merge"),
                  *self.leave(), FadeIn(current), FadeIn(head),
                  *([FadeIn(rows_of[0])] if 0 in rows_of else []), run_time=0.8)
        last = min(n, PLAYED)  # merges 1 .. last-1 one by one, the rest together
        for k in range(1, last):
            nxt = placed(self.sequence(k + 1))
            self.play(ReplacementTransform(current, nxt),
                      *([FadeIn(rows_of[k])] if k in rows_of else []), run_time=0.35)
            current = nxt
        final = placed(self.sequence(n))
        rest = [cell for cell, k in zip((r for c in table for r in c), shown, strict=True)
                if k is None or k >= last]
        self.play(ReplacementTransform(current, final), *(FadeIn(c) for c in rest),
                  run_time=1.0)
        self.end_state(final, head, table, hold=2.5)

    def step_tokens(self) -> None:
        row = self.boxes([[("tokens", i)] for i in range(self.n)], size=26)
        s = self.story
        words, tokens = len(s["words"]), len(s["tokens"])
        bytes_ = sum(len(b) for b in s["bytes"])
        note = self.note(f"{bytes_} bytes → {len(s['merge_rank'])} merges → {tokens} tokens for "
                         f"{words} words; none is <unk>", NOTE)
        group = VGroup(row, note).arrange(DOWN, buff=0.5)
        self.fit(group)
        self.play(*self.heading("The tokens"), *self.leave(), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(c) for g in row.cells for c in g), lag_ratio=0.08),
                  run_time=1.0)
        self.play(FadeIn(note), run_time=0.6)
        self.end_state(group, hold=2.0)

    def construct(self) -> None:
        self.left_out = self.note("", ROW)
        super().construct()

