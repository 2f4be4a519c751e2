"""The decoder writes word by word: the autoregressive loop with the trained model's numbers.

    turn t:  p = softmax(decoder(input so far, encoder output)[newest position])
             next word = argmax p  (or a sample from softmax(logits / temperature))

``translate``: the encoder reads the English sentence once; its output stays on screen as the
keys and values of cross-attention. The decoder's input starts as ``<bos>``; each turn shows
the newest position's cross-attention row, the probabilities over the whole French vocabulary
as a bar chart, and the picked word joining the input; until ``<eos>``. ``lm``: the same loop
continues a prefix (``--sentence``, default "the early bird"), showing the newest position's
self-attention rows. A last step shows that one run of the decoder on the finished sentence
gives the same numbers row by row: the causal mask.

Reads the generation trace of :func:`transformer_core.generate.generate`: ``gen.T.probs``,
``gen.T.sample_probs`` (sampling), ``gen.T.cross_attn``/``gen.T.self_attn``, ``gen.choice``,
``gen.position``, the full run's ``probs`` and ``encoder.blocks.L.ln2.out`` (the encoder's
output), and the tokens.

Runs under Manim's CLI too: ``manim -ql scenes/generate.py GenerateScene``.
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
from manim import (  # noqa: E402
    DOWN, LEFT, PI, RIGHT, UP, Create, FadeIn, GrowFromEdge, Indicate, LaggedStart, Line,
    Rectangle, VGroup, Write, config,
)

from scenes.toolkit.mobjects import (  # noqa: E402
    TokenRow, ValueMatrix, cell_height_for, cell_width_for, fit_into, rounded_box, window,
)
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene, current_options, languages,
)
from scenes.toolkit.style import MIN_FONT_SIZE, NOTE  # noqa: E402
from scenes.toolkit.provenance import mark, mark_drawn  # noqa: E402
from scenes.toolkit.text import DIGIT_HEIGHT, number_text, plain_text  # noqa: E402
from transformer_core.explain import lookup, max_positions, top_k_ids  # noqa: E402
from transformer_core.records import REAL_MODEL, n_turns  # noqa: E402

__all__ = ["GenerateScene", "BAR_HEIGHT", "load_generation"]

BAR_HEIGHT = 2.6  # scene units of the tallest bar (the chart is scaled to its largest p)
TOP = 3  # the most probable words listed with their probabilities above the bars
# A vocabulary longer than this (SmolLM2's 49,152 words) is drawn through a window: the bars of
# its BAR_WINDOW most probable words (and the picked one), each at its own id, the rest counted.
MAX_BARS = 40
BAR_WINDOW = 12
CACHE_ROWS = 8  # and a cache longer than this (rows) too
CACHE_COLS = 8  # a K/V cache row wider than this (SmolLM2's 64) is drawn through a window


@functools.lru_cache(maxsize=8)
def _generation(model: str, sentence: str | None, max_new: int | None, temperature: float,
                top_k: int | None, top_p: float | None, seed: int, checkpoint: str | None,
                stamp):
    from transformer_core import runs

    return runs.generation(model, sentence, checkpoint, max_new=max_new, temperature=temperature,
                           seed=seed, top_k=top_k, top_p=top_p)


def generation_temperature(options: SceneOptions) -> float:
    """The loop's temperature: 0 (greedy) unless a sampler option is given."""
    if options.temperature is not None:
        return float(options.temperature)
    return 1.0 if options.top_k is not None or options.top_p is not None else 0.0


def load_generation(options: SceneOptions):
    """The generation trace these options ask for (read-only, so one copy serves every run);
    with a checkpoint, that file's model (read again if the file was rewritten)."""
    stamp = None
    if options.checkpoint is not None:
        stat = os.stat(options.checkpoint)
        stamp = (stat.st_mtime_ns, stat.st_size)
    return _generation(options.model, options.sentence, options.max_new,
                       generation_temperature(options), options.top_k, options.top_p,
                       options.seed, options.checkpoint, stamp)


