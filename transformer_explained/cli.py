"""Command line: list, trace, train, render, svg, verify, embed, gallery, slides, build, cache.

The commands only; what they share (errors, signals, checks, caching options, progress, jobs) is
in :mod:`scenes.cli`, the scene options in :mod:`scenes.cli_support`.

Torch and Manim are imported inside the commands, so ``python cli.py --help`` stays instant.

When something is wrong the command prints one line, never a traceback, and exits with

    2    a usage mistake: an empty or too long sentence, an unknown scene, model, quality, theme
         or format (the nearest valid name is suggested), a layer or head out of range, a
         learning rate that is not a positive number; a corpus that cannot be trained on
         (missing, empty, binary, not UTF-8, one sentence, too many words, a TSV line without
         a tab), an --out that must not be written; a --checkpoint of the other kind of model
         than --model;
    1    a failure: a missing or corrupt checkpoint (a --checkpoint that is not one, or is
         truncated), a number on screen that verify finds wrong, a missing system tool (latex, dvisvgm,
         ffmpeg; the command that installs it is named), a folder that cannot be written, or
         anything unexpected (``TRANSFORMER_DEBUG=1`` shows its traceback);
    130  interrupted by Ctrl-C (SIGINT); 143 by SIGTERM; 129 by SIGHUP.

Every output is written under a temporary name in its own folder and renamed into place only
when complete (a render's, or a scene's SVG figures', whole set of files at once), so a failed or
interrupted command leaves no partial file and the earlier outputs as they were. Inputs are
checked before any work starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scenes.cli_paths import NonEmptyPath
from scenes.cli.caching import apply_no_cache, cache_options, skip_check
from scenes.cli.checks import (
    FORMULA_TOOLS, WEB_TOOLS, Choice, SceneName, did_you_mean, output_file, output_folder,
    require_tools,
)
from scenes.cli.errors import Failure, Interrupted, Main
from scenes.cli.jobs import (
    default_jobs, forwarded_options, record_render_times, render_times, run_each,
)
from scenes.cli.progress import step_progress
from scenes.cli_support import (
    CHECKPOINT_OPTION, CONTEXT, MODEL_OPTION, QUALITIES, TRAINABLE_MODELS, VIDEO_FORMATS, check_lr,
    SEED, check_sampler, check_scene_kind, check_sentence_text, load_trace, model_kind, scene_options, scene_setup,
    scenes_for,
)
from scenes.engine.startup import one_blas_thread
from transformer_explained import __version__, command, command_name


@click.group(cls=Main, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="transformer-explained",
                      message="%(prog)s %(version)s")
def main() -> None:
    """Explain the Transformer with animations of a tiny trained model's real numbers."""


@main.command("list")
def list_scenes() -> None:
    """List the scenes that can be rendered."""
    from scenes.registry import SCENES

    if not SCENES:
        click.echo("no scenes yet")
    for name, info in SCENES.items():
        click.echo(f"{name:<12} {info.description}")


@main.command("trace")
@MODEL_OPTION
@CHECKPOINT_OPTION
@click.option("--sentence", default=None, callback=check_sentence_text,
              help="The input sentence (default: the model's own).")
@click.option("--format", "fmt", type=Choice(("json", "npz")), default=None,
              help="Write every recorded tensor and parameter in this format.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--out", type=NonEmptyPath(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output (npz needs a file).")
@click.option("--grad", is_flag=True,
              help="Also one training step on the sentence: the gradient of the loss for every "
                   "parameter (grads), the grad.* records, and step (targets, loss, lr, "
                   "loss_after, params_after).")
@click.option("--lr", type=float, default=None,
              help="With --grad: the learning rate of the step (default: the model's own, "
                   "which makes the loss go down).")
@click.option("--whys", is_flag=True,
              help="Also the why scene's numbers (why.*: the √d_k spread with its seeded "
                   "illustration, the dot product, softmax worked, the norms, the heads' cost, "
                   "parameter counts, the residual stream) for the first layer's head 0.")
@click.option("--params/--no-params", "with_params", default=None,
              help="Export the parameters too  [default: yes for the shipped models; no for a "
                   "pretrained one, whose 135 million numbers make a 538 MB npz: their names "
                   "and shapes are listed instead].")
@click.option("--generate", "generation", is_flag=True,
              help="Instead: the decoder writing word by word from the sentence (default: the "
                   "model's own start), each turn with its KV cache (gen.T.cache.k/v), the same "
                   "turn recomputed without it, and the sampler's steps (gen.T.sampler.*).")
@click.option("--sampling", is_flag=True,
              help="Instead: the sampling scene's records (sample.*): one position's logits, "
                   "the softmax at several temperatures, top-k, top-p and the seeded draw.")
@click.option("--max-new", type=click.IntRange(min=1), default=None,
              help="With --generate: write at most this many words.")
@click.option("--temperature", "--sample", "temperature", type=float, default=None,
              help="With --generate or --sampling: softmax(logits / T), T > 0 (--generate "
                   "samples only with a sampler option; else it takes the most probable word).")
@click.option("--top-k", "top_k", type=int, default=None,
              help="With --generate or --sampling: keep the K most probable words.")
@click.option("--top-p", "top_p", type=float, default=None,
              help="With --generate or --sampling: keep the fewest most probable words whose "
                   "probabilities reach P, in (0, 1].")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="With --generate or --sampling: the seed of the draw.")
def trace_cmd(model: str | None, checkpoint: Path | None, sentence: str | None, fmt: str | None,
              as_json: bool, out: Path | None, grad: bool, lr: float | None,
              whys: bool, with_params: bool | None, generation: bool, sampling: bool,
              max_new: int | None, temperature: float | None, top_k: int | None,
              top_p: float | None, seed: int):
    """Run a model on a sentence and show (or export) every tensor it computed."""
    fmt = "json" if as_json and fmt is None else fmt
    if fmt == "npz" and out is None:
        raise click.UsageError("--format npz needs --out FILE.npz")
    if lr is not None and not grad:
        raise click.UsageError("--lr is the learning rate of --grad's training step: add --grad")
    if sum((grad, generation, sampling, whys)) > 1:
        raise click.UsageError("give one of --grad, --generate, --sampling and --whys")
    sampler_given = any(x is not None for x in (temperature, top_k, top_p)) or seed != 0
    if (sampler_given or max_new is not None) and not (generation or sampling):
        raise click.UsageError("--max-new, --temperature, --top-k, --top-p and --seed are for "
                               "--generate or --sampling: add one")
    if max_new is not None and sampling:
        raise click.UsageError("--max-new is for --generate")
    check_lr(lr)
    check_sampler(temperature, top_k, top_p)
    model = model_kind(model, checkpoint)
    trace = load_trace(model, sentence, checkpoint)
    check_sampler(temperature, top_k, top_p, len(trace.vocab))
    if generation or sampling:
        trace = _generation_trace(model, sentence, checkpoint, generation, max_new, temperature,
                                  top_k, top_p, seed)
    if whys:
        from transformer_core import runs
        from transformer_core.sources import PRETRAINED

        if model in PRETRAINED:
            raise click.BadParameter("the why numbers are computed for the shipped kinds "
                                     "(translate, lm, modern)", param_hint="--whys")
        trace = runs.whys(model, sentence, checkpoint)
    if grad:
        from transformer_core.checkpoint import load_model
        from transformer_core.training_step import training_step

        from transformer_core.training_step import PretrainedStepError

        loaded = load_model(model, checkpoint) if checkpoint is not None else model
        try:
            trace = training_step(loaded, sentence, lr, with_init=False)
        except PretrainedStepError as exc:
            raise click.BadParameter(str(exc), param_hint="--grad") from None
        if trace.loss_went_up:
            click.echo(f"note: with lr {trace.lr:g} the loss went up ({trace.loss:.6f} -> "
                       f"{trace.loss_after:.6f}): the learning rate is too large", err=True)
        elif trace.loss_unchanged:
            click.echo(f"note: with lr {trace.lr:g} the loss did not change ({trace.loss:.6f}): "
                       "the learning rate is too small to move the weights", err=True)
    if out is not None:
        output_file(out)
    from transformer_core.export import summary, to_json, write_npz
    from transformer_core.files import atomic_write

    if fmt is None:
        text = summary(trace)
    elif fmt == "json":
        text = to_json(trace, with_params)
    else:
        text = None
    if out is None:
        click.echo(text)
        return
    try:
        if text is None:
            write_npz(trace, out, with_params)
        else:
            atomic_write(out, text.encode())
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out}")


