"""Big float32 weights in one checksummed file of the cache folder, and read lazily by traces.

A pretrained model's dequantized weights (SmolLM2-135M: 538 MB) are kept in
``<cache>/weights/<key>.f32``: ``TXWEIGHT``, the SHA-256 of the rest, an 8-byte length, a JSON
header (the model's config and tokenizer, each array's shape, offset and own SHA-256), then
the arrays, 64-byte aligned. Every read checks a checksum; a truncated or damaged file is deleted and
read as missing (the caller rebuilds it from its source). The folder keeps its own count (the
newest two files): the cache's size limit, meant for many small entries, does not prune it.

:class:`StoredParams` is the ``params`` mapping of a trace of such a model: names and shapes
at once, each value read from the file (and checked against its own SHA-256) only when it is
asked for, so a trace does not copy half a gigabyte of weights, nor keep them in every run of
the ``runs`` cache, and a scene showing one head's W_Q reads 150 kB of the file.
Only numpy and the standard library: a warm render reads a trace without torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from . import cache

__all__ = ["StoredParams", "keep_newest", "read_weights", "weights_folder", "write_weights"]

_MAGIC = b"TXWEIGHT"  # then the SHA-256 of everything after it, then the 8-byte index length
_ALIGN = 64


def weights_folder() -> Path:
    return cache.cache_root() / "weights"


def write_weights(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """``meta`` (JSON) and float32 ``arrays`` in one checksummed file, renamed into place."""
    index, offset = {}, 0
    for name, arr in arrays.items():  # each array's own SHA-256 too: read alone, checked alone
        raw = np.ascontiguousarray(arr, np.float32).data.cast("B")
        index[name] = [list(arr.shape), offset, hashlib.sha256(raw).hexdigest()]
        offset += -(-arr.nbytes // _ALIGN) * _ALIGN
    head = json.dumps({"meta": meta, "index": index}).encode()
    head += b" " * (-(len(_MAGIC) + 32 + 8 + len(head)) % _ALIGN)
    h = hashlib.sha256()
    h.update(struct.pack("<Q", len(head)))
    h.update(head)
    chunks = []
    for arr in arrays.values():
        raw = np.ascontiguousarray(arr, np.float32).data.cast("B")
        pad = b"\0" * (-len(raw) % _ALIGN)
        h.update(raw)
        h.update(pad)
        chunks.append((raw, pad))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_MAGIC + h.digest() + struct.pack("<Q", len(head)) + head)
            for raw, pad in chunks:
                fh.write(raw)
                fh.write(pad)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_weights(path: Path) -> tuple[dict, dict[str, np.ndarray]] | None:
    """``(meta, arrays)`` of a file :func:`write_weights` wrote, or None when it is missing,
    truncated or damaged (a damaged one is deleted)."""
    try:
        size = path.stat().st_size
        buf = np.empty(size, np.uint8)
        with open(path, "rb") as fh:
            got = fh.readinto(memoryview(buf))
    except OSError:
        return None
    start = len(_MAGIC) + 32
    try:
        ok = (got == size and size >= start + 8 and bytes(buf[:len(_MAGIC)]) == _MAGIC
              and hashlib.sha256(memoryview(buf)[start:]).digest() == bytes(buf[len(_MAGIC):start]))
        if ok:
            (length,) = struct.unpack("<Q", bytes(buf[start:start + 8]))
            info = json.loads(bytes(buf[start + 8:start + 8 + length]))
            base = start + 8 + length
            arrays = {}
            for name, (shape, offset, _) in info["index"].items():
                count = int(np.prod(shape))
                arrays[name] = np.frombuffer(buf, np.float32, count, base + offset).reshape(shape)
            return info["meta"], arrays
    except (ValueError, KeyError, TypeError):
        pass
    try:
        path.unlink()
    except OSError:
        pass
    return None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def read_array(path: Path, name: str) -> np.ndarray | None:
    """One array of a weights file, checked against its own SHA-256 (the rest is not read), or
    None when the file is missing, truncated or damaged (a damaged one is deleted: the next
    run finds it missing and rebuilds it)."""
    start = len(_MAGIC) + 32
    try:
        with open(path, "rb") as fh:
            head = fh.read(start + 8)
            if len(head) < start + 8 or head[:len(_MAGIC)] != _MAGIC:
                raise ValueError("not a weights file")
            (length,) = struct.unpack("<Q", head[start:])
            if length > 1_000_000_000:
                raise ValueError("header too large")
            info = json.loads(fh.read(length))
            shape, offset, sha = info["index"][name]
            arr = np.empty(int(np.prod(shape)), np.float32)
            fh.seek(start + 8 + length + offset)
            if fh.readinto(memoryview(arr).cast("B")) != arr.nbytes:
                raise ValueError("truncated")
        if hashlib.sha256(memoryview(arr).cast("B")).hexdigest() != sha:
            raise ValueError("damaged")
        return arr.reshape(shape)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        _unlink(path)
        return None


def keep_newest(folder: Path, keep: int = 2) -> None:
    """The weights folder keeps its own count: the newest few files (each is large)."""
    try:
        files = sorted(folder.glob("*.f32"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in files[keep:]:
        try:
            old.unlink()
        except OSError:
            pass


class StoredParams(Mapping):
    """Read-only ``name → array`` of a weights file: ``names`` maps each name shown to the
    file's name for it; values are read on first use."""

    def __init__(self, path: str | os.PathLike, names: dict[str, str],
                 shapes: dict[str, tuple[int, ...]]):
        self.path = Path(path)
        self.names = dict(names)
        self.shapes = {k: tuple(v) for k, v in shapes.items()}
        self._arrays: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            if name not in self.names:
                raise KeyError(name)
            arr = read_array(self.path, self.names[name])
            if arr is None:
                raise RuntimeError(f"the cached weights {self.path} are gone or damaged: run the "
                                   "command again (they are rebuilt from the model's file)")
            arr.setflags(write=False)
            self._arrays[name] = arr
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def size(self) -> int:
        """How many numbers the parameters hold."""
        return sum(int(np.prod(s)) for s in self.shapes.values())

    def describe(self) -> dict:
        """What :func:`transformer_core.records.to_bytes` keeps instead of the values."""
        return {"stored": os.fspath(self.path), "names": self.names,
                "shapes": {k: list(v) for k, v in self.shapes.items()}}
