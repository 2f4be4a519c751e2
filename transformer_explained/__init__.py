"""transformer-explained: animations and SVG diagrams of a tiny trained Transformer's real
numbers. The command line is :mod:`transformer_explained.cli` (``transformer-explained``,
``python -m transformer_explained``, or ``python cli.py`` in a checkout); the model is in
``transformer_core``, the scenes and writers in ``scenes``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__version__ = "0.1.0"

__all__ = ["__version__", "command", "command_name"]


def command() -> list[str]:
    """The argv that runs this command line again in a child process, installed or from a
    checkout (``__main__.py`` run as a file finds the packages beside it)."""
    return [sys.executable, os.fspath(Path(__file__).resolve().with_name("__main__.py"))]


def command_name() -> str:
    """How the user ran the command, for the hints that name a command to run next:
    ``python cli.py`` in a checkout, ``transformer-explained`` installed, ``python -m
    transformer_explained``."""
    import click

    ctx = click.get_current_context(silent=True)
    name = ctx.find_root().info_name if ctx is not None else None
    if name == "transformer-explained" or (name or "").startswith("python -m "):
        return name
    return "python cli.py"  # the checkout's script (or a test's runner)
