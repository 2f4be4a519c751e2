"""``build [FILE]``: every figure of a blog post, from the post's figures file (TOML).

A figures file sits in the post's folder and lists the figures the post uses::

    out = "figures"              # where they go, beside this file (default: this file's folder)

    [[figure]]
    scene = "attention"          # a scene name (see `list`)
    name = "attention-lm"        # optional: the figure's folder under OUT (default: the scene)
    model = "lm"                 # any option of `render`/`svg`, as on the command line
    theme = "light"
    video = true                 # OUT/NAME/SCENE.mp4 with its webm, gif, poster, .srt and .vtt
    clip = "softmax"             # one step's clip, OUT/NAME/SCENE-STEP.mp4 (or a list of steps)
    svg = ["scores", "softmax"]  # SVG stills OUT/NAME/svg/NN-STEP.svg: these steps, or true: all
    still = "softmax"            # one step's end state as a PNG, OUT/NAME/SCENE-STEP.png

Each output is made by the command that makes it by hand (``render``, ``render --step``,
``svg``, ``svg --step``), in a process of its own, so each skips what has not changed (the skip
record of :mod:`scenes.engine.skip`) and a failure stops only that output. The whole file is
checked before anything is drawn: an error in it (TOML syntax, an unknown key, scene, option or
value) is one line naming the entry, exit 2. A failed output is one line at the end, exit 1.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

__all__ = ["Output", "Figure", "read_figures", "run_build"]

OUTPUTS = ("video", "clip", "svg", "still")
RESERVED = {"scene", "name", *OUTPUTS}
# options the figures file does not set: build chooses the folders, the steps and the forcing
NOT_OPTIONS = {"out", "renders", "step", "force", "help"}
PATH_OPTIONS = {"checkpoint"}  # relative to the figures file, not to the current folder


@dataclass
class Output:
    label: str  # "video", "clip softmax", "svg", "svg softmax", "still softmax"
    argv: list[str]  # the command line after the program: ["render", "attention", ...]


@dataclass
class Figure:
    name: str
    scene: str
    outputs: list[Output] = field(default_factory=list)


class FiguresError(click.UsageError):
    """A mistake in the figures file: one line, exit 2."""


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise FiguresError(f"no figures file {path} (write one: see `build --help`)") from None
    except IsADirectoryError:
        raise FiguresError(f"{path} is a folder: give the figures file (figures.toml)") from None
    except OSError as exc:
        raise FiguresError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FiguresError(f"{path}: not valid TOML: {exc}") from None


def _steps(value, key: str, where: str) -> list[str]:
    """A step name or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(dict.fromkeys(value))
    raise FiguresError(f"{where}: {key} is a step name or a list of step names, not {value!r}")


def _option_args(command: click.Command, options: dict, base: Path, where: str) -> list[str]:
    """``options`` (TOML key → value) as ``command``'s command-line arguments; only the ones
    this command has (the caller checks that every key belongs to some command)."""
    params = {p.name: p for p in command.params if isinstance(p, click.Option)}
    args: list[str] = []
    for key, value in options.items():
        name = key.replace("-", "_")
        param = params.get(name) or params.get({"format": "fmt"}.get(name, ""))
        if param is None:
            continue
        if param.is_flag:
            if not isinstance(value, bool):
                raise FiguresError(f"{where}: {key} is true or false, not {value!r}")
            if param.secondary_opts:
                args.append(param.opts[0] if value else param.secondary_opts[0])
            elif value:
                args.append(param.opts[0])
            continue
        if isinstance(value, (dict, list)) or value is None:
            raise FiguresError(f"{where}: {key} takes one value, not {value!r}")
        if isinstance(value, bool):
            raise FiguresError(f"{where}: {key} takes a value, not {str(value).lower()}")
        text = str(value)
        if key in PATH_OPTIONS:
            text = os.fspath(base / Path(text).expanduser())
        args += [param.opts[0], text]
    return args


def _option_names(command: click.Command) -> set[str]:
    names = set()
    for p in command.params:
        if isinstance(p, click.Option) and p.name not in NOT_OPTIONS:
            names.add(p.name)
            names.update(o.lstrip("-").replace("-", "_") for o in p.opts)
    return names


