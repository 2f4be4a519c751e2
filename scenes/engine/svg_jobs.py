"""SVG figures of several scenes at once: one forked process per core, each exporting whole scenes.

:func:`export_scenes` loads what every scene shares (Manim, the scene modules, the model's trace)
once in this process, then forks ``jobs`` workers. Each worker asks for the next scene not yet
taken, exports its figures with :func:`scenes.writers.svg.export_svgs` and reports every file
written (and the scene's end) to this process, which prints and records them. A scene is
exported exactly as a single process would export it (the same bytes), since the figures of a
scene never depend on what else the process has drawn. A scene that fails is reported in one
line and the others go on; every file is written under a temporary name and renamed into place
when complete, so a failed or stopped worker leaves no partial file.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import wait
from pathlib import Path

__all__ = ["SceneFailed", "failure_message", "preload", "export_scenes"]


class SceneFailed(RuntimeError):
    """One or more scenes could not be exported; the message says which and why, in one line."""


def failure_message(name: str, folder: Path, exc: BaseException) -> str:
    """One line for a scene's export that raised ``exc``."""
    from scenes.cli.errors import describe
    from scenes.writers.svg import UnsupportedMobjectError

    if isinstance(exc, UnsupportedMobjectError):
        return f"scene {name!r}: {exc}"
    if isinstance(exc, OSError):
        return f"cannot write {folder}: {exc.strerror or exc}"
    return f"scene {name!r}: {describe(exc)}"


def preload(names: Sequence[str], options) -> None:
    """Set up each scene once here (its module, its trace and the model runs it caches), so that
    forked workers find it all loaded and never run torch after the fork."""
    import tempfile

    from manim import tempconfig

    from scenes.registry import get_scene_class
    from scenes.toolkit.storyboard import using_options

    with tempfile.TemporaryDirectory(prefix="manim-media-") as media:
        # These scenes only fill caches: a tiny camera (same aspect), not one of 1920 × 1080
        # whose background is filled twice per scene.
        settings = {"dry_run": True, "disable_caching": True, "progress_bar": "none",
                    "verbosity": "WARNING", "preview": False, "media_dir": media,
                    "pixel_width": 16, "pixel_height": 9}
        with tempconfig(settings), using_options(options):
            for name in names:
                get_scene_class(name)(skip_animations=True).setup()


def export_scenes(folders: Mapping[str, Path], options, jobs: int, transparent: bool = False,
                  progress: Callable[[Path, str], None] | None = None,
                  finished: Callable[[str, list[Path]], None] | None = None,
                  timings: dict[str, float] | None = None) -> None:
    """Export every scene of ``folders`` (name → output folder), ``jobs`` forked processes at a
    time, each taking the next scene in the order of ``folders`` when it is free.
    ``progress(path, status)`` is called here for each file as its worker reports it and
    ``finished(name, paths)`` when a scene is complete; ``timings`` (if given) receives each
    exported scene's CPU seconds. Raises :class:`SceneFailed` (after the other scenes are done)
    if any failed; Ctrl-C or SIGTERM stops every worker."""
    names = list(folders)
    preload(names, options)
    sys.stdout.flush()
    sys.stderr.flush()
    ctx = multiprocessing.get_context("fork")
    workers: dict = {}  # connection -> process
    failures: dict[str, str] = {}
    pending = list(names)
    try:
        for _ in range(max(1, min(jobs, len(names)))):
            here, there = ctx.Pipe()
            process = ctx.Process(target=_worker, args=(there, folders, options, transparent),
                                  daemon=True)
            process.start()
            there.close()
            workers[here] = process
        busy: dict = {}  # connection -> the scene it exports
        for conn in workers:
            _hand_out(conn, pending, busy)
        while busy:
            for conn in wait(list(busy)):
                try:
                    message = conn.recv()
                except (EOFError, OSError):
                    name = busy.pop(conn)
                    failures[name] = f"scene {name!r}: its export process stopped unexpectedly"
                    continue
                kind, name = message[0], message[1]
                if kind == "file":
                    if progress is not None:
                        progress(Path(message[2]), message[3])
                    continue
                del busy[conn]
                if kind == "done":
                    if finished is not None:
                        finished(name, [Path(p) for p in message[2]])
                    if timings is not None:
                        timings[name] = message[3]
                else:
                    failures[name] = message[2]
                _hand_out(conn, pending, busy)
    except BaseException:
        _stop(workers, wait_first=False)
        raise
    _stop(workers, wait_first=True)
    if failures:
        if len(failures) == 1:
            raise SceneFailed(next(iter(failures.values())))
        detail = "; ".join(failures[name] for name in names if name in failures)
        raise SceneFailed(f"{len(failures)} of {len(names)} scenes failed: {detail}")


def _hand_out(conn, pending: list[str], busy: dict) -> None:
    """Give the worker at ``conn`` the next scene, or tell it to stop if none is left."""
    if pending:
        busy[conn] = pending.pop(0)
        conn.send(("scene", busy[conn]))
    else:
        conn.send(("stop", ""))


def _worker(conn, folders, options, transparent: bool) -> None:
    """A forked worker: export the scenes it is given; leave without the parent's clean-ups."""
    from scenes.cli.errors import DEBUG_ENV
    from scenes.writers.svg import export_svgs

    code = 0
    try:
        while True:
            kind, name = conn.recv()
            if kind != "scene":
                break
            folder = folders[name]

            def report(path: Path, status: str, name=name) -> None:
                conn.send(("file", name, os.fspath(path), status))

            started = time.process_time()
            try:
                paths = export_svgs(name, options, folder, transparent=transparent,
                                    progress=report)
            except Exception as exc:  # noqa: BLE001 (one line, said by the parent)
                if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                    traceback.print_exc()
                conn.send(("failed", name, failure_message(name, folder, exc)))
            else:
                conn.send(("done", name, [os.fspath(p) for p in paths],
                           time.process_time() - started))
    except BaseException:  # noqa: BLE001 (stopped: the parent reports it)
        code = 1
    finally:
        try:
            conn.close()
        finally:
            os._exit(code)


def _stop(workers: dict, wait_first: bool) -> None:
    """Wait for the workers to leave (``wait_first``: they were told to), stopping those that
    do not (SIGTERM unwinds them: their temporary files are removed)."""
    if wait_first:
        for process in workers.values():
            process.join(timeout=30)
    for process in workers.values():
        if process.is_alive():
            process.terminate()
    for process in workers.values():
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
