"""Command line: render, svg, trace, train, list.

Torch and Manim are imported inside the commands, so ``python cli.py --help`` stays instant.
Errors are one line: exit 2 for a usage mistake, 1 for a failure, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

MODELS = ("translate", "lm")
ROOT = Path(__file__).resolve().parent
CONTEXT = {"help_option_names": ["-h", "--help"]}


class Failure(click.ClickException):
    """A failure that is not the user's typing: exit 1, one line."""

    exit_code = 1


def load_trace(model: str, sentence: str | None):
    """Run the model on the sentence; bad input becomes a one-line error, unknown words a notice."""
    from transformer_core.checkpoint import CheckpointError
    from transformer_core.tokenizer import EmptySentenceError
    from transformer_core.trace import SentenceTooLongError, run_with_trace

    if sentence is not None and not sentence.strip():
        raise click.BadParameter("the sentence is empty: give at least one word", param_hint="--sentence")
    try:
        trace = run_with_trace(model, sentence)
    except (EmptySentenceError, SentenceTooLongError) as exc:
        raise click.BadParameter(str(exc), param_hint="--sentence") from None
    except CheckpointError as exc:
        raise Failure(str(exc)) from None
    if trace.unknown:
        words = ", ".join(repr(w) for w in trace.unknown)
        click.echo(f"note: not in the {model} vocabulary, shown as <unk>: {words}", err=True)
    return trace


@click.group(context_settings=CONTEXT)
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
@click.option("--model", type=click.Choice(MODELS), default="translate", show_default=True,
              help="Which shipped model to run.")
@click.option("--sentence", default=None, help="The input sentence (default: the model's own).")
@click.option("--format", "fmt", type=click.Choice(("json", "npz")), default=None,
              help="Write every recorded tensor and parameter in this format.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output (npz needs a file).")
def trace_cmd(model: str, sentence: str | None, fmt: str | None, as_json: bool, out: Path | None):
    """Run a model on a sentence and show (or export) every tensor it computed."""
    from transformer_core.export import summary, to_json, write_npz

    fmt = "json" if as_json and fmt is None else fmt
    trace = load_trace(model, sentence)
    if fmt is None:
        text = summary(trace)
    elif fmt == "json":
        text = to_json(trace)
    else:
        if out is None:
            raise click.UsageError("--format npz needs --out FILE.npz")
        text = None
    if out is None:
        click.echo(text)
        return
    from transformer_core.export import atomic_write

    try:
        if text is None:
            write_npz(trace, out)
        else:
            atomic_write(out, text.encode())
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out}")


@main.command("train")
@click.argument("name", type=click.Choice(MODELS))
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Optimisation steps (default: the shipped model's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Checkpoint to write (default: the shipped one, replaced only when done).")
def train_cmd(name: str, steps: int | None, seed: int, out: Path | None) -> None:
    """Retrain a model from scratch, reproducibly, and save its checkpoint."""
    from transformer_core.checkpoint import default_path, save_model
    from transformer_core.train import SETTINGS, train

    total = steps or SETTINGS[name][0]
    with click.progressbar(length=total, label=f"training {name}", show_pos=True,
                           item_show_func=lambda s: s, file=sys.stderr) as bar:
        def progress(step: int, loss: float) -> None:
            bar.current_item = f"loss {loss:.4f}"
            bar.update(1)

        result = train(name, steps=steps, seed=seed, progress=progress)
    path = out or default_path(name)
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


RENDERS_OPTION = click.option(
    "--renders", type=click.Path(file_okay=False, path_type=Path), default=Path("renders"),
    show_default=True, help="The folder the render and svg commands write to.")


def render_command(scene: str, renders: Path) -> str:
    """The command that writes what `embed` needs, for the folder it looked in."""
    out = "" if renders == Path("renders") else f" --out {renders}"
    return f"python cli.py render {scene}{out}"


@main.command("embed")
@click.argument("scene")
@click.option("--format", "fmt", type=click.Choice(("html", "markdown")), default="html",
              show_default=True, help="HTML <video>, or Markdown for hosts that strip HTML.")
@click.option("--base-url", default=None,
              help="Your site's folder for these files, e.g. https://example.org/media/ "
                   "(default: paths relative to the renders folder).")
@RENDERS_OPTION
def embed_cmd(scene: str, fmt: str, base_url: str | None, renders: Path) -> None:
    """Print a snippet that embeds a rendered scene's video in a blog post."""
    from scenes.publish import PublishError, embed_snippet, find_video

    try:
        video = find_video(renders, scene)
    except PublishError as exc:
        raise Failure(str(exc)) from None
    if video is None:
        from scenes.registry import SCENES

        if scene not in SCENES:
            raise click.BadParameter(f"no scene {scene!r} (choose from {', '.join(SCENES)})",
                                     param_hint="SCENE")
        raise Failure(f"scene {scene!r} has not been rendered yet (no {renders / scene}.mp4): "
                      f"run `{render_command(scene, renders)}` first")
    missing = video.missing_for_web() if fmt == "html" else []
    if missing:
        raise Failure(f"scene {scene!r} has no web files yet (missing {', '.join(missing)} in "
                      f"{renders}): run `{render_command(scene, renders)}` again")
    click.echo(embed_snippet(video, fmt, base_url))


@main.command("gallery")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The page to write  [default: RENDERS/index.html]")
@RENDERS_OPTION
def gallery_cmd(out: Path | None, renders: Path) -> None:
    """Write one page showing every rendered video and SVG diagram, with snippets to copy."""
    from scenes.publish import PublishError, find_diagrams, find_videos, write_gallery

    out = out or renders / "index.html"
    if not find_videos(renders) and not find_diagrams(renders):
        raise Failure(f"nothing rendered in {renders} yet: run `python cli.py render SCENE` or "
                      "`python cli.py svg SCENE` first (`python cli.py list` names the scenes)")
    try:
        _, n_videos, n_diagrams = write_gallery(renders, out)
    except PublishError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out} ({n_videos} video{'s' * (n_videos != 1)}, "
               f"{n_diagrams} diagram{'s' * (n_diagrams != 1)})")


