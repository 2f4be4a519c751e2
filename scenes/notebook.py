"""Scenes inline in Jupyter and VS Code notebooks: ``from scenes import show``.

``show("attention", step="softmax", sentence="paul sees rome in may")`` displays that step's end
state as an SVG; ``show("attention")`` displays the whole video with its subtitles: the webm
itself inside the output, once (so the saved notebook keeps it: 3.3 MB of base64 for the
attention scene),
or with ``link="media"`` copied into that folder beside the notebook and only linked (the saved
notebook stays small; the folder goes along with it). The text form of each output (what a
plain-text front end or a diff shows) is one short line, never the SVG or the video again.
Renders are cached on disk (see
:mod:`scenes.writers.clips`): running a cell again, or in a new kernel, is instant. A wrong
scene or step name raises ``ValueError`` whose message lists the valid names.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SceneStep", "SceneVideo", "show", "scene_step", "scene_video"]


@dataclass(frozen=True)
class SceneStep:
    """One step's end state as SVG text; shown as a picture by Jupyter."""

    scene: str
    step: str
    caption: str
    svg: str = field(repr=False)  # the text/plain output is repr(): the picture only once

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path) -> Path:
        path = Path(path)
        path.write_text(self.svg, encoding="utf-8")
        return path


@dataclass(frozen=True)
class SceneVideo:
    """A whole scene as a video with WebVTT subtitles; shown as a player by Jupyter.

    The player holds one format: VP9 webm, which VS Code's notebook player (no H.264), Jupyter
    in Chromium, Firefox and Safari 14.1+ play, at about half the bytes of the mp4. ``link``:
    the folder the webm (and .vtt) were copied into, linked by a path relative to the notebook's
    folder, instead of inlined."""

    scene: str
    path: Path = field(repr=False)  # the cached mp4 (H.264), for saving
    webm: Path = field(repr=False)  # the same as VP9: what the player shows
    vtt: str = field(repr=False)  # the subtitles, one cue per step
    captions_in_video: bool = field(repr=False)  # the frames show the captions: the track starts off
    width: int = 854
    height: int = 480
    link: str | None = None  # the webm's URL relative to the notebook, when linked
    sound: bool = False  # narrated: the player starts with its sound on

    def _repr_html_(self) -> str:
        default = "" if self.captions_in_video else " default"
        label = html.escape(f"{self.scene}: the animation, one step per subtitle")
        if self.link is not None:
            src = html.escape(self.link)
            track = html.escape(self.link.removesuffix(".webm") + ".vtt")
        else:
            src = "data:video/webm;base64," + base64.b64encode(self.webm.read_bytes()).decode()
            track = "data:text/vtt;base64," + base64.b64encode(self.vtt.encode()).decode()
        muted = "" if self.sound else " muted"
        return (f'<video controls{muted} playsinline width="{self.width}" style="max-width:100%" '
                f'aria-label="{label}"><source src="{src}" type="video/webm">'
                f'<track kind="captions" srclang="en" label="English"{default} '
                f'src="{track}"></video>')

    def linked(self, folder) -> SceneVideo:
        """This video copied into ``folder`` (relative to the notebook's working folder, made if
        missing) as SCENE.webm and SCENE.vtt, and shown by link instead of inline."""
        from transformer_core.files import atomic_write

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{self.scene}.webm"
        if not (target.is_file() and target.stat().st_size == self.webm.stat().st_size
                and target.read_bytes() == self.webm.read_bytes()):
            atomic_write(target, self.webm.read_bytes())
        atomic_write(folder / f"{self.scene}.vtt", self.vtt.encode())
        rel = os.path.relpath(target, Path.cwd()) if not folder.is_absolute() else os.fspath(target)
        return SceneVideo(self.scene, self.path, self.webm, self.vtt, self.captions_in_video,
                          self.width, self.height, Path(rel).as_posix())


def _options(**kwargs):
    from scenes.toolkit.storyboard import SceneOptions

    return SceneOptions(**{k: v for k, v in kwargs.items() if v is not None})


def _check_scene(name: str) -> None:
    from scenes.registry import SCENES

    if name not in SCENES:
        raise ValueError(f"unknown scene {name!r}; choose from {', '.join(SCENES)}")


