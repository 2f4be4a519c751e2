"""Slides for class: each storyboard step one slide, as an HTML deck, a PowerPoint file and a PDF.

    <out>/<name>/<name>.html    the deck: opened from disk, no network; its style and script
                                are inside it, the videos beside it in media/
    <out>/<name>/media/         NN-scene-step.mp4 (the step's animation) and .png (its end state)
    <out>/<name>/<name>.pptx    one slide per step: the step's video, the end state as its
                                poster, the caption as the speaker note
    <out>/<name>/<name>.pdf     the handout (see :mod:`scenes.writers.handout`)

The clips come from :func:`scenes.writers.clips.step_clips` (one Manim render per scene, cut at
the step boundaries by Manim itself, cached). Everything is written into a staging folder and
renamed into place when complete; media files of steps the deck no longer has are removed.

The player is ours, not reveal.js: a deck only needs "play this clip, hold its last frame, go to
the next one", which a ``<video>`` per slide and 100 lines of script do with nothing to download.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from transformer_core.files import atomic_write, staged_folder

from . import clips as clip_cache
from .handout import write_handout

__all__ = ["DeckSlide", "SlidesResult", "deck_html", "write_pptx", "write_slides"]


@dataclass(frozen=True)
class DeckSlide:
    """One step of one scene, as the deck shows it."""

    scene: str
    step: str
    caption: str
    video: Path  # the step's clip
    poster: Path  # its end state
    duration: float  # seconds

    @property
    def stem(self) -> str:
        return f"{self.scene}-{self.step}"


@dataclass(frozen=True)
class SlidesResult:
    folder: Path
    html: Path
    pptx: Path
    pdf: Path
    slides: list[DeckSlide]  # with video/poster paths inside ``folder/media``


# ---- the HTML deck --------------------------------------------------------------------------

_STYLE = """
html, body { margin: 0; height: 100%; background: var(--bg); overflow: hidden;
  font-family: "DejaVu Sans", system-ui, sans-serif; }
#deck { position: fixed; inset: 0; }
.slide { position: absolute; inset: 0; visibility: hidden; }
.slide.shown { visibility: visible; }
.slide.current { z-index: 2; }
.slide video { width: 100%; height: 100%; object-fit: contain; display: block; }
.slide aside.notes { display: none; }
body.notes-on .slide.current aside.notes { display: block; position: absolute; left: 5%; right: 5%;
  bottom: 2%; padding: .4em .8em; font-size: clamp(14px, 2.4vw, 30px); color: #fff;
  background: rgba(0, 0, 0, .75); border-radius: .3em; }
#hud { position: fixed; right: 1em; bottom: .6em; z-index: 5; font-size: 14px; opacity: 0;
  transition: opacity .4s; background: rgba(0, 0, 0, .6); color: #fff; padding: .2em .6em;
  border-radius: .3em; pointer-events: none; }
#hud.on { opacity: 1; }
#help { display: none; position: fixed; left: 50%; top: 50%; transform: translate(-50%, -50%);
  z-index: 6; background: rgba(0, 0, 0, .88); color: #fff; padding: 1em 1.5em;
  border-radius: .5em; font-size: 16px; line-height: 1.7; }