def _generation_trace(model, sentence, checkpoint, generation: bool, max_new, temperature,
                      top_k, top_p, seed):
    """``trace --generate`` / ``--sampling``: the loop, or the sampler at one position."""
    from transformer_core import runs

    if not generation:
        return runs.sampling(model, sentence, checkpoint, temperature=temperature, top_k=top_k,
                             top_p=top_p, seed=seed)
    sampled = temperature is not None or top_k is not None or top_p is not None
    return runs.generation(model, sentence, checkpoint, max_new=max_new,
                           temperature=(temperature or 1.0) if sampled else 0.0, seed=seed,
                           top_k=top_k, top_p=top_p)


@main.command("train")
@click.argument("name", type=Choice(TRAINABLE_MODELS))
@click.option("--corpus", type=NonEmptyPath(path_type=Path), default=None,
              help="lm, modern: your own UTF-8 text file, one sentence per line.")
@click.option("--pairs", type=NonEmptyPath(path_type=Path), default=None,
              help="translate: your own UTF-8 file, one SOURCE<TAB>TARGET pair per line.")
@click.option("--tokens", type=Choice(("words", "chars", "bpe")), default="words", show_default=True,
              help="With --corpus/--pairs: words split at spaces (any script), one token per "
                   "character (scripts written without spaces), or a byte-level BPE learned on "
                   "the corpus (reads any text, never <unk>).")
@click.option("--vocab-size", type=int, default=None,
              help="With --tokens bpe: the most tokens the BPE learns, the 256 bytes and 4 "
                   "special tokens included (261..1260)  [default: 500]")
@click.option("--holdout", type=click.FloatRange(0.0, 0.5), default=None,
              help="With --corpus/--pairs: fraction of sentences held out to measure accuracy "
                   "on unseen ones  [default: 0.1 from 50 sentences on, else 0]")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Optimisation steps (default: the shipped model's; with --corpus/--pairs the "
                   "most it may take, 3000: it stops once it has learned the data).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option("--out", type=NonEmptyPath(dir_okay=False, path_type=Path), default=None,
              help="Checkpoint to write (default: the shipped one, replaced only when done; "
                   "with --corpus/--pairs, FILE's name with .pt in the current folder).")
