"""Command line: list, trace, train, render, svg, embed, gallery.

Torch and Manim are imported inside the commands, so ``python cli.py --help`` stays instant.

When something is wrong the command prints one line, never a traceback, and exits with

    2    a usage mistake: an empty or too long sentence, an unknown scene, model, quality, theme
         or format (the nearest valid name is suggested), a layer or head out of range;
    1    a failure: a missing or corrupt checkpoint, a missing system tool (latex, dvisvgm,
         ffmpeg; the command that installs it is named), a folder that cannot be written, or
         anything unexpected (``TRANSFORMER_DEBUG=1`` shows its traceback);
    130  interrupted by Ctrl-C (SIGINT); 143 by SIGTERM; 129 by SIGHUP.

Every output is written under a temporary name in its own folder and renamed into place only
when complete (a render's whole set of files at once), so a failed or interrupted command leaves
no partial file and the earlier outputs as they were. Inputs are checked before any work starts.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

import click

MODELS = ("translate", "lm")
THEMES = ("dark", "light")
QUALITIES = ("low", "medium", "high", "4k")  # scenes.render.QUALITIES (which imports Manim)
VIDEO_FORMATS = ("mp4", "webm", "gif", "mov", "png")
ROOT = Path(__file__).resolve().parent
CONTEXT = {"help_option_names": ["-h", "--help"]}
DEBUG_ENV = "TRANSFORMER_DEBUG"

# System tools the commands run, why, and the Debian packages that provide them.
_TEX = ("texlive-latex-base texlive-latex-recommended texlive-latex-extra "
        "texlive-fonts-recommended dvisvgm")
TOOLS = {
    "latex": ("Manim needs them for the formulas", _TEX),
    "dvisvgm": ("Manim needs them for the formulas", _TEX),
    "ffmpeg": ("needed for the web files; --no-web skips them", "ffmpeg"),
    "ffprobe": ("needed for the web files; --no-web skips them", "ffmpeg"),
}
FORMULA_TOOLS = ("latex", "dvisvgm")  # Manim's MathTex: latex to DVI, dvisvgm to outlines
WEB_TOOLS = ("ffmpeg", "ffprobe")


class Failure(click.ClickException):
    """A failure that is not the user's typing: exit 1, one line."""

    exit_code = 1


class Interrupted(click.ClickException):
    """Stopped by a signal: exit 128 + its number (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}: no half-written file was left, and what was "
                         "not finished keeps its earlier version")
        self.exit_code = 128 + signum


# ---- names: the nearest valid one is suggested -----------------------------------------------

def did_you_mean(value: str, choices) -> str:
    """``"; did you mean 'x'?"`` for the choice nearest to ``value``, or ``""``."""
    by_folded = {str(c).casefold(): str(c) for c in choices}
    close = difflib.get_close_matches(str(value).casefold(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean {by_folded[close[0]]!r}?" if close else ""


class Choice(click.Choice):
    """``click.Choice`` whose error also names the valid value nearest to what was typed."""

    def get_missing_message(self, param, ctx=None) -> str:
        return f"Choose from {', '.join(map(str, self.choices))}."  # on the same line

    def get_invalid_choice_message(self, value, ctx) -> str:
        message = super().get_invalid_choice_message(value, ctx)
        hint = did_you_mean(value, self.choices)
        return message.rstrip(".") + hint if hint else message


class SceneName(Choice):
    """A registered scene name (or one of ``extra``), read from the registry when checked.

    Scene names become file names (``OUT/SCENE.mp4``, ``OUT/SCENE/NN-step.svg``): only a
    registered name gets that far, so no typed path (``../..``) can.
    """

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        self.extra = tuple(extra)
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from scenes.registry import SCENES  # no Manim: the registry names classes, lazily

        return (*self.extra, *SCENES)

    @choices.setter
    def choices(self, value) -> None:  # click.Choice.__init__ sets it; the registry decides
        pass

    def get_metavar(self, param, ctx=None) -> str:
        return "SCENE"

    def get_invalid_choice_message(self, value, ctx) -> str:
        return (f"no scene {value!r} (choose from {', '.join(self.choices)})"
                f"{did_you_mean(value, self.choices)}")


# ---- checks made before any work starts --------------------------------------------------------

def load_trace(model: str, sentence: str | None):
    """Run the model on the sentence; bad input becomes a one-line error, unknown words a notice."""
    from transformer_core.checkpoint import CheckpointError
    from transformer_core.tokenizer import EmptySentenceError
    from transformer_core.trace import SentenceTooLongError, run_with_trace

    if sentence is not None and not sentence.strip():
        raise click.BadParameter("the sentence is empty: give at least one word", param_hint="--sentence")
    try:
        trace = run_with_trace(model, sentence)
    except EmptySentenceError as exc:
        raise click.BadParameter(str(exc), param_hint="--sentence") from None
    except SentenceTooLongError as exc:
        raise click.BadParameter(f"{exc}: give a shorter sentence",
                                 param_hint="--sentence") from None
    except CheckpointError as exc:
        raise Failure(str(exc)) from None
    if trace.unknown:
        words = ", ".join(quoted(w) for w in trace.unknown)
        click.echo(f"note: not in the {model} vocabulary, shown as <unk>: {words}", err=True)
    return trace


def quoted(text: str) -> str:
    """``'text'`` as typed; escaped like a Python string only if it holds control characters
    (which a terminal would act on)."""
    return f"'{text}'" if text.isprintable() else repr(text)


def require_tools(*names: str) -> None:
    """Fail with the install command if a system tool the command runs is not on the PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return
    why = "; ".join(dict.fromkeys(TOOLS[n][0] for n in missing))
    packages = " ".join(dict.fromkeys(p for n in missing for p in TOOLS[n][1].split()))
    names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
    raise Failure(f"{names} not found ({why}): run `make setup`, or "
                  f"`sudo apt-get install {packages}`")


