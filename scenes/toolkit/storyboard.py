"""Storyboards: a scene is an ordered list of named steps, each with a one-sentence caption.

The same steps give three outputs: the video (one section per step), the subtitles (one cue
per step, timed from the step boundaries) and one diagram per step (the end state, captured
by a *step listener*). ``StoryScene`` runs the steps and calls every listener in
``scene.step_listeners`` as ``listener(scene, index, step)`` when a step has reached its end
state; this also happens when animations are skipped (``config.dry_run`` or
``skip_animations``), so every end state can be captured without encoding a video.

Options reach a scene through :func:`set_options` (the CLI and the tests) or, when Manim's own
CLI runs the file, through ``SCENE_*`` environment variables (``SCENE_MODEL``,
``SCENE_SENTENCE``, ``SCENE_LAYER``, ``SCENE_HEAD``, ``SCENE_THEME``, ``SCENE_CAPTIONS``,
``SCENE_LR``, ``SCENE_CHECKPOINT``, ``SCENE_TEMPERATURE``, ``SCENE_TOP_K``, ``SCENE_TOP_P``,
``SCENE_SEED``, ``SCENE_MAX_NEW``, ``SCENE_PACE``).

With ``checkpoint`` (a file written by ``python cli.py train``) the scene shows that model;
``model`` is then its kind (``translate`` or ``lm``), which is what the storyboards branch on.

Every number on screen is marked with its provenance (:mod:`scenes.toolkit.provenance`).
The layout helpers every scene shares come from the :class:`~scenes.toolkit.layouts.Layouts`
mixin; sizes from :mod:`scenes.toolkit.style`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace

from manim import DOWN, RIGHT, Mobject, Scene, config
from manim.utils.rate_functions import smooth

from transformer_core.explain import attention_prefix

from .layouts import Layouts
from .style import CAPTION, DENSE_NUMBERS, HEADING, NOTE, PACES, Pace  # noqa: F401 (re-exported)
from .text import plain_text, subscript_text
from .theme import THEMES, Theme

__all__ = [
    "Step", "SceneOptions", "set_options", "current_options", "using_options", "load_trace",
    "StoryScene", "StepListener", "languages", "model_name", "decoder_only", "modern_block",
    "Pace", "PACES", "DENSE_NUMBERS",
]

# Model kinds without an encoder, and those whose block is today's LLM block (pre-RMSNorm,
# rotary positions, SwiGLU, grouped-query attention) rather than the 2017 paper's.
DECODER_ONLY = ("lm", "modern", "smollm2")
MODERN_BLOCK = ("modern", "smollm2")


def decoder_only(options) -> bool:
    """The options' model reads one sentence and predicts its next words (no encoder)."""
    return options.model in DECODER_ONLY


def modern_block(options) -> bool:
    """The options' model is built from today's LLM block."""
    return options.model in MODERN_BLOCK


# Subscripts a caption can set as characters (Unicode has no subscript capitals, so W_Q and
# W_O stay as written): d_k → dₖ, W_1 → W₁, b_2 → b₂.
_SUBSCRIPTS = str.maketrans("0123456789k", "₀₁₂₃₄₅₆₇₈₉ₖ")


def subscripts(text: str) -> str:
    """``text`` with each ``_x`` whose x has a subscript character set as that character."""
    import re

    return re.sub(r"_([0-9k])(?![A-Za-z0-9])", lambda m: m.group(1).translate(_SUBSCRIPTS), text)


@dataclass(frozen=True)
class Step:
    name: str  # a slug: "qkv", "softmax"; also the Manim section name and the SVG file name
    caption: str  # one plain sentence

    def __post_init__(self) -> None:
        object.__setattr__(self, "caption", subscripts(self.caption))




