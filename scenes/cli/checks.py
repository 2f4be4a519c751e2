"""Checks made before any work starts: names (the nearest valid one suggested), the system
tools a command runs, and the folders and files it writes."""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from pathlib import Path

import click

from .errors import Failure

__all__ = [
    "TOOLS", "FORMULA_TOOLS", "WEB_TOOLS", "did_you_mean", "Choice", "SceneName", "quoted",
    "require_tools", "output_folder", "output_file",
]

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


def quoted(text: str) -> str:
    """``'text'`` as typed; escaped like a Python string only if it holds control characters
    (which a terminal would act on)."""
    return f"'{text}'" if text.isprintable() else repr(text)


def require_tools(*names: str, purpose: dict[str, str] | None = None) -> None:
    """Fail with the install command if a system tool the command runs is not on the PATH.
    ``purpose`` replaces a tool's reason (``TOOLS``) where this command needs it otherwise."""
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return
    why = "; ".join(dict.fromkeys((purpose or {}).get(n, TOOLS[n][0]) for n in missing))
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