def read_figures(path: Path, group: click.Group) -> list[Figure]:
    """The figures of ``path``, each output's command line checked by the command's own parser
    (every value is checked as on the command line; nothing is drawn)."""
    from scenes.registry import SCENES

    from scenes.cli.checks import did_you_mean

    data = _load_toml(path)
    base = path.resolve().parent
    unknown = sorted(set(data) - {"out", "figure"})
    if unknown:
        raise FiguresError(f"{path}: unknown key {unknown[0]!r} (a figures file has `out` and "
                           "[[figure]] tables)")
    out = data.get("out", ".")
    if not isinstance(out, str) or not out.strip():
        raise FiguresError(f"{path}: out is a folder name, not {out!r}")
    out_dir = base / Path(out).expanduser()
    entries = data.get("figure")
    if not isinstance(entries, list) or not entries:
        raise FiguresError(f"{path}: no figures: add a [[figure]] table with a scene and the "
                           "outputs wanted (video, clip, svg, still)")
    render, svg = group.commands["render"], group.commands["svg"]
    known = _option_names(render) | _option_names(svg)
    figures: list[Figure] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path.name}: figure {number}"
        if not isinstance(entry, dict):
            raise FiguresError(f"{where}: not a table")
        scene = entry.get("scene")
        if not isinstance(scene, str):
            raise FiguresError(f"{where}: no scene (scene = \"attention\"; see `list`)")
        if scene not in SCENES:
            raise FiguresError(f"{where}: no scene {scene!r}{did_you_mean(scene, list(SCENES))}")
        name = entry.get("name", scene)
        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name \
                or "\\" in name or name.startswith("."):
            raise FiguresError(f"{where} ({scene}): name is a plain folder name, not {name!r}")
        where = f"{path.name}: figure {number} ({name})"
        if any(f.name == name for f in figures):
            raise FiguresError(f"{where}: another figure has this name: give each its own "
                               "`name` (its folder)")
        options = {k: v for k, v in entry.items() if k not in RESERVED}
        for key in options:
            if key.replace("-", "_") not in known:
                choices = sorted(k for k in known if "_" not in k or k.replace("_", "-") == k)
                raise FiguresError(f"{where}: no option {key!r}{did_you_mean(key, choices)} "
                                   f"(keys: scene, name, {', '.join(OUTPUTS)}, and the options "
                                   "of `render`/`svg`)")
        folder = out_dir / name
        render_opts = _option_args(render, options, base, where)
        svg_opts = _option_args(svg, options, base, where)
        figure = Figure(name, scene)
        video = entry.get("video", False)
        if not isinstance(video, bool):
            raise FiguresError(f"{where}: video is true or false, not {video!r}")
        if video:
            figure.outputs.append(Output("video", ["render", scene, *render_opts,
                                                   "--out", os.fspath(folder)]))
        for step in _steps(entry["clip"], "clip", where) if "clip" in entry else []:
            figure.outputs.append(Output(f"clip {step}", [
                "render", scene, *render_opts, "--step", step, "--out", os.fspath(folder)]))
        shots = entry.get("svg", False)
        if shots is True:
            figure.outputs.append(Output("svg", ["svg", scene, *svg_opts,
                                                 "--out", os.fspath(folder / "svg")]))
        elif shots is not False:
            for step in _steps(shots, "svg", where):
                figure.outputs.append(Output(f"svg {step}", [
                    "svg", scene, *svg_opts, "--step", step, "--out", os.fspath(folder / "svg")]))
        render_png = [a for a in render_opts if a != "--format"]
        if "--format" in render_opts:  # a still is a png whatever the video's format
            i = render_opts.index("--format")
            render_png = render_opts[:i] + render_opts[i + 2:]
        for step in _steps(entry["still"], "still", where) if "still" in entry else []:
            figure.outputs.append(Output(f"still {step}", [
                "render", scene, *render_png, "--format", "png", "--step", step,
                "--out", os.fspath(folder)]))
        if not figure.outputs:
            raise FiguresError(f"{where}: no outputs: ask for video = true, clip = \"STEP\", "
                               "svg = true (or a list of steps), still = \"STEP\"")
        for output in figure.outputs:
            _check_args(group, output, where)
        figures.append(figure)
    return figures


def _check_args(group: click.Group, output: Output, where: str) -> None:
    """Parse ``output``'s command line as the command would (types, ranges, choices, the step's
    name against the storyboard is left to the command itself)."""
    command = group.commands[output.argv[0]]
    try:
        with command.make_context(output.argv[0], list(output.argv[1:])):
            pass
    except click.ClickException as exc:
        raise FiguresError(f"{where}: {exc.format_message()}") from None


def run_build(figures: list[Figure], program: list[str], force: bool) -> None:
    """Make every output of ``figures``, one process at a time; ``program`` is the command that
    runs the CLI (``[python, cli.py]``). Prints one line per output as it finishes and one line
    per failure at the end; exits 1 if any failed."""
    from scenes.cli.errors import Failure

    total = sum(len(f.outputs) for f in figures)
    failures: list[str] = []
    made = skipped = 0
    started_all = time.perf_counter()
    count = 0
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for figure in figures:
        for output in figure.outputs:
            count += 1
            label = f"[{count}/{total}] {figure.name}: {output.label}"
            click.echo(f"{label} ...", err=True)
            argv = [*program, *output.argv, *(["--force"] if force else [])]
            started = time.perf_counter()
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    bufsize=1)
            last = ""
            lines: list[str] = []
            try:
                for raw in proc.stdout:
                    line = raw.rstrip("\n")
                    if line.strip():
                        last = line
                        lines.append(line)
                        click.echo(f"    {line}", err=True)  # the command's own progress
                code = proc.wait()
            except BaseException:
                proc.terminate()
                proc.wait()
                raise
            took = time.perf_counter() - started
            if code >= 128 or code < 0:
                from scenes.cli.errors import Interrupted

                raise Interrupted(code - 128 if code >= 128 else -code)
            if code != 0:
                failures.append(f"{figure.name}: {output.label}: "
                                f"{last.removeprefix('Error: ') or f'exit {code}'}")
                click.echo(f"{label}: failed (exit {code})")
            elif any(": skipped, nothing changed" in x for x in lines):
                skipped += 1
                click.echo(f"{label}: unchanged")
            else:
                made += 1
                click.echo(f"{label}: made in {took:.1f} s")
    seconds = time.perf_counter() - started_all
    click.echo(f"{total} output{'s' * (total != 1)} of {len(figures)} "
               f"figure{'s' * (len(figures) != 1)}: {made} made, "
               f"{skipped} unchanged, {len(failures)} failed ({seconds:.1f} s)")
    if failures:
        for line in failures:
            click.echo(f"failed: {line}", err=True)
        raise Failure(f"{len(failures)} of {total} output{'s' * (total != 1)} failed")
