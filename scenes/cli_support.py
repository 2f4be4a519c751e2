"""What every command of ``cli.py`` shares: one-line errors and exit codes, signal handling,
checks of names, tools and output folders made before any work starts, the options that choose
what a scene shows, and progress reporting.

Importing this module imports click only (no torch, no Manim), so ``cli.py --help`` stays
instant. Exit codes: 2 for a usage mistake, 1 for a failure, 128 + n after signal n.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

import click

from scenes.toolkit.style import PACES

__all__ = [
    "MODELS", "THEMES", "QUALITIES", "VIDEO_FORMATS", "CONTEXT", "DEBUG_ENV", "TOOLS",
    "FORMULA_TOOLS", "WEB_TOOLS", "Failure", "Interrupted", "did_you_mean", "Choice",
    "SceneName", "load_trace", "quoted", "require_tools", "output_folder", "output_file",
    "describe", "signals_unwind", "Main", "scene_options", "scene_setup", "step_progress",
    "check_lr", "CHECKPOINT_OPTION", "MODEL_OPTION", "model_kind", "check_scene_kind",
    "cache_options", "skip_check", "apply_no_cache", "default_jobs", "forwarded_options",
    "render_times", "record_render_times",
    "run_each",
]

MODELS = ("translate", "lm")
THEMES = ("dark", "light")
QUALITIES = ("low", "medium", "high", "4k")  # scenes.writers.video.QUALITIES (which imports Manim)
VIDEO_FORMATS = ("mp4", "webm", "gif", "mov", "png")
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

def model_kind(model: str | None, checkpoint: Path | str | None) -> str:
    """The kind of model to run: ``--model``, or the kind the ``--checkpoint`` file holds
    (which must be ``--model``'s when both are given); ``translate`` when neither is."""
    if checkpoint is None:
        return model or "translate"
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
        words = ", ".join(quoted(w) for w in trace.unknown)
        where = f"{model} vocabulary" if checkpoint is None else f"vocabulary of {checkpoint}"
        click.echo(f"note: not in the {where}, shown as <unk>: {words}", err=True)
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


def one_blas_thread() -> None:
    """NumPy's OpenBLAS (and SciPy's) on one thread in a command process, unless the user's
    environment says otherwise; set before NumPy is first imported, which reads it then.

    Our NumPy works on small arrays (a scene's points, 8-wide matrices); OpenBLAS's helper
    threads gain nothing there, but once woken they spin waiting for more work, on a core
    that the render's encoder, or the other scene of ``render all``, needs (0.1-0.7 CPU
    seconds of a 15 s render). PyTorch does its own threading (MKL, OpenMP), unaffected."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def skip_unused_imports() -> None:
    """Spare a command process what importing Manim loads and never uses (about a third of a
    second of every render's start). Only for a process that runs one command (``python
    cli.py``, the installed script), before Manim is imported; Python code that imports
    :mod:`cli` (a notebook, the tests) is not affected.

    * IPython, which Manim imports only to offer its Jupyter magic, is marked missing: Manim
      then goes on without the magic.
    * ``scipy.spatial``'s own body (k-d trees, convex hulls, distances, and ``scipy.special``
      with them) runs only if something uses it: Manim needs only its ``transform``
      subpackage (rotations), which imports as usual. Until then the package is an empty
      module that finds its submodules; the first other name asked of it runs its body. This
      is set up by a finder that acts when scipy.spatial is first imported, so that setting
      it up imports nothing (``--help`` loads neither numpy nor scipy).
    """
    if "manim" in sys.modules:
        return
    sys.modules.setdefault("IPython", None)  # type: ignore[assignment]
    if not any(isinstance(f, _FirstUseFinder) for f in sys.meta_path):
        # Nothing is imported now (numpy and scipy are not needed by `--help` or a skipped
        # render): the finder acts when something first imports scipy.spatial.
        sys.meta_path.insert(0, _FirstUseFinder({"scipy.spatial"}))


class _FirstUseFinder:
    """Finds the packages ``names`` as Python would, with a loader that leaves each body to
    its first use: the package starts as a module with its ``__path__`` (its submodules import
    as usual) and a module ``__getattr__``; any other name asked of it runs the body first.
    Each package is handled once; anything unexpected imports it as usual."""

    def __init__(self, names: set[str]) -> None:
        self.names = set(names)

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in self.names:
            return None
        self.names.discard(fullname)
        import importlib.machinery

        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        except Exception:  # noqa: BLE001 (an unexpected layout: the usual import)
            return None
        if spec is None or spec.loader is None or spec.submodule_search_locations is None \
                or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _FirstUseLoader(spec.loader)
        return spec


class _FirstUseLoader:
    """The loader of a package whose body runs on first use (see :class:`_FirstUseFinder`)."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        name, loader = module.__name__, self.loader

        def __getattr__(attr: str):
            loaded = sys.modules.get(f"{name}.{attr}")
            if loaded is not None:  # a submodule being imported (``import a.b.c as d``)
                return loaded
            module.__dict__.pop("__getattr__", None)
            module.__loader__ = loader
            module.__spec__.loader = loader
            loader.exec_module(module)
            return getattr(module, attr)

        module.__getattr__ = __getattr__  # type: ignore[attr-defined]


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