def train_cmd(name: str, corpus: Path | None, pairs: Path | None, tokens: str,
              vocab_size: int | None, holdout: float | None, steps: int | None, seed: int,
              out: Path | None) -> None:
    """Train a model from scratch, reproducibly, and save its checkpoint.

    Without --corpus/--pairs: retrain a shipped model on its own generated data. With them:
    train on your own text (`train lm --corpus FILE`, `train modern --corpus FILE`,
    `train translate --pairs FILE.tsv`),
    then show it with `--checkpoint` on render, svg, trace and verify.
    """
    if vocab_size is not None and tokens != "bpe":
        raise click.UsageError("--vocab-size is the size of a BPE: add --tokens bpe")
    if corpus is not None or pairs is not None:
        train_corpus_cmd(name, corpus, pairs, tokens, holdout, steps, seed, out, vocab_size)
        return
    if tokens != "words":
        raise click.UsageError(f"--tokens {tokens} trains on your own text: add --corpus FILE "
                               "(lm) or --pairs FILE.tsv (translate)")
    from transformer_core.checkpoint import default_path, save_model
    from transformer_core.train import SETTINGS, train

    path = output_file(out or default_path(name))  # before training, not after
    total = steps or SETTINGS[name][0]
    with click.progressbar(length=total, label=f"training {name}", show_pos=True,
                           item_show_func=lambda s: s, file=sys.stderr) as bar:
        def progress(step: int, loss: float) -> None:
            bar.current_item = f"loss {loss:.4f}"
            bar.update(1)

        result = train(name, steps=steps, seed=seed, progress=progress)
    try:
        save_model(result.model, path)
    except OSError as exc:
        raise Failure(f"cannot write {path}: {exc.strerror or exc}") from None
    if name == "translate":
        click.echo(f"held-out exact match: {result.accuracy:.1%} "
                   f"({result.detail['heldout_pairs']} sentences)")
    else:
        click.echo(f"held-out next-token accuracy: {result.accuracy:.1%} "
                   f"(on the positions the grammar determines: "
                   f"{result.detail['determined_accuracy']:.1%})")
    click.echo(f"final loss {result.final_loss:.4f}; wrote {path}")


def _checkpoint_out(out: Path) -> Path:
    """Where a trained checkpoint goes: an existing folder, never over a file that is not a
    checkpoint (a corpus given as --out by mistake)."""
    if not out.parent.is_dir():
        what = "is a file, not a folder" if out.parent.exists() else "does not exist"
        raise click.BadParameter(f"folder {out.parent} {what}: create it first or choose another "
                                 "--out", param_hint="--out")
    if out.is_dir():
        raise click.BadParameter(f"{out} is a folder: give a file name such as {out / 'model.pt'}",
                                 param_hint="--out")
    if out.exists():
        from transformer_core.checkpoint import CheckpointError, load_checkpoint

        try:
            load_checkpoint(out)
        except CheckpointError:
            raise click.BadParameter(f"{out} exists and is not a checkpoint: it is left as it is; "
                                     "choose another --out", param_hint="--out") from None
    return output_file(out)


def train_corpus_cmd(name: str, corpus: Path | None, pairs: Path | None, tokens: str,
                     holdout: float | None, steps: int | None, seed: int, out: Path | None,
                     vocab_size: int | None = None) -> None:
    """``train lm --corpus FILE`` / ``train translate --pairs FILE``: your own model."""
    if vocab_size is not None:
        from transformer_core.corpus import MAX_BPE_VOCAB
        from transformer_core.tokenizer import BYTE_ALPHABET, MIN_BPE_VOCAB

        if vocab_size < MIN_BPE_VOCAB:
            raise click.BadParameter(
                f"{vocab_size} is smaller than the byte alphabet: a byte-level BPE needs the "
                f"{BYTE_ALPHABET} bytes, 4 special tokens and at least one merge, so at least "
                f"{MIN_BPE_VOCAB}", param_hint="--vocab-size")
        if vocab_size > MAX_BPE_VOCAB:
            raise click.BadParameter(
                f"{vocab_size} is more than a model with d_model 8 can keep apart: at most "
                f"{MAX_BPE_VOCAB}", param_hint="--vocab-size")
    if corpus is not None and pairs is not None:
        raise click.UsageError("give --corpus (lm, modern) or --pairs (translate), not both")
    if name != "translate" and pairs is not None:
        raise click.UsageError(f"--pairs is for translate; {name} learns from --corpus FILE "
                               "(one sentence per line)")
    if name == "translate" and corpus is not None:
        raise click.UsageError("--corpus is for lm and modern; translate learns from --pairs FILE.tsv "
                               "(SOURCE<TAB>TARGET per line)")
    data, option = (corpus, "--corpus") if corpus is not None else (pairs, "--pairs")
    from transformer_core.corpus import CorpusError, read_corpus

    try:
        text = read_corpus(data, "translate" if name == "translate" else "lm", tokens, vocab_size)
    except CorpusError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    path = _checkpoint_out(out if out is not None else Path(f"{data.stem}.pt"))
    if text.skipped_note():
        click.echo(f"note: {text.skipped_note()}", err=True)
    from transformer_core.checkpoint import save_model
    from transformer_core.train import CORPUS_MAX_STEPS, plan_config, train_corpus

    cfg = plan_config(text, name)
    layers = (f"{cfg.n_dec_layers} layer{'s' * (cfg.n_dec_layers > 1)}" if name != "translate"
              else f"{cfg.n_enc_layers} + {cfg.n_dec_layers} layers")
    vocab = (f"{cfg.tgt_vocab_size - 4} words" if name != "translate" else
             f"{cfg.src_vocab_size - 4} + {cfg.tgt_vocab_size - 4} words")
    if tokens == "bpe":
        merges = cfg.tgt_vocab_size - 260
        vocab = (f"of {cfg.tgt_vocab_size} tokens (a byte-level BPE: 256 bytes, 4 special, "
                 f"{merges} merges{'; both languages share it' if name == 'translate' else ''})")
    click.echo(f"{data}: {len(text)} sentences, vocabulary {vocab}; model: d_model {cfg.d_model}, "
               f"{cfg.n_heads} heads, {layers}, {cfg.max_len} positions", err=True)
    total = steps or CORPUS_MAX_STEPS
    import time

    started = time.perf_counter()
    with click.progressbar(length=total, label=f"training {name}", show_pos=True,
                           item_show_func=lambda s: s, file=sys.stderr) as bar:
        def progress(step: int, loss: float) -> None:
            bar.current_item = f"loss {loss:.4f}"
            bar.update(1)

        result = train_corpus(text, seed=seed, holdout=holdout, max_steps=total, progress=progress,
                              name=name)
    seconds = time.perf_counter() - started
    try:
        save_model(result.model, path)
    except OSError as exc:
        raise Failure(f"cannot write {path}: {exc.strerror or exc}") from None
    d = result.detail
    how = "learned its data" if d["stopped_early"] else "stopped at the step limit"
    click.echo(f"{how} in {d['steps']} steps ({seconds:.1f} s); final loss {d['final_loss']:.4f}")
    click.echo(_accuracy_line("training data", name, d["train_exact"], d["train_token_accuracy"],
                              d["train_sentences"], d["best_possible_token_accuracy"]))
    if d["heldout_sentences"]:
        click.echo(_accuracy_line("held-out data", name, d["heldout_exact"],
                                  d["heldout_token_accuracy"], d["heldout_sentences"], None))
    else:
        from transformer_core.corpus import HOLDOUT_MIN_SENTENCES

        why = ("--holdout 0" if holdout == 0 else
               f"{len(text)} sentences are too few to hold some out; {HOLDOUT_MIN_SENTENCES} are needed")
        click.echo(f"held-out data: none ({why}): the accuracy above is on sentences it trained on")
    click.echo(f"wrote {path}; show it: {_show_command(name, path, text.texts)}")


