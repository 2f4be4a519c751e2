"""Skipping unchanged work: a small hidden manifest beside a command's outputs.

A render (or an SVG export) that finishes records, in the user's cache folder (store ``skip``,
keyed by the output folder and the scene), the *key* of everything that decided its bytes and
the size and modification time of each file it wrote. The next identical command into the same
folder finds the same key and the files as they were, says so and returns in well under a
second, without importing Manim or torch, and without touching a file.

The key covers:

* the code: every ``.py`` file of ``scenes/``, ``transformer_core/`` and
  ``transformer_explained/`` (the command line);
* the data: the bytes of the checkpoint the trace is computed from;
* the command and all its options (quality, format, theme, sentence, ... whatever the command
  has, so an option added later is covered without a change here), minus those that only
  steer how the work is done (``--force``, ``--no-cache``, ``--jobs``) and the output folder
  (the manifest is in it);
* the tools: the versions of Python, Manim, pycairo and cairo, ManimPango and Pango, PyAV
  (which carries its own FFmpeg), torch, numpy, the system ``ffmpeg`` and ``latex`` (the first
  line each prints, asked once per program file and kept in the cache), and the installed
  ``dvisvgm`` (its path, size and modification time).

A missing, unreadable or foreign manifest, or an output file changed or removed since, means
"not known to be current": the command does the work.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from transformer_core.cache import Store, digest, file_identity

__all__ = ["ROOT", "NOT_IN_KEY", "code_digest", "tool_versions", "checkpoint_path", "make_key",
           "key_params", "Manifest"]

ROOT = Path(__file__).resolve().parent.parent.parent  # the project: scenes/, transformer_core/
SCHEMA = "transformer-explained-skip-1"
_CODE_DIRS = ("scenes", "transformer_core", "transformer_explained")
_CODE_FILES = ()
NOT_IN_KEY = frozenset({"scene", "force", "no_cache", "jobs", "out", "renders"})  # scene: the target
_STORE = Store("skip")
_DISTRIBUTIONS = ("manim", "pycairo", "ManimPango", "av", "torch", "numpy", "click")


def _source_files(root: Path) -> list[Path]:
    files = [root / f for f in _CODE_FILES if (root / f).is_file()]
    for folder in _CODE_DIRS:
        files += sorted((root / folder).rglob("*.py"))
    return files


@functools.cache
def code_digest(root: Path = ROOT) -> str:
    """SHA-256 over the names and bytes of the project's Python sources."""
    h = hashlib.sha256()
    for path in _source_files(root):
        data = path.read_bytes()
        h.update(f"{path.relative_to(root).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def _first_line(cmd: list[str]) -> str:
    """The first line ``cmd`` prints (a program's version), kept in the cache by the program
    file's identity (:func:`~transformer_core.cache.file_identity`): the same file prints the
    same line, and starting FFmpeg only to ask costs a tenth of a second at every command."""
    exe = shutil.which(cmd[0])
    if exe is None:
        return "missing"
    key = digest(SCHEMA, "first-line", cmd[1:], file_identity(exe))
    known = _STORE.get(key)
    if known is not None:
        try:
            return known.decode()
        except UnicodeDecodeError:  # foreign: asked again
            pass
    try:
        run = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    lines = run.stdout.strip().splitlines()
    if not lines:
        return "unknown"
    _STORE.put(key, lines[0].encode())
    return lines[0]


@functools.cache
def tool_versions() -> dict[str, str]:
    """Versions of everything that turns the same inputs into different bytes."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for dist in _DISTRIBUTIONS:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "missing"
    try:
        import cairo

        versions["cairo"] = cairo.cairo_version_string()
    except ImportError:
        versions["cairo"] = "missing"
    try:
        import manimpango

        versions["pango"] = manimpango.pango_version()
    except ImportError:
        versions["pango"] = "missing"
    versions["ffmpeg"] = _first_line(["ffmpeg", "-version"])
    versions["latex"] = _first_line(["latex", "--version"])
    # dvisvgm by its file: asking its version takes a tenth of a second
    versions["dvisvgm"] = " ".join(map(str, file_identity(shutil.which("dvisvgm"))))
    return versions


def checkpoint_path(model: str, checkpoint: str | os.PathLike | None = None) -> Path:
    """The checkpoint file a trace of ``model`` is read from (as
    :func:`transformer_core.checkpoint.default_path` finds it, without importing torch)."""
    from transformer_core.runs import checkpoint_file

    return checkpoint_file(model, checkpoint)


def _file_digest(path: Path) -> str:
    from transformer_core.files import file_digest

    return file_digest(path) or "missing"  # a FIFO or /dev/zero is not read (it never ends)


def key_params(params: Mapping) -> dict:
    """A command's parameters as they enter the key: plain values, without :data:`NOT_IN_KEY`."""
    plain = {}
    for name, value in params.items():
        if name in NOT_IN_KEY:
            continue
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        elif isinstance(value, (tuple, list)):
            value = [os.fspath(v) if isinstance(v, os.PathLike) else v for v in value]
        plain[name] = value
    return plain


def make_key(command: str, target: str, params: Mapping, checkpoints: Iterable[Path] = (),
             root: Path = ROOT) -> str:
    """The skip key of ``command`` (``"render"``, ``"svg"``) on ``target`` with ``params``."""
    data = [_file_digest(Path(p)) for p in checkpoints]
    return digest(SCHEMA, command, target, key_params(params), data, code_digest(root),
                  tool_versions())


class Manifest:
    """The record of the last run of one command into ``folder`` (``name``: scene and format).

    Kept in the user's cache folder (store ``skip``), keyed by the folder's absolute path and
    ``name``, not beside the outputs: an output folder holds only what the user asked for
    (a blog's asset folder stays clean, and no dot-file is left in it). Clearing the caches or
    ``--no-cache`` therefore also means "render again".
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = Path(folder).absolute()
        self.key = digest(SCHEMA, "manifest", os.fspath(self.folder), name)

    def _stat(self, rel: str) -> list[int] | None:
        try:
            st = (self.folder / rel).stat()
        except OSError:
            return None
        return [st.st_size, st.st_mtime_ns]

    def current(self, key: str) -> bool:
        """True when the last run had ``key`` and its files are exactly as it left them."""
        blob = _STORE.get(self.key)
        if blob is None:
            return False
        try:
            record = json.loads(blob)
            if record.get("schema") != SCHEMA or record.get("key") != key:
                return False
            files = record["files"]
            return bool(files) and all(self._stat(rel) == list(stat) for rel, stat in files.items())
        except (ValueError, KeyError, TypeError, AttributeError):
            return False

    def record(self, key: str, files: Iterable[Path]) -> None:
        """Remember ``key`` and the current state of ``files`` (paths inside the folder)."""
        stats = {}
        for path in files:
            rel = Path(path).absolute().relative_to(self.folder).as_posix()
            stat = self._stat(rel)
            if stat is not None:
                stats[rel] = stat
        body = {"schema": SCHEMA, "key": key, "folder": os.fspath(self.folder), "files": stats}
        _STORE.put(self.key, json.dumps(body, sort_keys=True).encode())

    def forget(self) -> None:
        """Drop the record (the outputs are about to change)."""
        try:
            _STORE.path(self.key).unlink()
        except OSError:
            pass
