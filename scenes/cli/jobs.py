"""Every scene at once: each in a process of its own, a few at a time, with the seconds each
took kept for the next run's order."""

from __future__ import annotations

import json
import os
import signal
import threading

import click

__all__ = ["default_jobs", "render_times", "record_render_times", "forwarded_options", "run_each"]

def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _times_store():
    from transformer_core.cache import Store

    return Store("times")


def render_times(kind: str) -> dict[str, float]:
    """Seconds each scene took in the last ``render all`` of this ``kind`` (quality and format)
    that rendered it, kept in the user's cache folder; empty when unknown or caching is off."""
    from transformer_core.cache import digest

    blob = _times_store().get(digest("render-times", kind))
    try:
        times = json.loads(blob.decode()) if blob is not None else {}
    except ValueError:  # a damaged entry: as if unknown
        return {}
    if not isinstance(times, dict):
        return {}
    return {k: float(v) for k, v in times.items() if isinstance(v, (int, float))}


def record_render_times(kind: str, times: dict[str, float]) -> None:
    """Keep ``times`` (scene → seconds) for :func:`render_times`, over the earlier ones."""
    from transformer_core.cache import digest

    merged = {**render_times(kind), **times}
    _times_store().put(digest("render-times", kind),
                       json.dumps(merged, sort_keys=True).encode())


def forwarded_options(ctx: click.Context, leave_out: tuple[str, ...] = ()) -> list[str]:
    """The command line that gives a child process the options this command was given (those
    not left at their default): options added to the command later are passed on too."""
    from click.core import ParameterSource

    args: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in leave_out:
            continue
        if ctx.get_parameter_source(param.name) in (ParameterSource.DEFAULT, None):
            continue
        value = ctx.params.get(param.name)
        if param.is_flag and param.secondary_opts:
            args.append(param.opts[0] if value else param.secondary_opts[0])
        elif param.count:
            args.extend([param.opts[0]] * int(value or 0))
        elif param.is_flag:
            if value:
                args.append(param.opts[0])
        elif param.multiple:
            for item in value:
                args.extend([param.opts[0], os.fspath(item) if isinstance(item, os.PathLike)
                             else str(item)])
        elif value is not None:
            args.extend([param.opts[0], os.fspath(value) if isinstance(value, os.PathLike)
                         else str(value)])
    return args


def run_each(commands: dict[str, list[str]], jobs: int,
             durations: dict[str, float] | None = None) -> dict[str, tuple[int, str]]:
    """Run ``commands`` (scene name → argv), at most ``jobs`` at a time, each in its own process,
    in the order given; ``durations`` (if given) receives each finished command's seconds.

    Every line a child prints is echoed as it comes, prefixed with ``[scene]``, and a line says
    when each scene started and finished or failed. Returns scene → (exit code, last line).
    Ctrl-C reaches the children too (same process group) and each cleans up after itself; when
    this process is interrupted or fails, children still running get SIGTERM and are waited
    for, so no orphan process and no half-written file is left.
    """
    import subprocess
    import time

    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            click.echo(text)

    def pump(name: str, proc) -> None:
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            if line.strip():
                last[name] = line
                say(f"[{name}] {line}")

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    pending = list(commands)
    running: dict[str, tuple[subprocess.Popen, threading.Thread, float]] = {}
    results: dict[str, tuple[int, str]] = {}
    last: dict[str, str] = {}
    try:
        while pending or running:
            while pending and len(running) < jobs:
                name = pending.pop(0)
                proc = subprocess.Popen(commands[name], env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, bufsize=1)
                reader = threading.Thread(target=pump, args=(name, proc), daemon=True)
                reader.start()
                running[name] = (proc, reader, time.perf_counter())
                say(f"[{name}] started")
            for name, (proc, reader, started) in list(running.items()):
                if proc.poll() is None:
                    continue
                reader.join()
                del running[name]
                results[name] = (proc.returncode, last.get(name, ""))
                took = time.perf_counter() - started
                if durations is not None:
                    durations[name] = took
                if proc.returncode == 0:
                    say(f"[{name}] done in {took:.1f} s")
                else:
                    say(f"[{name}] failed (exit {proc.returncode}) after {took:.1f} s")
            time.sleep(0.05)
    finally:
        _stop_children([(proc, reader) for proc, reader, _ in running.values()])
    return results


def _stop_children(children) -> None:
    """SIGTERM to the children still running, then wait for their cleanup (kill after 30 s)."""
    import subprocess
    import time

    live = [(proc, reader) for proc, reader in children if proc.poll() is None]
    for proc, _ in live:
        try:
            proc.send_signal(signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 30
    for proc, reader in live:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=1)