@dataclass(frozen=True)
class SceneOptions:
    model: str = "translate"
    sentence: str | None = None  # None: the model's default sentence
    layer: int = 0
    head: int = 0
    theme: str = "dark"
    captions: bool = True
    lr: float | None = None  # the training scene's learning rate (None: the model's default)
    checkpoint: str | None = None  # a checkpoint file of kind ``model``; None: the shipped one
    max_new: int | None = None  # generate: at most this many new words (None: until <eos>)
    # generate and sampling: the sampler (generate: all None picks the most probable word)
    temperature: float | None = None  # softmax(logits / temperature); None: 1 (or greedy)
    top_k: int | None = None  # keep the k most probable words
    top_p: float | None = None  # keep the fewest most probable words reaching p
    seed: int = 0  # the seed of the draw
    # The least seconds each step lasts, in storyboard order (a narration's speech, see
    # scenes.narration); empty: each step as long as its animations and holds.
    step_seconds: tuple[float, ...] = ()
    pace: str = "normal"  # a key of PACES: how long captions and end states stay

    def __post_init__(self) -> None:
        if self.pace not in PACES:
            raise ValueError(f"unknown pace {self.pace!r}; choose from {', '.join(PACES)}")
        if self.theme not in THEMES:
            raise ValueError(f"unknown theme {self.theme!r}; choose from {', '.join(THEMES)}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"the learning rate must be a positive finite number, not {self.lr!r}")

    @classmethod
    def from_env(cls, environ: dict | None = None) -> SceneOptions:
        env = os.environ if environ is None else environ
        kwargs: dict = {}
        for f in fields(cls):
            raw = env.get(f"SCENE_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            if f.name in ("layer", "head", "max_new", "seed", "top_k"):
                kwargs[f.name] = int(raw)
            elif f.name in ("lr", "temperature", "top_p"):
                kwargs[f.name] = float(raw)
            elif f.name == "step_seconds":
                kwargs[f.name] = tuple(float(x) for x in raw.split(","))
            elif f.name == "captions":
                kwargs[f.name] = raw.strip().lower() not in ("0", "false", "no", "off")
            else:
                kwargs[f.name] = raw
        if "checkpoint" in kwargs and "model" not in kwargs:  # the kind the file holds
            from transformer_core.checkpoint import load_checkpoint

            kwargs["model"] = load_checkpoint(kwargs["checkpoint"]).kind
        return cls(**kwargs)

    def with_(self, **changes) -> SceneOptions:
        return replace(self, **changes)


_options: SceneOptions | None = None


def set_options(options: SceneOptions | None) -> None:
    """Options for the next scenes to be set up (None: back to environment/defaults)."""
    global _options
    _options = options


def current_options() -> SceneOptions:
    return _options if _options is not None else SceneOptions.from_env()


@contextlib.contextmanager
def using_options(options: SceneOptions):
    """Set the options for the duration of a ``with`` block."""
    previous = _options
    set_options(options)
    try:
        yield options
    finally:
        set_options(previous)


def load_trace(model: str, sentence: str | None, checkpoint: str | None = None):
    """The trace of ``sentence`` (a read-only object, so one copy serves every scene).

    With ``checkpoint``, that file's model, which must be of kind ``model``. A file rewritten
    since (same path, new training) is read again.
    """
    stamp = None
    if checkpoint is not None:
        stat = os.stat(checkpoint)
        stamp = (stat.st_mtime_ns, stat.st_size)
    return _load_trace(model, sentence, checkpoint, stamp)


@functools.lru_cache(maxsize=8)
def _load_trace(model: str, sentence: str | None, checkpoint: str | None, stamp):
    from transformer_core import runs

    return runs.trace(model, sentence, checkpoint)


def model_name(options: SceneOptions, short: bool = False) -> str:
    """How the scenes name the model: the shipped ones as before, a custom one with its file."""
    if options.checkpoint is None:
        if options.model == "lm":
            return "the small language model"
        if options.model == "modern":
            return "the small modern language model"
        if options.model == "smollm2":
            return "SmolLM2-135M (a pretrained language model)"
        return "the translation model" if short else "the English→French translation model"
    kind = ("modern language" if options.model == "modern" else
            "language" if decoder_only(options) else "translation")
    return f"your {kind} model {os.path.basename(options.checkpoint)}"


def languages(options: SceneOptions) -> tuple[str, str]:
    """What the captions call a translation model's two languages: the shipped model's
    English and French, or a custom model's "source" and "target"."""
    return ("English", "French") if options.checkpoint is None else ("source", "target")


StepListener = Callable[["StoryScene", int, Step], None]


class StoryScene(Layouts, Scene):
    """A scene that plays its storyboard: subclasses define ``storyboard(options)`` and one
    method ``step_<name>()`` per step, which builds, arranges, plays and leaves the step's
    end state on screen."""

    caption_font_size = CAPTION
    # The most positions (tokens of the sentence, or of the decoder's input) for which every
    # step fits the frame with text at the minimum size; None: whatever the model reads.
    max_tokens: int | None = None

    # ---- set-up ---------------------------------------------------------------------------

    @staticmethod
    def positions(trace) -> int:
        """The most rows a matrix of the scene can have: the sentence's tokens or, for an
        encoder-decoder, the decoder's input (``<bos>`` and the translation)."""
        return max(len(trace.tokens), len(trace.target_tokens))

    @classmethod
    def too_big(cls, trace, name: str) -> str | None:
        """Why the scene cannot show this trace's model (one line: a vocabulary too large to
        draw, say), or None if it can."""
        return None

    @classmethod
    def too_long(cls, trace, name: str) -> str | None:
        """Why the scene cannot show this trace's sentence (one line), or None if it can."""
        n = cls.positions(trace)
        if cls.max_tokens is None or n <= cls.max_tokens:
            return None
        what = ("the decoder's input (<bos> and the translation)"
                if len(trace.target_tokens) > len(trace.tokens) else "this sentence")
        return (f"the {name} scene shows at most {cls.max_tokens} positions and {what} has "
                f"{n}; give a shorter sentence")

    @classmethod
    def storyboard(cls, options: SceneOptions | None = None) -> list[Step]:
        """The ordered steps for these options, available without rendering."""
        raise NotImplementedError

    @property
    def step_listeners(self) -> list[StepListener]:
        if "_step_listeners" not in self.__dict__:
            self._step_listeners = []
        return self._step_listeners

    @step_listeners.setter
    def step_listeners(self, listeners: Iterable[StepListener]) -> None:
        self._step_listeners = list(listeners)

    def setup(self) -> None:
        if config.dry_run:  # nothing is written: jump to end states, rasterise nothing
            from ..engine.dry_run import skip_drawing

            skip_drawing(self.renderer)
        self.options = current_options()
        self.theme: Theme = THEMES[self.options.theme]
        self.camera.background_color = self.theme.background
        self.trace = load_trace(self.options.model, self.options.sentence, self.options.checkpoint)
        self.check_options()
        self.focus()
        self.steps: list[Step] = self.storyboard(self.options)
        self.step_times: list[tuple[float, float]] = []  # (start, end) seconds, per step
        # per step: when its caption began to fade in and was fully shown, how long its end
        # state was held still, and how many numbers that end state shows
        self.step_pacing: list[dict] = []
        self.caption_mobject: Mobject | None = None
        self.heading_mob: Mobject | None = None
        self._pending_caption: tuple | None = None  # (new caption, the one it replaces)
        self._step_index = 0
        self.warning_mob: Mobject | None = None  # see :meth:`input_warning`
        self._old_heading: Mobject | None = None
        self._last_motion_end = 0.0
        self._caption_times: tuple[float, float] = (0.0, 0.0)

    def check_options(self) -> None:
        """Raise ValueError when the layer or head does not exist in this model, or the
        sentence is longer than the scene can show."""
        name = type(self).__name__.removesuffix("Scene").lower()
        problem = self.too_big(self.trace, name) or self.too_long(self.trace, name)
        if problem:
            raise ValueError(problem)
        cfg = self.trace.config
        try:
            attention_prefix(cfg, self.options.layer)
        except IndexError as exc:
            raise ValueError(str(exc)) from None
        if not 0 <= self.options.head < cfg.n_heads:
            raise ValueError(
                f"head {self.options.head} is out of range: this model has {cfg.n_heads} "
                f"(0..{cfg.n_heads - 1})"
            )

    # ---- playing the storyboard -------------------------------------------------------------

    def construct(self) -> None:
        text = self.input_warning()
        if text is not None:
            from manim import UR

            self.warning_mob = plain_text(text, NOTE, self.theme.highlight).to_corner(UR, buff=0.3)
            if self.warning_mob.width > config.frame_width - 0.6:
                self.warning_mob.scale_to_fit_width(config.frame_width - 0.6)
            self.warning_mob.to_corner(UR, buff=0.3)
            self.warning_mob.kind = "prose"
        for index, step in enumerate(self.steps):
            self._step_index = index
            self.next_section(step.name)
            start = self.renderer.time
            self.show_caption(step)
            getattr(self, f"step_{step.name}")()
            # a narration's hold first: the pace then counts that stillness as held
            self.hold_for_narration(index, start)
            self.pace_step(step, start)
            self.step_times.append((start, self.renderer.time))
            for listener in list(self.step_listeners):
                listener(self, index, step)

    def hold_for_narration(self, index: int, start: float) -> None:
        """Hold the end state until the step has lasted ``options.step_seconds[index]`` (its
        narration, which starts with the step, then ends before the picture moves on)."""
        seconds = self.options.step_seconds
        if index < len(seconds):
            missing = seconds[index] - (self.renderer.time - start)
            if missing > 1e-3:
                self.wait(missing)

    def input_warning(self) -> str | None:
        """One line when the input is not what the model learned from (unknown words, or for a
        shipped model a sentence outside its training data), so that a wrong output is not
        shown as a right one; None otherwise. Shown on the first step."""
        t = self.trace
        if t.unknown:
            # a long word (or many) is cut, so the line stays readable rather than shrunk
            cut = [w if len(w) <= 16 else w[:15] + "\u2026" for w in t.unknown]
            words = ", ".join(f"\u2018{w}\u2019" for w in cut[:3])
            if len(cut) > 3:
                words += f" and {len(cut) - 3} more"
            return f"not in the model's vocabulary, read as <unk>: {words}; the output may be wrong"
        if self.options.checkpoint is None:
            from transformer_core.data import familiar

            if not familiar(self.options.model, t.tokens):
                return ("this sentence is outside what the model was trained on: "
                        "its output may be wrong")
        return None

    def _place_warning(self) -> None:
        """The warning's place: the top right corner, or under the heading if that is long."""
        warning, heading = self.__dict__.get("warning_mob"), self.heading_mob
        if warning is None or heading is None:
            return
        from manim import UR

        warning.to_corner(UR, buff=0.3)
        if heading.get_right()[0] + 0.2 > warning.get_left()[0]:
            warning.next_to(heading, DOWN, buff=0.12).to_edge(RIGHT, buff=0.3)

    def pace_step(self, step: Step, start: float) -> None:
        """Hold the end state long enough for the pace (``options.pace``): the caption readable
        at the pace's characters per second from the moment it is fully shown, and the end state
        still for its hold (longer for a dense one)."""
        pace = PACES[self.options.pace]
        numbers = sum(1 for top in self.mobjects for m in top.get_family()
                      if getattr(m, "kind", None) == "number")
        hold = pace.dense_hold if numbers > DENSE_NUMBERS else pace.hold
        now = self.renderer.time
        shown = self._caption_times[1] if self.options.captions else start
        extra = max(hold - (now - self._last_motion_end),
                    len(step.caption) / pace.chars_per_second - (now - shown), 0.0)
        if extra > 1e-9:
            self.wait(extra)
        self.step_pacing.append({
            "caption_in": self._caption_times, "still": self.renderer.time - self._last_motion_end,
            "numbers": numbers, "start": start, "end": self.renderer.time})

    def play(self, *animations, **kwargs) -> None:
        """Manim's play; the first play of a step also changes the caption (the old one fades
        out in the first half, the new one in during the second: the caption changes with the
        picture, and two never show at once)."""
        from manim import Wait

        if all(isinstance(a, Wait) for a in animations):  # ``wait``: stillness, not a picture
            super().play(*animations, **kwargs)
            return
        pending, self._pending_caption = self._pending_caption, None
        old_heading, self._old_heading = self._old_heading, None
        if pending is not None or old_heading is not None:
            from manim import FadeIn, FadeOut

            warning = self.__dict__.get("warning_mob") if self._step_index == 1 else None
            leaving = [m for m in (pending[1] if pending else None, old_heading, warning)
                       if m is not None]
            # what the scene asked for these (a FadeOut from ``leave()``) gives way to ours
            animations = tuple(a for a in animations if getattr(a, "mobject", None) not in leaving)
            if pending is not None:
                new, old = pending
                if old is not None:
                    animations += (FadeOut(old, rate_func=_first_half),)
                animations += (FadeIn(new, rate_func=_second_half),)
                warning = self.__dict__.get("warning_mob")
                if warning is not None and self._step_index == 0:
                    self._place_warning()
                    animations += (FadeIn(warning),)
                elif warning is not None and self._step_index == 1:
                    animations += (FadeOut(warning, rate_func=_first_half),)
            if old_heading is not None:
                animations += (FadeOut(old_heading, rate_func=_first_half),)
        start = self.renderer.time
        super().play(*animations, **kwargs)
        self._last_motion_end = self.renderer.time
        if pending is not None:
            self._caption_times = (start, self.renderer.time)

    def show_caption(self, step: Step) -> None:
        """Make the step's caption (if captions are on): it replaces the previous one during
        the step's first animation (:meth:`play`), or at once if the step has none."""
        old = self.caption_mobject
        self.caption_mobject = None
        if not self.options.captions:
            if old is not None:
                self.remove(old)
            return
        room = config.frame_width - 0.6
        one_line = plain_text(step.caption, self.caption_font_size, self.theme.text)
        chars = max(20, int(len(step.caption) * room / one_line.width * 0.95))
        caption = plain_text(wrap(step.caption, chars), self.caption_font_size,
                             self.theme.text, line_spacing=0.8)
        if caption.width > room:
            caption.scale_to_fit_width(room)
        caption.to_edge(DOWN, buff=0.2)
        caption.step_caption = step.caption
        caption.kind = "prose"  # words, not trace values
        self.caption_mobject = caption
        self._pending_caption = (caption, old)

    @property
    def caption_top(self) -> float:
        """The y the content must stay above: the top of the caption, plus a margin."""
        if self.caption_mobject is None:
            return -config.frame_height / 2 + 0.3
        return self.caption_mobject.get_top()[1] + 0.12

    def heading(self, text: str, font_size: float = HEADING) -> list:
        """Animations that replace the step heading (top left) with ``text``."""
        from manim import UL, FadeIn

        new = subscript_text(text, font_size, self.theme.text).to_corner(UL, buff=0.3)
        for piece in new:
            piece.kind = "prose"  # words (a heading's "layer 0" is a name, not a trace value)
        old, self.heading_mob = self.heading_mob, new
        # the old heading fades out in the first half of the play (see :meth:`play`), the new
        # one in during the second: two headings never show over each other
        self._old_heading = old
        return [FadeIn(new, rate_func=_second_half)]

    def draw_frame(self):
        """The current state as an RGBA pixel array (also in a dry run)."""
        renderer = self.renderer
        renderer.static_image = None
        type(renderer).update_frame(renderer, self, ignore_skipping=True)
        return renderer.get_frame()

    def end_state(self, *mobs: Mobject, hold: float = 0.0) -> None:
        """Declare what is on screen: exactly the heading, ``mobs`` and the caption (clearing
        whatever animations left behind, e.g. the parts of groups Manim broke up), then hold
        it for ``hold`` seconds. A step ends with this, so the last seconds of each step in
        the video show exactly the state the step listeners see."""
        if self._pending_caption is not None:  # a step without animations: shown at once
            self._pending_caption = None
            self._caption_times = (self.renderer.time, self.renderer.time)
        self._old_heading = None
        self.clear()
        warning = self.__dict__.get("warning_mob") if self._step_index == 0 else None
        self._place_warning()
        self.add(*(m for m in (self.heading_mob, *mobs, warning, self.caption_mobject)
                   if m is not None))
        if hold > 0:
            self.wait(hold)


def _first_half(t: float) -> float:
    return smooth(min(1.0, 2.0 * t))


def _second_half(t: float) -> float:
    return smooth(max(0.0, 2.0 * t - 1.0))


def wrap(text: str, width: int) -> str:
    """Break a sentence into lines of at most ``width`` characters at spaces."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)
