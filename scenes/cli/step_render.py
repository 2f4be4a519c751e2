"""``render SCENE --step NAME``: one storyboard step's clip (or still) for a blog post.

The clip is the one the slides play (:func:`scenes.writers.clips.step_clips`: Manim's own
section of that step, frame-exact, cached), copied out as ``OUT/SCENE-STEP.mp4`` with a one-cue
``.srt`` of the step's caption and, with ``--web``, the webm, gif, poster and ``.vtt`` beside
it; ``--format png`` copies the step's end state as ``OUT/SCENE-STEP.png``. Written through a
staging folder like every render, so a failed one leaves the earlier files as they were.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

__all__ = ["STEP_FORMATS", "check_step", "render_step"]

STEP_FORMATS = ("mp4", "png")


def check_step(scene: str, step: str, options) -> int:
    """The index of ``step`` in ``scene``'s storyboard; a usage error naming the valid ones."""
    from scenes.cli.checks import did_you_mean
    from scenes.registry import get_scene_class

    valid = [s.name for s in get_scene_class(scene).storyboard(options)]
    if step not in valid:
        raise click.BadParameter(f"scene {scene!r} has no step {step!r}; choose from "
                                 f"{', '.join(valid)}{did_you_mean(step, valid)}",
                                 param_hint="--step")
    return valid.index(step)


def render_step(scene: str, step: str, options, quality: str, fmt: str, out: Path, web: bool,
                captions: bool) -> list[Path]:
    """Write step ``step`` of ``scene`` into ``out``; return the files written."""
    from scenes.cli.errors import Failure
    from scenes.cli.progress import step_progress
    from scenes.registry import get_scene_class
    from scenes.writers.clips import step_clips
    from scenes.writers.publish import Cue, PublishError, format_srt, publish_video
    from transformer_core.files import staged_folder

    index = check_step(scene, step, options)
    total = len(get_scene_class(scene).storyboard(options))
    with step_progress(f"rendering {scene}", total) as progress:
        clips = step_clips(scene, options, quality, progress=progress)
    stem = f"{scene}-{step}"
    written: list[Path] = []
    try:
        with staged_folder(out) as stage:
            if fmt == "png":
                shutil.copyfile(clips.poster(index), stage / f"{stem}.png")
                names = [f"{stem}.png"]
            else:
                video = stage / f"{stem}.mp4"
                shutil.copyfile(clips.clip(index), video)
                start, end = clips.times[index]
                srt = stage / f"{stem}.srt"
                srt.write_text(format_srt([Cue(0, round((end - start) * 1000),
                                               clips.steps[index][1])]), encoding="utf-8")
                names = [video.name, srt.name]
                if web:
                    made = publish_video(video, srt, captions_in_video=captions)
                    names += [p.name for k, p in made.items() if k not in ("mp4", "srt")]
        written = [out / n for n in names]
    except PublishError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(f"wrote {path}")
    return written
