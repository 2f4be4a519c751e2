"""How the next word is chosen: one position's real logits through temperature, top-k, top-p
and a seeded draw, beside what greedy decoding would pick.

    p_i = exp(z_i / T) / Σ_j exp(z_j / T)        top-k: keep the k most probable, renormalise
    top-p: sort, keep words until the cumulative sum reaches p, renormalise
    draw:  u ~ U[0, 1) from the seed; the word whose stretch of the cumulative sum holds u

Steps: the logits at the position where the model is least sure (for a language model given
``--sentence``, after its last word), the softmax at temperatures 0.5, 1 and 2 side by side,
top-k (``--top-k``, else 3) and top-p (``--top-p``, else 0.9) each on the softmax at
``--temperature`` (default 1), then the draw through the filters given (``--seed``), the word
drawn and greedy's word. Every number is a record of
:func:`transformer_core.sampling.sample_run` (``sample.*``).

Runs under Manim's CLI too: ``manim -ql scenes/sampling.py SamplingScene``.
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
    DOWN, LEFT, PI, RIGHT, UP, Create, DashedLine, FadeIn, GrowFromEdge, LaggedStart,
    Line, Rectangle, Triangle, VGroup, Write,
)

from scenes.toolkit.mobjects import fit_into, formula  # noqa: E402
from scenes.toolkit.provenance import mark, mark_drawn  # noqa: E402
from scenes.toolkit.storyboard import SceneOptions, Step, StoryScene, current_options  # noqa: E402
from scenes.toolkit.style import MIN_FONT_SIZE, NOTE  # noqa: E402
from scenes.toolkit.text import label_text, number_text  # noqa: E402
from transformer_core.explain import lookup  # noqa: E402

__all__ = ["SamplingScene", "load_sampling"]

CHART_HEIGHT = 2.2  # scene units of a probability of 1 in the temperature charts
TABLE_ROWS = 12  # the most words a top-k or top-p table lists
BAR_WIDTH = 3.0  # scene units of a probability of 1 in the tables' bars
STRIP_WIDTH = 12.0  # the draw's strip: the kept words' probabilities side by side


@functools.lru_cache(maxsize=8)
def _sampling(model: str, sentence: str | None, temperature: float | None, top_k: int | None,
              top_p: float | None, seed: int, checkpoint: str | None, stamp):
    from transformer_core import runs

    return runs.sampling(model, sentence, checkpoint, temperature=temperature, top_k=top_k,
                         top_p=top_p, seed=seed)


def load_sampling(options: SceneOptions):
    """The sampling trace these options ask for (read-only: one copy serves every run)."""
    stamp = None
    if options.checkpoint is not None:
        stat = os.stat(options.checkpoint)
        stamp = (stat.st_mtime_ns, stat.st_size)
    return _sampling(options.model, options.sentence, options.temperature, options.top_k,
                     options.top_p, options.seed, options.checkpoint, stamp)


def _g(x: float) -> str:
    """A setting as the user typed it (1, 0.9), for captions."""
    return f"{float(x):g}"


class SamplingScene(StoryScene):
    """Temperature, top-k, top-p and the draw on one position's real logits."""

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        t = load_sampling(options)
        pos = int(t["sample.position"])
        reads = t.joiner.join(t.tokens_for("decoder")[:pos + 1])
        who = "the decoder" if t.config.mode == "encdec" else "the model"
        temp = _g(t["sample.temperature"])
        k, p = int(t["sample.top_k"]), _g(t["sample.top_p"])
        used = [f"temperature {temp}"]
        used += [f"top-k {k}"] if t["sample.filters"][0] else []
        used += [f"top-p {p}"] if t["sample.filters"][1] else []
        drawn = t.vocab[int(t["sample.chain.choice"])]
        greedy = t.vocab[int(t["sample.chain.greedy"])]
        same = "the same word" if drawn == greedy else f"\u201c{greedy}\u201d"
        return [
            Step("logits", f"After \u201c{reads}\u201d {who} gives every word of the vocabulary "
                           "a score, its logit, at the newest position."),
            Step("temperature", "Dividing the logits by a temperature T before the softmax "
                                "sharpens the probabilities (T = 0.5) or flattens them (T = 2), "
                                "and T = 1 keeps the model's own."),
            Step("top_k", f"Top-k keeps the {k} most probable words at temperature {temp} and "
                          "divides their probabilities by their sum, so they add up to 1 "
                          "again."),
            Step("top_p", f"Top-p keeps the most probable words until their cumulative sum "
                          f"reaches p = {p}, and renormalises them: fewer words where the model "
                          "is sure, more where it hesitates."),
            Step("draw", f"The seed gives a number u between 0 and 1, and the word whose stretch "
                         f"of the cumulative sum holds u is drawn ({', '.join(used)}): "
                         f"\u201c{drawn}\u201d, where greedy decoding would take {same}."),
        ]

    def setup(self) -> None:
        super().setup()
        self.trace = load_sampling(self.options)
        self.pos = int(self.trace["sample.position"])

    # ---- pieces -----------------------------------------------------------------------------

    def count(self, k: int, size: float, color: str | None = None):
        """A counting number (a rank, how many words), marked as the dimension-like number it
        is."""
        text = str(k)
        mob = number_text(text, size, color or self.theme.muted)
        mob.shift(-mob.get_corner(DOWN + LEFT))
        return mark(mob, "dim", "dim", (k,), text, 0)

    def prose(self, text: str, size: float = NOTE, color: str | None = None):
        """Words on the baseline y = 0, left edge at x = 0 (as numbers and labels are)."""
        mob = label_text(text, size, color or self.theme.muted)
        mob.kind = "prose"
        return mob

    def line(self, *pieces, size: float = NOTE, color: str | None = None) -> VGroup:
        """Pieces side by side on one baseline: a string is prose (in ``color``, else muted),
        anything else a mobject whose baseline is y = 0 (a number, a word)."""
        group, x = VGroup(), 0.0
        for piece in pieces:
            if isinstance(piece, str):
                mob = label_text(piece, size, color or self.theme.muted)
                mob.kind = "prose"
            else:
                mob = piece
            tight = isinstance(piece, str) and piece[:1] in ",:)"
            mob.shift([x + (0.03 if tight else 0.1) * bool(len(group)) - mob.get_left()[0], 0, 0])
            x = mob.get_right()[0]
            group.add(mob)
        return group

    def words_read(self, size: float = NOTE) -> VGroup:
        """What the model has read: the tokens up to the position, in boxes of text."""
        src = "target_tokens" if self.trace.config.mode == "encdec" else "tokens"
        lead = self.prose("read so far:" if self.trace.config.mode != "encdec"
                         else "the decoder has read:", size)
        words = [self.token_label(src, i, size + 2, self.theme.text) for i in range(self.pos + 1)]
        return self.line(lead, *words)

    def hbar(self, source: str, index: tuple, color: str, height: float) -> Rectangle:
        """A horizontal bar whose width is ``BAR_WIDTH`` × the value (drawn from ``source``)."""
        value = float(lookup(self.trace, source)[index])
        bar = Rectangle(width=max(BAR_WIDTH * value, 1e-4), height=height, stroke_width=0,
                        fill_color=color, fill_opacity=0.8)
        return mark_drawn(bar, source, index, value, width=None)  # one scale, as fitted

    def rows_for(self, kept: int) -> int:
        """How many words a table lists: the kept ones and the next, at least 6."""
        return min(len(self.trace.vocab), max(6, kept + 1), TABLE_ROWS)

    # ---- steps ------------------------------------------------------------------------------

    def step_logits(self) -> None:
        theme, t = self.theme, self.trace
        read = self.words_read()
        shown = [int(i) for i in t["sample.shown"]]
        size = NOTE
        row_h = 0.36
        rows = [[self.count(r + 1, size), self.word(w, size + 2),
                 self.number("sample.logits", (w,), 2, size + 2)] for r, w in enumerate(shown)]
        head = [self.prose("rank", size), self.prose("word", size), self.prose("logit z", size)]
        widths = [max(m.width for m in col) for col in zip(*rows, head, strict=True)]
        gaps, aligns = [0.0, 0.4, 0.5], ["right", "left", "right"]
        table = self.table(rows, widths, gaps, row_h, aligns)
        header = self.table([head], widths, gaps, row_h, aligns).shift(UP * row_h)
        more = len(t.vocab) - len(shown)
        rest = self.line(self.prose("and", size), self.count(more, size),
                         self.prose("more words, each with its logit", size))
        rest.next_to(table, DOWN, buff=0.3).align_to(table, LEFT)
        body = VGroup(header, table, rest)
        total = self.line(self.prose("the vocabulary has", size),
                          self.count(len(t.vocab), size, theme.text),
                          self.prose("words: one logit each, z = h · W_U + b_U", size))
        group = VGroup(read, total, body).arrange(DOWN, buff=0.4, aligned_edge=LEFT)
        self.fit(group)
        self.play(*self.heading("One position's logits"), run_time=0.8)
        self.play(FadeIn(read), FadeIn(total), run_time=0.8)
        self.play(FadeIn(header), LaggedStart(*(FadeIn(VGroup(*r)) for r in rows),
                                              lag_ratio=0.1), run_time=1.5)
        self.play(FadeIn(rest), run_time=0.5)
        self.end_state(read, total, body, hold=2.5)

    def chart(self, j: int, pitch: float) -> VGroup:
        """Bars of softmax(z / T_j) over the shown words and one for the others, each with its
        probability above it and its word below, reading upwards."""
        theme, t = self.theme, self.trace
        shown = [int(i) for i in t["sample.shown"]]
        top = max(float(lookup(t, "sample.softmax_at").max()), float(t["sample.rest_at"].max()))
        bars, labels, values = VGroup(), VGroup(), VGroup()
        items = [("sample.softmax_at", (j, w), w) for w in shown] + [("sample.rest_at", (j,), None)]
        for n, (source, index, w) in enumerate(items):
            p = float(lookup(t, source)[index])
            height = CHART_HEIGHT * p / top  # the tallest bar of the three charts: CHART_HEIGHT
            bar = Rectangle(width=pitch * 0.62, height=max(height, 1e-4), stroke_width=0,
                            fill_color=theme.heat if w is not None else theme.muted,
                            fill_opacity=0.8)
            bar.move_to([n * pitch, height / 2, 0])
            bars.add(mark_drawn(bar, source, index, p, height=None))
            value = self.number(source, index, 2, MIN_FONT_SIZE)
            value.move_to([n * pitch, height + 0.08 + value.height / 2, 0])
            values.add(value)
            if w is not None:
                label = self.word(w, MIN_FONT_SIZE, theme.muted)
            else:
                label = self.prose("others", MIN_FONT_SIZE)
            label.rotate(PI / 2, about_point=np.zeros(3))
            label.shift([n * pitch - label.get_x(), -0.1 - label.get_top()[1], 0])
            labels.add(label)
        axis = Line([-pitch / 2, 0, 0], [(len(items) - 0.5) * pitch, 0, 0], stroke_width=1.5,
                    color=theme.muted)
        temp = float(t["sample.temperatures"][j])
        title = self.line(self.prose("T =", NOTE, theme.text),
                          self.number("sample.temperatures", (j,), 1 if temp % 1 else 0, NOTE))
        title.move_to([(len(items) - 1) * pitch / 2, CHART_HEIGHT + 0.55, 0])
        return VGroup(bars, values, labels, axis, title)

    def step_temperature(self) -> None:
        t = self.trace
        eq = formula(r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}", font_size=34,
                     color=self.theme.text)
        n_items = len(t["sample.shown"]) + 1
        left, right, _, _ = self.content_box()
        pitch = min(0.56, (right - left - 1.2) / (3 * n_items))
        charts = VGroup(*(self.chart(j, pitch) for j in range(len(t["sample.temperatures"]))))
        for c in charts:  # bottoms on one line
            c.shift(UP * -c[3].get_y())
        charts.arrange(RIGHT, buff=0.6, aligned_edge=DOWN)
        eq.next_to(charts, UP, buff=0.3)
        self.fit(eq, charts)
        self.play(*self.heading("Temperature"), *self.leave(), run_time=0.8)
        self.play(Write(eq), run_time=1.0)
        for c in charts:
            self.play(FadeIn(c[3]), FadeIn(c[2]), FadeIn(c[4]),
                      LaggedStart(*(GrowFromEdge(b, DOWN) for b in c[0]), lag_ratio=0.05),
                      run_time=1.0)
            self.play(FadeIn(c[1]), run_time=0.4)
        self.end_state(eq, charts, hold=3.0)

    def filter_table(self, part: str, kind: str) -> tuple[VGroup, int, float]:
        """The words by decreasing probability at the sampler's temperature: rank, word, p
        (with its bar), [the cumulative sum,] p′ after the filter (with its bar). Returns the
        table with its header, the number of kept words and the y of the cut."""
        theme, t = self.theme, self.trace
        order = [int(i) for i in t[f"sample.{part}.top_p.order"]] if kind == "top_p" else \
            [int(i) for i in np.argsort(-t[f"sample.{part}.tempered"], kind="stable")]
        kept_mask = t[f"sample.{part}.{kind}.kept"]
        kept = int(kept_mask.sum())
        n = self.rows_for(kept)
        size, row_h, bar_h = NOTE, 0.36, 0.18
        rows, bars = [], VGroup()
        for r, w in enumerate(order[:n]):
            keep = bool(kept_mask[w])
            color = theme.text if keep else theme.muted
            row = [self.count(r + 1, size), self.word(w, size + 2, color),
                   self.number(f"sample.{part}.tempered", (w,), 3, size, color)]
            if kind == "top_p":
                row.append(self.number(f"sample.{part}.top_p.cumsum", (r,), 3, size, color))
            row.append(self.number(f"sample.{part}.{kind}.probs", (w,), 3, size,
                                   theme.output if keep else theme.muted))
            rows.append(row)
        head = [self.prose("rank", size), self.prose("word", size), self.prose("p", size)]
        if kind == "top_p":
            head.append(self.prose("cumulative Σ", size))
        head.append(self.prose("p\u2032", size))
        widths = [max(m.width for m in col) for col in zip(*rows, head, strict=True)]
        gaps = [0.0, 0.35, 0.4] + ([0.5] if kind == "top_p" else []) + [0.5]
        aligns = ["right", "left", "right"] + (["right"] if kind == "top_p" else []) + ["right"]
        table = self.table(rows, widths, gaps, row_h, aligns)
        header = self.table([head], widths, gaps, row_h, aligns).shift(UP * row_h * 1.1)
        # p′ bars, right of their numbers
        x0 = rows[0][-1].get_right()[0] + 0.25
        for r, w in enumerate(order[:n]):
            bar = self.hbar(f"sample.{part}.{kind}.probs", (w,),
                            theme.output if kept_mask[w] else theme.muted, bar_h)
            bar.move_to([x0 + bar.width / 2, rows[r][1].get_y(), 0])
            bars.add(bar)
        cut_y = (min(m.get_bottom()[1] for m in rows[kept - 1])  # between the last kept row
                 + max(m.get_top()[1] for m in rows[kept]) if kept < n else 0.0) / 2  # and the next
        return VGroup(header, table, bars), kept, cut_y

    def cut_line(self, group: VGroup, y: float) -> DashedLine:
        return DashedLine([group.get_left()[0] - 0.1, y, 0], [group.get_right()[0] + 0.1, y, 0],
                          dash_length=0.08, stroke_width=2, color=self.theme.highlight)

    def rest_note(self, kept: int, shown: int, cut: bool) -> VGroup | None:
        """"and N more words, all cut (p′ = 0)" under a table that does not list every word."""
        more = len(self.trace.vocab) - shown
        if more <= 0:
            return None
        what = "more words, all cut: p\u2032 = 0" if cut else "more words"
        return self.line(self.prose("and", NOTE), self.count(more, NOTE), self.prose(what, NOTE))

    def step_top_k(self) -> None:
        theme, t = self.theme, self.trace
        group, kept, cut_y = self.filter_table("k", "top_k")
        n = self.rows_for(kept)
        pieces = [self.prose("k =", NOTE, theme.text)]
        pieces.append(self.count(int(t["sample.top_k"]), NOTE, theme.text))
        pieces.append(self.prose(": the kept words' probabilities add up to", NOTE))
        pieces.append(self.number("sample.k.top_k.mass", (), 3, NOTE))
        pieces.append(self.prose(", and p\u2032 = p divided by that", NOTE))
        top = self.line(*pieces)
        where = self.line(self.prose("at temperature", NOTE),
                          self.number("sample.temperature", (), 1, NOTE))
        self.show_filter("Top-k", "cut after", top, where, group, kept, cut_y, n)

    def step_top_p(self) -> None:
        theme = self.theme
        group, kept, cut_y = self.filter_table("p", "top_p")
        n = self.rows_for(kept)
        top = self.line(self.prose("p =", NOTE, theme.text),
                        self.number("sample.top_p", (), 2, NOTE, theme.text),
                        self.prose(": keep words while the sum before them is below p; the kept "
                                  "ones add up to", NOTE),
                        self.number("sample.p.top_p.mass", (), 3, NOTE))
        where = self.line(self.prose("at temperature", NOTE),
                          self.number("sample.temperature", (), 1, NOTE),
                          self.prose(", sorted by probability", NOTE))
        self.show_filter("Top-p (nucleus)", "Σ reaches p: keep", top, where, group, kept, cut_y, n)

    def show_filter(self, heading: str, cut_text: str, top, where, group, kept: int,
                    cut_y: float, n: int) -> None:
        """A filter's step: its lines above the table, the cut after the kept words (with
        ``cut_text`` and their count), the words left out of the table, then the bars."""
        theme, t = self.theme, self.trace
        rest = self.rest_note(kept, n, True)
        extras = [m for m in (rest,) if m is not None]
        cut = self.cut_line(group, cut_y) if kept < len(t.vocab) else None
        label = None
        if cut is not None:
            label = self.line(self.prose(cut_text, MIN_FONT_SIZE, theme.highlight),
                              self.count(kept, MIN_FONT_SIZE, theme.highlight))
            label.next_to(cut, RIGHT, buff=0.12)
        table = VGroup(group, *(m for m in (cut, label) if m is not None))
        for m in extras:
            m.next_to(table, DOWN, buff=0.25).align_to(table, LEFT)
        body = VGroup(VGroup(top, where).arrange(DOWN, buff=0.15, aligned_edge=LEFT), table,
                      *extras).arrange(DOWN, buff=0.35, aligned_edge=LEFT)
        self.fit(body)
        self.play(*self.heading(heading), *self.leave(), run_time=0.8)
        self.play(FadeIn(body[0]), FadeIn(group[0]), FadeIn(group[1]), run_time=1.0)
        if cut is not None:
            self.play(Create(cut), FadeIn(label), run_time=0.6)
        self.play(LaggedStart(*(GrowFromEdge(b, LEFT) for b in group[2]), lag_ratio=0.05),
                  *(FadeIn(m) for m in extras), run_time=1.0)
        self.end_state(body, hold=3.5)

    def step_draw(self) -> None:
        theme, t = self.theme, self.trace
        order = [int(i) for i in t["sample.chain.draw.order"]]
        choice = int(t["sample.chain.choice"])
        greedy = int(t["sample.chain.greedy"])
        final = "sample.chain.final"
        # the strip: each kept word's p′ as a stretch, most probable first
        segments, x = VGroup(), 0.0
        h = 0.5
        for n, w in enumerate(order):
            p = float(t[final][w])
            width = STRIP_WIDTH * p
            color = theme.heat if n % 2 == 0 else theme.muted  # the drawn one lights up later
            seg = Rectangle(width=max(width, 1e-4), height=h, stroke_width=1,
                            stroke_color=theme.background, fill_color=color, fill_opacity=0.55)
            seg.move_to([x + width / 2, 0, 0])
            segments.add(mark_drawn(seg, final, (w,), p, width=None))
            x += width
        # words under the stretches wide enough for them; the drawn word always
        labels, placed = VGroup(), []
        for n in sorted(range(len(order)), key=lambda n: (order[n] != choice, n)):
            w, seg = order[n], segments[n]
            label = self.word(w, MIN_FONT_SIZE, theme.muted)
            label.move_to([seg.get_x(), -h / 2 - 0.12 - label.height / 2, 0])
            box = (label.get_left()[0] - 0.05, label.get_right()[0] + 0.05)
            fits = label.width <= seg.width + 0.02 or w == choice
            if not fits or any(a < box[1] and box[0] < b for a, b in placed):
                continue
            placed.append(box)
            labels.add(label)
        u = float(t["sample.chain.u"])
        ux = STRIP_WIDTH * u
        pointer = Triangle(color=theme.highlight, fill_color=theme.highlight, fill_opacity=1,
                           stroke_width=0).scale(0.1).rotate(PI)
        pointer.move_to([ux, h / 2 + 0.1, 0])
        tick = Line([ux, -h / 2, 0], [ux, h / 2, 0], stroke_width=3, color=theme.highlight)
        u_label = self.line(self.prose("u =", NOTE, theme.highlight),
                            self.number("sample.chain.u", (), 2, NOTE, theme.highlight))
        u_label.next_to(pointer, UP, buff=0.08)
        strip = VGroup(segments, labels, tick, pointer, u_label)
        # the check by hand: the cumulative sum before the drawn word ≤ u < the sum with it
        k = order.index(choice)
        before = (self.number("sample.chain.draw.cumsum", (k - 1,), 3, NOTE) if k > 0
                  else self.count(0, NOTE, theme.text))
        check = self.line(self.prose("cumulative sum before", NOTE),
                          self.word(choice, NOTE + 2, theme.output), before,
                          self.prose("\u2264  u =", NOTE),
                          self.number("sample.chain.u", (), 3, NOTE),
                          self.prose("<", NOTE),
                          self.number("sample.chain.draw.cumsum", (k,), 3, NOTE),
                          self.prose("with it", NOTE))
        seed = self.line(self.prose("u is the first uniform number of seed", NOTE),
                         self.count(int(t["sample.seed"]), NOTE, theme.text),
                         self.prose("(numpy's default_rng): the same seed draws the same word",
                                   NOTE))
        drawn = self.line(self.prose("drawn:", 20, theme.text),
                          self.word(choice, 24, theme.output))
        greedy_line = self.line(self.prose("greedy decoding takes the largest logit:", NOTE),
                                self.word(greedy, NOTE + 4, theme.text),
                                self.prose("(z =", NOTE),
                                self.number("sample.logits", (greedy,), 2, NOTE),
                                self.prose(")", NOTE))
        result = VGroup(drawn, greedy_line).arrange(DOWN, buff=0.2, aligned_edge=LEFT)
        group = VGroup(seed, strip, check, result).arrange(DOWN, buff=0.4, aligned_edge=LEFT)
        left, right, bottom, top = self.content_box()
        fit_into(group, left, right, bottom, top)
        self.play(*self.heading("The draw"), *self.leave(), run_time=0.8)
        self.play(FadeIn(seed), LaggedStart(*(GrowFromEdge(s, LEFT) for s in segments),
                                            lag_ratio=0.05), FadeIn(labels), run_time=1.2)
        self.play(FadeIn(pointer), Create(tick), FadeIn(u_label), run_time=0.8)
        k_seg, k_label = segments[order.index(choice)], labels[0]  # the drawn word's
        self.play(FadeIn(check), k_seg.animate.set_fill(theme.output, opacity=0.9),
                  k_label.animate.set_color(theme.output), run_time=1.0)
        self.play(FadeIn(result), run_time=0.8)
        self.end_state(group, hold=4.0)

