"""A command process's start: NumPy's OpenBLAS on one thread. Only for a process that runs one
command (``python cli.py``, the installed script); Python code that imports :mod:`cli` is not
affected. Imports nothing heavy."""

from __future__ import annotations

import os

__all__ = ["one_blas_thread"]


def one_blas_thread() -> None:
    """NumPy's OpenBLAS (and SciPy's) on one thread in a command process, unless the user's
    environment says otherwise; set before NumPy is first imported, which reads it then.

    Our NumPy works on small arrays (a scene's points, 8-wide matrices); OpenBLAS's helper
    threads gain nothing there, but once woken they spin waiting for more work, on a core
    that the render's encoder, or the other scene of ``render all``, needs (0.1-0.7 CPU
    seconds of a 15 s render). PyTorch does its own threading (MKL, OpenMP), unaffected."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
