"""What every head looks at: the head view and the model view of the trained Transformer.

    pattern = softmax(Q Kᵀ / √d_k + M)   one [query, key] matrix per layer and head

The head view sets the sentence twice side by side (the words that ask on the left, the words
they look at on the right) and draws a line from each word to each word it attends to, its
thickness and opacity set by the real weight; beside it the same head's weights as numbers.
The model view puts every layer and head in one grid of small heat-maps. For ``translate``:
encoder self-attention, the decoder's masked self-attention and cross-attention (French
positions looking at English words); for ``lm``: the causal heads of both layers.

Reads ``P.pattern`` and ``P.mask`` for every attention ``P`` of the model
(:func:`transformer_core.explain.attention_views`) and the trace's tokens. Each head's caption
comes from :func:`transformer_core.explain.describe_head`, computed from its weights.

Runs under Manim's CLI too: ``manim -ql scenes/heads.py HeadsScene``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from manim import (  # noqa: E402
    DOWN, LEFT, ORIGIN, RIGHT, UP, Create, FadeIn, FadeOut, LaggedStart, Line, VGroup, Write,
    config,
)

from scenes.toolkit.mobjects import (  # noqa: E402
    TokenRow, ValueMatrix, cell_width_for, fit_into,
)
from scenes.toolkit.provenance import mark, mark_drawn  # noqa: E402
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene, current_options, languages, load_trace, wrap,
)
from scenes.toolkit.style import LABEL, MIN_FONT_SIZE, NOTE, NUM  # noqa: E402
from scenes.toolkit.text import DIGIT_HEIGHT, label_text, plain_text  # noqa: E402
from transformer_core.explain import (  # noqa: E402
    attention_views, describe_head, links_above, lookup,
)

__all__ = ["HeadsScene", "LINE_MAX_WIDTH", "LINE_FLOOR", "line_style"]

LINE_MAX_WIDTH = 7.0  # stroke width of a line of weight 1
LINE_FLOOR = 0.02  # weights below this draw no line (it would be invisible)
HEAD_VIEW_GAP = 3.0  # at most, between the two columns of words of the head view
GRID_GAP = 0.3  # between the heat-maps of the model view
TITLE_H = 0.6  # a model-view column's title (two lines)
HEAD_LABEL_W = 0.9  # "head 1" right of the model view
MAX_CELL = 0.45  # the model view's cells at most this big
MIN_CELL = 0.21  # ... and at least this big: its row labels are lines of minimum-size text
SHORT_NAMES = {"encoder": "encoder", "masked": "decoder (masked)", "cross": "cross-attention",
               "causal": ""}
KIND_NAMES = {
    "encoder": "Encoder self-attention",
    "masked": "Decoder masked self-attention",
    "cross": "Cross-attention",
    "causal": "Causal self-attention",
}


def line_style(weight: float) -> tuple[float, float]:
    """(stroke width, opacity) of a head-view line for an attention weight: both in
    proportion to it."""
    return LINE_MAX_WIDTH * weight, weight


def token_sources(config, kind: str) -> tuple[str, str]:
    """The label sources of a view's queries and keys (``tokens`` or ``target_tokens``)."""
    decoder = "target_tokens" if config.mode == "encdec" else "tokens"
    if kind == "encoder":
        return "tokens", "tokens"
    if kind == "cross":
        return decoder, "tokens"
    return decoder, decoder


def head_caption(trace, view: dict, head: int,
                 langs: tuple[str, str] = ("English", "French")) -> str:
    """The step caption of one head: where it is and what it does, from its weights
    (``langs``: what a translation model's source and target are called)."""
    prefix, kind = view["prefix"], view["kind"]
    q_src, k_src = token_sources(trace.config, kind)
    nouns = (f"{langs[1]} word", f"{langs[0]} word") if kind == "cross" else ("word", "word")
    what = describe_head(trace[f"{prefix}.pattern"][head], lookup(trace, q_src),
                         lookup(trace, k_src), trace[f"{prefix}.mask"], kind == "cross", *nouns)
    return f"{KIND_NAMES[kind]}, layer {view['layer']}, head {head}: {what}."