@main.command("svg")
@click.argument("scene")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The folder to write to  [default: RENDERS/svg/SCENE; with `all`, "
                   "OUT/SCENE for each scene].")
@click.option("--model", type=click.Choice(MODELS), default="translate", show_default=True,
              help="Which shipped model computes the numbers.")
@click.option("--sentence", default=None, help="The input sentence (default: the model's own).")
@click.option("--layer", type=click.IntRange(min=0), default=0, show_default=True,
              help="Which layer's attention to show.")
@click.option("--head", type=click.IntRange(min=0), default=0, show_default=True,
              help="Which attention head to show.")
@click.option("--theme", type=click.Choice(("dark", "light")), default="dark", show_default=True,
              help="Colour theme; light suits most blog pages.")
@click.option("--transparent", is_flag=True,
              help="Leave out the background, so the page's own colour shows through.")
@click.option("--captions/--no-captions", default=True, show_default=True,
              help="Draw each step's caption in the figure (it is always in the SVG's <desc>).")
@click.option("--step", default=None, help="Write only this storyboard step (by name).")
@RENDERS_OPTION
def svg_cmd(scene: str, out: Path | None, model: str, sentence: str | None, layer: int,
            head: int, theme: str, transparent: bool, captions: bool, step: str | None,
            renders: Path) -> None:
    """Write one vector SVG diagram per storyboard step: the step's end state.

    SCENE is a scene name (see `list`) or `all`. Files are named NN-STEP.svg; the same inputs
    always give the same bytes, and a file whose content would not change is left untouched.
    Each path is printed as it is written.
    """
    from scenes.registry import SCENES

    if scene != "all" and scene not in SCENES:
        raise click.BadParameter(f"no scene {scene!r} (choose from all, {', '.join(SCENES)})",
                                 param_hint="SCENE")
    if scene == "all" and step is not None:
        raise click.UsageError("--step names a step of one scene: give a scene name, not `all`")
    names = list(SCENES) if scene == "all" else [scene]
    trace = load_trace(model, sentence)  # one-line errors for a bad sentence, a notice for <unk>
    from transformer_core.explain import attention_prefix

    try:
        attention_prefix(trace.config, layer)
    except IndexError as exc:
        raise click.BadParameter(str(exc), param_hint="--layer") from None
    if head >= trace.config.n_heads:
        raise click.BadParameter(f"head {head} is out of range: this model has "
                                 f"{trace.config.n_heads} (0..{trace.config.n_heads - 1})",
                                 param_hint="--head")

    from scenes.storyboard import SceneOptions
    from scenes.svg import UnknownStepError, UnsupportedMobjectError, export_svgs

    options = SceneOptions(model=model, sentence=sentence, layer=layer, head=head, theme=theme,
                           captions=captions)

    def report(path: Path, status: str) -> None:
        notes = {"written": "", "unchanged": " (unchanged)", "removed": " (removed: no such step)"}
        click.echo(f"{path}{notes[status]}")

    for name in names:
        if out is None:
            folder = renders / "svg" / name
        else:
            folder = out / name if scene == "all" else out
        try:
            export_svgs(name, options, folder, step=step, transparent=transparent,
                        progress=report)
        except UnknownStepError as exc:
            raise click.BadParameter(str(exc), param_hint="--step") from None
        except UnsupportedMobjectError as exc:
            raise Failure(f"scene {name!r}: {exc}") from None
        except OSError as exc:
            raise Failure(f"cannot write {folder}: {exc.strerror or exc}") from None