def scene_step(name: str, step: str, options=None, cache: Path | None = None) -> SceneStep:
    """The end state of ``step`` of scene ``name`` (cached SVG)."""
    from scenes.registry import get_scene_class
    from scenes.toolkit.storyboard import SceneOptions
    from scenes.writers.clips import cache_root, fingerprint
    from scenes.writers.svg import (UnknownStepError, display_list, mobjects_to_svg, run_storyboard,
                                    step_figure)
    from transformer_core.cache import Store

    _check_scene(name)
    options = options if options is not None else SceneOptions()
    steps = get_scene_class(name).storyboard(options)
    names = [s.name for s in steps]
    if step not in names:
        raise UnknownStepError(name, step, names)
    caption = steps[names.index(step)].caption
    # The cache layer checks every entry (a truncated or foreign one is rebuilt, an unwritable
    # folder means no caching).
    store = Store("steps", Path(cache) if cache is not None else cache_root())
    key = fingerprint(name, options, "svg", kind="step:" + step)
    kept = store.get(key)
    if kept is not None:
        try:
            return SceneStep(name, step, caption, kept.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    found: list[bytes] = []

    def grab(scene, index, current) -> None:
        if current.name == step:
            figure = step_figure(scene, name, index, current, len(steps))
            found.append(mobjects_to_svg(display_list(scene), figure))

    run_storyboard(get_scene_class(name), options, grab, stop_after=step)
    store.put(key, found[0])
    return SceneStep(name, step, caption, found[0].decode("utf-8"))


def scene_video(name: str, options=None, quality: str = "low", cache: Path | None = None,
                narrate: bool = False) -> SceneVideo:
    """The whole video of scene ``name`` with its subtitles (cached render); with ``narrate``
    a voice reads each step (:mod:`scenes.narration`) and the subtitles are its sentences."""
    from scenes.toolkit.storyboard import SceneOptions
    from scenes.writers.clips import step_clips
    from scenes.writers.publish import Cue, format_vtt

    _check_scene(name)
    speeches = None
    if narrate:
        from scenes import narration as voice

        options = options if options is not None else SceneOptions()
        speeches = voice.narrate(name, options)
        voice.synthesise(speeches)
        options = options.with_(step_seconds=voice.Narration(speeches).step_seconds)
    clips = step_clips(name, options, quality, cache=cache)
    video, webm = clips.video, _webm_of(clips)
    if speeches is None:
        cues = [Cue(round(a * 1000), round(b * 1000), caption)
                for (_, caption), (a, b) in zip(clips.steps, clips.times, strict=True)]
    else:  # the narrated copies, beside the cached silent ones, gone when the process ends
        import shutil
        import tempfile

        from scenes.writers import clips as clip_cache

        folder = Path(tempfile.mkdtemp(prefix="transformer-voice-"))
        clip_cache._private.append(folder)
        sound = voice.track(speeches, clips.times, clips.duration)
        for path in (video, webm):
            shutil.copyfile(path, folder / path.name)
            voice.mux_audio(folder / path.name, sound)
        video, webm = folder / video.name, folder / webm.name
        cues = [Cue(round((a + voice.LEAD + t0) * 1000), round((a + voice.LEAD + t1) * 1000),
                    text)
                for s, (a, _b) in zip(speeches, clips.times, strict=True)
                for text, t0, t1 in s.sentences]
    captions = options.captions if options is not None else True
    return SceneVideo(name, video, webm, format_vtt(cues, burned_in=captions), captions,
                      clips.width, clips.height, sound=speeches is not None)


def _webm_of(clips) -> Path:
    """The VP9 copy of the clips' video, made once beside it (realtime VP9: seconds) and kept with
    its SHA-256, so a truncated or foreign one is made again; where the cache folder cannot
    take it, made in a temporary folder removed when the process ends."""
    import hashlib
    import tempfile

    from scenes.writers import clips as clip_cache
    from scenes.writers.publish import PublishError, encode_webm

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    webm = clips.folder / "video.webm"
    record = clips.folder / "video.webm.sha256"
    try:
        if record.read_text().strip() == digest(webm):
            return webm
    except OSError:
        pass
    try:
        encode_webm(clips.video, webm)
        record.write_text(digest(webm))
        return webm
    except (OSError, PublishError):
        folder = Path(tempfile.mkdtemp(prefix="transformer-webm-"))
        clip_cache._private.append(folder)
        return encode_webm(clips.video, folder / "video.webm")


def show(name: str, step: str | None = None, *, quality: str = "low", model: str | None = None,
         sentence: str | None = None, layer: int | None = None, head: int | None = None,
         theme: str | None = None, captions: bool | None = None, narrate: bool = False,
         link=None):
    """Display scene ``name`` inline: one ``step``'s end state (SVG), or the whole video
    (``narrate=True``: with a voice reading each step).

    ``link`` (a folder, relative to the notebook): the video is copied there and linked, not
    inlined, so the saved notebook stays small (keep the folder beside it).
    In IPython (Jupyter, VS Code) the picture or player is displayed and None returned; elsewhere
    the :class:`SceneStep` or :class:`SceneVideo` is returned.
    """
    if link is not None and step is not None:
        raise ValueError("link is where the video goes: a step's SVG is always inline (small)")
    options = _options(model=model, sentence=sentence, layer=layer, head=head, theme=theme,
                       captions=captions)
    shown = (scene_step(name, step, options) if step is not None
             else scene_video(name, options, quality, narrate=narrate))
    if link is not None:
        shown = shown.linked(link)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return shown
    if get_ipython() is None:
        return shown
    display(shown)
    return None
