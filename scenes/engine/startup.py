"""A command process's start: NumPy's OpenBLAS on one thread, PyTorch's OpenMP threads waiting
passively. Only for a process that runs one command (``python cli.py``, the installed script);
Python code that imports :mod:`cli` is not affected. Imports nothing heavy."""

from __future__ import annotations

import os

__all__ = ["one_blas_thread"]


def one_blas_thread() -> None:
    """NumPy's OpenBLAS (and SciPy's) on one thread in a command process, unless the user's
    environment says otherwise; set before NumPy is first imported, which reads it then.

    Our NumPy works on small arrays (a scene's points, 8-wide matrices); OpenBLAS's helper
    threads gain nothing there, but once woken they spin waiting for more work, on a core
    that the render's encoder, or the other scene of ``render all``, needs (0.1-0.7 CPU
    seconds of a 15 s render). PyTorch keeps its threads, but its OpenMP threads wait
    passively (sleep, not spin) between operations: on a machine busy with other work, a run
    of SmolLM2 on a sentence took 8.6 CPU seconds (25 s) spinning and 0.8 (2.5 s) passive."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