@main.command("render")
@click.argument("scene")
@click.option("--sentence", default=None, help="The input sentence (default: the model's own).")
@click.option("--model", type=click.Choice(MODELS), default="translate", show_default=True,
              help="Which shipped model computes the numbers.")
@click.option("--layer", type=click.IntRange(min=0), default=0, show_default=True,
              help="Which layer's attention to show.")
@click.option("--head", type=click.IntRange(min=0), default=0, show_default=True,
              help="Which attention head to show.")
@click.option("--quality", type=click.Choice(("low", "medium", "high", "4k")), default="low",
              show_default=True, help="480p15, 720p30, 1080p60 or 2160p60.")
@click.option("--format", "fmt", type=click.Choice(("mp4", "webm", "gif", "mov", "png")),
              default="mp4", show_default=True,
              help="Video container, or png for one still per storyboard step.")
@click.option("--theme", type=click.Choice(("dark", "light")), default="dark", show_default=True,
              help="Colour theme; light has a white background for blog pages.")
@click.option("--captions/--no-captions", default=True, show_default=True,
              help="Show each step's caption on screen (the .srt subtitles are always written).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("renders"),
              show_default=True, help="The folder to write to.")
@click.option("--web/--no-web", default=True, show_default=True,
              help="With mp4: make it start playing before it is downloaded, and write the webm, "
                   "gif, poster and .vtt a web page needs beside it (see `embed`).")
def render_cmd(scene: str, sentence: str | None, model: str, layer: int, head: int, quality: str,
               fmt: str, theme: str, captions: bool, out: Path, web: bool) -> None:
    """Render a scene as a video of the model's real numbers, with .srt subtitles beside it.

    SCENE is a scene name (see `list`). The video is written as OUT/SCENE.FORMAT and appears
    only when complete; with --format png, OUT/SCENE-steps/NN-STEP.png holds each step's end
    state.
    """
    from scenes.registry import SCENES

    if scene not in SCENES:
        raise click.BadParameter(f"no scene {scene!r} (choose from {', '.join(SCENES)})",
                                 param_hint="SCENE")
    trace = load_trace(model, sentence)  # one-line errors for a bad sentence, a notice for <unk>
    from transformer_core.explain import attention_prefix

    try:
        attention_prefix(trace.config, layer)
    except IndexError as exc:
        raise click.BadParameter(str(exc), param_hint="--layer") from None
    if head >= trace.config.n_heads:
        raise click.BadParameter(f"head {head} is out of range: this model has "
                                 f"{trace.config.n_heads} (0..{trace.config.n_heads - 1})",
                                 param_hint="--head")

    from scenes.registry import get_scene_class
    from scenes.render import render_scene
    from scenes.storyboard import SceneOptions

    options = SceneOptions(model=model, sentence=sentence, layer=layer, head=head, theme=theme,
                           captions=captions)
    total = len(get_scene_class(scene).storyboard(options))
    with click.progressbar(length=total, label=f"rendering {scene}", show_pos=True,
                           item_show_func=lambda s: s, file=sys.stderr) as bar:
        def progress(index, step, n) -> None:
            bar.current_item = step.name
            bar.update(1)

        try:
            result = render_scene(scene, options, quality=quality, fmt=fmt, out_dir=out,
                                  progress=progress)
        except OSError as exc:
            raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    if fmt == "png":
        click.echo(f"wrote {len(result.stills)} stills to {result.path}")
    else:
        click.echo(f"wrote {result.path} ({result.duration:.1f} s) and {result.subtitles}")
    if fmt == "mp4" and web:
        publish_for_web(result.path, result.subtitles, captions_in_video=captions)


def publish_for_web(video: Path, subtitles: Path | None, captions_in_video: bool) -> None:
    """The web-ready set beside a rendered mp4, one line per file as it is written."""
    from scenes.publish import PublishError, publish_video

    def report(path: Path) -> None:
        if path.suffix != ".srt":
            click.echo(f"wrote {path}")

    try:
        publish_video(video, subtitles, captions_in_video=captions_in_video, progress=report)
    except PublishError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot write beside {video}: {exc.strerror or exc}") from None


if __name__ == "__main__":
    main()
