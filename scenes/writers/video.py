"""Render a scene to a video (or one still per step) from Python, with subtitles.

Manim runs in-process under ``tempconfig`` (Manim's own per-animation caching off, its media
folder a temporary directory); no ``manim`` command is spawned. Text and formulas come from the
user's cache folder when they were laid out before (:mod:`scenes.engine.textcache`), and the
camera and encoder are the faster ones of :mod:`scenes.engine.frames`. Everything is written
into a hidden staging folder inside the output folder and renamed into place only when the whole
render is complete, so a reader never sees half a file, and a failed or interrupted render
leaves the earlier files as they were. Beside the video goes ``<scene>.srt``: one cue per
storyboard step, timed from the step boundaries.

    renders/attention.mp4   the video (or .webm, .gif, .mov)
    renders/attention.srt   its subtitles
    renders/attention-steps/NN-step.png   with ``fmt="png"``: each step's end state
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from transformer_core.files import atomic_write, staged_folder

from transformer_core.cache import enabled as caching_enabled
from transformer_core.cache import prune as prune_cache

from ..engine.frames import (ENCODER_OPTIONS, ENCODER_QUEUE_SIZE, MAX_INFLIGHT_ENCODERS,
                             FastPathCamera, FrameGivingRenderer, HeldFrameFileWriter,
                             keep_freed_memory)
from ..engine.patching import rendering
from ..registry import get_scene_class
from ..toolkit.storyboard import SceneOptions, Step, using_options

__all__ = ["QUALITIES", "FORMATS", "RenderResult", "render_scene", "format_srt",
           "srt_timestamp"]

QUALITIES = {  # our names -> Manim's (480p15, 720p30, 1080p60, 2160p60)
    "low": "low_quality",
    "medium": "medium_quality",
    "high": "high_quality",
    "4k": "fourk_quality",
}
FORMATS = ("mp4", "webm", "gif", "mov", "png")

Progress = Callable[[int, Step, int], None]  # (index, step, number of steps)


@dataclass
class RenderResult:
    path: Path  # the video, or the folder of PNG stills
    subtitles: Path | None  # the .srt (None for stills)
    steps: list[Step]
    step_times: list[tuple[float, float]]  # (start, end) of each step in the video, seconds
    wall_time: float  # seconds spent, model and scene set-up included
    stills: list[Path] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.step_times[-1][1] if self.step_times else 0.0


def srt_timestamp(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def format_srt(steps: list[Step], times: list[tuple[float, float]]) -> str:
    """One numbered cue per step: its caption, shown from the step's start to its end (no
    markup a player would act on: :func:`scenes.writers.publish.srt_text`)."""
    from .publish import srt_text

    cues = []
    for number, (step, (start, end)) in enumerate(zip(steps, times, strict=True), start=1):
        cues.append(f"{number}\n{srt_timestamp(start)} --> {srt_timestamp(end)}\n"
                    f"{srt_text(step.caption)}\n")
    return "\n".join(cues)


def render_scene(
    name: str,
    options: SceneOptions | None = None,
    quality: str = "low",
    fmt: str = "mp4",
    out_dir: Path | str = "renders",
    progress: Progress | None = None,
    jobs: int = 1,
    narration=None,
) -> RenderResult:
    """Render scene ``name`` with ``options`` and return what was written.

    ``progress(index, step, total)`` is called as each storyboard step finishes. With
    ``jobs`` > 1 a video is drawn by that many processes (:mod:`scenes.engine.shards`): the
    same frames, in less time on as many cores. Manim runs with the engine's patches only
    while this renders (:func:`scenes.engine.patching.rendering`). With ``narration`` (a
    :class:`scenes.narration.Narration` whose speeches are spoken) each step lasts at least its
    speech, the video gets the speech as its sound and the subtitles are its sentences.
    """
    if narration is not None:
        options = (options or SceneOptions()).with_(step_seconds=narration.step_seconds)
    with rendering():
        return _render_scene(name, options, quality, fmt, out_dir, progress, jobs, narration)


def _render_scene(name: str, options: SceneOptions | None, quality: str, fmt: str,
                  out_dir: Path | str, progress: Progress | None, jobs: int,
                  narration=None) -> RenderResult:
    if quality not in QUALITIES:
        raise ValueError(f"unknown quality {quality!r}; choose from {', '.join(QUALITIES)}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    from manim import tempconfig

    started = time.perf_counter()
    if fmt != "png":
        keep_freed_memory()  # a frame's memory reused by the next, not faulted in again
    options = options or SceneOptions()
    scene_cls = get_scene_class(name)
    out = Path(out_dir)
    stills_name = f"{name}-steps"
    stills: list[str] = []

    with staged_folder(out) as stage, tempfile.TemporaryDirectory(prefix="manim-media-") as media:

        def on_step(scene, index: int, step: Step) -> None:
            if fmt == "png":
                stills.append(_save_still(scene, stage / stills_name, index, step).name)
            if progress is not None:
                progress(index, step, len(scene.steps))

        settings = {
            "quality": QUALITIES[quality],
            "media_dir": media,
            "disable_caching": True,
            "progress_bar": "none",
            "verbosity": "WARNING",
        }
        if fmt == "png":
            settings["dry_run"] = True
        else:
            settings["format"] = fmt
            settings["max_inflight_encoders"] = MAX_INFLIGHT_ENCODERS
            settings["encoder_queue_size"] = ENCODER_QUEUE_SIZE
            if fmt != "webm":  # mp4, mov and the gif's segments: H.264
                settings["video_encoder_options"] = dict(ENCODER_OPTIONS["libx264"])
        shards = jobs if jobs > 1 and fmt != "png" else 1
        processes: list = []
        if shards > 1:
            from ..engine.shards import ShardRenderer, start_shards

            # The scene's set-up loads its traces (torch) into lru caches: done once here, the
            # forked shards find them loaded (and never use torch after a fork).
            with tempconfig({**settings, "dry_run": True, "format": None}), \
                    using_options(options):
                scene_cls(skip_animations=True).setup()

            def run_shard(k: int, conn) -> None:
                with tempconfig({**settings, "media_dir": str(Path(media) / f"shard-{k}")}), \
                        using_options(options):
                    scene_cls(renderer=ShardRenderer(k, shards, conn=conn)).render()

            processes, peers = start_shards(shards, run_shard)

            def make_renderer():  # inside tempconfig: the camera reads the frame size
                return ShardRenderer(0, shards, peers=peers)
        else:
            def make_renderer():
                return _renderer(skip_animations=fmt == "png")
        try:
            with tempconfig(settings), using_options(options):
                scene = scene_cls(renderer=make_renderer(), skip_animations=fmt == "png")
                scene.step_listeners.append(on_step)
                scene.render()
                if fmt != "png":
                    movie = Path(scene.renderer.file_writer.movie_file_path)
                    shutil.move(movie, stage / f"{name}.{fmt}")
        finally:
            if processes:
                from ..engine.shards import stop_shards

                stop_shards(processes)
        if fmt != "png" and narration is not None:
            from ..narration import format_cues, mux_audio, track

            duration = scene.step_times[-1][1] if scene.step_times else 0.0
            mux_audio(stage / f"{name}.{fmt}",
                      track(narration.speeches, scene.step_times, duration))
            atomic_write(stage / f"{name}.srt",
                         format_cues(narration.speeches, scene.step_times).encode())
        elif fmt != "png":
            atomic_write(stage / f"{name}.srt",
                         format_srt(scene.steps, scene.step_times).encode())
    # Renamed into place: the staging folder is gone.
    prune_cache()  # keep the user's cache folder within its size
    elapsed = time.perf_counter() - started
    if fmt == "png":
        stills_dir = out / stills_name
        remove_stale_stills(stills_dir, stills)
        return RenderResult(stills_dir, None, scene.steps, scene.step_times, elapsed,
                            [stills_dir / s for s in stills])
    return RenderResult(out / f"{name}.{fmt}", out / f"{name}.srt", scene.steps,
                        scene.step_times, elapsed)


def _renderer(skip_animations: bool):
    """Manim's cairo renderer, with the faster camera and encoder unless caching is off."""
    from manim.renderer.cairo_renderer import CairoRenderer

    if not caching_enabled():
        return CairoRenderer(skip_animations=skip_animations)
    return FrameGivingRenderer(file_writer_class=HeldFrameFileWriter,
                               camera_class=FastPathCamera, skip_animations=skip_animations)


_STILL = re.compile(r"\d{2}-[A-Za-z0-9_-]+\.png")


def remove_stale_stills(folder: Path, current: list[str]) -> None:
    """Stills of steps the storyboard no longer has (``NN-step.png`` only, nothing else)."""
    keep = set(current)
    for path in folder.glob("*.png"):
        if path.name not in keep and _STILL.fullmatch(path.name):
            path.unlink(missing_ok=True)


def _save_still(scene, folder: Path, index: int, step: Step) -> Path:
    """Draw the scene's current state and write it as ``NN-step.png``."""
    from PIL import Image

    path = folder / f"{index + 1:02d}-{step.name}.png"
    image = Image.fromarray(scene.draw_frame())
    atomic_write(path, writer=lambda fh: image.save(fh, format="PNG"))
    return path
