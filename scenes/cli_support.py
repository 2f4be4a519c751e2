"""The options that choose what a scene shows (model, checkpoint, sentence, layer, head, theme,
captions, generate's options), checked against the model before any work starts: one-line usage
errors, a notice for words shown as <unk>. What else the commands share is in :mod:`scenes.cli`.

Importing this module imports click only (no torch, no Manim), so ``cli.py --help`` stays
instant.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from .cli.checks import Choice, quoted
from .cli.errors import Failure
from scenes.toolkit.style import PACES

__all__ = [
    "MODELS", "TRAINABLE_MODELS", "THEMES", "QUALITIES", "VIDEO_FORMATS", "CONTEXT", "CHECKPOINT_OPTION",
    "MODEL_OPTION", "model_kind", "check_scene_kind", "load_trace", "scene_options", "check_lr",
    "scene_setup", "scenes_for", "SEED", "check_sentence_text", "check_sampler",
]

MODELS = ("translate", "lm", "modern", "smollm2")
TRAINABLE_MODELS = ("translate", "lm", "modern")  # what `train` makes (smollm2 is pretrained)
THEMES = ("dark", "light")
QUALITIES = ("low", "medium", "high", "4k")  # scenes.writers.video.QUALITIES (which imports Manim)
VIDEO_FORMATS = ("mp4", "webm", "gif", "mov", "png")
CONTEXT = {"help_option_names": ["-h", "--help"]}

def model_kind(model: str | None, checkpoint: Path | str | None) -> str:
    """The kind of model to run: ``--model``, or the kind the ``--checkpoint`` file holds
    (which must be ``--model``'s when both are given); ``translate`` when neither is."""
    if checkpoint is None:
        return model or "translate"
    from transformer_core.sources import is_pretrained_path

    if is_pretrained_path(checkpoint):  # a GGUF file or a Hugging Face folder, read when run
        if model not in (None, "smollm2"):
            raise click.BadParameter(f"{checkpoint} is a GGUF file or model folder, which runs as "
                                     f"smollm2: leave out --model, or give a {model} checkpoint",
                                     param_hint="--checkpoint")
        return "smollm2"
    from transformer_core import runs

    def load() -> str:
        from transformer_core.checkpoint import load_checkpoint

        return load_checkpoint(checkpoint, kind=model).kind

    try:
        kind = runs.checkpoint_kind(checkpoint, load, MODELS)  # kept: no torch when warm
        return kind if model is None or kind == model else load()  # load() says what is wrong
    except Exception as exc:
        from transformer_core.checkpoint import CheckpointError, CheckpointKindError

        if isinstance(exc, CheckpointKindError):
            raise click.BadParameter(f"{exc}: leave out --model, or give a {model} checkpoint",
                                     param_hint="--checkpoint") from None
        if isinstance(exc, CheckpointError):
            raise Failure(str(exc)) from None
        raise


def scenes_for(scene: str, model: str) -> list[str]:
    """The scenes ``scene`` names: itself, or with ``all`` every registered scene that shows a
    ``model`` model (a scene of other kinds only, such as ``compare``, is left out)."""
    from scenes.registry import SCENES, get_scene_class

    if scene != "all":
        return [scene]
    return [name for name in SCENES
            if model in getattr(get_scene_class(name), "model_kinds", MODELS)]


def check_scene_kind(scene: str, model: str, checkpoint: Path | str | None) -> None:
    """A scene that shows only one kind of model refuses the other in one line."""
    from scenes.registry import get_scene_class

    kinds = getattr(get_scene_class(scene), "model_kinds", MODELS)
    if model not in kinds:
        what = f"{checkpoint} holds" if checkpoint is not None else "--model is"
        raise click.BadParameter(f"scene {scene!r} shows a {' or '.join(kinds)} model; {what} "
                                 f"a {model} model",
                                 param_hint="--checkpoint" if checkpoint is not None else "--model")


def load_trace(model: str, sentence: str | None, checkpoint: Path | str | None = None):
    """Run the model on the sentence; bad input becomes a one-line error, unknown words a notice."""
    from transformer_core import runs
    from transformer_core.records import SentenceTooLongError
    from transformer_core.tokenizer import EmptySentenceError

    if sentence is not None and not sentence.strip():
        raise click.BadParameter("the sentence is empty: give at least one word", param_hint="--sentence")
    try:
        trace = runs.trace(model, sentence, checkpoint)  # kept between runs: torch only on a miss
    except EmptySentenceError as exc:
        raise click.BadParameter(str(exc), param_hint="--sentence") from None
    except SentenceTooLongError as exc:
        raise click.BadParameter(f"{exc}: give a shorter sentence",
                                 param_hint="--sentence") from None
    except Exception as exc:
        from transformer_core.checkpoint import CheckpointError, CheckpointKindError  # loaded by now

        if isinstance(exc, CheckpointKindError):
            raise click.BadParameter(str(exc), param_hint="--checkpoint") from None
        if isinstance(exc, CheckpointError):
            raise Failure(str(exc)) from None
        raise
    if trace.unknown:
        words = ", ".join(quoted(w if len(w) <= 40 else f"{w[:30]}…({len(w)} characters)")
                          for w in trace.unknown)  # a 100 000-character word is not echoed
        where = f"{model} vocabulary" if checkpoint is None else f"vocabulary of {checkpoint}"
        click.echo(f"note: not in the {where}, shown as <unk>: {words}", err=True)
    return trace


MODEL_OPTION = click.option(
    "--model", type=Choice(MODELS), default=None,
    help="Which model computes the numbers: the shipped translate or lm, or smollm2 (the "
         "pretrained SmolLM2-135M, on any sentence of up to 16 tokens) (default: the scene's "
         "own: lm for training, translate for the others and for `all`), or the kind "
         "--checkpoint holds.")
CHECKPOINT_OPTION = click.option(
    "--checkpoint", type=click.Path(exists=True, path_type=Path), default=None,
    help="A model you trained (`train lm --corpus FILE --out PATH`) instead of a "
         "shipped one: its words, its numbers. Or a Llama-family GGUF file or Hugging Face "
         "folder (config.json, tokenizer.json, model.safetensors), run as --model smollm2 is.")


def scene_options(theme_help: str, captions_help: str):
    """The options that choose what a scene shows: model, checkpoint, sentence, layer, head,
    theme, captions, and generate's and sampling's max-new, temperature, top-k, top-p and
    seed."""
    options = [
        MODEL_OPTION,
        CHECKPOINT_OPTION,
        click.option("--sentence", default=None, callback=check_sentence_text,
                     help="The input sentence (default: the model's own)."),
        click.option("--layer", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Which layer's attention to show."),
        click.option("--head", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Which attention head to show."),
        click.option("--theme", type=Choice(THEMES), default="dark", show_default=True,
                     help=theme_help),
        click.option("--captions/--no-captions", default=True, show_default=True,
                     help=captions_help),
        click.option("--lr", type=float, default=None,
                     help="The training scene's learning rate for its one step of gradient "
                          "descent (default: the model's own, which makes the loss go down); "
                          "other scenes ignore it."),
        click.option("--max-new", type=click.IntRange(min=1), default=None,
                     help="generate: write at most this many new words  [default: until <eos> "
                          "or the model's last position]."),
        click.option("--temperature", "--sample", "temperature", type=float, default=None,
                     help="generate and sampling: draw each word from softmax(logits / T), "
                          "T > 0  [default: sampling 1; generate takes the most probable "
                          "word unless a sampler option is given]."),
        click.option("--top-k", "top_k", type=int, default=None,
                     help="generate and sampling: draw only from the K most probable words "
                          "(1 to the vocabulary's size)."),
        click.option("--top-p", "top_p", type=float, default=None,
                     help="generate and sampling: draw only from the fewest most probable "
                          "words whose probabilities add up to P, in (0, 1] (nucleus)."),
        click.option("--seed", type=SEED, default=0, show_default=True,
                     help="generate and sampling: the seed of the draw, so it can be "
                          "repeated."),
        click.option("--pace", type=Choice(tuple(PACES)), default="normal", show_default=True,
                     help="How long each step stays: normal holds each caption for 15 "
                          "characters a second and each end state 2 s (3 s with a matrix of "
                          "numbers); lecture is slower (12/s, 3.5-5 s), brisk faster (20/s, "
                          "1-1.5 s)."),
    ]

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


SEED = click.IntRange(0, 2**63 - 1)  # what NumPy's and PyTorch's generators take


def check_sentence_text(ctx, param, value: str | None) -> str | None:
    """A --sentence whose bytes are not UTF-8 (Python keeps them as lone surrogates, which no
    file can hold) is a usage error."""
    if value is not None:
        bad = next((c for c in value if "\udc80" <= c <= "\udcff"), None)
        if bad is not None or any("\ud800" <= c <= "\udfff" for c in value):
            byte = f" (byte 0x{ord(bad) - 0xDC00:02x})" if bad is not None else ""
            raise click.BadParameter(f"the sentence is not valid UTF-8 text{byte}")
    return value


def check_sampler(temperature: float | None, top_k: int | None, top_p: float | None,
                  vocab_size: int | None = None) -> None:
    """A temperature outside 0.01..100 or not finite, a top-k outside 1 to the vocabulary's
    size, a top-p outside (0, 1]: a usage error (exit 2) naming the option."""
    from transformer_core.sampling import SamplingError
    from transformer_core.sampling import check_sampler as check

    for option, args in (("--temperature", (temperature, None, None)),
                         ("--top-k", (None, top_k, None)), ("--top-p", (None, None, top_p))):
        try:
            check(*args, vocab_size)
        except SamplingError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from None


def check_lr(lr: float | None) -> float | None:
    """A learning rate that is not a positive finite number is a usage error (exit 2)."""
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise click.BadParameter(f"the learning rate must be a positive finite number, not {lr}",
                                 param_hint="--lr")
    return lr


def scene_setup(model: str | None, sentence: str | None, layer: int, head: int, theme: str,
                captions: bool, lr: float | None = None, checkpoint: Path | None = None,
                max_new: int | None = None, temperature: float | None = None,
                top_k: int | None = None, top_p: float | None = None, seed: int = 0, pace: str = "normal",
                scenes: tuple[str, ...] = ()):
    """The scene options, checked against the model: one-line usage errors for a bad sentence,
    layer, head, learning rate or sampler setting, a checkpoint of the other kind than
    --model, or a sentence longer than one of ``scenes`` can show; a notice for words shown as
    <unk>."""
    check_lr(lr)
    check_sampler(temperature, top_k, top_p)
    model = model_kind(model, checkpoint)
    trace = load_trace(model, sentence, checkpoint)
    check_sampler(temperature, top_k, top_p, len(trace.vocab))
    if scenes:
        from scenes.registry import get_scene_class

        for name in scenes:
            problem = get_scene_class(name).too_big(trace, name)  # the model, not the sentence
            if problem:
                raise click.BadParameter(problem, param_hint="--checkpoint" if checkpoint
                                         is not None else "--model")
            problem = get_scene_class(name).too_long(trace, name)
            if problem:
                raise click.BadParameter(problem, param_hint="--sentence")
    from transformer_core.explain import attention_prefix

    try:
        attention_prefix(trace.config, layer)
    except IndexError as exc:
        raise click.BadParameter(str(exc), param_hint="--layer") from None
    n_heads = trace.config.n_heads
    if head >= n_heads:
        raise click.BadParameter(f"head {head} is out of range: this model has {n_heads} "
                                 f"(0..{n_heads - 1})", param_hint="--head")
    from scenes.toolkit.storyboard import SceneOptions

    return SceneOptions(model=model, sentence=sentence, layer=layer, head=head, theme=theme,
                        captions=captions, lr=lr,
                        checkpoint=str(checkpoint) if checkpoint is not None else None,
                        max_new=max_new, temperature=temperature, top_k=top_k, top_p=top_p,
                        seed=seed, pace=pace)
