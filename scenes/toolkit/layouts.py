"""Layouts shared by the scenes: placing matrices, products, sums, lines of prose and numbers.

:class:`Layouts` is mixed into :class:`scenes.toolkit.storyboard.StoryScene`, so every scene has
these methods; they read the scene's ``trace``, ``theme`` and its focus (``prefix``, ``block``,
``stack``, ``tok``, ``h``: the attention layer and head the options point to, set by
:meth:`Layouts.focus`). They lay mobjects out and never compute maths: every number they place is
a trace value (or a :mod:`transformer_core.explain` source) marked with its provenance.
"""

from __future__ import annotations

import numpy as np
from manim import (
    DOWN, LEFT, RIGHT, UP, AnimationGroup, Create, FadeIn, FadeOut, LaggedStart,
    ReplacementTransform, VGroup, Wait, config,
)

from transformer_core.explain import attention_prefix, format_value, lookup, resolve

from .mobjects import (
    ValueMatrix, attention_heatmap, cell_height_for, cell_width_for, fit_into, formula, window,
)
from .provenance import mark
from .style import GAP, LABEL, NOTE, NUM, SUM_NUM
from .text import FlatText, label_text, number_text, plain_text

__all__ = ["Layouts", "FOLD_ROWS", "DIM_SLOTS", "is_gap_row"]

# Row slots of a matrix with one row per word in a stacked layout (a product, a sum): six rows
# fit the frame with every number at 480p size; a longer sentence shows its first and last
# words and the worked one, a ⋮ standing for the rest.
FOLD_ROWS = 6
# Column slots of a matrix with one column per dimension: the tiny models' 8 all fit; a big
# model's 576 (or 64 per head) show their first and last ones and the worked one.
DIM_SLOTS = 8


def is_gap_row(row: list) -> bool:
    """Whether a table row made by :meth:`Layouts.gapped` stands for positions left out."""
    return any(getattr(m, "is_gap", False) for m in row if m is not None)


