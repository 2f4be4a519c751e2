"""Writing files so that nothing is lost: a reader sees the old file or the complete new one.

Only the standard library: importing this module is instant (no numpy, no torch).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

__all__ = ["STAGING_PREFIX", "MAX_INPUT_BYTES", "atomic_write", "commit_files", "error_path",
           "file_digest", "regular_file", "staged_folder", "temp_beside"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_beside(path: Path, keep_suffix: bool = False) -> Path:
    """A new hidden temporary file in ``path``'s folder, with the usual file mode.

    ``mkstemp`` makes files owner-only, which a web server serving the folder could not read.
    With ``keep_suffix`` the name ends in ``path``'s extension (ffmpeg picks its muxer by it).
    """
    path = Path(path)
    suffix = f".part{path.suffix}" if keep_suffix else ".part"
    stem = path.stem if keep_suffix else path.name
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    finally:
        os.close(fd)
    return Path(tmp)


MAX_INPUT_BYTES = 256 * 1024 * 1024  # larger than any checkpoint or corpus this tool accepts


def regular_file(path: Path | str) -> bool:
    """True if ``path`` names (through links) a regular file: not a FIFO, a device, a folder,
    which would block a reader or never end (``/dev/zero``)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


BIG_FILE = 64_000_000  # a pretrained model's file: known by its identity, not its bytes


def file_digest(path: Path | str, limit: int = MAX_INPUT_BYTES) -> str | None:
    """The hex SHA-256 of a regular file's bytes, read in pieces; None for a missing or
    unreadable file, anything that is not a regular file, or a file over ``limit`` bytes.

    A file over :data:`BIG_FILE` bytes (a GGUF model) and a Hugging Face model folder are known
    by their files' paths, sizes and modification times: hashing 100 MB on every run would cost
    more than the run."""
    from .cache import digest, file_identity

    try:
        if Path(path).is_dir():
            return digest([file_identity(p) for p in sorted(Path(path).iterdir()) if p.is_file()])
        if not regular_file(path):
            return None
        size = os.stat(path).st_size
    except OSError:
        return None
    if size > limit:
        return None
    if size > BIG_FILE:
        return digest(file_identity(Path(path)))
    h = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    return None
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def error_path(exc: OSError) -> str | None:
    """The path an OSError is about: a copy's or a move's destination (the folder that is full
    or read-only, not the temporary source), else its one file; None when it names none."""
    where = exc.filename2 if exc.filename2 is not None else exc.filename
    return os.fsdecode(where) if isinstance(where, (str, bytes, os.PathLike)) else None


def atomic_write(path: Path, data: bytes | None = None, writer=None) -> None:
    """Write to a temporary file beside ``path`` and rename it into place when complete.

    Give the bytes, or ``writer(fh)`` that writes to a binary file. On any failure or
    interruption the temporary file is removed and an existing ``path`` is left untouched.

    Only a regular file is replaced so: a device, a FIFO or a terminal (``/dev/null``,
    ``/dev/stdout``, a pipe) is written into in place, as a shell's ``>`` would (a rename would
    put a plain file where the device was, for every program on the machine); a symbolic link
    stays a link and the file it names is replaced.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # follows links: what the path names in the end
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        with open(path, "wb") as fh:
            _fill(fh, data, writer)
        return
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    try:
        with open(tmp, "wb") as fh:
            _fill(fh, data, writer)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fill(fh, data: bytes | None, writer) -> None:
    if writer is not None:
        writer(fh)
    else:
        fh.write(data)


STAGING_PREFIX = ".staging-"  # hidden folders that :func:`staged_folder` makes and removes


@contextlib.contextmanager
def staged_folder(folder: Path | str) -> Iterator[Path]:
    """A hidden temporary folder inside ``folder`` to write a set of outputs into.

    When the ``with`` block completes, every file in it is renamed into ``folder`` (replacing a
    file of the same name; subfolders are merged), and the staging folder is removed. On any
    exception or interruption it is removed with whatever it holds, so ``folder`` keeps exactly
    its earlier files. The renames are done with SIGINT/SIGTERM held back (delivered right
    after), so an interruption never leaves half of the new set beside half of the old.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(folder)
    stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    held = _hold(stage)  # while this process (or a fork of it) lives, the stage is in use
    try:
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it owner-only
        yield stage
        with _signals_held():
            _merge(stage, folder)
            shutil.rmtree(stage, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if held is not None:
            os.close(held)


ABANDONED_SECONDS = 60  # a staging folder this old whose lock no process holds was left by a kill


def _hold(stage: Path) -> int | None:
    """An open descriptor of ``stage`` with an exclusive lock on it (None where locks are not
    available): the lock goes with the process, however it ends (SIGKILL, out of memory)."""
    try:
        import fcntl

        fd = os.open(stage, os.O_RDONLY)
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _remove_abandoned(folder: Path) -> None:
    """Remove the staging folders in ``folder`` that a killed process left: older than
    :data:`ABANDONED_SECONDS` and locked by no one (a running command holds its own)."""
    import time

    try:
        entries = [e for e in folder.iterdir() if e.name.startswith(STAGING_PREFIX)]
    except OSError:
        return
    for entry in entries:
        try:
            if not entry.is_dir() or entry.is_symlink() \
                    or time.time() - entry.stat().st_mtime < ABANDONED_SECONDS:
                continue
        except OSError:
            continue
        fd = _hold(entry)
        if fd is not None:  # nobody holds it: its process is gone
            try:
                shutil.rmtree(entry, ignore_errors=True)
            finally:
                os.close(fd)


def commit_files(folder: Path | str, files: Mapping[str, bytes],
                 remove: Iterable[Path] = ()) -> None:
    """Write a set of files into ``folder`` all together: every file of ``files`` (name ->
    bytes) is written into a staging folder first, then all are renamed into place and the
    ``remove`` paths deleted with SIGINT/SIGTERM held back. A failure (a full disk) or an
    interruption before that leaves ``folder`` exactly as it was: never half of the new set
    beside half of the old."""
    folder = Path(folder)
    with staged_folder(folder) as stage:
        for name, data in files.items():
            with open(stage / name, "wb") as fh:
                fh.write(data)
        with _signals_held():
            _merge(stage, folder)
            for path in remove:
                Path(path).unlink(missing_ok=True)


def _merge(src: Path, dst: Path) -> None:
    """Rename every file under ``src`` to the same place under ``dst``."""
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if entry.is_dir() and not entry.is_symlink():
            target.mkdir(exist_ok=True)
            _merge(entry, target)
        else:
            os.replace(entry, target)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (then they are delivered)."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, OSError, ValueError):  # a platform without it
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
