"""The paper's architecture figure, drawn with Manim, with this sentence flowing through it.

    encoder:  X = Embedding·√d_model + PE → [Multi-Head Attention, Add & Norm, Feed Forward,
              Add & Norm] × N
    decoder:  (output shifted right) → Embedding·√d_model + PE → [Masked Multi-Head Attention,
              Add & Norm, Multi-Head Attention over the encoder's output, Add & Norm,
              Feed Forward, Add & Norm] × N → Linear → Softmax → output probabilities

With ``lm`` the figure is the decoder-only stack (no encoder, no cross-attention). At each
arrow a small heat-map of the real tensor there appears: ``S.blocks.0.resid_pre`` (X), the
Add & Norm outputs ``S.blocks.L.ln1/ln2/ln3.out``, ``logits`` and ``probs``; the tokens
(``tokens``, ``target_tokens``) enter at the bottom and the most probable next word of each
position (:func:`transformer_core.explain.top_k_ids`) comes out at the top: for ``translate``
this one run reads the whole translation, as training does (teacher forcing), and writing word
by word is the ``generate`` scene. Each box names the scene that explains it, so the figure is
the catalogue's table of contents.

Runs under Manim's CLI too: ``manim -ql scenes/overview.py OverviewScene``.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

if importlib.util.find_spec("scenes") is None:  # run as a file by Manim's CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from manim import (  # noqa: E402
    DOWN, LEFT, PI, RIGHT, UP, Arrow, Create, FadeIn, LaggedStart, Line, Rectangle,
    VGroup, VMobject, config,
)

from scenes.toolkit.mobjects import ValueMatrix, rounded_box  # noqa: E402
from scenes.toolkit.provenance import mark  # noqa: E402
from scenes.toolkit.storyboard import (  # noqa: E402
    SceneOptions, Step, StoryScene, current_options, decoder_only, modern_block,
)
from scenes.toolkit.text import DIGIT_HEIGHT, label_text, number_text  # noqa: E402
from transformer_core.explain import VOCAB_COLUMNS, lookup, top_k_ids  # noqa: E402

__all__ = ["OverviewScene"]

TEXT = 14  # every label of the figure: the figure must read as an SVG 800 px wide
BOX_W, BOX_H = 4.1, 0.32  # a box of the figure
GAP = 0.2  # between boxes outside a block (room for an arrow)
BLOCK_GAP = 0.12  # between the boxes inside a block
PAD = 0.09  # inside a block's frame
MAP_W = 1.9  # width of the column of heat-maps beside each stack
MAP_ROWS_H = 0.75  # the most height a heat-map's rows may take
MAP_GAP = 0.14  # between heat-maps
MAX_BLOCK_MAPS = 4  # a deeper model's blocks: the first's and the last's output only
MID_GAP = 0.7  # between the encoder and the decoder (the encoder's output crosses it)
LINE = 0.27  # line pitch of wrapped words


@dataclass(frozen=True)
class Box:
    key: str  # "enc.attn", "dec.cross" ...
    text: str  # the paper's name
    scene: str  # the scene that explains it
    color: str  # theme attribute naming its stroke colour


ENCODER = [Box("attn", "Multi-Head Attention", "attention", "query"),
           Box("norm1", "Add & Norm", "multihead", "muted"),
           Box("ffn", "Feed Forward", "multihead", "value"),
           Box("norm2", "Add & Norm", "multihead", "muted")]
DECODER = [Box("attn", "Masked Multi-Head Attention", "decoder", "query"),
           Box("norm1", "Add & Norm", "multihead", "muted"),
           Box("cross", "Multi-Head Attention", "decoder", "key"),
           Box("norm2", "Add & Norm", "multihead", "muted"),
           Box("ffn", "Feed Forward", "multihead", "value"),
           Box("norm3", "Add & Norm", "multihead", "muted")]
LM_BLOCK = [DECODER[0], DECODER[1], DECODER[4], Box("norm2", "Add & Norm", "multihead", "muted")]
# Today's block (pre-norm): each sub-layer reads a normed copy and adds into the stream.
MODERN_BLOCK = [Box("norm1", "RMSNorm", "multihead", "muted"),
                Box("attn", "Masked Attention, RoPE", "attention", "query"),
                Box("add1", "+ into the residual stream", "multihead", "highlight"),
                Box("norm2", "RMSNorm", "multihead", "muted"),
                Box("ffn", "SwiGLU Feed Forward", "multihead", "value"),
                Box("add2", "+ into the residual stream", "multihead", "highlight")]


class OverviewScene(StoryScene):
    """The whole Transformer as in the paper's figure, run on the real sentence."""

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        options = options or current_options()
        if modern_block(options):
            return [
                Step("figure", "Today's decoder-only Transformer: a residual stream runs up "
                               "through the blocks, and each sub-layer adds into it."),
                Step("embed", "Each word becomes its embedding, and that is X: no positional "
                              "encoding is added, since attention rotates q and k instead."),
                Step("blocks", "Each block normalises a copy of the stream, attends, adds the "
                               "result back, then does the same with a SwiGLU feed-forward."),
                Step("output", "A final RMSNorm, then a linear layer scores every word of the "
                               "vocabulary and softmax turns the scores into probabilities."),
                Step("prediction", "The most probable word at each position is the model's "
                                   "guess of the word that comes next."),
            ]
        if decoder_only(options):
            return [
                Step("figure", "A decoder-only Transformer: one stack of masked blocks reads "
                               "the sentence and predicts each next word."),
                Step("embed", "Each word becomes its embedding × √d_model plus the positional "
                              "encoding: the matrix X."),
                Step("blocks", "Each block mixes earlier words with masked self-attention, "
                               "then a feed-forward layer, each with Add & Norm."),
                Step("output", "A linear layer scores every word of the vocabulary and softmax "
                               "turns the scores into probabilities."),
                Step("prediction", "The most probable word at each position is the model's "
                                   "guess of the word that comes next."),
            ]
        return [
            Step("figure", "The Transformer of the paper: an encoder reads the English sentence "
                           "and a decoder writes the French one."),
            Step("embed", "Each English word becomes its embedding × √d_model plus the "
                          "positional encoding: the matrix X."),
            Step("encoder", "The encoder block mixes the words with self-attention, then a "
                            "feed-forward layer, each followed by Add & Norm."),
            Step("decoder_input", "The decoder reads <bos> and the French words so far (the "
                                  "output shifted right), embedded the same way."),
            Step("masked", "Masked self-attention lets each French position look only at "
                           "itself and the positions before it."),
            Step("cross", "Cross-attention lets each French position read the encoder's "
                          "output for every English word."),
            Step("feed_forward", "A feed-forward layer and a last Add & Norm finish the "
                                 "decoder block."),
            Step("output", "A linear layer scores every word of the vocabulary and softmax "
                           "turns the scores into probabilities."),
            Step("translation", "This run reads the whole translation, as training does: the "
                                "top is each position's most probable next word."),
        ]

    # ---- set-up -----------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        cfg = self.trace.config
        self.encdec = cfg.mode == "encdec"
        self.pre = cfg.norm_position == "pre"

    # ---- playing ------------------------------------------------------------------------------

    def light(self, *keys: str) -> list:
        """Animations that light the boxes ``keys`` (being computed) and dim the others."""
        anims = []
        for key, box in self.boxes.items():
            on = key in keys
            if on == (key in self.lit):
                continue
            color = self.theme.highlight if on else box.stroke
            anims.append(box.rect.animate.set_stroke(color=color, width=3.5 if on else 2)
                         .set_fill(self.theme.highlight, opacity=0.18 if on else 0.0))
        self.lit = set(keys)
        return anims

    def compute(self, keys: list[str], sources: list[str | None], run_time: float = 0.7):
        """Light each box in turn, the ones before it staying lit (the step's path through the
        figure); where a source is given, its heat-map appears beside it."""
        if len(keys) != len(sources):
            raise ValueError(f"{len(keys)} boxes and {len(sources)} sources")
        for k, source in enumerate(sources):
            anims = self.light(*keys[:k + 1])
            if source is not None:
                g = self.maps[source]
                anims += [FadeIn(g, shift=0.15 * (LEFT if g.get_x() < 0 else RIGHT)),
                          Create(g.link)]
                self.shown += [g, g.link]
            self.play(*anims, run_time=run_time)

    def hold(self, seconds: float) -> None:
        self.end_state(self.figure, *self.shown, hold=seconds)

    def step_figure(self) -> None:
        self.build()
        self.lit: set[str] = set()
        self.shown: list = []
        self.play(*self.heading("The whole Transformer"), run_time=0.6)
        self.play(LaggedStart(*(FadeIn(w) for w in self.inputs), lag_ratio=0.3), run_time=0.8)
        stacks = [self.chain(n) for n in self.frames]
        self.play(LaggedStart(*(FadeIn(self.boxes[k]) for keys in stacks for k in keys),
                              lag_ratio=0.08),
                  *(Create(f) for f in self.frames.values()),
                  *(FadeIn(v) for v in self.layers.values()), run_time=2.0)
        self.play(Create(self.arrows), *([Create(self.cross_arrow)] if self.cross_arrow else []),
                  run_time=1.0)
        self.hold(2.0)

    def step_embed(self) -> None:
        name = "enc" if self.encdec else "dec"
        self.play(*self.heading("Words → X"), run_time=0.4)
        if self.pre:
            self.compute(["dec.embed"], ["decoder.blocks.0.resid_pre"])
            self.hold(2.0)
            return
        self.compute([f"{name}.embed", f"{name}.pe"],
                     [None, f"{'encoder' if self.encdec else 'decoder'}.blocks.0.resid_pre"])
        self.hold(2.0)

    def step_encoder(self) -> None:
        e = f"encoder.blocks.{self.trace.config.n_enc_layers - 1}"
        self.play(*self.heading("The encoder block"), run_time=0.4)
        self.compute(["enc.attn", "enc.norm1", "enc.ffn", "enc.norm2"],
                     [None, f"{e}.ln1.out", None, f"{e}.ln2.out"])
        self.hold(2.0)

    def step_decoder_input(self) -> None:
        self.play(*self.heading("The decoder's input"), run_time=0.4)
        self.compute(["dec.embed", "dec.pe"], [None, "decoder.blocks.0.resid_pre"])
        self.hold(2.0)

    def _dec(self) -> str:
        return f"decoder.blocks.{self.trace.config.n_dec_layers - 1}"

    def step_masked(self) -> None:
        self.play(*self.heading("Masked self-attention"), run_time=0.4)
        self.compute(["dec.attn", "dec.norm1"], [None, f"{self._dec()}.ln1.out"])
        self.hold(2.0)

    def step_cross(self) -> None:
        path, head = self.cross_arrow
        self.play(*self.heading("Cross-attention"), run_time=0.4)
        self.play(path.animate.set_stroke(width=5), head.animate.set_stroke(width=5),
                  *self.light("enc.norm2", "dec.cross"), run_time=0.8)
        self.play(path.animate.set_stroke(width=2.5), head.animate.set_stroke(width=2.5),
                  run_time=0.4)
        self.compute(["dec.cross", "dec.norm2"], [None, f"{self._dec()}.ln2.out"])
        self.hold(2.0)

    def step_feed_forward(self) -> None:
        self.play(*self.heading("Feed-forward"), run_time=0.4)
        self.compute(["dec.ffn", "dec.norm3"], [None, f"{self._dec()}.ln3.out"])
        self.hold(2.0)

    def step_blocks(self) -> None:
        self.play(*self.heading("The decoder blocks"), run_time=0.4)
        if self.pre:
            for layer in self.map_layers():
                self.compute(["dec.norm1", "dec.attn", "dec.add1", "dec.norm2", "dec.ffn",
                              "dec.add2"],
                             [None] * 5 + [f"decoder.blocks.{layer}.resid_post"], run_time=0.45)
            self.hold(2.0)
            return
        for layer in range(self.trace.config.n_dec_layers):
            self.compute(["dec.attn", "dec.norm1", "dec.ffn", "dec.norm2"],
                         [None, None, None, f"decoder.blocks.{layer}.ln2.out"], run_time=0.6)
        self.hold(2.0)

    def step_output(self) -> None:
        if self.pre:
            self.play(*self.heading("Final norm, linear and softmax"), run_time=0.4)
            self.compute(["dec.lnf", "dec.linear", "dec.softmax"],
                         ["decoder.ln_f.out", self.words_of("logits"), self.words_of("probs")])
            self.hold(2.0)
            return
        self.play(*self.heading("Linear and softmax"), run_time=0.4)
        self.compute(["dec.linear", "dec.softmax"], [self.words_of("logits"),
                                                     self.words_of("probs")])
        self.hold(2.0)

    def out_words(self) -> VGroup:
        """The words that come out at the top: the most probable next word at each position
        of this one run (for translate, whose decoder read the whole translation, they are
        that translation shifted by one, then <eos>)."""
        x = self.xs["dec"]
        bottom = self.boxes["dec.softmax"].get_top()[1] + GAP
        ids = [int(i) for i in top_k_ids(self.trace["probs"], 1)[:, 0]]
        # an lm's predictions line up with its input words below (translate's inputs are
        # the encoder's words, in another column)
        return self.words("vocab", ids, x, bottom, None if self.encdec else self.lm_slots())

    def lm_slots(self) -> list[float]:
        """Each position's width: its input word's or its predicted word's, the wider."""
        t = self.trace
        ids = [int(i) for i in top_k_ids(t["probs"], 1)[:, 0]]
        return [max(self.text(str(w)).width, self.text(str(t.vocab[i])).width)
                for w, i in zip(t.tokens, ids, strict=True)]

    def step_translation(self) -> None:
        words = self.out_words()
        arrow = self.arrow(self.boxes["dec.softmax"].get_top(), [self.xs["dec"],
                                                                 words.get_bottom()[1], 0])
        self.play(*self.heading("Every next word at once" if self.encdec else "The predictions"),
                  *self.light(), Create(arrow), run_time=0.6)
        self.play(LaggedStart(*(FadeIn(w, shift=0.1 * UP) for line in words for w in line),
                              lag_ratio=0.15), run_time=1.4)
        self.shown += [arrow, words]
        self.hold(3.0)

    step_prediction = step_translation

    # ---- building the figure ----------------------------------------------------------------

    def text(self, text: str, color: str | None = None, size: float = TEXT):
        """A label of the figure (prose), baseline at y = 0, left edge at x = 0."""
        mob = label_text(text, size, color or self.theme.text)
        mob.kind = "prose"
        return mob

    def box(self, spec: Box, x: float, y: float) -> VGroup:
        """A box of the figure centred at (x, y): the paper's name on the left, the scene that
        explains it on the right."""
        theme = self.theme
        rect = rounded_box(corner_radius=0.06, width=BOX_W, height=BOX_H, stroke_width=2,
                           stroke_color=getattr(theme, spec.color), fill_opacity=0)
        name = self.text(spec.text)
        tag = self.text(f"▸ {spec.scene}", theme.muted)
        cap = TEXT * DIGIT_HEIGHT
        name.shift([-BOX_W / 2 + 0.14, -cap / 2, 0])
        tag.shift([BOX_W / 2 - 0.12 - tag.width, -cap / 2, 0])
        group = VGroup(rect, name, tag).shift([x, y, 0])
        group.rect, group.stroke = rect, getattr(theme, spec.color)
        return group

    def words(self, source: str, indices: list[int], x: float, bottom: float,
              slots: list[float] | None = None) -> VGroup:
        """Tokens (or vocabulary words) as labels, wrapped into lines no wider than a box,
        centred on ``x`` with the last line's baseline ``bottom`` + a descender. With
        ``slots``, word k is centred in a slot of that width: two rows given the same slots
        (an lm's inputs and its predictions) wrap at the same words and line up."""
        items = lookup(self.trace, source)
        lines, line, width = [], [], 0.0
        for k, index in enumerate(indices):
            text = str(items[index])
            mob = mark(self.text(text), "token", source, (index,), text)
            mob.slot = slots[k] if slots is not None else mob.width
            if line and width + 0.16 + mob.slot > BOX_W:
                lines.append(line)
                line, width = [], 0.0
            width += (0.16 if line else 0.0) + mob.slot
            line.append(mob)
        lines.append(line)
        group = VGroup()
        for k, ln in enumerate(lines):
            row, cursor = VGroup(), 0.0
            for mob in ln:
                mob.shift([cursor + (mob.slot - mob.width) / 2, 0, 0])
                cursor += mob.slot + 0.16
                row.add(mob)
            row.shift([x - (cursor - 0.16) / 2, bottom + 0.06 + (len(lines) - 1 - k) * LINE, 0])
            group.add(row)
        return group

    def arrow(self, start, end) -> Arrow:
        return Arrow(start, end, buff=0.03, stroke_width=2.5, color=self.theme.muted,
                     tip_length=0.1, max_tip_length_to_length_ratio=0.6,
                     max_stroke_width_to_length_ratio=20)

    def column(self, name: str, x: float, start: float, block: list[Box], top: bool) -> None:
        """One stack from its embedding up: embedding, + PE, the block in its frame, and for
        the decoder Linear and Softmax. Boxes go into ``self.boxes`` as ``name.key``."""
        y = start + BOX_H / 2
        inputs = [Box("embed", "Input Embedding" if name == "enc" or not self.encdec
                      else "Output Embedding", "embedding", "output")]
        if not self.pre:  # rotary positions: nothing is added to X
            inputs.append(Box("pe", "+ Positional Encoding", "embedding", "output"))
        for spec in inputs:
            self.boxes[f"{name}.{spec.key}"] = self.box(spec, x, y)
            y += BOX_H + GAP
        frame_bottom = y - BOX_H / 2
        y = frame_bottom + PAD + BOX_H / 2
        for spec in block:
            self.boxes[f"{name}.{spec.key}"] = self.box(spec, x, y)
            y += BOX_H + BLOCK_GAP
        frame_top = y - BOX_H / 2 - BLOCK_GAP + PAD
        frame = Rectangle(width=BOX_W + 2 * PAD, height=frame_top - frame_bottom,
                          stroke_color=self.theme.muted, stroke_width=1.5)
        frame.move_to([x, (frame_top + frame_bottom) / 2, 0])
        self.frames[name] = frame
        n = self.trace.config.n_enc_layers if name == "enc" else self.trace.config.n_dec_layers
        src = "config:n_enc_layers" if name == "enc" else "config:n_dec_layers"
        digit = mark(number_text(str(n), TEXT + 2, self.theme.text), "number", src, (), str(n),
                     0)
        # the paper's "N×", written out so that it cannot read as algebra with the X beside it
        name_n = self.text("N =", size=TEXT + 2)
        blocks = self.text("blocks" if n != 1 else "block", size=TEXT + 2)
        digit.shift(-digit.get_corner(DOWN + LEFT) + [name_n.get_right()[0] + 0.08, 0, 0])
        layers = VGroup(name_n, digit, blocks)
        if name == "enc":  # above the block's frame, where the left-hand maps leave room
            blocks.shift([digit.get_right()[0] + 0.08, 0, 0])
            layers.next_to(frame, UP, buff=0.08).align_to(frame, LEFT)
        else:  # beside it, on two lines (the decoder's frame has the Linear box above it)
            blocks.shift([0, -0.3, 0])
            layers.next_to(frame, RIGHT, buff=0.1).align_to(frame, DOWN)
        self.layers[name] = layers
        if top:
            y = frame_top + GAP + BOX_H / 2
            outputs = [Box("linear", "Linear", "decoder", "output"),
                       Box("softmax", "Softmax", "decoder", "output")]
            if self.pre:  # the stream is normalised once more before W_U
                outputs.insert(0, Box("lnf", "Final RMSNorm", "decoder", "muted"))
            for spec in outputs:
                self.boxes[f"{name}.{spec.key}"] = self.box(spec, x, y)
                y += BOX_H + GAP

    def chain(self, name: str) -> list[str]:
        """The keys of a stack's boxes, bottom to top."""
        return [k for k in self.boxes if k.startswith(name + ".")]

    def build(self) -> None:
        """The whole figure laid out in the frame (nothing added to the scene yet)."""
        t = self.trace
        self.boxes: dict[str, VGroup] = {}
        self.frames: dict[str, Rectangle] = {}
        self.layers: dict[str, VGroup] = {}
        bottom = self.caption_top
        if self.encdec:
            shift = -0.25  # the decoder's heat-maps have the longer labels
            xs = {"enc": shift - (BOX_W / 2 + MID_GAP / 2), "dec": shift + BOX_W / 2 + MID_GAP / 2}
            ins = {"enc": self.words("tokens", list(range(len(t.tokens))), xs["enc"], bottom),
                   "dec": self.words("target_tokens", list(range(len(t.target_tokens))),
                                     xs["dec"], bottom)}
        else:
            xs = {"dec": -1.2}
            ins = {"dec": self.words("tokens", list(range(len(t.tokens))), xs["dec"], bottom,
                                     self.lm_slots())}
        start = max(w.get_top()[1] for w in ins.values()) + GAP
        if self.encdec:
            self.column("enc", xs["enc"], start, ENCODER, top=False)
        block = DECODER if self.encdec else MODERN_BLOCK if self.pre else LM_BLOCK
        self.column("dec", xs["dec"], start, block, top=True)
        arrows = VGroup()
        for name, words in ins.items():
            keys = self.chain(name)
            first = self.boxes[keys[0]]
            arrows.add(self.arrow([xs[name], words.get_top()[1] + 0.02, 0], first.get_bottom()))
            for lower, upper in zip(keys[:-1], keys[1:], strict=True):
                a, b = self.boxes[lower], self.boxes[upper]
                arrows.add(self.arrow(a.get_top(), b.get_bottom()))
        self.inputs = VGroup(*ins.values())
        self.arrows = arrows
        self.cross_arrow = None
        if self.encdec:
            top = self.frames["enc"].get_top()[1]
            cross = self.boxes["dec.cross"]
            bend = top + 0.18
            mid = (xs["enc"] + xs["dec"]) / 2
            path = VMobject(stroke_color=self.theme.key, stroke_width=2.5)
            path.set_points_as_corners([[xs["enc"], top, 0], [xs["enc"], bend, 0],
                                        [mid, bend, 0], [mid, cross.get_y(), 0]])
            head = self.arrow([mid, cross.get_y(), 0], cross.get_left())
            head.set_color(self.theme.key)
            self.cross_arrow = VGroup(path, head)
        self.xs = xs
        softmax = self.boxes["dec.softmax"]
        self.out_arrow_from = softmax.get_top()
        stream = self.stream_path() if self.pre else VGroup()
        self.figure = VGroup(self.inputs, *self.boxes.values(), *self.frames.values(),
                             *self.layers.values(), arrows, stream,
                             *([self.cross_arrow] if self.cross_arrow else []))
        self.build_maps()

    def stream_path(self) -> VGroup:
        """Pre-norm: the residual stream as a line left of the block, from the block's input
        to its output, with the two additions drawn as arrows into it."""
        theme = self.theme
        frame = self.frames["dec"]
        x = frame.get_left()[0] - 0.22
        bottom, top = frame.get_bottom()[1], frame.get_top()[1]
        line = Line([x, bottom, 0], [x, top, 0], stroke_width=4, color=theme.highlight)
        adds = VGroup(*(Arrow(self.boxes[k].get_left(), [x, self.boxes[k].get_y(), 0], buff=0.02,
                              stroke_width=2.5, color=theme.highlight, tip_length=0.1,
                              max_tip_length_to_length_ratio=0.6)
                        for k in ("dec.add1", "dec.add2")))
        reads = VGroup(*(Arrow([x, self.boxes[k].get_y(), 0], self.boxes[k].get_left(), buff=0.02,
                               stroke_width=2, color=theme.muted, tip_length=0.1,
                               max_tip_length_to_length_ratio=0.6)
                         for k in ("dec.norm1", "dec.norm2")))
        label = self.text("stream", theme.highlight)
        label.rotate(PI / 2).next_to(line, LEFT, buff=0.08)
        return VGroup(line, adds, reads, label)

    # ---- heat-maps ----------------------------------------------------------------------------

    def map_specs(self) -> list[tuple[str, str, str, str]]:
        """(side, box key, trace source, label) of every heat-map, in the order they appear."""
        cfg = self.trace.config
        if self.encdec:
            e, d = f"encoder.blocks.{cfg.n_enc_layers - 1}", f"decoder.blocks.{cfg.n_dec_layers - 1}"
            return [("enc", "enc.pe", "encoder.blocks.0.resid_pre", "X"),
                    ("enc", "enc.norm1", f"{e}.ln1.out", "after attention"),
                    ("enc", "enc.norm2", f"{e}.ln2.out", "encoder output"),
                    ("dec", "dec.pe", "decoder.blocks.0.resid_pre", "X (decoder)"),
                    ("dec", "dec.norm1", f"{d}.ln1.out", "after masked attn."),
                    ("dec", "dec.norm2", f"{d}.ln2.out", "after cross-attn."),
                    ("dec", "dec.norm3", f"{d}.ln3.out", "decoder output"),
                    ("dec", "dec.linear", self.words_of("logits"), "logits"),
                    ("dec", "dec.softmax", self.words_of("probs"), "probabilities")]
        if self.pre:
            specs = [("dec", "dec.embed", "decoder.blocks.0.resid_pre", "X")]
            specs += [("dec", "dec.add2", f"decoder.blocks.{layer}.resid_post",
                       f"block {layer + 1} output") for layer in self.map_layers()]
            return specs + [("dec", "dec.lnf", "decoder.ln_f.out", "final norm"),
                            ("dec", "dec.linear", self.words_of("logits"), "logits"),
                            ("dec", "dec.softmax", self.words_of("probs"), "probabilities")]
        specs = [("dec", "dec.pe", "decoder.blocks.0.resid_pre", "X")]
        for layer in range(cfg.n_dec_layers):
            specs.append(("dec", "dec.norm2", f"decoder.blocks.{layer}.ln2.out",
                          f"block {layer} output"))
        return specs + [("dec", "dec.linear", self.words_of("logits"), "logits"),
                        ("dec", "dec.softmax", self.words_of("probs"), "probabilities")]

    def map_layers(self) -> list[int]:
        """The blocks whose output gets a heat-map: all of them, or of a deep model (SmolLM2's
        30) the first and the last, the stack's "30×" counting the rest."""
        n = self.trace.config.n_dec_layers
        return list(range(n)) if n <= MAX_BLOCK_MAPS else [0, n - 1]

    def words_of(self, source: str) -> str:
        """``logits`` or ``probs``, or for a vocabulary too large to draw (a model of your own)
        the columns of the words the logits step shows (:func:`explain.vocab_window`)."""
        if len(self.trace.vocab) <= VOCAB_COLUMNS:
            return source
        return f"explain.take_columns({source}, explain.vocab_window(probs))"

    def build_maps(self) -> None:
        """Every heat-map with its label, placed beside its stack near the box that makes it,
        and a thin line to that box."""
        theme, t = self.theme, self.trace
        specs = self.map_specs()
        self.maps: dict[str, VGroup] = {}
        for side in {s[0] for s in specs}:
            mine = [s for s in specs if s[0] == side]
            frame = self.frames[side]
            if side == "enc":
                inner = self.frames["enc"].get_left()[0] - 0.12
                lo, hi = self.inputs[0].get_top()[1] + 0.12, self.heading_limit()
            else:
                inner = self.layers["dec"].get_right()[0] + 0.12
                lo, hi = self.inputs[-1].get_top()[1] + 0.12, config.frame_height / 2 - 0.15
            room = hi - lo - (len(mine) - 1) * MAP_GAP - len(mine) * (LINE + 0.04)
            rows_h = min(MAP_ROWS_H, room / len(mine))
            groups = []
            for _, key, source, label in mine:
                values = lookup(t, source)
                n_rows, n_cols = values.shape
                ch = min(0.1, rows_h / n_rows)
                cw = min(0.1, (MAP_W - 0.1) / n_cols)
                probs = label == "probabilities"
                m = ValueMatrix(t, source, theme, show_numbers=False, cell_w=cw, cell_h=ch,
                                sequential=probs, vmax=1.0 if probs else None)
                name = self.text(label, theme.muted)
                name.next_to(m.brackets, UP, buff=0.06)
                group = VGroup(name, m)
                if side == "enc":
                    group.shift([inner - m.brackets.get_right()[0], 0, 0])
                    name.align_to(m.brackets, RIGHT)
                else:
                    group.shift([inner - m.brackets.get_left()[0], 0, 0])
                    name.align_to(m.brackets, LEFT)
                group.matrix, group.box_key = m, key
                groups.append(group)
            desired = [self.boxes[g.box_key].get_y() for g in groups]
            heights = [g.height for g in groups]
            ys = spread(desired, heights, lo, hi, MAP_GAP)
            for g, y in zip(groups, ys, strict=True):
                g.shift([0, y - g.get_y(), 0])
                box = self.boxes[g.box_key]
                edge = box.get_left() if side == "enc" else box.get_right()
                start = g.matrix.brackets.get_right() if side == "enc" else g.matrix.brackets.get_left()
                g.link = Line(start, edge + (LEFT if side == "enc" else RIGHT) * 0.0, stroke_width=1.2,
                              color=theme.muted, stroke_opacity=0.7)
                self.maps[g.matrix.source] = g
            del frame

    def heading_limit(self) -> float:
        """The y that the left column of heat-maps stays below (the heading's bottom)."""
        return config.frame_height / 2 - 0.85


def spread(desired: list[float], heights: list[float], lo: float, hi: float,
           gap: float) -> list[float]:
    """Centres near ``desired`` (bottom to top order kept) for items of ``heights`` that do
    not overlap and stay within [lo, hi]; items are pushed up, then down from the top."""
    ys = []
    floor = lo
    for d, h in zip(desired, heights, strict=True):
        y = max(d, floor + h / 2)
        ys.append(y)
        floor = y + h / 2 + gap
    ceiling = hi
    for k in range(len(ys) - 1, -1, -1):
        h = heights[k]
        ys[k] = min(ys[k], ceiling - h / 2)
        ceiling = ys[k] - h / 2 - gap
    return ys
