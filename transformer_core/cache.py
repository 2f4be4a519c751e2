"""Persistent caches in the user's cache folder: bounded, shared safely, never trusted blindly.

Rendering lays out the same captions, labels and formulas again and again (Pango, LaTeX); their
results are kept here between runs, under ``$XDG_CACHE_HOME/transformer-explained`` (or
``~/.cache/transformer-explained``)::

    <root>/<store>/<k0k1>/<key>.bin      one entry: a header with the payload's SHA-256, then it

* **Safe with several processes at once**: an entry is written to a temporary file beside it and
  renamed into place, so a reader sees a complete entry or none; a reader whose entry vanishes
  (another process pruned it) simply misses.
* **Never an error**: an entry that is truncated, corrupt or foreign (wrong header, wrong
  checksum) is ignored, removed and rebuilt by the caller; an unwritable cache folder only
  means no caching.
* **Bounded**: :func:`prune` removes the least recently used entries (a hit refreshes an entry's
  modification time) until the whole cache is under ``TRANSFORMER_CACHE_MB`` megabytes
  (default 512).
* **Optional**: ``TRANSFORMER_NO_CACHE=1`` (the CLI's ``--no-cache``) or :func:`set_enabled`
  turns every store off: nothing read, nothing written.

Keys are SHA-256 digests of everything that determines an entry (:func:`digest`); the caller
includes the versions of the tools that made it. Only the standard library: importing this
module is instant.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["APP", "Store", "cache_root", "clear", "digest", "enabled", "file_identity", "limit_bytes", "prune",
           "set_enabled", "usage", "usage_by_folder"]

APP = "transformer-explained"
NO_CACHE_ENV = "TRANSFORMER_NO_CACHE"
LIMIT_ENV = "TRANSFORMER_CACHE_MB"
DEFAULT_LIMIT_MB = 512
_MAGIC = b"TXCACHE1"  # 8 bytes, then the payload's 32-byte SHA-256, then the payload
_HEADER = len(_MAGIC) + 32
_SUFFIX = ".bin"


def cache_root() -> Path:
    """``$TRANSFORMER_EXPLAINED_CACHE``, else ``$XDG_CACHE_HOME/transformer-explained``, else
    ``~/.cache/transformer-explained`` (the slides' clip cache uses the same folder)."""
    if os.environ.get("TRANSFORMER_EXPLAINED_CACHE"):
        return Path(os.environ["TRANSFORMER_EXPLAINED_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):  # the XDG spec: a relative value is invalid, ignore it
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / APP


def enabled() -> bool:
    """False when caching is switched off (``TRANSFORMER_NO_CACHE`` set to a true value)."""
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() in ("", "0", "false", "no", "off")


def set_enabled(flag: bool) -> None:
    """Switch every store on or off, for this process and the processes it starts."""
    if flag:
        os.environ.pop(NO_CACHE_ENV, None)
    else:
        os.environ[NO_CACHE_ENV] = "1"


def limit_bytes() -> int:
    """The size the whole cache is pruned to (``TRANSFORMER_CACHE_MB``, default 512 MB)."""
    try:
        mb = float(os.environ.get(LIMIT_ENV, DEFAULT_LIMIT_MB))
    except ValueError:
        mb = DEFAULT_LIMIT_MB
    if not math.isfinite(mb):  # "nan", "1e309": as for any other value that is no size
        mb = DEFAULT_LIMIT_MB
    return max(0, int(mb * 1_000_000))


def file_identity(path: str | os.PathLike | None) -> tuple:
    """An installed file (a program, a data file) by its real path, size and modification time,
    for a key: an upgrade that replaces the file changes them. ``("missing",)`` if there is none."""
    if not path:
        return ("missing",)
    try:
        real = os.path.realpath(path)
        info = os.stat(real)
    except OSError:
        return ("missing",)
    return real, info.st_size, info.st_mtime_ns


def digest(*parts) -> str:
    """A hex SHA-256 of ``parts`` (JSON-able values; bytes are hashed as they are)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, (bytes, bytearray, memoryview)):
            h.update(b"b%d:" % len(part))
            h.update(part)
        else:
            text = json.dumps(part, sort_keys=True, default=repr, ensure_ascii=False).encode()
            h.update(b"j%d:" % len(text))
            h.update(text)
    return h.hexdigest()


class Store:
    """One named cache of bytes by key, e.g. ``Store("text")``."""

    def __init__(self, name: str, root: Path | None = None) -> None:
        self.name = name
        self._root = root

    @property
    def folder(self) -> Path:
        return (self._root or cache_root()) / self.name

    def path(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"a cache key is a hex digest, not {key!r}")
        return self.folder / key[:2] / f"{key}{_SUFFIX}"

    def get(self, key: str) -> bytes | None:
        """The payload stored under ``key``, or None (missing, invalid, or caching off)."""
        if not enabled():
            return None
        path = self.path(key)
        try:
            with open(path, "rb") as fh:
                blob = fh.read()
        except IsADirectoryError:  # a folder where the entry goes: foreign, removed, rebuilt
            shutil.rmtree(path, ignore_errors=True)
            return None
        except OSError:
            return None
        payload = blob[_HEADER:]
        if (len(blob) < _HEADER or blob[:len(_MAGIC)] != _MAGIC
                or hashlib.sha256(payload).digest() != blob[len(_MAGIC):_HEADER]):
            _unlink(path)  # corrupt or foreign: the caller rebuilds it
            return None
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return payload

    def put(self, key: str, payload: bytes) -> None:
        """Store ``payload`` under ``key`` (silently nothing when the folder is unwritable)."""
        if not enabled():
            return
        path = self.path(key)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_MAGIC + hashlib.sha256(payload).digest())
                fh.write(payload)
            os.replace(tmp, path)
            tmp = None
        except OSError:
            pass
        finally:
            if tmp is not None:
                _unlink(Path(tmp))


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _entries(root: Path) -> list[tuple[float, int, Path]]:
    """(last use, size, path) of every entry file under ``root`` (temporary files too)."""
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            try:
                st = path.stat()
            except OSError:
                continue
            found.append((st.st_mtime, st.st_size, path))
    return found


def usage(root: Path | None = None) -> int:
    """Bytes the cache folder holds (every store, and the slides' clips)."""
    root = root or cache_root()
    return sum(size for _, size, _ in _entries(root)) if root.is_dir() else 0


def usage_by_folder(root: Path | None = None) -> dict[str, int]:
    """Bytes each folder of the cache holds (each store, and the slides' clips), largest first."""
    root = root or cache_root()
    sizes: dict[str, int] = {}
    if root.is_dir():
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                sizes[child.name] = sum(size for _, size, _ in _entries(child))
    return dict(sorted(sizes.items(), key=lambda item: (-item[1], item[0])))


def prune(limit: int | None = None, root: Path | None = None) -> int:
    """Remove the least recently used entries of the stores until they hold at most ``limit``
    bytes (default :func:`limit_bytes`); return the bytes freed. Other folders in the cache
    root (the slides' clips, which keep their own count) are left alone."""
    root = root or cache_root()
    limit = limit_bytes() if limit is None else limit
    if not root.is_dir():
        return 0
    entries = sorted(e for e in _entries(root) if e[2].suffix == _SUFFIX or ".bin." in e[2].name)
    total = sum(size for _, size, _ in entries)
    freed = 0
    for _, size, path in entries:
        if total - freed <= limit:
            break
        _unlink(path)
        freed += size
    return freed


def clear(root: Path | None = None, left: list[str] | None = None) -> tuple[int, int]:
    """Empty the cache folder (every store, and the slides' clips); return (files removed,
    bytes freed). What could not be removed (an unreadable folder, a file the user may not
    delete) is added to ``left`` as "PATH: reason"."""
    root = root or cache_root()
    if not root.is_dir():
        return 0, 0
    problems: list[str] = [] if left is None else left

    def note(error: OSError) -> None:
        problems.append(f"{error.filename}: {error.strerror or error}")

    found = []
    for dirpath, _dirs, names in os.walk(root, onerror=note):
        for name in names:
            path = Path(dirpath) / name
            try:
                found.append((path.lstat().st_size, path))
            except OSError as exc:
                note(exc)
    files, freed = 0, 0
    for size, path in found:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue  # another process pruned it
        except OSError as exc:
            note(exc)
            continue
        files += 1
        freed += size
    # The empty folders (one another process is writing into meanwhile stays: not a problem).
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
    return files, freed
