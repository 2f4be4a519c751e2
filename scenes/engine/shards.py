"""One video drawn by several processes: each draws and encodes every N-th animation.

Manim encodes each ``play`` (and each ``wait``) of a scene into its own short file and joins
them at the end. A *shard* ``k`` of ``N`` runs the whole storyboard but draws and encodes only
the plays ``i`` with ``i % N == k``; for the others it jumps to their end state without drawing
(as a dry run does, and as the SVG export relies on) and advances the clock by exactly the
frames they would have had, so the step times (subtitles) are those of a single process. Shard
0 (this process) then collects the other shards' files and joins all of them in order, just as
a single process would: the same frames.

Interleaving single plays balances the work between processes without knowing in advance
which steps are slow. The other shards are forked after the trace is loaded and Manim is
imported, so they start at once and share the read-only memory.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable

import numpy as np
from manim import config
from manim.renderer.cairo_renderer import CairoRenderer

from transformer_core.cache import enabled as caching_enabled

from .fastpaths import end_states_only

from .frames import FastPathCamera, FrameGivingRenderer, HeldFrameFileWriter

__all__ = ["ShardRenderer", "ShardError", "start_shards", "stop_shards"]


class ShardError(RuntimeError):
    """Another render process failed or was stopped."""


def _renderer_kwargs() -> dict:
    if not caching_enabled():
        return {}
    return {"file_writer_class": HeldFrameFileWriter, "camera_class": FastPathCamera}


class ShardRenderer(FrameGivingRenderer):
    """Manim's cairo renderer drawing only the plays ``i`` with ``i % shards == shard``."""

    def __init__(self, shard: int, shards: int, peers=(), conn=None, **kwargs) -> None:
        super().__init__(**{**_renderer_kwargs(), **kwargs})
        self.shard, self.shards = shard, shards
        self.peers = list(peers)  # shard 0: a connection to each other shard
        self.conn = conn  # another shard: the connection to shard 0

    def play(self, scene, *args, **kwargs) -> None:
        if self.num_plays % self.shards == self.shard:
            return super().play(scene, *args, **kwargs)
        # Another shard draws this one: reach its end state without a pixel, then set the
        # clock to where drawing it would have left it.
        start = self.time
        names = ("update_frame", "save_static_frame_data")
        saved = {n: self.__dict__[n] for n in names if n in self.__dict__}
        self._original_skipping_status = True
        self.update_frame = self.save_static_frame_data = _no_pixels(self)
        try:
            with end_states_only():  # as the SVG export's dry run: the same end states, sooner
                super().play(scene, *args, **kwargs)
        finally:
            self._original_skipping_status = False
            for name in names:
                self.__dict__.pop(name, None)
            self.__dict__.update(saved)
        self.time = _advance(start, scene)

    def scene_finished(self, scene) -> None:
        writer = self.file_writer
        if self.shard != 0:
            writer.join_all_encode_jobs()
            self.conn.send(("files", list(writer.partial_movie_files)))
            return
        files = writer.partial_movie_files
        for peer in self.peers:
            try:
                kind, payload = peer.recv()
            except (EOFError, OSError):
                raise ShardError("another render process stopped before it finished") from None
            if kind != "files":
                raise ShardError(payload)
            if len(payload) != len(files):
                raise ShardError(f"the render processes disagree on the number of animations "
                                 f"({len(payload)} against {len(files)})")
            for i, path in enumerate(payload):
                if path is not None:
                    files[i] = path
        super().scene_finished(scene)


def _no_pixels(renderer: CairoRenderer):
    def no_pixels(*args, **kwargs) -> None:
        renderer.static_image = None

    return no_pixels


def _advance(start: float, scene) -> float:
    """The clock after a play drawn elsewhere: as many frame times as it has frames."""
    dt = 1 / config.frame_rate
    if scene.animations is not None and scene.is_current_animation_frozen_frame():
        return start + int(scene.duration / dt) * dt
    t = start
    for _ in np.arange(0, scene.duration, dt):
        t += dt
    return t


def start_shards(shards: int, run_shard: Callable[[int, object], None]) -> tuple[list, list]:
    """Fork shards 1..N-1, each calling ``run_shard(k, conn)``; returns (processes, peers)."""
    ctx = multiprocessing.get_context("fork")
    processes, peers = [], []
    for k in range(1, shards):
        parent_end, child_end = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_shard_main, args=(run_shard, k, child_end), daemon=True)
        process.start()
        child_end.close()
        processes.append(process)
        peers.append(parent_end)
    return processes, peers


def _shard_main(run_shard, k: int, conn) -> None:
    """A forked shard: render, report, and leave without running the parent's clean-ups."""
    code = 0
    try:
        run_shard(k, conn)
    except BaseException as exc:  # noqa: BLE001 (reported to shard 0, which says it in one line)
        code = 1
        try:
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            conn.send(("error", f"render process {k} failed: {detail}"))
        except Exception:
            pass
    finally:
        try:
            conn.close()
        finally:
            os._exit(code)


def stop_shards(processes) -> None:
    """Stop the shards still running (this process is unwinding) and wait for them."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