MODEL_OPTION = click.option(
    "--model", type=Choice(MODELS), default=None,
    help="Which model computes the numbers: the shipped translate or lm (default: the scene's "
         "own: lm for training, translate for the others and for `all`), or the kind "
         "--checkpoint holds.")
CHECKPOINT_OPTION = click.option(
    "--checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="A model you trained (`python cli.py train lm --corpus FILE --out PATH`) instead of a "
         "shipped one: its words, its numbers.")


def scene_options(theme_help: str, captions_help: str):
    """The options that choose what a scene shows: model, checkpoint, sentence, layer, head,
    theme, captions, and generate's max-new, sample and seed."""
    options = [
        MODEL_OPTION,
        CHECKPOINT_OPTION,
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
        click.option("--lr", type=float, default=None,
                     help="The training scene's learning rate for its one step of gradient "
                          "descent (default: the model's own, which makes the loss go down); "
                          "other scenes ignore it."),
        click.option("--max-new", type=click.IntRange(min=1), default=None,
                     help="generate: write at most this many new words  [default: until <eos> "
                          "or the model's last position]."),
        click.option("--sample", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
                     metavar="TEMPERATURE",
                     help="generate: draw each word from softmax(logits / TEMPERATURE) "
                          "instead of taking the most probable one (0)."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="generate: the seed of --sample, so a drawing can be repeated."),
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


def check_lr(lr: float | None) -> float | None:
    """A learning rate that is not a positive finite number is a usage error (exit 2)."""
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise click.BadParameter(f"the learning rate must be a positive finite number, not {lr}",
                                 param_hint="--lr")
    return lr


def scene_setup(model: str | None, sentence: str | None, layer: int, head: int, theme: str,
                captions: bool, lr: float | None = None, checkpoint: Path | None = None,
                max_new: int | None = None, sample: float = 0.0, seed: int = 0,
                pace: str = "normal", scenes: tuple[str, ...] = ()):
    """The scene options, checked against the model: one-line usage errors for a bad sentence,
    layer, head or learning rate, a checkpoint of the other kind than --model, or a sentence
    longer than one of ``scenes`` can show; a notice for words shown as <unk>."""
    check_lr(lr)
    model = model_kind(model, checkpoint)
    trace = load_trace(model, sentence, checkpoint)
    if scenes:
        from scenes.registry import get_scene_class

        for name in scenes:
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
                        max_new=max_new, sample=sample, seed=seed, pace=pace)


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


# ---- caches and skipping unchanged work ------------------------------------------------------

def cache_options(f):
    """``--force`` and ``--no-cache``, for the commands that skip unchanged work."""
    f = click.option("--no-cache", "no_cache", is_flag=True,
                     help="Use no cache: lay out text and compile formulas afresh, draw with "
                          "Manim's own camera and encoder, and render even if nothing "
                          "changed.")(f)
    return click.option("--force", is_flag=True,
                        help="Render even if nothing changed since the last run into this "
                             "folder.")(f)


def skip_check(ctx: click.Context, command: str, target: str, folder: Path, manifest_name: str,
               model: str):
    """``(manifest, key, current)`` of this command's skip record for ``target`` drawn by
    ``model``; ``current`` is True when the last run into ``folder`` had the same code,
    checkpoint, options and tools and its files are as it left them (then there is nothing to
    do). ``--no-cache`` and ``--force`` never skip."""
    from scenes.writers.skip import Manifest, checkpoint_path, make_key

    params = ctx.params
    checkpoint = checkpoint_path(model, params.get("checkpoint"))
    key = make_key(command, target, params, [checkpoint])
    manifest = Manifest(folder, manifest_name)
    current = not params.get("force") and not params.get("no_cache") and manifest.current(key)
    return manifest, key, current