def turn_caption(trace, turn: int) -> str:
    """One sentence: what the decoder reads at ``turn`` and the word it picks."""
    end = int(trace["gen.position"][turn]) + 1
    reads = " ".join(trace.tokens_for("decoder")[:end])
    word = trace.vocab[int(trace["gen.choice"][turn])]
    temperature = float(trace["gen.temperature"])
    how = (f"samples the next word ({sampler_settings(trace)}) and draws"
           if temperature > 0 else "picks the most probable next word,")
    done = ", so the sentence is finished" if word == "<eos>" else ""
    who = "the decoder" if trace.config.mode == "encdec" else "the model"
    new = int(trace["gen.rows_cached"][turn])
    if turn == 0:
        work = (f"computes q, k and v for its {new} words and caches their keys and values"
                if new > 1 else "computes q, k and v for it and caches its key and value")
    else:
        work = "computes q, k and v for the newest word only, reading the others' from the cache"
    if (word != "<eos>" and turn == n_turns(trace) - 1
            and end + 1 > max_positions(trace.config)):  # no room for another position
        done = f", and stops: its context of {max_positions(trace.config)} positions is full"
    return (f"Turn {turn + 1}: {who} reads \u201c{reads}\u201d, {work}, and {how} "
            f"\u201c{word}\u201d{done}.")


def sampler_settings(trace) -> str:
    """The sampler of a generation, as the user set it: "temperature 1, top-p 0.9"."""
    parts = [f"temperature {float(trace['gen.temperature']):g}"]
    if int(trace["gen.top_k"]):
        parts.append(f"top-k {int(trace['gen.top_k'])}")
    if float(trace["gen.top_p"]):
        parts.append(f"top-p {float(trace['gen.top_p']):g}")
    return ", ".join(parts)