def _show_command(kind: str, path: Path, lines) -> str:
    """A `render attention` command for the new model that works: with the first line of the
    corpus (its default sentence) if the scene can show it, else with the first line that fits
    as --sentence, else the embedding scene, which shows every sentence the model reads."""
    import shlex

    from scenes.registry import get_scene_class
    from scenes.toolkit.storyboard import load_trace

    scene = get_scene_class("attention")
    where = shlex.quote(str(path))
    for k, line in enumerate(lines[:50]):
        try:
            trace = load_trace(kind, line, str(path))
        except ValueError:
            continue
        if scene.too_long(trace, "attention") is None:
            extra = "" if k == 0 else f" --sentence {shlex.quote(line)}"
            return f"{command_name()} render attention --checkpoint {where}{extra}"
    return f"{command_name()} render embedding --checkpoint {where}"


def _accuracy_line(what: str, name: str, exact: float, token: float, n: int,
                   best: float | None) -> str:
    unit = "pairs" if name == "translate" else "sentences"
    if name == "translate":
        line = f"{what}: {exact:.1%} of {n} {unit} translated exactly, next word {token:.1%}"
    else:
        line = f"{what}: next word {token:.1%} right ({n} {unit})"
    if best is not None and best < 1.0:
        line += (f"; the best possible is {best:.1%}, since some beginnings continue in "
                 "more than one way")
    return line


RENDERS_OPTION = click.option(
    "--renders", type=NonEmptyPath(file_okay=False, path_type=Path), default=Path("renders"),
    show_default=True, help="The folder the render and svg commands write to.")


def render_command(scene: str, renders: Path) -> str:
    """The command that writes what `embed` needs, for the folder it looked in."""
    out = "" if renders == Path("renders") else f" --out {renders}"
    return f"{command_name()} render {scene}{out}"


@main.command("embed")
@click.argument("scene")
@click.option("--format", "fmt", type=Choice(("html", "markdown")), default="html",
              show_default=True, help="HTML <video>, or Markdown for hosts that strip HTML.")
@click.option("--base-url", default=None,
              help="Your site's folder for these files, e.g. https://example.org/media/ "
                   "(default: paths relative to the renders folder).")
@RENDERS_OPTION
def embed_cmd(scene: str, fmt: str, base_url: str | None, renders: Path) -> None:
    """Print a snippet that embeds a rendered scene's video in a blog post."""
    from scenes.writers.publish import PublishError, embed_snippet, find_video
    from scenes.registry import SCENES

    # The name becomes a file name: only a registered scene, or a video the folder holds.
    rendered = sorted(p.stem for p in renders.glob("*.mp4") if not p.name.startswith("."))
    valid = list(dict.fromkeys([*SCENES, *rendered]))
    if scene not in valid:
        raise click.BadParameter(f"no scene {scene!r} (choose from {', '.join(valid)})"
                                 f"{did_you_mean(scene, valid)}", param_hint="SCENE")
    try:
        video = find_video(renders, scene)
    except PublishError as exc:
        raise Failure(str(exc)) from None
    if video is None:
        raise Failure(f"scene {scene!r} has not been rendered yet (no {renders / scene}.mp4): "
                      f"run `{render_command(scene, renders)}` first")
    missing = video.missing_for_web() if fmt == "html" else []
    if missing:
        raise Failure(f"scene {scene!r} has no web files yet (missing {', '.join(missing)} in "
                      f"{renders}): run `{render_command(scene, renders)}` again")
    click.echo(embed_snippet(video, fmt, base_url))


@main.command("gallery")
@click.option("--out", type=NonEmptyPath(dir_okay=False, path_type=Path), default=None,
              help="The page to write  [default: RENDERS/index.html]")
@RENDERS_OPTION
def gallery_cmd(out: Path | None, renders: Path) -> None:
    """Write one page showing every rendered video and SVG diagram, with snippets to copy."""
    from scenes.writers.publish import PublishError, find_diagrams, find_videos, write_gallery

    out = out or renders / "index.html"
    skipped: list[Path] = []  # files under svg/ that are not readable SVGs: left out, named
    if not find_diagrams(renders, skipped) and not find_videos(renders):
        me = command_name()
        raise Failure(f"nothing rendered in {renders} yet: run `{me} render SCENE` or "
                      f"`{me} svg SCENE` first (`{me} list` names the scenes)")
    output_file(out)
    try:
        _, n_videos, n_diagrams = write_gallery(renders, out)
    except PublishError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out} ({n_videos} video{'s' * (n_videos != 1)}, "
               f"{n_diagrams} diagram{'s' * (n_diagrams != 1)})")
    if skipped:
        click.echo(f"note: left out {len(skipped)} file{'s' * (len(skipped) > 1)} that "
                   f"{'are' if len(skipped) > 1 else 'is'} not a readable SVG: "
                   f"{', '.join(map(str, skipped[:3]))}{', ...' if len(skipped) > 3 else ''}",
                   err=True)


