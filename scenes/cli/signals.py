"""Signals while a command runs: SIGTERM and SIGHUP unwind the stack as Ctrl-C does."""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["signals_unwind"]

@contextlib.contextmanager
def signals_unwind():
    """While a command runs, SIGTERM and SIGHUP unwind the stack like Ctrl-C does: every
    ``finally`` and ``with`` block runs (temporary files and folders are removed, a child
    ffmpeg is killed). Yields the list that receives the signal's number.

    Only the first signal unwinds; a second one while cleaning up, or after while the exit is
    reported, is ignored, so neither the cleanup nor the exit code 128 + n is cut short.
    A signal that was ignored when the process started (``nohup``, a background job) stays
    ignored.
    """
    received: list[int] = []

    def handler(signum, frame) -> None:
        if received:
            return
        received.append(signum)
        raise KeyboardInterrupt

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is None:
                continue
            current = signal.getsignal(sig)
            if current is signal.SIG_IGN or current is None:
                continue
            if sig == signal.SIGINT and current is not signal.default_int_handler:
                continue  # someone else's handler: leave it
            previous[sig] = signal.signal(sig, handler)
    try:
        yield received
    finally:
        for sig, old in previous.items():
            # After a signal the process is on its way out with 128 + n: a second Ctrl-C now
            # would end it by the signal itself (no exit 130, no message), so it is ignored.
            signal.signal(sig, signal.SIG_IGN if received else old)