def output_folder(path: Path, option: str = "--out") -> Path:
    """``path`` as a folder this process can write to, created if missing.

    A file in its place is a usage error; a folder that cannot be created or written is a
    failure. Checked with a real (removed) temporary file: permissions alone say nothing
    when running as root, and nothing about read-only or virtual file systems.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"{path} is a file, not a folder: give a folder",
                                 param_hint=option)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise Failure(f"cannot write to {path} ({exc.strerror or exc}): choose another "
                      f"{option} folder or make this one writable") from None
    return path


def output_file(path: Path, option: str = "--out") -> Path:
    """A file to write: its folder must be writable (created if missing)."""
    path = Path(path)
    if path.parent.exists() and not path.parent.is_dir():
        raise Failure(f"cannot write to {path.parent} (it is a file, not a folder): choose "
                      f"another {option} path")
    output_folder(path.parent, option)
    return path


# ---- one line for every error ------------------------------------------------------------------

def describe(exc: BaseException) -> str:
    """One line for an unexpected exception."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    else:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{text} (set {DEBUG_ENV}=1 to see the traceback)"


@contextlib.contextmanager
def signals_unwind():
    """While a command runs, SIGTERM and SIGHUP unwind the stack like Ctrl-C does: every
    ``finally`` and ``with`` block runs (temporary files and folders are removed, a child
    ffmpeg is killed). Yields the list that receives the signal's number.

    Only the first signal unwinds; a second one while cleaning up is ignored, so the cleanup
    itself is not cut short. A signal that was ignored when the process started (``nohup``, a
    background job) stays ignored.
    """
    received: list[int] = []

    def handler(signum, frame) -> None:
        if received:
            return
        received.append(signum)
        raise KeyboardInterrupt

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is None:
                continue
            current = signal.getsignal(sig)
            if current is signal.SIG_IGN or current is None:
                continue
            if sig == signal.SIGINT and current is not signal.default_int_handler:
                continue  # someone else's handler: leave it
            previous[sig] = signal.signal(sig, handler)
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Main(click.Group):
    """The command group: errors become one line and an exit code (see the module docstring)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx):
        with signals_unwind() as received:
            try:
                return super().invoke(ctx)
            except click.UsageError as exc:
                raise _one_line(exc) from None
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except KeyboardInterrupt:
                raise Interrupted(received[0] if received else signal.SIGINT) from None
            except BrokenPipeError:  # `cli.py trace | head`: the reader has gone; say nothing
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                raise click.exceptions.Exit(1) from None
            except Exception as exc:
                if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                    raise
                raise Failure(describe(exc)) from None


def _one_line(exc: click.UsageError) -> click.UsageError:
    """Without its context a usage error prints only "Error: ..." (no usage lines above it);
    a bare command that shows its help is left as it is."""
    if not isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.ctx = None
    return exc


# ---- options shared by the scene commands ------------------------------------------------------

def scene_options(theme_help: str, captions_help: str):
    """The options that choose what a scene shows: model, sentence, layer, head, theme, captions."""
    options = [
        click.option("--model", type=Choice(MODELS), default="translate", show_default=True,
                     help="Which shipped model computes the numbers."),
        click.option("--sentence", default=None,
                     help="The input sentence (default: the model's own)."),
        click.option("--layer", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Which layer's attention to show."),
        click.option("--head", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Which attention head to show."),
        click.option("--theme", type=Choice(THEMES), default="dark", show_default=True,
                     help=theme_help),
        click.option("--captions/--no-captions", default=True, show_default=True,
                     help=captions_help),
    ]

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def scene_setup(model: str, sentence: str | None, layer: int, head: int, theme: str,
                captions: bool):
    """The scene options, checked against the model: one-line usage errors for a bad sentence,
    layer or head, a notice for words shown as <unk>."""
    trace = load_trace(model, sentence)
    from transformer_core.explain import attention_prefix

    try:
        attention_prefix(trace.config, layer)
    except IndexError as exc:
        raise click.BadParameter(str(exc), param_hint="--layer") from None
    n_heads = trace.config.n_heads
    if head >= n_heads:
        raise click.BadParameter(f"head {head} is out of range: this model has {n_heads} "
                                 f"(0..{n_heads - 1})", param_hint="--head")
    from scenes.storyboard import SceneOptions

    return SceneOptions(model=model, sentence=sentence, layer=layer, head=head, theme=theme,
                        captions=captions)


@contextlib.contextmanager
def step_progress(label: str, total: int):
    """Yields ``progress(index, step, n)``: a bar on a terminal, else one line per finished
    step (a log, or a program waiting for a step, can read that)."""
    if sys.stderr.isatty():
        with click.progressbar(length=total, label=label, show_pos=True,
                               item_show_func=lambda s: s, file=sys.stderr) as bar:
            def progress(index, step, n) -> None:
                bar.current_item = step.name
                bar.update(1)

            yield progress
    else:
        def progress(index, step, n) -> None:
            click.echo(f"{label}: step {index + 1} of {n} done ({step.name})", err=True)

        yield progress


@click.group(cls=Main, context_settings=CONTEXT)
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
@click.option("--model", type=Choice(MODELS), default="translate", show_default=True,
              help="Which shipped model to run.")
@click.option("--sentence", default=None, help="The input sentence (default: the model's own).")
@click.option("--format", "fmt", type=Choice(("json", "npz")), default=None,
              help="Write every recorded tensor and parameter in this format.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output (npz needs a file).")
def trace_cmd(model: str, sentence: str | None, fmt: str | None, as_json: bool, out: Path | None):
    """Run a model on a sentence and show (or export) every tensor it computed."""
    fmt = "json" if as_json and fmt is None else fmt
    if fmt == "npz" and out is None:
        raise click.UsageError("--format npz needs --out FILE.npz")
    trace = load_trace(model, sentence)
    if out is not None:
        output_file(out)
    from transformer_core.export import summary, to_json, write_npz
    from transformer_core.files import atomic_write

    if fmt is None:
        text = summary(trace)
    elif fmt == "json":
        text = to_json(trace)
    else:
        text = None
    if out is None:
        click.echo(text)
        return
    try:
        if text is None:
            write_npz(trace, out)
        else:
            atomic_write(out, text.encode())
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out}")


@main.command("train")
@click.argument("name", type=Choice(MODELS))
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Optimisation steps (default: the shipped model's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Checkpoint to write (default: the shipped one, replaced only when done).")
def train_cmd(name: str, steps: int | None, seed: int, out: Path | None) -> None:
    """Retrain a model from scratch, reproducibly, and save its checkpoint."""
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


RENDERS_OPTION = click.option(
    "--renders", type=click.Path(file_okay=False, path_type=Path), default=Path("renders"),
    show_default=True, help="The folder the render and svg commands write to.")


def render_command(scene: str, renders: Path) -> str:
    """The command that writes what `embed` needs, for the folder it looked in."""
    out = "" if renders == Path("renders") else f" --out {renders}"
    return f"python cli.py render {scene}{out}"


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
    from scenes.publish import PublishError, embed_snippet, find_video
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
    output_file(out)
    try:
        _, n_videos, n_diagrams = write_gallery(renders, out)
    except PublishError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out} ({n_videos} video{'s' * (n_videos != 1)}, "
               f"{n_diagrams} diagram{'s' * (n_diagrams != 1)})")


@main.command("svg")
@click.argument("scene", type=SceneName(extra=("all",)))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The folder to write to  [default: RENDERS/svg/SCENE; with `all`, "
                   "OUT/SCENE for each scene].")
@scene_options(theme_help="Colour theme; light suits most blog pages.",
               captions_help="Draw each step's caption in the figure (it is always in the "
                             "SVG's <desc>).")
@click.option("--transparent", is_flag=True,
              help="Leave out the background, so the page's own colour shows through.")
@click.option("--step", default=None, help="Write only this storyboard step (by name).")
@RENDERS_OPTION
def svg_cmd(scene: str, out: Path | None, model: str, sentence: str | None, layer: int,
            head: int, theme: str, captions: bool, transparent: bool, step: str | None,
            renders: Path) -> None:
    """Write one vector SVG diagram per storyboard step: the step's end state.

    SCENE is a scene name (see `list`) or `all`. Files are named NN-STEP.svg; the same inputs
    always give the same bytes, and a file whose content would not change is left untouched.
    Each path is printed as it is written.
    """
    from scenes.registry import SCENES

    if scene == "all" and step is not None:
        raise click.UsageError("--step names a step of one scene: give a scene name, not `all`")
    options = scene_setup(model, sentence, layer, head, theme, captions)
    names = list(SCENES) if scene == "all" else [scene]
    if out is None:
        folders = {name: renders / "svg" / name for name in names}
    else:
        folders = {name: out / name if scene == "all" else out for name in names}
    from scenes.registry import get_scene_class
    from scenes.svg import UnknownStepError, UnsupportedMobjectError, export_svgs

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

    for name, folder in folders.items():
        try:
            export_svgs(name, options, folder, step=step, transparent=transparent,
                        progress=report)
        except UnknownStepError as exc:
            raise click.BadParameter(f"{exc}{did_you_mean(step, exc.valid)}",
                                     param_hint="--step") from None
        except UnsupportedMobjectError as exc:
            raise Failure(f"scene {name!r}: {exc}") from None
        except OSError as exc:
            raise Failure(f"cannot write {folder}: {exc.strerror or exc}") from None


@main.command("render")
@click.argument("scene", type=SceneName())
@scene_options(theme_help="Colour theme; light has a white background for blog pages.",
               captions_help="Show each step's caption on screen (the .srt subtitles are always "
                             "written).")
@click.option("--quality", type=Choice(QUALITIES), default="low", show_default=True,
              help="480p15, 720p30, 1080p60 or 2160p60.")
@click.option("--format", "fmt", type=Choice(VIDEO_FORMATS), default="mp4", show_default=True,
              help="Video container, or png for one still per storyboard step.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("renders"),
              show_default=True, help="The folder to write to.")
@click.option("--web/--no-web", default=True, show_default=True,
              help="With mp4: make it start playing before it is downloaded, and write the webm, "
                   "gif, poster and .vtt a web page needs beside it (see `embed`).")
def render_cmd(scene: str, model: str, sentence: str | None, layer: int, head: int, theme: str,
               captions: bool, quality: str, fmt: str, out: Path, web: bool) -> None:
    """Render a scene as a video of the model's real numbers, with .srt subtitles beside it.

    SCENE is a scene name (see `list`). The video is written as OUT/SCENE.FORMAT and appears
    only when complete; with --format png, OUT/SCENE-steps/NN-STEP.png holds each step's end
    state. The files of one render (video, subtitles, web files) are renamed into place
    together at the end: an interrupted or failed render leaves the earlier ones as they were.
    """
    options = scene_setup(model, sentence, layer, head, theme, captions)
    web = web and fmt == "mp4"
    require_tools(*FORMULA_TOOLS, *(WEB_TOOLS if web else ()))
    output_folder(out)

    from scenes import render as rendering
    from scenes.registry import get_scene_class
    from transformer_core.files import staged_folder

    total = len(get_scene_class(scene).storyboard(options))
    with staged_folder(out) as stage:
        with step_progress(f"rendering {scene}", total) as progress:
            result = rendering.render_scene(scene, options, quality=quality, fmt=fmt,
                                            out_dir=stage, progress=progress)
        published = publish_for_web(result.path, result.subtitles, captions) if web else []

    def final(path: Path) -> Path:  # where a file of the staging folder now is
        return out / Path(path).relative_to(stage)

    if fmt == "png":
        click.echo(f"wrote {len(result.stills)} stills to {final(result.path)}")
    else:
        click.echo(f"wrote {final(result.path)} ({result.duration:.1f} s) and "
                   f"{final(result.subtitles)}")
    for path in published:
        click.echo(f"wrote {final(path)}")


def publish_for_web(video: Path, subtitles: Path | None, captions_in_video: bool) -> list[Path]:
    """The web-ready set beside a rendered mp4; returns the files written (subtitles aside)."""
    from scenes.publish import PublishError, publish_video

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


if __name__ == "__main__":
    main()