@main.command("svg")
@click.argument("scene", type=SceneName(extra=("all",)))
@click.option("--out", type=NonEmptyPath(file_okay=False, path_type=Path), default=None,
              help="The folder to write to  [default: RENDERS/svg/SCENE; with `all`, "
                   "OUT/SCENE for each scene].")
@scene_options(theme_help="Colour theme; light suits most blog pages.",
               captions_help="Draw each step's caption in the figure (it is always in the "
                             "SVG's <desc>).")
@click.option("--transparent", is_flag=True,
              help="Leave out the background, so the page's own colour shows through.")
@click.option("--step", default=None, help="Write only this storyboard step (by name).")
@RENDERS_OPTION
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="With `all`: how many scenes are exported at once, each in its own process "
                   "(the same files, sooner)  [default: the number of cores].")
@cache_options
@click.pass_context
def svg_cmd(ctx: click.Context, scene: str, out: Path | None, model: str | None,
            checkpoint: Path | None, sentence: str | None, layer: int, head: int, theme: str,
            captions: bool, lr: float | None, transparent: bool, step: str | None,
            renders: Path, jobs: int | None, force: bool, no_cache: bool, **generation) -> None:
    """Write one vector SVG diagram per storyboard step: the step's end state.

    SCENE is a scene name (see `list`) or `all`. Files are named NN-STEP.svg; the same inputs
    always give the same bytes, and a file whose content would not change is left untouched.
    Each path is printed as it is written. A scene whose code, checkpoint, options and tools
    are those of the last export into its folder, with its files as they were left, is
    skipped (--force exports anyway). With `all`, --jobs scenes are exported at once.
    """
    from scenes.registry import default_model

    if scene == "all" and step is not None:
        raise click.UsageError("--step names a step of one scene: give a scene name, not `all`")
    apply_no_cache(no_cache)
    if model is None and checkpoint is None:
        model = "translate" if scene == "all" else default_model(scene)
    names = scenes_for(scene, model or model_kind(None, checkpoint))
    if out is None:
        folders = {name: renders / "svg" / name for name in names}
    else:
        folders = {name: out / name if scene == "all" else out for name in names}
    # One --step has a record of its own (a post's figures file asks for single steps).
    target = {name: name if step is None else f"{name}-{step}" for name in folders}
    records = {name: skip_check(ctx, "svg", target[name], folder, f"{target[name]}.svg", model)
               for name, folder in folders.items()}
    for name, (_, _, current) in records.items():
        if current:
            click.echo(f"{target[name]}: skipped, nothing changed since the last export into "
                       f"{folders[name]} (--force exports anyway)")
    folders = {name: folder for name, folder in folders.items() if not records[name][2]}
    if not folders:
        return
    options = scene_setup(model, sentence, layer, head, theme, captions, lr, checkpoint,
                          scenes=tuple(folders), **generation)
    for name in folders:
        check_scene_kind(name, options.model, checkpoint)
    from scenes.registry import get_scene_class
    from scenes.writers.svg import UnknownStepError, UnsupportedMobjectError, export_svgs

    if step is not None:  # a step name becomes a file name: only one of the storyboard's
        valid = [s.name for s in get_scene_class(scene).storyboard(options)]
        if step not in valid:
            raise click.BadParameter(f"{UnknownStepError(scene, step, valid)}"
                                     f"{did_you_mean(step, valid)}", param_hint="--step")
    require_tools(*FORMULA_TOOLS)
    for folder in folders.values():
        output_folder(folder, "--out" if out is not None else "--renders")

    def report(path: Path, status: str) -> None:
        notes = {"written": "", "unchanged": " (unchanged)", "removed": " (removed: no such step)"}
        click.echo(f"{path}{notes[status]}")

    def finished(name: str, paths: list[Path]) -> None:
        manifest, key, _ = records[name]
        if manifest is not None:
            manifest.record(key, paths)

    jobs = min(jobs or default_jobs(), len(folders))
    if jobs > 1:  # several scenes, each exported whole by one of `jobs` forked processes
        from scenes.engine.svg_jobs import SceneFailed, export_scenes

        for name in folders:
            manifest = records[name][0]
            if manifest is not None:
                manifest.forget()
        # The longest first (by the CPU time of the last export), so that the processes end
        # close together; scenes not timed yet go first, in the catalogue's order.
        known = render_times("svg")
        folders = dict(sorted(folders.items(), key=lambda item: -known.get(item[0], float("inf"))))
        timings: dict[str, float] = {}
        try:
            export_scenes(folders, options, jobs, transparent=transparent, progress=report,
                          finished=finished, timings=timings)
        except SceneFailed as exc:
            raise Failure(str(exc)) from None
        finally:
            record_render_times("svg", timings)
        return
    for name, folder in folders.items():
        manifest, key, _ = records[name]
        if manifest is not None:
            manifest.forget()
        try:
            paths = export_svgs(name, options, folder, step=step, transparent=transparent,
                                progress=report)
        except UnknownStepError as exc:
            raise click.BadParameter(f"{exc}{did_you_mean(step, exc.valid)}",
                                     param_hint="--step") from None
        except UnsupportedMobjectError as exc:
            raise Failure(f"scene {name!r}: {exc}") from None
        except OSError as exc:
            raise Failure(f"cannot write {folder}: {exc.strerror or exc}") from None
        finished(name, paths)