class GenerateScene(StoryScene):
    """The autoregressive loop: one decoder run per word, until <eos>."""

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        trace = load_generation(options)
        encdec = trace.config.mode == "encdec"
        if encdec:
            steps = [
                Step("title", "The decoder writes the translation one word per turn: it reads "
                              "the words written so far and picks the next one."),
                Step("encode", "The encoder reads the English sentence once; its output rows "
                               "stay fixed as the keys and values of cross-attention at every "
                               "turn."),
            ]
        else:
            steps = [Step("title", "A language model continues a text one word per turn: it "
                                   "reads the words so far and picks the next one.")]
        steps += [Step(f"turn_{t + 1}", turn_caption(trace, t)) for t in range(n_turns(trace))]
        steps.append(Step("cache", "With the cache every turn after the first computes one new "
                                   "row instead of the whole input, and its logits equal a full "
                                   "recompute's to the digits shown, since the causal mask keeps "
                                   "earlier rows blind to later words."))
        return steps

    def setup(self) -> None:
        super().setup()
        self.trace = t = load_generation(self.options)
        self.encdec = t.config.mode == "encdec"
        self.dec = "target_tokens" if self.encdec else "tokens"
        self.n = n_turns(t)
        self.sampled = float(t["gen.temperature"]) > 0
        cfg = t.config
        self.cache_layer = min(self.options.layer, cfg.n_dec_layers - 1)
        self.cache_head = self.options.head
        self.group = cfg.n_heads // (getattr(cfg, "kv_heads", 0) or cfg.n_heads)
        self.kv_head = self.cache_head // self.group
        self.memory = f"encoder.blocks.{t.config.n_enc_layers - 1}.ln2.out"

    def __getattr__(self, name: str):
        # step_turn_<k>: one decoder run per turn, named in the storyboard
        if name.startswith("step_turn_") and name[len("step_turn_"):].isdigit():
            turn = int(name[len("step_turn_"):]) - 1
            return lambda: self.turn(turn)
        raise AttributeError(name)

    # ---- pieces -----------------------------------------------------------------------------

    def count(self, k: int, size: float):
        """A counting number (a turn), marked as the dimension-like number it is."""
        text = str(k)
        mob = number_text(text, size, self.theme.muted)
        mob.shift(-mob.get_corner(DOWN + LEFT))  # on the baseline, left edge at x = 0
        return mark(mob, "dim", "dim", (k,), text, 0)

    def top_words(self, turn: int) -> VGroup:
        """One line: the most probable words of a turn and their probabilities."""
        theme, source = self.theme, self.probs_source(turn)
        line = VGroup(self.note("most probable:", MIN_FONT_SIZE))
        for k in top_k_ids(lookup(self.trace, source), TOP):
            pair = VGroup(self.word(int(k), MIN_FONT_SIZE, theme.text),
                          self.number(source, (int(k),), 2, MIN_FONT_SIZE))
            pair[1].shift(RIGHT * (pair[0].get_right()[0] + 0.12 - pair[1].get_left()[0]))
            line.add(pair)
        line[0].shift(UP * (line[1][1].get_y() - line[0].get_y()))
        for prev, item in zip(line[:-1], line[1:], strict=True):
            item.shift(RIGHT * (prev.get_right()[0] + 0.35 - item.get_left()[0]))
        return line

    def probs_source(self, turn: int) -> str:
        """What the bars of a turn show: the probabilities, or the tempered ones sampled from."""
        return f"gen.{turn}.sample_probs" if self.sampled else f"gen.{turn}.probs"

    def input_row(self, n: int, size: float, newest: bool = True) -> VGroup:
        """The decoder's input: its first ``n`` tokens in boxes, the newest outlined."""
        theme, row, x = self.theme, VGroup(), 0.0
        cap = size * DIGIT_HEIGHT
        for i in range(n):
            label = self.token_label(self.dec, i, size, theme.text)
            label.shift([x + 0.12 - label.get_left()[0], 0, 0])
            box = rounded_box(corner_radius=0.08, width=label.width + 0.24,
                              height=cap * 2.4, stroke_width=1.5,
                              stroke_color=theme.highlight if newest and i == n - 1
                              else theme.muted)
            box.move_to([label.get_x(), cap / 2, 0])
            row.add(VGroup(box, label))
            x += label.width + 0.24 + 0.14
        return row

    def new_token(self, turn: int, row: VGroup, size: float) -> VGroup:
        """The word picked at ``turn``, boxed in the output colour, at the end of ``row``."""
        theme = self.theme
        word = self.word(int(self.trace["gen.choice"][turn]), size, theme.output)
        cap = size * DIGIT_HEIGHT
        word.shift([row.get_right()[0] + 0.14 + 0.12 - word.get_left()[0], 0, 0])
        box = rounded_box(corner_radius=0.08, width=word.width + 0.24, height=cap * 2.4,
                          stroke_width=2, stroke_color=theme.output)
        box.move_to([word.get_x(), cap / 2, 0])
        return VGroup(box, word)

    def row_size(self, n: int) -> float:
        """The largest font size (18 down to the minimum) at which ``n`` input tokens and one
        more word fit the frame's width."""
        left, right, _, _ = self.content_box()
        longest = max((len(str(self.trace.vocab[int(k)])) for k in self.trace["gen.choice"]),
                      default=6)
        for size in (18, 16, MIN_FONT_SIZE):
            row = self.input_row(n, size)
            extra = 0.5 + longest * size * 0.0075 + 3.0  # the new word and the row's title
            if row.width + extra <= right - left:
                return size
        return MIN_FONT_SIZE

    def bar_ids(self, turn: int) -> list[int]:
        """The word ids that get a bar: the whole vocabulary in id order, or for a big one a
        window of its most probable words (the picked one always among them), most probable
        first."""
        p = lookup(self.trace, self.probs_source(turn))
        if len(p) <= MAX_BARS:
            return list(range(len(p)))
        ids = [int(k) for k in top_k_ids(p, BAR_WINDOW)]
        choice = int(self.trace["gen.choice"][turn])
        if choice not in ids:  # a sampled word from the tail: it replaces the last of the window
            ids[-1] = choice
        return ids

    def bar_chart(self, turn: int, pitch: float) -> tuple[VGroup, VGroup, VGroup]:
        """Bars over the vocabulary, or its window (:meth:`bar_ids`) (height ``BAR_HEIGHT`` ·
        p / the largest p, each bar marked with the probability it shows at its word id,
        :func:`~scenes.toolkit.provenance.mark_drawn`), the word under each bar, reading
        upwards, and the axis. The picked word's bar is in the output colour."""
        theme, t = self.theme, self.trace
        source = self.probs_source(turn)
        p = lookup(t, source)  # [vocab]
        choice = int(t["gen.choice"][turn])
        bars, words = VGroup(), VGroup()
        ids = self.bar_ids(turn)
        for slot, k in enumerate(ids):
            x = slot * pitch
            height = BAR_HEIGHT * float(p[k]) / float(p.max())
            bar = Rectangle(width=pitch * 0.62, height=max(height, 1e-4), stroke_width=0,
                            fill_color=theme.output if k == choice else theme.heat,
                            fill_opacity=0.9 if k == choice else 0.75)
            bar.move_to([x, height / 2, 0])
            bars.add(mark_drawn(bar, source, (k,), float(p[k]), height=None))
            word = self.word(k, MIN_FONT_SIZE, theme.output if k == choice else theme.muted)
            word.rotate(PI / 2, about_point=np.zeros(3))  # reads upwards, baseline on the right
            word.shift([x + MIN_FONT_SIZE * DIGIT_HEIGHT / 2, -0.1 - word.height, 0])
            words.add(word)
        axis = Line([-pitch / 2, 0, 0], [(len(ids) - 0.5) * pitch, 0, 0], stroke_width=1.5,
                    color=theme.muted)
        return bars, words, axis

    def cache_block(self, turn: int) -> VGroup:
        """Left of the bars: the K and V cache of one layer and K/V head after this turn, one
        row per word so far (the rows this turn computed outlined), and between them the newest
        position's attention weights over those rows: the new row's attention reads the
        cache."""
        theme, t = self.theme, self.trace
        size = MIN_FONT_SIZE
        ch = cell_height_for(size)
        layer, head, kvh = self.cache_layer, self.cache_head, self.kv_head
        k_src = f"gen.{turn}.cache.k[{layer},{kvh}]"  # [pos, d_head]
        v_src = f"gen.{turn}.cache.v[{layer},{kvh}]"
        w_src = f"explain.column(gen.{turn}.self_attn[{layer},{head}])"  # [pos, 1]
        cw = 0.2
        n_rows = lookup(t, k_src).shape[0]
        new = int(t["gen.rows_cached"][turn])
        first = n_rows - new
        # a long cache: its first and last rows, the ones computed this turn among them
        rows = window(n_rows, max(CACHE_ROWS, new), range(first, n_rows))
        k = ValueMatrix(t, k_src, theme, cell_w=cw, cell_h=ch, font_size=size,
                        show_numbers=False, max_cols=CACHE_COLS, rows=rows)
        labels = VGroup()  # the words so far label the rows
        for i in k.row_ids:
            label = self.token_label(self.dec, i, size)
            label.shift([k.brackets.get_left()[0] - 0.14 - label.get_right()[0],
                         k.cell_centre(i, 0)[1] - size * DIGIT_HEIGHT / 2, 0])
            labels.add(label)
        w = ValueMatrix(t, w_src, theme, cell_w=cell_width_for(lookup(t, w_src), 2, size,
                                                               pad=0.16),
                        cell_h=ch, font_size=size, sequential=True, vmax=1.0, rows=k.row_ids)
        v = ValueMatrix(t, v_src, theme, cell_w=cw, cell_h=ch, font_size=size,
                        show_numbers=False, max_cols=CACHE_COLS, rows=k.row_ids)
        w.shift(k.cell_centre(0, k.n_cols - 1) + RIGHT * (cw / 2 + 0.3 + w.cell_w / 2)
                - w.cell_centre(0, 0))
        v.shift(w.cell_centre(0, 0) + RIGHT * (w.cell_w / 2 + 0.3 + cw / 2) - v.cell_centre(0, 0))
        marks = VGroup(k.outline((first, 0), (k.n_rows - 1, k.n_cols - 1)),
                       v.outline((first, 0), (v.n_rows - 1, v.n_cols - 1)))
        titles = VGroup()
        for m, text in ((k, "K cache"), (w, "weights"), (v, "V cache")):
            title = self.note(text, size, theme.text)
            title.next_to(m.brackets, UP, buff=0.12)
            titles.add(title)
        top = max(x.get_bottom()[1] for x in titles)
        for title in titles:  # on one line
            title.shift(UP * (top - title.get_bottom()[1]))
        where = [f"layer {layer}" if t.config.n_dec_layers > 1 else "",
                 f"head {head}" if t.config.n_heads > 1 else ""]
        if self.group > 1:
            where.append(f"K/V head {kvh} (shared by {self.group} heads)")
        where = ", ".join(x for x in where if x)
        joint = "\n" if self.group > 1 else ", "  # K/V sharing needs a second line
        head_note = self.note("the newest position's self-attention" + (f"{joint}{where}" if where
                                                                        else ""), size, theme.text)
        head_note.next_to(titles, UP, buff=0.1).align_to(labels, LEFT)
        counts = VGroup(self.inline(("dim", (new,), 0),
                                    "new rows (outlined) computed this turn," if new > 1 else
                                    "new row (outlined) computed this turn,", size=size),
                        self.inline(("dim", (k.n_rows - new,), 0),
                                    "read from the cache", size=size))
        if len(k.row_ids) > 7:  # a tall cache: one line (wider, so the bars get a little narrower)
            counts[1].shift(counts[0].get_right() - counts[1].get_left() + RIGHT * 0.1
                            + UP * (counts[0][0].get_y() - counts[1][0].get_y()))
        else:
            counts.arrange(DOWN, buff=0.12, aligned_edge=LEFT)
        counts.next_to(VGroup(k, w, v), DOWN, buff=0.2).align_to(labels, LEFT)
        if self.encdec:  # its keys and values are the encoder's output, fixed: never recomputed
            fixed = self.note("cross-attention reads the encoder's\noutput, computed once", size)
            fixed.next_to(counts, DOWN, buff=0.15).align_to(counts, LEFT)
            counts = VGroup(counts, fixed)
        old_rows = [i for i in k.row_ids if i < first]
        new_rows = [i for i in k.row_ids if i >= first]
        cut = len(old_rows)
        self.cache_parts = (
            VGroup(k.cells(rows=old_rows), v.cells(rows=old_rows), k.brackets,
                   v.brackets, *labels[:cut], titles, head_note),
            VGroup(k.cells(rows=new_rows), v.cells(rows=new_rows), *labels[cut:]),
            marks, w, counts)
        return VGroup(VGroup(k, w, v, labels), marks, titles, head_note, counts)

    # ---- steps ------------------------------------------------------------------------------

    def step_title(self) -> None:
        theme, t = self.theme, self.trace
        title = plain_text("Writing word by word", 44, theme.text)
        left, right, bottom, top = self.content_box()
        first = int(t["gen.position"][0]) + 1
        size = 24
        while size > MIN_FONT_SIZE and self.input_row(first, size).width > right - left - 0.2:
            size -= 2  # a long prefix: smaller words rather than a shrunk picture
        rows = VGroup()
        if self.encdec:
            english = TokenRow(t, "tokens", theme, font_size=size)
            while size > MIN_FONT_SIZE and english.width > right - left - 0.2:
                size -= 2
                english = TokenRow(t, "tokens", theme, font_size=size)
            source_language = languages(self.options)[0]
            rows.add(VGroup(self.note(f"{source_language}, read once by the encoder", 20),
                            english))
            start = "the decoder starts from"
        else:
            start = "the model starts from"
        rows.add(VGroup(self.note(start, 20), self.input_row(first, size, newest=False)))
        for row in rows:
            row.arrange(DOWN, buff=0.2, aligned_edge=LEFT)
        rows.arrange(DOWN, buff=0.35, aligned_edge=LEFT)
        loop = self.note("each turn: run the decoder on the newest word, its attention reading "
                         "the earlier words'\nkeys and values from a cache → probabilities for "
                         "the next word → pick one → append it\n→ again, until <eos>", 18)
        group = VGroup(title, rows, loop).arrange(DOWN, buff=0.45)
        fit_into(group, left, right, bottom, top + 0.6)
        self.play(Write(title), run_time=1.0)
        self.play(LaggedStart(*(FadeIn(r) for r in rows), lag_ratio=0.4), run_time=1.2)
        self.play(FadeIn(loop), run_time=0.8)
        self.end_state(title, rows, loop, hold=2.0)

    def step_encode(self) -> None:
        theme, t = self.theme, self.trace
        size = NOTE
        x = ValueMatrix(t, self.memory, theme, font_size=size, row_labels="tokens",
                        col_labels="dim", cell_w=cell_width_for(t[self.memory], 2, size, pad=0.14))
        title = self.note(f"the encoder's output: one row of {t.config.d_model} numbers per "
                          f"{languages(self.options)[0]} word", NOTE, theme.text)
        title.next_to(x.col_labels, UP, buff=0.2).align_to(x.brackets, LEFT)
        note = self.note("computed once; every turn's cross-attention reads its keys and "
                         "values from these rows", NOTE)
        note.next_to(x, DOWN, buff=0.3).align_to(x.brackets, LEFT)
        self.fit(x, title, note)
        self.play(*self.heading("The encoder reads once"), *self.leave(), run_time=0.8)
        self.play(FadeIn(x.row_labels), FadeIn(title), run_time=0.8)
        self.play(FadeIn(x.body()), FadeIn(x.col_labels), run_time=1.2)
        self.play(FadeIn(note), run_time=0.6)
        self.end_state(x, title, note, hold=2.0)

    def turn(self, turn: int) -> None:
        theme, t = self.theme, self.trace
        pos = int(t["gen.position"][turn])
        size = self.row_size(pos + 1)
        row = self.input_row(pos + 1, size)
        new = self.new_token(turn, row, size)
        lead = self.note("decoder input" if self.encdec else "words so far", size)
        lead.next_to(row, LEFT, buff=0.3).set_y(row[0][0].get_y())
        attn = self.cache_block(turn)
        left, right, bottom, top = self.content_box()
        if VGroup(lead, row, new).width > right - left:  # a long text: its title above it
            lead.next_to(row, UP, buff=0.12, aligned_edge=LEFT)
        room = right - left - attn.width - 0.8 - 0.15  # the last word label reaches past its bar
        ids = self.bar_ids(turn)
        pitch = min(0.42 if len(ids) == len(t.vocab) else 0.3, max(room, 4.0) / len(ids))
        bars, words, axis = self.bar_chart(turn, pitch)
        chart = VGroup(bars, words, axis)
        choice = int(t["gen.choice"][turn])
        slot = ids.index(choice)
        source = self.probs_source(turn)
        value = self.number(source, (choice,), 2, MIN_FONT_SIZE, theme.output)
        value.next_to(bars[slot], UP, buff=0.08)
        n_vocab = len(t.vocab)
        if len(ids) < n_vocab:  # a window: which bars these are, and how many are not drawn
            what = (f"p(next word), {sampler_settings(t)}: " if self.sampled else
                    "p(next word): ") + (f"the {len(ids)} most probable\nof all {n_vocab:,} "
                                         f"words (+ {n_vocab - len(ids):,} more, not drawn)")
        else:
            what = (f"p(next word) over all {n_vocab} words of the vocabulary"
                    if not self.sampled else
                    f"p(next word), {sampler_settings(t)}, over all {n_vocab} words")
        chart_head = VGroup(self.note(what, MIN_FONT_SIZE, theme.text), self.top_words(turn))
        chart_head.arrange(DOWN, buff=0.15, aligned_edge=LEFT)
        chart_head.next_to(VGroup(chart, value), UP, buff=0.2).align_to(chart, LEFT)
        top_row = VGroup(lead, row, new)
        gap = 0.8 if len(ids) == n_vocab else 0.5  # a window: the cache beside it is wide too
        body = VGroup(attn, VGroup(chart, value, chart_head)).arrange(RIGHT, buff=gap,
                                                                         aligned_edge=UP)
        VGroup(top_row, body).arrange(DOWN, buff=0.35 if gap > 0.5 else 0.25, aligned_edge=LEFT)
        self.fit(top_row, body)
        heading = f"Turn {turn + 1}"
        old, fresh, marks, weights, counts = self.cache_parts
        if turn == 0:
            self.play(*self.heading(heading), *self.leave(), run_time=0.8)
            self.play(FadeIn(lead), FadeIn(row), FadeIn(old), run_time=0.8)
        else:
            self.play(*self.heading(heading), *self.leave(), FadeIn(lead), FadeIn(row),
                      FadeIn(old), run_time=0.9)
        # the cache grows: this turn's k and v rows join the cached ones, then the newest
        # position's attention reads all of them
        self.play(FadeIn(fresh, shift=0.15 * UP), Create(marks), FadeIn(counts), run_time=0.8)
        self.play(FadeIn(weights), run_time=0.6)
        self.play(FadeIn(axis), FadeIn(words), FadeIn(chart_head), run_time=0.6)
        self.play(LaggedStart(*(GrowFromEdge(b, DOWN) for b in bars), lag_ratio=0.02),
                  run_time=1.2)
        self.play(FadeIn(value), Indicate(words[slot], color=theme.output), run_time=0.8)
        flying = words[slot].copy()
        self.play(flying.animate.rotate(-PI / 2).move_to(new[1]), run_time=0.9)
        self.remove(flying)
        self.play(Create(new[0]), FadeIn(new[1]), run_time=0.4)
        self.end_state(lead, row, new, attn, chart, value, chart_head, hold=2.5)

    def step_cache(self) -> None:
        theme, t = self.theme, self.trace
        size = NOTE
        row_h = cell_height_for(size) * (1.25 if self.n <= 6 else 0.9)  # many turns: tighter
        rows = []
        for turn in range(self.n):
            pos, choice = int(t["gen.position"][turn]), int(t["gen.choice"][turn])
            rows.append([
                self.count(turn + 1, size),
                self.token_label(self.dec, pos, size),
                self.word(choice, size, theme.output),
                self.number(f"gen.{turn}.logits", (choice,), 4, size),
                self.number(f"gen.{turn}.full_logits", (choice,), 4, size),
                self.number(f"gen.{turn}.diff", (), 4, size, theme.output),
                self.number("gen.rows_cached", (turn,), 0, size),
                self.number("gen.rows_full", (turn,), 0, size),
            ])
        heads = ["turn", "newest\ninput", "picked", "logit,\ncached", "logit, full\nrecompute",
                 "largest |Δ|\nof all logits", "rows\ncached", "rows\nfull"]
        head_row = []
        for text in heads:
            mob = plain_text(text, MIN_FONT_SIZE, theme.muted, line_spacing=0.8)
            mob.kind = "prose"
            head_row.append(mob)
        widths = [max([r[k].width for r in rows] + [head_row[k].width])
                  for k in range(len(heads))]
        gaps = [0.0, 0.4, 0.4, 0.5, 0.4, 0.4, 0.5, 0.3]
        aligns = ["right", "left", "left", "right", "right", "right", "right", "right"]
        table = self.table(rows, widths, gaps, row_h, aligns)
        for mob in head_row:
            mob.shift(UP * -mob.get_bottom()[1])
        header = self.table([head_row], widths, gaps, row_h, aligns)
        header.shift(UP * row_h * 0.8)
        total = self.inline("q, k, v rows computed per layer:", ("gen.rows_cached_total", (), 0),
                            "with the cache,", ("gen.rows_full_total", (), 0),
                            "without it", size=size)
        cfg, last = t.config, self.n - 1
        layers = "config:n_dec_layers"
        kv = "config:kv_heads" if hasattr(cfg, "kv_heads") else "config:n_heads"
        ours = self.inline("the cache now: 2 (K, V) ×", (layers, (), 0), "layers ×", (kv, (), 0),
                           "K/V heads ×", ("config:d_head", (), 0), "×",
                           ("gen.cache_positions", (last,), 0), "positions =",
                           ("gen.cache_numbers", (last,), 0), "numbers =",
                           ("gen.cache_bytes", (last,), 0), "bytes (float32)", size=size)
        real = self.inline(f"{REAL_MODEL['name']}: 2 ×", ("gen.real.layers", (), 0), "layers ×",
                           ("gen.real.kv_heads", (), 0), "K/V heads ×",
                           ("gen.real.d_head", (), 0), "×", ("gen.real.context", (), 0),
                           "positions ×", ("gen.real.bytes_per_number", (), 0), "bytes =",
                           ("gen.real.bytes", (), 0), "bytes ≈", ("gen.real.megabytes", (), 0),
                           "MB", size=size)
        # a language model's result is the prompt and what it wrote, not only the new words
        label = self.note("the translation:" if self.encdec else "the text:", 20, theme.text)
        n_words = len(t.output_tokens) + (0 if self.encdec else int(t["gen.position"][0]) + 1)
        font = 22 if n_words <= 10 else 18  # a long text: smaller words rather than more lines
        row = TokenRow(t, "output_tokens", theme, font_size=font)
        if not self.encdec:  # the prompt's words, then the words written (the last one too,
            # which is no input when the context is full)
            prompt = TokenRow(t, "tokens", theme, font_size=font)
            row = VGroup(*prompt[:int(t["gen.position"][0]) + 1], *row).arrange(RIGHT, buff=0.22)
        # a long text breaks into lines no wider than the frame (not shrunk to fit)
        limit = config.frame_width - 1.6 - label.width - 0.3
        start = line_left = row.get_left()[0]
        line, dy = 0, row.height * 1.3
        for piece in row:  # measured where TokenRow put it, then moved to its line
            if piece.get_right()[0] - line_left > limit and piece.get_left()[0] > line_left + 1e-6:
                line += 1
                line_left = piece.get_left()[0]
            piece.shift([start - line_left, -line * dy, 0])
        out = VGroup(label, row).arrange(RIGHT, buff=0.3, aligned_edge=UP)
        gap = 0.22 if self.n <= 6 else 0.14
        bottom = VGroup(total, ours, real, out).arrange(DOWN, buff=gap, aligned_edge=LEFT)
        bottom.next_to(VGroup(header, table), DOWN, buff=gap + 0.13).align_to(table, LEFT)
        self.fit(header, table, bottom)
        self.play(*self.heading("The KV cache changes nothing but the work"), *self.leave(),
                  run_time=0.8)
        self.play(FadeIn(header), LaggedStart(*(FadeIn(VGroup(*r)) for r in rows),
                                              lag_ratio=0.15), run_time=2.0)
        self.play(FadeIn(total), run_time=0.6)
        self.play(FadeIn(ours), FadeIn(real), run_time=1.0)
        self.play(FadeIn(out), run_time=0.6)
        self.end_state(header, table, bottom, hold=4.0)
