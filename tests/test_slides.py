"""``cli.py slides``: the HTML deck played in headless Chromium opened from disk with every network
request blocked, the PowerPoint file read back with python-pptx, the PDF handout with pypdf.

One low-quality render of the attention scene serves every test here and the notebook's
(the session's ``render_cache``); the deck is written once per module.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli import main
from scenes.registry import SCENES, get_scene_class
from scenes.toolkit.storyboard import SceneOptions

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]
STEPS = get_scene_class("attention").storyboard(SceneOptions())


def frames_of(path: Path) -> tuple[int, float]:
    """(frame count, duration in seconds) as PyAV reads the file."""
    with av.open(str(path)) as box:
        stream = box.streams.video[0]
        count = sum(1 for _ in box.decode(stream))
        return count, float(box.duration / av.time_base)


@pytest.fixture(scope="module")
def deck(render_cache, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("slides")
    result = CliRunner().invoke(main, ["slides", "attention", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "attention"


@pytest.fixture(scope="module")
def clips_meta(deck, render_cache) -> dict:
    """The step times the scene recorded while rendering (StoryScene.step_times)."""
    from scenes.writers.clips import step_clips

    return json.loads((step_clips("attention").folder / "clips.json").read_text())


def test_the_deck_folder_holds_everything_it_needs(deck):
    names = sorted(p.relative_to(deck).as_posix() for p in deck.rglob("*") if p.is_file())
    media = [f"media/{i:02d}-attention-{s.name}.{ext}" for i, s in enumerate(STEPS, 1)
             for ext in ("mp4", "png")]
    assert names == sorted(["attention.html", "attention.pptx", "attention.pdf", *media])
    page = (deck / "attention.html").read_text(encoding="utf-8")
    assert not re.search(r"(?i)\b(https?:)?//[a-z0-9]", page)  # no URL leaves the folder
    refs = re.findall(r'(?:src|poster|href)="([^"]+)"', page)
    posters = [m for m in media if m.endswith(".png")]  # also the printed page's picture
    assert sorted(r for r in refs if r != "data:,") == sorted(media + posters)
    notes = re.findall(r'<aside class="notes"[^>]*>(.*?)</aside>', page)
    import html

    assert [html.unescape(n) for n in notes] == [s.caption for s in STEPS]


def test_each_clip_is_its_step_of_the_video(deck, clips_meta):
    for i, (step, (start, end)) in enumerate(zip(STEPS, clips_meta["times"], strict=True), 1):
        count, seconds = frames_of(deck / "media" / f"{i:02d}-attention-{step.name}.mp4")
        assert count == round((end - start) * 15), step.name  # low quality: 15 frames a second
        assert seconds == pytest.approx(end - start, abs=1 / 15)
        with Image.open(deck / "media" / f"{i:02d}-attention-{step.name}.png") as poster:
            assert poster.size == (854, 480)


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB").resize((427, 240)), dtype=float)
    y = np.asarray(b.convert("RGB").resize((427, 240)), dtype=float)
    return float(np.abs(x - y).mean())


@pytest.fixture(scope="module")
def browser(deck):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make setup` (apt package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = chromium.new_context(viewport={"width": 854, "height": 480})
        blocked, problems = [], []

        def route(r):
            if r.request.url.startswith("file:"):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        tab = context.new_page()
        tab.on("console", lambda m: m.type == "error" and problems.append(m.text))
        tab.on("pageerror", lambda e: problems.append(str(e)))
        tab.on("requestfailed", lambda r: problems.append(f"{r.url}: {r.failure}"))
        tab.goto((deck / "attention.html").as_uri(), wait_until="load")
        yield tab, blocked, problems
        chromium.close()


VIDEO = """(n) => { const v = document.querySelector(`#slide-${n} video`);
    return {time: v.currentTime, duration: v.duration, paused: v.paused, ended: v.ended,
            error: v.error && v.error.code, shown: getComputedStyle(v.parentNode).visibility}; }"""


def screen(tab) -> Image.Image:
    import io

    return Image.open(io.BytesIO(tab.screenshot()))


def test_the_deck_plays_step_by_step_offline(browser, deck, clips_meta):
    tab, blocked, problems = browser
    posters = [Image.open(deck / "media" / f"{i:02d}-attention-{s.name}.png")
               for i, s in enumerate(STEPS, 1)]
    lengths = [end - start for start, end in clips_meta["times"]]
    assert tab.evaluate("[deck.index, deck.count]") == [0, len(STEPS)]
    # step 1 plays by itself...
    tab.wait_for_function("() => { const v = document.querySelector('#slide-1 video');"
                          " return v.currentTime > 0.1 && !v.paused; }", timeout=15000)
    tab.evaluate("() => document.querySelectorAll('video').forEach(v => { v.playbackRate = 4; })")
    # ... and stops at its end, holding the end state, with step 2 not started
    tab.wait_for_function("() => document.querySelector('#slide-1 video').ended", timeout=20000)
    one = tab.evaluate(VIDEO, 1)
    assert (one["paused"], one["error"], one["shown"]) == (True, None, "visible")
    assert one["time"] == pytest.approx(lengths[0], abs=0.07)
    assert tab.evaluate(VIDEO, 2)["time"] == 0
    shot = screen(tab)
    assert mean_difference(shot, posters[0]) < 3 < mean_difference(shot, posters[1])
    # → : step 2's animation plays from its start and stops at its end
    tab.keyboard.press("ArrowRight")
    tab.wait_for_function("() => deck.index === 1", timeout=5000)
    tab.wait_for_function("() => document.querySelector('#slide-2 video').ended", timeout=20000)
    two = tab.evaluate(VIDEO, 2)
    assert two["time"] == pytest.approx(lengths[1], abs=0.07)
    assert tab.evaluate(VIDEO, 1)["shown"] == "hidden"
    shot = screen(tab)
    assert mean_difference(shot, posters[1]) < 3 < mean_difference(shot, posters[0])
    # ← : back to step 1, shown at its end state
    tab.keyboard.press("ArrowLeft")
    tab.wait_for_function("() => { const v = document.querySelector('#slide-1 video');"
                          " return deck.index === 0 && !v.seeking && v.currentTime > 1; }",
                          timeout=5000)
    tab.wait_for_function("() => getComputedStyle(document.querySelector('#slide-2')).visibility"
                          " === 'hidden'", timeout=5000)
    assert tab.evaluate(VIDEO, 1)["paused"] is True
    assert mean_difference(screen(tab), posters[0]) < 3
    # R replays the step from its start
    tab.keyboard.press("r")
    tab.wait_for_function("() => { const v = document.querySelector('#slide-1 video');"
                          " return !v.paused && v.currentTime < 1; }", timeout=5000)
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "slides.png"))
    assert tab.evaluate("location.hash") == "#1"
    assert (blocked, problems) == ([], [])


def test_pause_hash_timer_and_print(browser, deck):
    """K pauses where it is (no advance) and resumes; a hash set after load moves the deck;
    T resets the speaker timer; printing gives one page per slide."""
    tab, blocked, problems = browser
    tab.evaluate("location.hash = '#3'")
    tab.wait_for_function("() => deck.index === 2", timeout=5000)
    tab.wait_for_function("() => { const v = document.querySelector('#slide-3 video');"
                          " return v.currentTime > 0.2 && !v.paused; }", timeout=15000)
    tab.keyboard.press("k")
    paused = tab.evaluate(VIDEO, 3)
    tab.wait_for_timeout(400)
    assert tab.evaluate(VIDEO, 3)["time"] == paused["time"] and paused["paused"] is True
    assert tab.evaluate("deck.index") == 2
    tab.keyboard.press("k")
    tab.wait_for_function("() => !document.querySelector('#slide-3 video').paused", timeout=5000)
    tab.wait_for_timeout(300)
    tab.keyboard.press("t")
    assert tab.evaluate("deck.timer") < 200
    pdf = tab.pdf(width="854px", height="480px")
    from pypdf import PdfReader
    import io

    assert len(PdfReader(io.BytesIO(pdf)).pages) == len(STEPS)
    assert (blocked, problems) == ([], [])


def test_the_pptx_has_a_video_slide_per_step(deck):
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    prs = Presentation(str(deck / "attention.pptx"))
    assert len(prs.slides) == len(STEPS)
    for i, (slide, step) in enumerate(zip(prs.slides, STEPS, strict=True), 1):
        (movie,) = [s for s in slide.shapes if s.shape_type == MSO_SHAPE_TYPE.MEDIA]
        assert (movie.left, movie.top, movie.width, movie.height) == (0, 0, prs.slide_width,
                                                                      prs.slide_height)
        parts = {rel.reltype.rsplit("/", 1)[-1]: rel.target_part for rel in slide.part.rels.values()}
        stem = deck / "media" / f"{i:02d}-attention-{step.name}"
        assert parts["video"].blob == stem.with_suffix(".mp4").read_bytes()
        assert parts["image"].blob == stem.with_suffix(".png").read_bytes()  # the poster
        assert slide.notes_slide.notes_text_frame.text == step.caption
        title = slide.shapes.title  # the outline's and screen readers' name of the slide
        assert title.text == f"attention: {step.name.replace('_', ' ')}"
        assert title.top + title.height <= 0  # above the slide: it covers none of the video
        (cond,) = slide.element.xpath("./p:timing//p:video//p:cond")
        assert cond.get("delay") == "0"  # plays when the slide is shown


def test_the_pdf_handout_has_a_vector_page_per_step(deck):
    from pypdf import PdfReader

    pdf = PdfReader(str(deck / "attention.pdf"))
    assert len(pdf.pages) == len(STEPS)
    for page, step in zip(pdf.pages, STEPS, strict=True):
        text = " ".join(page.extract_text().split())
        assert step.caption in text
        assert f"step {STEPS.index(step) + 1} of {len(STEPS)}" in text
        xobjects = page["/Resources"].get("/XObject", {})
        kinds = [xobjects[k].get_object().get("/Subtype") for k in xobjects]
        assert "/Image" not in kinds  # paths, no bitmap
        assert len(page.get_contents().get_data()) > 20_000  # the drawing is in the page
    assert [o["/Title"] for o in pdf.outline] == [f"attention: {s.name.replace('_', ' ')}"
                                                  for s in STEPS]


@pytest.mark.parametrize("args,expected", [
    (["slides", "nosuch"], f"no scene 'nosuch' (choose from all, {', '.join(SCENES)})"),
    (["slides", "atention"], "did you mean 'attention'?"),
    (["slides", "attention", "--step", "nosuch"], "choose from title, embed"),
    (["slides", "attention", "--quality", "huge"], "huge"),
])
def test_bad_input_is_one_line_and_exit_2(args, expected, tmp_path):
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.output
    assert list(tmp_path.iterdir()) == []


def test_slides_all_runs_through_the_catalogue_in_order(monkeypatch, tmp_path):
    """``slides all``: one deck, every step of every scene in catalogue order (the renders and
    the handout replaced by test-pattern clips and a stand-in, to keep this test quick)."""
    import shutil
    import subprocess

    from pptx import Presentation

    from scenes.writers import clips, slides

    pattern = tmp_path / "pattern.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=64x36:rate=15:duration=1", "-pix_fmt", "yuv420p", str(pattern)],
                   check=True)
    handout_pages = []

    def fake_clips(scene, options=None, quality="low", progress=None, cache=None):
        steps = get_scene_class(scene).storyboard(options)
        made = clips.Clips(scene, tmp_path / scene, [(s.name, s.caption) for s in steps],
                           [(i, i + 1.0) for i in range(len(steps))], 64, 36)
        made.folder.mkdir()
        for i, step in enumerate(steps):
            shutil.copyfile(pattern, made.clip(i))
            Image.new("RGB", (64, 36), (i * 20, 0, 0)).save(made.poster(i))
            progress(i, step, len(steps))
        return made

    def fake_handout(path, pages, options, title):
        handout_pages.extend(pages)
        Path(path).write_bytes(b"%PDF-1.5 stand-in")
        return len(pages)

    monkeypatch.setattr(clips, "step_clips", fake_clips)
    monkeypatch.setattr(slides, "write_handout", fake_handout)
    result = CliRunner().invoke(main, ["slides", "all", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    from scenes.cli_support import scenes_for  # `all` leaves out scenes of other models (compare)

    expected = [(scene, s.name) for scene in scenes_for("all", "translate")
                for s in get_scene_class(scene).storyboard(SceneOptions())]
    folder = tmp_path / "out" / "all"
    page = (folder / "all.html").read_text(encoding="utf-8")
    shown = re.findall(r'<section class="slide" id="slide-(\d+)" data-scene="(\w+)" '
                       r'data-step="(\w+)"', page)
    assert [(scene, step) for _, scene, step in shown] == expected
    assert [int(n) for n, _, _ in shown] == list(range(1, len(expected) + 1))
    assert handout_pages == expected
    done = re.findall(r"rendering all: step (\d+) of (\d+) done \((\w+)\)", result.output)
    assert done == [(str(i), str(len(expected)), step) for i, (_, step) in enumerate(expected, 1)]
    assert len(Presentation(str(folder / "all.pptx")).slides) == len(expected)
    media = sorted(p.name for p in (folder / "media").iterdir())
    assert media[:2] == ["01-attention-title.mp4", "01-attention-title.png"]
    assert media[-1] == f"{len(expected):02d}-{expected[-1][0]}-{expected[-1][1]}.png"