@main.command("cache")
@click.option("--clear", is_flag=True, help="Empty the caches and say how much was freed.")
def cache_cmd(clear: bool) -> None:
    """Show where the caches are and how much they hold, or empty them (--clear).

    The caches keep laid-out text, compiled formulas and the model's runs on a sentence
    between renders, with the records of what was rendered (to skip it when unchanged), in
    $XDG_CACHE_HOME/transformer-explained (else ~/.cache/transformer-explained), at most
    TRANSFORMER_CACHE_MB megabytes (default 512; the least recently used go first). The float
    weights of a pretrained model (--model smollm2: 540 MB) are kept apart, the newest two.
    """
    from transformer_core import cache

    root = cache.cache_root()
    if clear:
        left: list[str] = []
        try:
            files, freed = cache.clear(left=left)
        except OSError as exc:
            raise Failure(f"cannot clear {root}: {exc.strerror or exc}") from None
        click.echo(f"freed {_size(freed)} ({files} file{'s' * (files != 1)}) from {root}")
        if left:  # not "cleared" when it was not
            raise Failure(f"{len(left)} entr{'ies' if len(left) > 1 else 'y'} could not be "
                          f"removed, e.g. {left[0]}")
        return
    parts = cache.usage_by_folder()
    weights = parts.get("weights", 0)
    kept = (f" and {_size(weights)} of pretrained weights (counted apart: the newest two models)"
            if weights else "")
    click.echo(f"{root}: {_size(cache.usage() - weights)} of at most "
               f"{_size(cache.limit_bytes())}{kept}")
    if parts:
        click.echo("  " + " · ".join(f"{name} {_size(size)}" for name, size in parts.items()))


def _size(n: int) -> str:
    """Bytes, readably: 812 bytes, 3.4 MB."""
    if n < 1000:
        return f"{n} byte{'s' * (n != 1)}"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} GB"


@main.command("verify")
@click.argument("scene", type=SceneName(extra=("all",)))
@scene_options(theme_help="Colour theme (does not change a number).",
               captions_help="Captions on or off (does not change a number).")
def verify_cmd(scene: str, model: str | None, checkpoint: Path | None, sentence: str | None,
               layer: int, head: int, theme: str, captions: bool, lr: float | None,
               **generation) -> None:
    """Check every number a scene shows against the model, and the model against PyTorch.

    Builds every storyboard step's end state (no pixels, nothing written), compares each
    number and word label on screen with a fresh run of the model on the same sentence, and
    recomputes that run with PyTorch's own layers (nn.TransformerEncoderLayer, ...DecoderLayer,
    nn.MultiheadAttention, F.scaled_dot_product_attention) fed the same weights. Prints one
    line per scene; exits 1 at the first mismatch, naming it.
    """
    from scenes.registry import default_model

    if model is None and checkpoint is None:
        model = "translate" if scene == "all" else default_model(scene)
    options = scene_setup(model, sentence, layer, head, theme, captions, lr, checkpoint,
                          **generation)
    names = scenes_for(scene, options.model)
    for name in names:
        check_scene_kind(name, options.model, checkpoint)
    require_tools(*FORMULA_TOOLS)
    from scenes.toolkit.verify import verify_scene

    for name in names:
        report = verify_scene(name, options)
        if not report.ok:
            raise Failure(report.line())
        click.echo(report.line())


@main.command("render")
@click.argument("scene", type=SceneName(extra=("all",)))
@scene_options(theme_help="Colour theme; light has a white background for blog pages.",
               captions_help="Show each step's caption on screen (the .srt subtitles are always "
                             "written).")
@click.option("--quality", type=Choice(QUALITIES), default="low", show_default=True,
              help="480p15, 720p30, 1080p60 or 2160p60.")
@click.option("--format", "fmt", type=Choice(VIDEO_FORMATS), default="mp4", show_default=True,
              help="Video container, or png for one still per storyboard step.")
@click.option("--out", type=NonEmptyPath(file_okay=False, path_type=Path), default=Path("renders"),
              show_default=True, help="The folder to write to.")
@click.option("--web/--no-web", default=True, show_default=True,
              help="With mp4: make it start playing before it is downloaded, and write the webm, "
                   "gif, poster and .vtt a web page needs beside it (see `embed`).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="How many processes draw the video (the same frames, sooner), or with `all` "
                   "how many scenes render at once  [default: the number of cores].")
@click.option("--narrate", is_flag=True,
              help="A voice reads each step (its caption and the numbers it shows), with the "
                   "steps held until it has finished: AAC sound in the mp4, Opus in the webm, "
                   "subtitles of the spoken sentences. Offline; needs the narration extra.")
@click.option("--voice-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Narrate with your recordings instead: one audio file per step, "
                                 "named NN-step.wav (as in --script's sections).")
@click.option("--script", "script", type=NonEmptyPath(dir_okay=False, path_type=Path),
              default=None, help="Also write the narration script: one section per step with "
                                 "its text and duration, to read, edit or record.")
@click.option("--step", default=None,
              help="Only this storyboard step (by name): its clip as OUT/SCENE-STEP.mp4 (with "
                   "its web files), or with --format png its end state as OUT/SCENE-STEP.png.")