def apply_no_cache(no_cache: bool) -> None:
    """``--no-cache``: every cache off for this process and the ones it starts."""
    if no_cache:
        from transformer_core.cache import set_enabled

        set_enabled(False)


# ---- every scene at once: separate processes ---------------------------------------------------

def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _times_store():
    from transformer_core.cache import Store

    return Store("times")


def render_times(kind: str) -> dict[str, float]:
    """Seconds each scene took in the last ``render all`` of this ``kind`` (quality and format)
    that rendered it, kept in the user's cache folder; empty when unknown or caching is off."""
    from transformer_core.cache import digest

    blob = _times_store().get(digest("render-times", kind))
    try:
        times = json.loads(blob.decode()) if blob is not None else {}
    except ValueError:  # a damaged entry: as if unknown
        return {}
    if not isinstance(times, dict):
        return {}
    return {k: float(v) for k, v in times.items() if isinstance(v, (int, float))}


def record_render_times(kind: str, times: dict[str, float]) -> None:
    """Keep ``times`` (scene → seconds) for :func:`render_times`, over the earlier ones."""
    from transformer_core.cache import digest

    merged = {**render_times(kind), **times}
    _times_store().put(digest("render-times", kind),
                       json.dumps(merged, sort_keys=True).encode())


def forwarded_options(ctx: click.Context, leave_out: tuple[str, ...] = ()) -> list[str]:
    """The command line that gives a child process the options this command was given (those
    not left at their default): options added to the command later are passed on too."""
    from click.core import ParameterSource

    args: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in leave_out:
            continue
        if ctx.get_parameter_source(param.name) in (ParameterSource.DEFAULT, None):
            continue
        value = ctx.params.get(param.name)
        if param.is_flag and param.secondary_opts:
            args.append(param.opts[0] if value else param.secondary_opts[0])
        elif param.count:
            args.extend([param.opts[0]] * int(value or 0))
        elif param.is_flag:
            if value:
                args.append(param.opts[0])
        elif param.multiple:
            for item in value:
                args.extend([param.opts[0], os.fspath(item) if isinstance(item, os.PathLike)
                             else str(item)])
        elif value is not None:
            args.extend([param.opts[0], os.fspath(value) if isinstance(value, os.PathLike)
                         else str(value)])
    return args


def run_each(commands: dict[str, list[str]], jobs: int,
             durations: dict[str, float] | None = None) -> dict[str, tuple[int, str]]:
    """Run ``commands`` (scene name → argv), at most ``jobs`` at a time, each in its own process,
    in the order given; ``durations`` (if given) receives each finished command's seconds.

    Every line a child prints is echoed as it comes, prefixed with ``[scene]``, and a line says
    when each scene started and finished or failed. Returns scene → (exit code, last line).
    Ctrl-C reaches the children too (same process group) and each cleans up after itself; when
    this process is interrupted or fails, children still running get SIGTERM and are waited
    for, so no orphan process and no half-written file is left.
    """
    import subprocess
    import time

    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            click.echo(text)

    def pump(name: str, proc) -> None:
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            if line.strip():
                last[name] = line
                say(f"[{name}] {line}")

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    pending = list(commands)
    running: dict[str, tuple[subprocess.Popen, threading.Thread, float]] = {}
    results: dict[str, tuple[int, str]] = {}
    last: dict[str, str] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                name = pending.pop(0)
                proc = subprocess.Popen(commands[name], env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, bufsize=1)
                reader = threading.Thread(target=pump, args=(name, proc), daemon=True)
                reader.start()
                running[name] = (proc, reader, time.perf_counter())
                say(f"[{name}] started")
            for name, (proc, reader, started) in list(running.items()):
                if proc.poll() is None:
                    continue
                reader.join()
                del running[name]
                results[name] = (proc.returncode, last.get(name, ""))
                took = time.perf_counter() - started
                if durations is not None:
                    durations[name] = took
                if proc.returncode == 0:
                    say(f"[{name}] done in {took:.1f} s")
                else:
                    say(f"[{name}] failed (exit {proc.returncode}) after {took:.1f} s")
            time.sleep(0.05)
    finally:
        _stop_children([(proc, reader) for proc, reader, _ in running.values()])
    return results


def _stop_children(children) -> None:
    """SIGTERM to the children still running, then wait for their cleanup (kill after 30 s)."""
    import subprocess
    import time

    live = [(proc, reader) for proc, reader in children if proc.poll() is None]
    for proc, _ in live:
        try:
            proc.send_signal(signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 30
    for proc, reader in live:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=1)
