"""Progress of a command's steps: a bar on a terminal, else one line per finished step."""

from __future__ import annotations

import contextlib
import sys

import click

__all__ = ["step_progress"]

@contextlib.contextmanager
def step_progress(label: str, total: int):
    """Yields ``progress(index, step, n)``: a bar on a terminal, else one line per finished
    step (a log, or a program waiting for a step, can read that)."""
    if sys.stderr.isatty():
        with click.progressbar(length=total, label=label, show_pos=True,
                               item_show_func=lambda s: s, file=sys.stderr) as bar:
            def progress(index, step, n) -> None:
                bar.current_item = step.name
                bar.update(1)

            yield progress
    else:
        def progress(index, step, n) -> None:
            click.echo(f"{label}: step {index + 1} of {n} done ({step.name})", err=True)

        yield progress