@cache_options
@click.pass_context
def render_cmd(ctx: click.Context, scene: str, model: str | None, checkpoint: Path | None,
               sentence: str | None, layer: int, head: int, theme: str, captions: bool,
               lr: float | None, quality: str, fmt: str, out: Path, web: bool,
               jobs: int | None, step: str | None, narrate: bool, voice_dir: Path | None,
               script: Path | None, force: bool, no_cache: bool, **generation) -> None:
    """Render a scene as a video of the model's real numbers, with .srt subtitles beside it.

    SCENE is a scene name (see `list`) or `all` (every scene, --jobs at a time, each in its own
    process). The video is written as OUT/SCENE.FORMAT and appears only when complete; with
    --format png, OUT/SCENE-steps/NN-STEP.png holds each step's end state. The files of one
    render (video, subtitles, web files) are renamed into place together at the end: an
    interrupted or failed render leaves the earlier ones as they were. A render whose code,
    checkpoint, options and tools are those of the last render into OUT, with its files as it
    left them, is skipped (--force renders anyway).
    """
    from scenes.registry import default_model

    apply_no_cache(no_cache)
    voiced = narrate or voice_dir is not None
    if scene == "all" and (voiced or script is not None):
        raise click.UsageError("--narrate, --voice-dir and --script are for one scene, not all")
    if voiced and fmt in ("png", "gif"):
        raise click.UsageError(f"--format {fmt} has no sound: narrate an mp4, webm or mov")
    if step is not None and scene == "all":
        raise click.UsageError("--step names a step of one scene: give a scene name, not `all`")
    if step is not None and fmt not in ("mp4", "png"):
        raise click.UsageError("--step writes the step's clip (mp4) or its still (png): "
                               f"not --format {fmt}")
    if step is not None and (voiced or script is not None):
        raise click.UsageError("--step makes one step's clip or still: narrate the whole scene")
    if scene == "all":
        return render_all(ctx, out, jobs or default_jobs())
    if model is None and checkpoint is None:
        model = default_model(scene)
    web = web and fmt == "mp4"
    target = f"{scene}-{step}" if step is not None else scene
    manifest, key, current = skip_check(ctx, "render", target, out, f"{target}.{fmt}", model)
    current = current and voice_dir is None and script is None  # files the key cannot see
    if current:
        click.echo(f"{target}: skipped, nothing changed since the last render into {out} "
                   "(--force renders anyway)")
        return
    options = scene_setup(model, sentence, layer, head, theme, captions, lr, checkpoint,
                          scenes=(scene,), **generation)
    check_scene_kind(scene, options.model, checkpoint)
    if step is not None:
        from scenes.cli.step_render import check_step, render_step

        check_step(scene, step, options)
    require_tools(*FORMULA_TOOLS, *(WEB_TOOLS if web or voiced else ()))
    output_folder(out)
    if step is not None:
        manifest.forget()
        manifest.record(key, render_step(scene, step, options, quality, fmt, out, web, captions))
        return
    if script is not None:
        output_file(script)
    speeches = narration = None
    if voiced or script is not None:
        from scenes import narration as voice

        speeches = voice.narrate(scene, options)
        try:
            if voice_dir is not None:
                voice.from_voice_dir(voice_dir, speeches)
            elif narrate:
                voice.synthesise(speeches)
        except voice.NarrationError as exc:
            raise Failure(str(exc)) from None
        narration = voice.Narration(speeches) if voiced else None

    from scenes.registry import get_scene_class
    from scenes.writers import video as rendering
    from transformer_core.files import staged_folder

    total = len(get_scene_class(scene).storyboard(options))
    manifest.forget()  # the files are about to change
    with staged_folder(out) as stage:
        with step_progress(f"rendering {scene}", total) as progress:
            result = rendering.render_scene(scene, options, quality=quality, fmt=fmt,
                                            out_dir=stage, progress=progress,
                                            jobs=jobs or default_jobs(), narration=narration)
        published = publish_for_web(result.path, result.subtitles, captions) if web else []

    def final(path: Path) -> Path:  # where a file of the staging folder now is
        return out / Path(path).relative_to(stage)

    if fmt == "png":
        # The stills were written into the staging folder: the earlier render's steps that this
        # storyboard does not have (another model's, say) are left in OUT's folder, removed here.
        rendering.remove_stale_stills(final(result.path), [Path(p).name for p in result.stills])
        written = [final(p) for p in result.stills]
        click.echo(f"wrote {len(result.stills)} stills to {final(result.path)}")
    else:
        written = [final(result.path), final(result.subtitles)]
        click.echo(f"wrote {final(result.path)} ({result.duration:.1f} s) and "
                   f"{final(result.subtitles)}")
    for path in published:
        written.append(final(path))
        click.echo(f"wrote {final(path)}")
    if script is not None:
        voice.write_script(script, scene, speeches, None if fmt == "png" else result.step_times)
        click.echo(f"wrote {script}")
    manifest.record(key, written)


def render_all(ctx: click.Context, out: Path, jobs: int) -> None:
    """Every registered scene, ``jobs`` processes at a time; one line per failed scene."""
    from scenes.registry import SCENES

    output_folder(out)
    options = forwarded_options(ctx, leave_out=("jobs",))
    # The longest first (as long as the last run of `render all` took), so that the last to
    # finish are short ones: the processes run side by side until close to the end. A core
    # each; the last scene to start gets them all (`--jobs`: its video drawn by that many
    # processes), as the others finish and leave their cores to it.
    kind = f"{ctx.params.get('quality')} {ctx.params.get('fmt')}"
    known = render_times(kind)
    order = sorted(SCENES, key=lambda name: -known.get(name, float("inf")))
    last = order[-1] if len(order) > jobs else None
    commands = {name: [*command(), "render", name, *options,
                       "--jobs", str(jobs if name == last else 1)]
                for name in order}
    click.echo(f"rendering {len(commands)} scenes, {min(jobs, len(commands))} at a time")
    durations: dict[str, float] = {}
    results = run_each(commands, jobs, durations)
    rendered = {n: t for n, t in durations.items()  # a skipped scene says so in its last line
                if results[n][0] == 0 and f"{n}: skipped" not in results[n][1]}
    record_render_times(kind, rendered)
    failed = {name: result for name, result in results.items() if result[0] != 0}
    if not failed:
        click.echo(f"all {len(results)} scenes done in {out}")
        return
    codes = {code for code, _ in failed.values()}
    lines = {line for _, line in failed.values()}
    if len(failed) == len(results) and codes == {2} and len(lines) == 1:
        raise click.UsageError(next(iter(lines)).removeprefix("Error: "))  # the same mistake
    if codes and all(code >= 128 for code in codes):
        raise Interrupted(max(codes) - 128)
    detail = "; ".join(f"{name} (exit {code}: {line.removeprefix('Error: ')})"
                       for name, (code, line) in failed.items())
    raise Failure(f"{len(failed)} of {len(results)} scenes failed: {detail}")


@main.command("slides")
@click.argument("scene", type=SceneName(extra=("all",)))
@scene_options(theme_help="Colour theme of the deck and the PowerPoint file (the handout is "
                          "always light, for paper).",
               captions_help="Show each step's caption in the video (it is always the speaker "
                             "note and the handout's text).")