body.help-on #help { display: block; }
kbd { border: 1px solid #999; border-radius: 3px; padding: 0 .3em; }
.slide img.print { display: none; }
@media print {  /* one slide a page: each step's end state */
  html, body { height: auto; overflow: visible; }
  #deck { position: static; }
  .slide { position: relative; visibility: visible; height: 100vh; break-after: page; }
  .slide video, #hud, #help { display: none !important; }
  .slide img.print { display: block; width: 100%; height: 100%; object-fit: contain; }
}
"""

# The player. go(i) shows slide i playing from its start; go(i, true) holds its end state.
# The slide shown before stays visible underneath until the new video has a frame (no flash).
_SCRIPT = """
(() => {
  const slides = Array.from(document.querySelectorAll('#deck .slide'));
  const videos = slides.map(s => s.querySelector('video'));
  const hud = document.getElementById('hud');
  let index = -1, hudTimer = null, speaker = null;
  let started = Date.now();  // the speaker timer: from when the speaker window opens, T resets

  const label = i => {
    const d = slides[i].dataset;
    return `${i + 1} / ${slides.length} · ${d.scene} · ${d.step.replace(/_/g, ' ')}`;
  };
  const note = i => slides[i] ? slides[i].querySelector('aside.notes').textContent : '(the end)';

  function go(i, atEnd = false) {
    i = Math.max(0, Math.min(slides.length - 1, i));
    index = i;
    const video = videos[i];
    slides.forEach((s, k) => s.classList.toggle('current', k === i));
    slides[i].classList.add('shown');
    videos.forEach((v, k) => { if (k !== i) v.pause(); });
    const ready = () => {
      video.removeEventListener('seeked', ready);
      video.removeEventListener('playing', ready);
      if (index === i) slides.forEach((s, k) => { if (k !== i) s.classList.remove('shown'); });
    };
    video.addEventListener('seeked', ready);
    video.addEventListener('playing', ready);
    if (atEnd) {
      video.pause();
      const toEnd = () => { video.currentTime = video.duration; };
      if (video.readyState >= 1) toEnd(); else video.addEventListener('loadedmetadata', toEnd, {once: true});
    } else {
      video.currentTime = 0;
      const playing = video.play();
      if (playing) playing.catch(() => {});
    }
    history.replaceState(null, '', '#' + (i + 1));
    hud.textContent = label(i);
    hud.classList.add('on');
    clearTimeout(hudTimer);
    hudTimer = setTimeout(() => hud.classList.remove('on'), 1800);
    updateSpeaker();
  }
  const next = () => { if (index < slides.length - 1) go(index + 1); };
  const back = () => { if (index > 0) go(index - 1, true); };
  const replay = () => go(index);
  // K or P: pause or resume the current step where it is, without moving on
  const pause = () => { const v = videos[index];
    if (v.paused) { if (!v.ended) { const p = v.play(); if (p) p.catch(() => {}); } }
    else v.pause(); };

  function updateSpeaker() {
    if (!speaker || speaker.closed) return;
    const d = speaker.document;
    d.getElementById('where').textContent = label(index);
    d.getElementById('now').textContent = note(index);
    d.getElementById('next').textContent = note(index + 1);
  }
  function openSpeaker() {
    speaker = window.open('', 'speaker-notes', 'width=720,height=460');
    if (!speaker) { document.body.classList.toggle('notes-on'); return; }
    const d = speaker.document;
    d.title = 'Speaker notes: ' + document.title;
    d.body.style.cssText = 'font-family: "DejaVu Sans", system-ui, sans-serif; margin: 1.5em;';
    d.body.innerHTML = '<p id="where" style="color:#666"></p><p id="now" style="font-size:1.6em">' +
      '</p><p style="color:#666">Next:</p><p id="next" style="font-size:1.1em;color:#444"></p>' +
      '<p id="clock" style="color:#666"></p>';
    d.addEventListener('keydown', onKey);
    started = Date.now();
    const tick = () => {
      if (speaker.closed) return;
      const s = Math.floor((Date.now() - started) / 1000);
      d.getElementById('clock').textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    };
    tick();
    setInterval(tick, 1000);
    updateSpeaker();
  }
  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    if (['ArrowRight', 'ArrowDown', ' ', 'PageDown', 'Enter'].includes(k)) next();
    else if (['ArrowLeft', 'ArrowUp', 'PageUp', 'Backspace'].includes(k)) back();
    else if (k === 'Home') go(0);
    else if (k === 'End') go(slides.length - 1, true);
    else if (k === 'r' || k === 'R') replay();
    else if (k === 'k' || k === 'K' || k === 'p' || k === 'P') pause();
    else if (k === 't' || k === 'T') started = Date.now();
    else if (k === 'n' || k === 'N') document.body.classList.toggle('notes-on');
    else if (k === 's' || k === 'S') openSpeaker();
    else if (k === 'f' || k === 'F') {
      if (document.fullscreenElement) document.exitFullscreen();
      else document.documentElement.requestFullscreen().catch(() => {});
    } else if (k === '?' || k === 'h' || k === 'H') document.body.classList.toggle('help-on');
    else if (k === 'Escape') document.body.classList.remove('help-on');
    else return;
    e.preventDefault();
  }
  document.addEventListener('keydown', onKey);
  document.getElementById('deck').addEventListener('click', next);
  window.deck = { get index() { return index; }, get count() { return slides.length; },
                  get timer() { return Date.now() - started; }, go, next, back, replay, pause };
  // a hash typed or linked after load goes to that slide (go() itself replaces the hash)
  window.addEventListener('hashchange', () => {
    const n = parseInt(location.hash.slice(1), 10);
    if (Number.isFinite(n) && n - 1 !== index) go(n - 1);
  });
  const start = parseInt(location.hash.slice(1), 10);
  go(Number.isFinite(start) ? start - 1 : 0);
})();
"""

_HELP = ("<kbd>→</kbd> <kbd>space</kbd> next step &nbsp; <kbd>←</kbd> back &nbsp; <kbd>R</kbd> replay"
         " &nbsp; <kbd>K</kbd> pause / resume"
         "<br><kbd>N</kbd> the note on screen &nbsp; <kbd>S</kbd> speaker window (<kbd>T</kbd> "
         "resets its timer) &nbsp; "
         "<kbd>F</kbd> full screen &nbsp; <kbd>?</kbd> this help")


def deck_html(slides: Sequence[DeckSlide], title: str, background: str, folder: Path,
              sound: bool = False) -> str:
    """The deck page: every slide a ``<video>`` (muted unless the clips are narrated) and its
    note; paths relative to ``folder``."""
    sections = []
    for number, s in enumerate(slides, start=1):
        video = s.video.relative_to(folder).as_posix()
        poster = s.poster.relative_to(folder).as_posix()
        step = s.step.replace("_", " ")
        sections.append(
            f'<section class="slide" id="slide-{number}" data-scene="{escape(s.scene)}" '
            f'data-step="{escape(s.step)}" aria-label="{escape(f"{s.scene}, step {number}: {step}")}">\n'
            f'<video src="{escape(video)}" poster="{escape(poster)}"{"" if sound else " muted"} '
            f'playsinline '
            f'preload="auto" aria-describedby="note-{number}"></video>\n'
            f'<img class="print" src="{escape(poster)}" alt="">\n'
            f'<aside class="notes" id="note-{number}">{escape(s.caption)}</aside>\n</section>'
        )
    return "\n".join([
        "<!doctype html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        '<link rel="icon" href="data:,">',  # no request for /favicon.ico
        f"<style>:root {{ --bg: {background}; }}{_STYLE}</style>",
        "</head>", "<body>",
        '<main id="deck" aria-roledescription="slides">',
        *sections,
        "</main>",
        '<div id="hud" aria-live="polite"></div>',
        f'<div id="help" role="dialog" aria-label="Keys">{_HELP}</div>',
        f"<script>{_SCRIPT}</script>",
        "</body>", "</html>", "",
    ])


# ---- PowerPoint -----------------------------------------------------------------------------

SLIDE_WIDTH, SLIDE_HEIGHT = 12_192_000, 6_858_000  # EMU: 13.333 × 7.5 in, PowerPoint's 16:9


def write_pptx(path: Path, slides: Sequence[DeckSlide], title: str) -> None:
    """One slide per step: its video filling the slide, the end state as the poster (what shows
    before it plays, or where it cannot), the caption as the speaker note; the video starts
    by itself when the slide is shown. Each slide has a title ("attention: weighted sum"), in
    the layout's title placeholder moved just above the slide: the outline, the navigator and
    screen readers have it, and it covers no part of the picture."""
    from pptx import Presentation

    from scenes.writers.svg import xml_chars

    deck = Presentation()
    deck.slide_width, deck.slide_height = SLIDE_WIDTH, SLIDE_HEIGHT
    deck.core_properties.title = title
    titled = deck.slide_layouts[5]  # "Title Only"
    for s in slides:
        slide = deck.slides.add_slide(titled)
        heading = slide.shapes.title
        heading.text = xml_chars(f"{s.scene}: {s.step.replace('_', ' ')}")
        heading.left, heading.width, heading.height = 0, SLIDE_WIDTH, SLIDE_HEIGHT // 8
        heading.top = -heading.height  # off the slide, above it
        movie = slide.shapes.add_movie(str(s.video), 0, 0, SLIDE_WIDTH, SLIDE_HEIGHT,
                                       poster_frame_image=str(s.poster), mime_type="video/mp4")
        movie.name = xml_chars(f"{s.scene}: {s.step}")
        # python-pptx makes the video start on a click ("indefinite"); 0 starts it at once
        for cond in slide.element.xpath("./p:timing//p:video//p:cond"):
            cond.set("delay", "0")
        # python-pptx refuses control characters
        slide.notes_slide.notes_text_frame.text = xml_chars(s.caption)
    deck.save(str(path))


# ---- the whole set --------------------------------------------------------------------------

_MEDIA = re.compile(r"\d{2,3}-[A-Za-z0-9_]+-[A-Za-z0-9_]+\.(mp4|png)")
Progress = Callable[[str, int, object, int], None]  # (scene, index, step, number of steps)


def write_slides(scene_names: Sequence[str], options, quality: str, out_dir: Path, name: str,
                 steps: Sequence[str] = (), progress: Progress | None = None,
                 narrations: dict | None = None) -> SlidesResult:
    """Render (or find in the cache) every scene and write the deck, PPTX and PDF for ``name``.

    ``steps`` keeps only the steps of these names (all when empty); the caller has checked
    them against the storyboards. ``narrations`` (scene name → spoken
    :class:`scenes.narration.Narration`): each step's clip lasts at least its speech and
    carries it as its sound.
    """
    narrations = narrations or {}
    from scenes.toolkit.theme import THEMES
    from scenes.writers.svg import colour_hex

    folder = Path(out_dir) / name
    chosen: list[tuple[str, int]] = []  # (scene, step index)
    rendered = {}
    for scene in scene_names:
        report = (lambda i, step, total, scene=scene: progress(scene, i, step, total)) if progress else None
        voiced = narrations.get(scene)
        clips = clip_cache.step_clips(
            scene, options if voiced is None else options.with_(step_seconds=voiced.step_seconds),
            quality, progress=report)
        rendered[scene] = clips
        chosen += [(scene, i) for i, (step, _) in enumerate(clips.steps) if not steps or step in steps]
    width = len(str(len(chosen))) if len(chosen) > 99 else 2
    title = f"The Transformer, step by step: {', '.join(scene_names)}"
    with staged_folder(folder) as stage:
        (stage / "media").mkdir()
        slides = []
        for number, (scene, i) in enumerate(chosen, start=1):
            clips = rendered[scene]
            step, caption = clips.steps[i]
            stem = f"{number:0{width}d}-{scene}-{step}"
            shutil.copyfile(clips.clip(i), stage / "media" / f"{stem}.mp4")
            if scene in narrations:
                from scenes.narration import mux_audio, track

                mux_audio(stage / "media" / f"{stem}.mp4",
                          track([narrations[scene].speeches[i]], [(0.0, 0.0)],
                                narrations[scene].speeches[i].step_seconds))
            shutil.copyfile(clips.poster(i), stage / "media" / f"{stem}.png")
            start, end = clips.times[i]
            slides.append(DeckSlide(scene, step, caption, folder / "media" / f"{stem}.mp4",
                                    folder / "media" / f"{stem}.png", end - start))
        staged = [DeckSlide(s.scene, s.step, s.caption, stage / s.video.relative_to(folder),
                            stage / s.poster.relative_to(folder), s.duration) for s in slides]
        background = colour_hex(THEMES[options.theme].background)
        atomic_write(stage / f"{name}.html", deck_html(staged, title, background, stage,
                                                          sound=bool(narrations)).encode())
        write_pptx(stage / f"{name}.pptx", staged, title)
        write_handout(stage / f"{name}.pdf", [(sc, rendered[sc].steps[i][0]) for sc, i in chosen],
                      options, title)
    keep = {s.video.name for s in slides} | {s.poster.name for s in slides}
    for old in (folder / "media").iterdir():
        if old.name not in keep and _MEDIA.fullmatch(old.name):
            old.unlink()
    return SlidesResult(folder, folder / f"{name}.html", folder / f"{name}.pptx",
                        folder / f"{name}.pdf", slides)