class HeadsScene(StoryScene):
    """Every head of every layer: head views with weighted lines, and the model view."""

    # At 12 positions the head view's labels shrink just below the 480p size (measured by
    # tests/test_every_scene.py, which runs each scene at its limit); 12 is refused.
    max_tokens = 11

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        trace = load_trace(options.model, options.sentence, options.checkpoint)
        steps = [
            Step("title", "Each attention head asks its own question of the sentence; here is "
                          "what every head of the trained model looks at."),
            Step("model_view", "The model view: every layer and head at once, rows asking and "
                               "columns answered."),
        ]
        for view in attention_views(trace.config):
            for h in range(trace.config.n_heads):
                steps.append(Step(f"{view['kind']}_l{view['layer']}_h{h}",
                                  head_caption(trace, view, h, languages(options))))
        steps.append(Step("summary", "Read from the weights, each head has its own habit in "
                                     "this sentence, and together they give every word its "
                                     "context."))
        return steps

    def setup(self) -> None:
        super().setup()
        self.views = attention_views(self.trace.config)
        self.encdec = self.trace.config.mode == "encdec"

    def __getattr__(self, name: str):
        # step_<kind>_l<layer>_h<head>: one head view per head, named in the storyboard
        if name.startswith("step_"):
            for view in self.__dict__.get("views", ()):
                for h in range(self.trace.config.n_heads):
                    if name == f"step_{view['kind']}_l{view['layer']}_h{h}":
                        return lambda view=view, h=h: self.head_view(view, h)
        raise AttributeError(name)

    # ---- helpers ----------------------------------------------------------------------------

    def label(self, source: str, index: int, size: float = LABEL, color: str | None = None):
        """A token of the sentence, marked with its position; baseline at y = 0, left at 0."""
        text = str(lookup(self.trace, source)[index])
        return mark(label_text(text, size, color or self.theme.text), "token", source,
                    (index,), text)

    def word_column(self, source: str, n: int, pitch: float, align: str, size: float = LABEL):
        """``n`` tokens one under the other, ``pitch`` apart, their right (``align="right"``)
        or left edges at x = 0, row ``i`` centred at y = −i · pitch."""
        column = VGroup()
        for i in range(n):
            mob = self.label(source, i, size)
            cap = size * DIGIT_HEIGHT
            mob.shift([-mob.get_right()[0] if align == "right" else -mob.get_left()[0],
                       -i * pitch - cap / 2, 0])
            column.add(mob)
        return column

    def head_lines(self, prefix: str, head: int, x0: float, x1: float, pitch: float) -> VGroup:
        """A line from each query word (row ``q`` at y = −q · pitch, ending at x0) to each key
        word it attends to (starting at x1): width and opacity from the weight
        (:func:`line_style`), weakest drawn first; each line is marked with the weight it
        shows (:func:`~scenes.toolkit.provenance.mark_drawn`)."""
        source = f"{prefix}.pattern[{head}]"
        pattern = lookup(self.trace, source)
        links = sorted(links_above(pattern, LINE_FLOOR), key=lambda qk: pattern[qk])
        lines = VGroup()
        for q, k in links:
            weight = float(pattern[q, k])
            width, opacity = line_style(weight)
            start, end = [x0, -q * pitch, 0], [x1, -k * pitch, 0]
            line = Line(start, end, stroke_width=width, stroke_opacity=opacity,
                        color=self.theme.heat)
            lines.add(mark_drawn(line, source, (q, k), weight, stroke_width=LINE_MAX_WIDTH,
                                 stroke_opacity=1.0))
        return lines

    @staticmethod
    def short_name(view: dict) -> str:
        """A model-view column's title: the attention's kind over its layer."""
        name = SHORT_NAMES[view["kind"]]
        return f"{name}\nlayer {view['layer']}" if name else f"layer {view['layer']}"

    def view_name(self, view: dict) -> str:
        return f"{KIND_NAMES[view['kind']]}, layer {view['layer']}"

    # ---- steps ------------------------------------------------------------------------------

    def step_title(self) -> None:
        theme, t = self.theme, self.trace
        title = plain_text("What every head looks at", 44, theme.text)
        rows = VGroup()
        langs = languages(self.options)
        readers = ([(langs[0], "tokens"), (langs[1], "target_tokens")] if self.encdec
                   else [("sentence", "tokens")])
        for name, source in readers:
            rows.add(VGroup(self.note(name, 20), TokenRow(t, source, theme, font_size=24))
                     .arrange(RIGHT, buff=0.3))
        rows.arrange(DOWN, buff=0.3, aligned_edge=LEFT)
        sample = VGroup(
            Line(ORIGIN, RIGHT * 1.2, stroke_width=line_style(0.9)[0], color=theme.heat,
                 stroke_opacity=line_style(0.9)[1]),
            self.note("strong attention: a thick, opaque line", 18),
            Line(ORIGIN, RIGHT * 1.2, stroke_width=line_style(0.25)[0], color=theme.heat,
                 stroke_opacity=line_style(0.25)[1]),
            self.note("weak: thin and faint", 18),
        ).arrange(RIGHT, buff=0.25)
        n_heads = t.config.n_heads * len(self.views)
        kinds = ", ".join(KIND_NAMES[v["kind"]].lower() + (f" {v['layer']}" if t.config.n_dec_layers > 1
                                                            else "") for v in self.views)
        count = self.note(f"{n_heads} heads: {t.config.n_heads} in each of {kinds}", 20)
        group = VGroup(title, rows, count, sample).arrange(DOWN, buff=0.5)
        left, right, bottom, top = self.content_box()
        fit_into(group, left, right, bottom, top + 0.6)
        self.play(Write(title), run_time=1.0)
        self.play(FadeIn(rows), FadeIn(count), run_time=1.2)
        self.play(FadeIn(sample), run_time=0.8)
        self.end_state(title, rows, count, sample, hold=2.0)

    def model_view_layout(self) -> tuple[float, list[float], float]:
        """(cell side, query-label width per column, height of the key labels) that fit the
        model view in the content box; a column whose queries are those of the column to
        its left gets no labels of its own."""
        t, cfg = self.trace, self.trace.config
        sources = [token_sources(cfg, v["kind"]) for v in self.views]

        def widest(source: str) -> float:
            return max(label_text(str(w), MIN_FONT_SIZE, self.theme.muted).width
                       for w in lookup(t, source))

        label_w = [0.0 if i and sources[i - 1][0] == q else widest(q) + 0.2
                   for i, (q, _) in enumerate(sources)]
        key_h = max(widest(k) for _, k in sources) + 0.15
        nq = max(len(lookup(t, q)) for q, _ in sources)
        nk = sum(len(lookup(t, k)) for _, k in sources)
        left, right, bottom, top = self.grid_box()
        width = right - left - sum(label_w) - GRID_GAP * len(sources) - HEAD_LABEL_W
        height = top - bottom - TITLE_H - key_h - GRID_GAP * (cfg.n_heads - 1)
        return min(MAX_CELL, width / nk, height / (nq * cfg.n_heads)), label_w, key_h

    def grid_box(self) -> tuple[float, float, float, float]:
        """The content box of the model view, which has no heading (its columns have titles):
        up to the top of the frame."""
        left, right, bottom, _ = self.content_box()
        return left, right, bottom, config.frame_height / 2 - 0.25

    def step_model_view(self) -> None:
        t, theme, cfg = self.trace, self.theme, self.trace.config
        sources = [token_sources(cfg, v["kind"]) for v in self.views]
        c, label_w, _ = self.model_view_layout()
        if c < MIN_CELL:
            raise ValueError(f"the model view does not fit {len(t.tokens)} words at a readable "
                             f"size; give a shorter sentence")
        row_h = max(len(lookup(t, q)) for q, _ in sources) * c + GRID_GAP
        maps, titles, x = VGroup(), VGroup(), 0.0
        for i, (view, (q_src, k_src)) in enumerate(zip(self.views, sources, strict=True)):
            x += label_w[i]
            for h in range(cfg.n_heads):
                m = ValueMatrix(t, f"{view['prefix']}.pattern[{h}]", theme, cell_w=c, cell_h=c,
                                font_size=MIN_FONT_SIZE, label_font_size=MIN_FONT_SIZE,
                                row_labels=q_src if label_w[i] else None,
                                col_labels=k_src if h == 0 else None, rotate_col_labels=True,
                                show_numbers=False, sequential=True, vmax=1.0)
                m.shift(np.array([x + c / 2, -h * row_h - c / 2, 0]) - m.cell_centre(0, 0))
                maps.add(m)
                if h == 0:
                    title = self.note(self.short_name(view), MIN_FONT_SIZE, theme.text)
                    title.next_to(m.col_labels, UP, buff=0.12).set_x(m.brackets.get_x())
                    titles.add(title)
            x += len(lookup(t, k_src)) * c + GRID_GAP
        heads = VGroup()
        for h in range(cfg.n_heads):
            last = maps[len(maps) - cfg.n_heads + h]
            head = self.note(f"head {h}", MIN_FONT_SIZE, theme.text)
            head.next_to(last.brackets, RIGHT, buff=0.2).set_y(-h * row_h - row_h / 2 + GRID_GAP / 2)
            heads.add(head)
        left, right, bottom, top = self.grid_box()
        fit_into(VGroup(maps, titles, heads), left, right, bottom, top)
        gone = [FadeOut(self.heading_mob)] if self.heading_mob is not None else []
        self.heading_mob = None
        self.play(*gone, *self.leave(), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(m) for m in maps), lag_ratio=0.15), FadeIn(titles),
                  FadeIn(heads), run_time=2.4)
        self.end_state(maps, titles, heads, hold=3.0)

    def head_view_parts(self, view: dict, head: int, pitch: float,
                        gap: float = HEAD_VIEW_GAP) -> tuple[VGroup, ...]:
        """The head view's pieces with rows ``pitch`` apart and ``gap`` between the columns of
        words: the two columns, the lines, the column titles, the matrix of weights and the
        notes under them."""
        t, theme = self.trace, self.theme
        prefix, kind = view["prefix"], view["kind"]
        q_src, k_src = token_sources(t.config, kind)
        nq, nk = len(lookup(t, q_src)), len(lookup(t, k_src))
        size = 20 if pitch >= 0.45 else (LABEL if pitch >= 0.3 else MIN_FONT_SIZE)
        num = NUM if pitch >= 0.3 else MIN_FONT_SIZE
        left = self.word_column(q_src, nq, pitch, "right", size)
        right = self.word_column(k_src, nk, pitch, "left", size)
        source = f"{prefix}.pattern[{head}]"
        heat = ValueMatrix(t, source, theme, cell_w=cell_width_for(lookup(t, source), 2, num,
                                                                   pad=0.14),
                           cell_h=pitch, font_size=num, label_font_size=MIN_FONT_SIZE,
                           row_labels=q_src, col_labels=k_src, rotate_col_labels=True,
                           sequential=True, vmax=1.0)
        right.shift(RIGHT * (gap + 0.24))
        lines = self.head_lines(prefix, head, 0.12, gap + 0.12, pitch)
        langs = languages(self.options)
        names = (f"{langs[1]} (queries)", f"{langs[0]} (keys)") if kind == "cross" else (
            "queries", "keys")
        tops = VGroup(self.note(names[0], NOTE).next_to(left, UP, buff=0.3).align_to(left, LEFT),
                      self.note(names[1], NOTE).next_to(right, UP, buff=0.3).align_to(right, LEFT))
        tops[1].align_to(tops[0], DOWN)
        heat.shift(RIGHT * (right.get_right()[0] + 0.8 - heat.row_labels.get_left()[0])
                   + UP * (left[0].get_y() - heat.cell_centre(0, 0)[1]))
        extra = VGroup()
        if kind in ("masked", "causal"):
            extra.add(self.note("masked: no line reaches a later word", NOTE))
        extra.add(self.note("line thickness and opacity: the weight in the matrix", NOTE))
        extra.arrange(RIGHT, buff=0.6)
        extra.next_to(VGroup(left, right, lines, tops, heat), DOWN, buff=0.35).align_to(left, LEFT)
        return left, right, lines, tops, heat, extra

    def head_view(self, view: dict, head: int) -> None:
        """One head: the sentence twice with a line per weight, and its weights as numbers."""
        t = self.trace
        q_src, k_src = token_sources(t.config, view["kind"])
        n = max(len(lookup(t, q_src)), len(lookup(t, k_src)))
        left_x, right_x, bottom, top = self.content_box()
        # rows as far apart as the frame allows (then closer, rather than shrinking the text)
        pitch, gap = min(0.55, (top - bottom - 2.2) / n), HEAD_VIEW_GAP
        for _ in range(4):
            parts = self.head_view_parts(view, head, pitch, gap)
            group = VGroup(*parts)
            if group.width > right_x - left_x and gap > 1.2:  # the lines give up width first
                gap = max(1.2, gap - (group.width - (right_x - left_x)) - 0.05)
                continue
            factor = min((right_x - left_x) / group.width, (top - bottom) / group.height)
            if factor >= 1.0:
                break
            pitch *= factor * 0.98
        left, right, lines, tops, heat, extra = parts
        self.fit(*parts)
        heading = f"{KIND_NAMES[view['kind']]}, layer {view['layer']}, head {head}"
        self.play(*self.heading(heading), *self.leave(), run_time=0.8)
        self.play(FadeIn(left), FadeIn(right), FadeIn(tops), run_time=0.8)
        self.play(LaggedStart(*(Create(line) for line in lines), lag_ratio=0.03), run_time=1.6)
        self.play(FadeIn(heat), FadeIn(extra), run_time=1.0)
        self.end_state(*parts, hold=2.5)

    def step_summary(self) -> None:
        t, theme = self.trace, self.theme
        lines, y = VGroup(), 0.0
        for view in self.views:
            name = self.note(self.view_name(view), 20, theme.text)
            name.shift([-name.get_left()[0], y - name.get_y(), 0])
            lines.add(name)
            y -= 0.55
            for h in range(t.config.n_heads):
                what = head_caption(t, view, h, languages(self.options)).split(": ", 1)[1]
                what = what.rstrip(".")
                # a long description (several named behaviours) wraps rather than shrinking
                # every line below the readable size
                text = wrap(f"head {h}: {what}", 78)
                n = text.count("\n") + 1
                line = self.note(text, 18)
                line.shift([0.45 - line.get_left()[0], y - 0.17 * (n - 1) - line.get_y(), 0])
                lines.add(line)
                y -= 0.48 + 0.34 * (n - 1)
            y -= 0.2
        self.fit(lines)
        self.play(*self.heading("Every head, in this sentence"), *self.leave(), run_time=0.8)
        self.play(LaggedStart(*(FadeIn(r) for r in lines), lag_ratio=0.15), run_time=2.0)
        self.end_state(lines, hold=3.0)