class Layouts:
    """Layout helpers for a scene with ``self.trace``, ``self.theme`` and ``self.options``."""

    def focus(self) -> None:
        """The attention layer and head the options point to: ``prefix`` (``P`` of
        ``P.q``, ``P.pattern``...), its ``block`` and ``stack``, the token source ``tok`` its
        rows are labelled with, the number of rows ``n``, the head ``h``, and whether
        its attention is ``causal`` (masked)."""
        cfg, t = self.trace.config, self.trace
        self.h = self.options.head
        self.prefix = attention_prefix(cfg, self.options.layer)
        self.block = self.prefix.rsplit(".", 1)[0]
        self.stack = self.prefix.split(".", 1)[0]
        self.tok = ("target_tokens" if self.stack == "decoder" and cfg.mode == "encdec"
                    else "tokens")
        self.n = len(lookup(t, self.tok))
        self.causal = bool(not np.all(t[f"{self.prefix}.mask"]))
        # Today's block: attention reads the normed rows (pre-norm) and scores rotated q, k.
        self.pre = cfg.norm_position == "pre"
        self.rope = cfg.positions == "rope"
        self.x_in = f"{self.block}.ln1.out" if self.pre else f"{self.block}.resid_pre"
        self.x_tex = r"\hat{X}" if self.pre else "X"  # the matrix Q = X · W_Q multiplies
        self.q_name, self.k_name = ("q_rot", "k_rot") if self.rope else ("q", "k")

    def fold(self, budget: int | None = FOLD_ROWS, keep=()) -> list[int]:
        """The positions drawn by a matrix with one row per word: all of them when they fit
        in ``budget`` slots, else the first and last ones and the worked row (``qi``, when the
        scene has one: ``worked_row``) and ``keep``, with a ⋮ for each run left out."""
        worked = getattr(self, "worked_row", None)
        return window(self.n, budget, [*keep, *([] if worked is None else [worked])])

    def gapped(self, rows: list[list], shown: list[int], n: int,
               dots_in: tuple[int, ...] = (0, 1), size: float = NOTE) -> list[list]:
        """Table rows of the positions ``shown`` (of ``n``), with a row of ⋮ (in columns
        ``dots_in``) wherever positions are left out."""
        def dots_row(width: int) -> list:
            row = []
            for k in range(width):
                dots = None
                if k in dots_in:
                    dots = label_text("⋮", size, self.theme.muted)
                    dots.kind, dots.is_gap = "prose", True
                row.append(dots)
            return row

        out, previous = [], -1
        for i, row in zip(shown, rows, strict=True):
            if i - previous > 1:
                out.append(dots_row(len(row)))
            out.append(row)
            previous = i
        if previous < n - 1:
            out.append(dots_row(len(rows[0])))
        return out

    def dims(self, n: int, keep=(), budget: int = DIM_SLOTS) -> list[int]:
        """The dimensions drawn of an axis of ``n``: all of a tiny model's, else the first and
        last ones and ``keep`` (the worked column) in ``budget`` slots, a ⋯ for the rest."""
        return list(range(n)) if n <= DIM_SLOTS else window(n, budget, keep)

    def tokens_to_labels(self, tokens, m: ValueMatrix) -> list:
        """A row of token boxes' words becoming ``m``'s row labels: the words of the rows
        drawn move onto their labels, the others fade out."""
        anims = []
        for i, tok in enumerate(tokens):
            if i in m.row_ids:
                anims.append(ReplacementTransform(tok, m.row_label(i)))
            else:
                anims.append(FadeOut(tok))
        return anims

    def src(self, name: str) -> str:
        """Source of this head's slice of an attention record, e.g. ``P.q[h]``; keys and
        values (and W_K, W_V) of the K/V head this query head shares, with grouped-query
        attention."""
        return f"{self.prefix}.{name}[{self.kv_index(name)}]"

    def kv_index(self, name: str) -> int:
        """Index of this head in record ``name``: the K/V head (h // group) for keys and values."""
        if name.split(".")[-1] in ("k", "v", "k_rot", "W_K", "W_V"):
            return self.h // self.trace.config.group
        return self.h

    def content_box(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) of the area below the heading and above the caption."""
        w = config.frame_width / 2
        return -w + 0.3, w - 0.3, self.caption_top, config.frame_height / 2 - 0.85

    def fit(self, *mobs) -> VGroup:
        """Centre ``mobs`` (as one group) in the content box, shrinking only if needed."""
        left, right, bottom, top = self.content_box()
        return fit_into(VGroup(*mobs), left, right, bottom, top)

    def matrix(self, source: str, **kwargs) -> ValueMatrix:
        return ValueMatrix(self.trace, source, self.theme, **kwargs)

    def square(self, source: str, cw: float, heat: bool = False, **kwargs) -> ValueMatrix:
        """A query × key matrix with token labels on both axes."""
        if heat:
            return attention_heatmap(self.trace, source, self.theme, self.tok, cell_w=cw,
                                     cell_h=cell_height_for(NUM), **kwargs)
        return self.matrix(source, row_labels=self.tok, col_labels=self.tok, cell_w=cw,
                           cell_h=cell_height_for(NUM), **kwargs)

    def token_cell_width(self, *arrays: np.ndarray) -> float:
        """A cell width that fits the numbers and the token labels above the columns."""
        labels = max(plain_text(str(t), LABEL, self.theme.muted).width
                     for t in lookup(self.trace, self.tok))
        return max(max(cell_width_for(a, 2, NUM) for a in arrays), labels + 0.14)

    @staticmethod
    def product_layout(a: ValueMatrix, b: ValueMatrix, c: ValueMatrix, gap_v: float) -> None:
        """C = A · B drawn as a crossing: A left of C with rows aligned, B above C with
        columns aligned (the worked dot product then sits above A, beside B's rows)."""
        c0 = c.cell_centre(c.row_ids[0], c.col_ids[0])
        a.shift(c0 - a.cell_centre(c.row_ids[0], a.col_ids[-1])
                - RIGHT * (a.cell_w / 2 + c.cell_w / 2 + GAP))
        b.shift(c0 - b.cell_centre(b.row_ids[-1], c.col_ids[0])
                + UP * (b.cell_h / 2 + c.cell_h / 2 + gap_v))

    def note(self, text: str, size: float = NOTE, color: str | None = None) -> FlatText:
        mob = plain_text(text, size, color or self.theme.muted)
        mob.kind = "prose"
        return mob

    def leave(self, *keep) -> list:
        """Fade out everything on screen but the caption, the heading and ``keep``."""
        return [FadeOut(m) for m in self.mobjects
                if m not in (self.caption_mobject, self.heading_mob, *keep)]

    def sum_layout(self, sources: tuple[str, str, str], titles: tuple[str, str, str],
                   font_size: float = SUM_NUM, rows: list[int] | None = None) -> tuple:
        """C = A + B for three [pos, d_model] records: A and B side by side with their rows
        aligned and "+" between them, C under A with its columns aligned, a title above each.
        The space under B is left free for a panel. ``rows``: the positions drawn (default:
        :meth:`fold`). Returns ``(a, b, c, plus, titles)``."""
        t, theme = self.trace, self.theme
        rows = self.fold() if rows is None else rows
        cw = max(cell_width_for(lookup(t, s)[rows], 2, font_size, pad=0.1) for s in sources)
        ch = cell_height_for(font_size)
        kw = dict(cell_w=cw, cell_h=ch, font_size=font_size, rows=rows)
        a = self.matrix(sources[0], row_labels=self.tok, col_labels="dim", **kw)
        b = self.matrix(sources[1], col_labels="dim", **kw)
        c = self.matrix(sources[2], row_labels=self.tok, **kw)
        b.shift(a.cell_centre(a.row_ids[0], a.col_ids[-1]) + RIGHT * (cw + 0.5)
                - b.cell_centre(b.row_ids[0], b.col_ids[0]))
        plus = plain_text("+", 24, theme.text)
        plus.move_to([(a.brackets.get_right()[0] + b.brackets.get_left()[0]) / 2,
                      a.brackets.get_y(), 0])
        c.shift(a.cell_centre(a.row_ids[-1], a.col_ids[0]) + DOWN * (2 * ch + 0.3)
                - c.cell_centre(c.row_ids[0], c.col_ids[0]))
        heads = VGroup()
        for k, (text, m) in enumerate(zip(titles, (a, b, c), strict=True)):
            head = self.note(text, NOTE, theme.text)
            above = m.col_labels if len(m.col_labels) else m.brackets
            head.next_to(above, UP, buff=0.15 if k < 2 else 0.12)
            head.align_to(m.brackets, LEFT)
            heads.add(head)
        return a, b, c, plus, heads

    def play_sum(self, a: ValueMatrix, b: ValueMatrix, c: ValueMatrix, extra=()) -> None:
        """Each row of C appears from copies of the same rows of A and B (C not on screen)."""
        rows = []
        for i in c.row_ids:
            rows.append(AnimationGroup(
                FadeOut(a.row(i).copy(), target_position=c.row_rect(i).get_center()),
                FadeIn(c.row(i)),
                FadeOut(b.row(i).copy(), target_position=c.row_rect(i).get_center()),
                FadeIn(c.row_label(i)) if len(c.row_labels) else Wait(0)))
        self.play(Create(c.brackets), FadeIn(c.ellipses), *extra, run_time=0.6)
        self.play(LaggedStart(*rows, lag_ratio=0.25), run_time=2.0)

    def inline(self, *pieces, size: float = NOTE) -> VGroup:
        """One line of prose and numbers on a common baseline. A piece is a string (prose) or
        ``(source, index, decimals)``: the number it names, marked with its source."""
        theme, line, x = self.theme, VGroup(), 0.0
        for piece in pieces:
            if isinstance(piece, str):
                mob = label_text(piece, size, theme.muted)
                mob.kind = "prose"
                gap = 0.06 if piece[:1] in ",):]" else 0.1
            else:
                source, index, decimals = piece
                value = resolve(self.trace, source, index)
                text = format_value(value, decimals)
                mob = number_text(text, size, theme.text)
                mob.shift(-mob.get_corner(DOWN + LEFT))  # digits sit on the baseline
                mark(mob, "dim" if source == "dim" else "number", source, index, text, decimals)
                gap = 0.1
            if len(line):
                tight = getattr(line[-1], "text", "")[-1:] in ("√", "(", "[")
                x += 0.03 if tight else gap
            mob.shift([x - mob.get_left()[0], 0, 0])
            x = mob.get_right()[0]
            line.add(mob)
        return line

    def embed_panel(self, stack: str, x: ValueMatrix) -> VGroup:
        """Beside X: how the embedding is scaled (√d_model) and the positional-encoding
        formula, with one entry of PE worked out (its angle and its sine or cosine)."""
        theme, t = self.theme, self.trace
        scale = self.inline("embedding = row of W_E × √d_model = √",
                            ("config:d_model", (), 0), "=", ("explain.sqrt(config:d_model)", (), 2))
        eq = formula(r"PE_{(pos,\,2i)} &= \sin\!\left(pos / 10000^{2i/d_{model}}\right)",
                     r"\\",
                     r"PE_{(pos,\,2i+1)} &= \cos\!\left(pos / 10000^{2i/d_{model}}\right)",
                     font_size=28, color=theme.text)
        # one worked entry: the last position, column 2 (2i = 2), a sine
        pos, col = len(lookup(t, self.tok)) - 1, 2
        angle_src = f"explain.pe_angle({stack}.pos_embed, config:d_model)"
        worked = self.inline("e.g. position", ("dim", (pos,), 0), ", column",
                             ("dim", (col,), 0), ":   sin(", (angle_src, (pos, col), 2), ")  =",
                             (f"{stack}.pos_embed", (pos, col), 2))
        pe_part = VGroup(eq, worked).arrange(DOWN, buff=0.25, aligned_edge=LEFT)
        panel = VGroup(scale, pe_part).arrange(DOWN, buff=0.35, aligned_edge=LEFT)
        panel.next_to(x.brackets, RIGHT, buff=0.6).align_to(x.brackets, UP)
        return panel

    def word(self, word_id: int, size: float = NOTE + 2, color: str | None = None):
        """A word of the output vocabulary, marked with its id."""
        text = str(self.trace.vocab[word_id])
        mob = label_text(text, size, color or self.theme.text)
        return mark(mob, "token", "vocab", (word_id,), text)

    def number(self, source: str, index: tuple, decimals: int = 2, size: float = NOTE + 2,
               color: str | None = None):
        value = float(lookup(self.trace, source)[index])
        text = format_value(value, decimals)
        mob = number_text(text, size, color or self.theme.text)
        mob.shift(-mob.get_corner(DOWN + LEFT))  # on the baseline, left edge at x = 0
        return mark(mob, "number", source, index, text, decimals)

    def token_label(self, source: str, index: int, size: float = NOTE + 2,
                    color: str | None = None):
        text = str(lookup(self.trace, source)[index])
        mob = label_text(text, size, color or self.theme.muted)
        return mark(mob, "token", source, (index,), text)

    @staticmethod
    def table(rows: list[list], widths: list[float], gaps: list[float], row_h: float,
              aligns: list[str]) -> VGroup:
        """Place mobjects (or None), whose baselines are at y = 0, in columns: column k is
        ``widths[k]`` wide and starts ``gaps[k]`` after the previous one; ``aligns[k]`` puts
        its items at its "left" or "right" edge. Rows are ``row_h`` apart."""
        table = VGroup()
        for i, row in enumerate(rows):
            x = 0.0
            for mob, w, gap, align in zip(row, widths, gaps, aligns, strict=True):
                x += gap
                if mob is not None:
                    edge = x if align == "left" else x + w
                    mob.shift([edge - (mob.get_left()[0] if align == "left"
                                       else mob.get_right()[0]), -i * row_h, 0])
                    table.add(mob)
                x += w
        return table
