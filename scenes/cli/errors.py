"""One line for every error, and its exit code: 2 for a usage mistake, 1 for a failure,
128 + n after signal n (the command group :class:`Main` turns every exception into that)."""

from __future__ import annotations

import os
import signal
import sys

import click

from .signals import signals_unwind

__all__ = ["DEBUG_ENV", "Failure", "Interrupted", "describe", "Main"]

DEBUG_ENV = "TRANSFORMER_DEBUG"


class Failure(click.ClickException):
    """A failure that is not the user's typing: exit 1, one line."""

    exit_code = 1


class Interrupted(click.ClickException):
    """Stopped by a signal: exit 128 + its number (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}: no half-written file was left, and what was "
                         "not finished keeps its earlier version")
        self.exit_code = 128 + signum



def describe(exc: BaseException) -> str:
    """One line for an unexpected exception."""
    if isinstance(exc, OSError) and exc.strerror:
        from transformer_core.files import error_path

        path = error_path(exc)  # a copy's destination (the full --out), not its temporary source
        where = f" ({path})" if path else ""
        text = f"{exc.strerror}{where}"
    else:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{text} (set {DEBUG_ENV}=1 to see the traceback)"


class Main(click.Group):
    """The command group: errors become one line and an exit code (see the module docstring)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx):
        with ctx, signals_unwind() as received:
            try:
                return super().invoke(ctx)
            except click.UsageError as exc:
                raise _named(_one_line(exc)) from None
            except click.ClickException as exc:
                raise _named(exc) from exc.__cause__
            except (click.exceptions.Exit, click.Abort):
                raise
            except KeyboardInterrupt:
                raise Interrupted(received[0] if received else signal.SIGINT) from None
            except BrokenPipeError:  # `cli.py trace | head`: the reader has gone; say nothing
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                raise click.exceptions.Exit(1) from None
            except Exception as exc:
                if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                    raise
                raise Failure(describe(exc)) from None


def _named(exc: click.ClickException) -> click.ClickException:
    """A message's hint (``python cli.py train``, written deep in the model's code) names the
    command actually run: ``transformer-explained train`` when installed."""
    from transformer_explained import command_name

    me = command_name()
    if me != "python cli.py":
        exc.message = exc.message.replace("python cli.py", me)
    return exc


def _one_line(exc: click.UsageError) -> click.UsageError:
    """Without its context a usage error prints only "Error: ..." (no usage lines above it);
    a bare command that shows its help is left as it is."""
    if not isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.ctx = None
    return exc