@click.option("--step", "steps", multiple=True,
              help="Only this storyboard step (by name; repeat for several). Default: every step.")
@click.option("--quality", type=Choice(QUALITIES), default="low", show_default=True,
              help="480p15, 720p30, 1080p60 or 2160p60.")
@click.option("--out", type=NonEmptyPath(file_okay=False, path_type=Path),
              default=Path("renders/slides"), show_default=True,
              help="The folder to write to; the deck goes in OUT/SCENE/.")
@click.option("--narrate", is_flag=True,
              help="Each slide's clip is held for, and carries, a voice reading its step (see "
                   "render --narrate); the deck plays it with sound.")
def slides_cmd(scene: str, model: str | None, checkpoint: Path | None, sentence: str | None,
               layer: int, head: int, theme: str, captions: bool, lr: float | None,
               steps: tuple[str, ...], quality: str, out: Path, narrate: bool,
               **generation) -> None:
    """Slides for class, one per storyboard step: an HTML deck, a PowerPoint file, a PDF handout.

    SCENE is a scene name (see `list`) or `all` (every scene, in catalogue order). Each step's
    animation plays and holds on its end state; the caption is the speaker note. The deck
    OUT/SCENE/SCENE.html works opened from disk with no network (its videos are in media/
    beside it): → or space next, ← back, R replay, S speaker window, ? keys. Renders are
    cached: making the slides again only redraws the handout.
    """
    from scenes.registry import default_model, get_scene_class

    if model is None and checkpoint is None:
        model = "translate" if scene == "all" else default_model(scene)
    names = scenes_for(scene, model or model_kind(None, checkpoint))
    options = scene_setup(model, sentence, layer, head, theme, captions, lr, checkpoint,
                          scenes=tuple(names), **generation)
    for name in names:
        check_scene_kind(name, options.model, checkpoint)
    valid = list(dict.fromkeys(s.name for n in names for s in get_scene_class(n).storyboard(options)))
    for step in steps:  # a step name becomes part of a file name: only the storyboard's
        if step not in valid:
            where = "any scene" if scene == "all" else f"scene {scene!r}"
            raise click.BadParameter(f"{where} has no step {step!r}; choose from "
                                     f"{', '.join(valid)}{did_you_mean(step, valid)}",
                                     param_hint="--step")
    slides_need = "needed for the slides' video clips"  # slides has no --no-web to skip them
    require_tools(*FORMULA_TOOLS, *WEB_TOOLS, purpose=dict.fromkeys(WEB_TOOLS, slides_need))
    output_folder(out)
    narrations = {}
    if narrate:
        from scenes import narration as voice

        for name in names:
            speeches = voice.narrate(name, options)
            try:
                voice.synthesise(speeches)
            except voice.NarrationError as exc:
                raise Failure(str(exc)) from None
            narrations[name] = voice.Narration(speeches)
    from scenes.writers.slides import write_slides

    sizes = [len(get_scene_class(n).storyboard(options)) for n in names]
    before = {n: sum(sizes[:k]) for k, n in enumerate(names)}  # steps of the scenes before
    with step_progress(f"rendering {scene}", sum(sizes)) as progress:
        def report(name, index, step, n) -> None:
            progress(before[name] + index, step, sum(sizes))

        try:
            result = write_slides(names, options, quality, out, scene, steps, progress=report,
                                  narrations=narrations)
        except OSError as exc:
            from transformer_core.files import error_path

            raise Failure(f"cannot write {error_path(exc) or out / scene}: "
                          f"{exc.strerror or exc}") from None
    media = sum(p.stat().st_size for p in (result.folder / "media").iterdir())
    n = len(result.slides)
    click.echo(f"wrote {result.html} ({n} slides; with media/ {media / 1e6:.1f} MB): open it in a "
               "browser, → next, ← back, R replay, S speaker notes")
    click.echo(f"wrote {result.pptx} ({result.pptx.stat().st_size / 1e6:.1f} MB)")
    click.echo(f"wrote {result.pdf} (handout, {n} pages, {result.pdf.stat().st_size / 1e6:.1f} MB)")


@main.command("build")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path), default=Path("figures.toml"))
@click.option("--force", is_flag=True, help="Make every output even if nothing changed.")
def build_cmd(file: Path, force: bool) -> None:
    """Make or refresh every figure a post's figures file lists  [FILE: figures.toml].

    FILE (TOML, in the post's folder) lists [[figure]] tables: a scene, its options (those of
    `render` and `svg`: model, sentence, theme, quality, ...) and the outputs wanted:
    video = true, clip = "STEP", svg = true or ["STEP", ...], still = "STEP" (a PNG). They are
    written to OUT/NAME/ (out = "..." beside FILE; NAME: the figure's name, else its scene).
    What has not changed since the last build is skipped. One line per figure output as it
    finishes, one line per failure at the end (exit 1); a mistake in FILE is one line naming
    the entry (exit 2) before anything is drawn.
    """
    from scenes.cli.build import read_figures, run_build

    figures = read_figures(file, main)
    run_build(figures, command(), force)


def publish_for_web(video: Path, subtitles: Path | None, captions_in_video: bool) -> list[Path]:
    """The web-ready set beside a rendered mp4; returns the files written (subtitles aside)."""
    from scenes.writers.publish import PublishError, publish_video

    written: list[Path] = []

    def report(path: Path) -> None:
        if path.suffix != ".srt":
            written.append(path)

    try:
        publish_video(video, subtitles, captions_in_video=captions_in_video, progress=report)
    except PublishError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot write beside {video}: {exc.strerror or exc}") from None
    return written


def run() -> None:
    """The command line as a process of its own (``python cli.py``, ``transformer-explained``)."""
    one_blas_thread()
    main()


if __name__ == "__main__":
    run()
