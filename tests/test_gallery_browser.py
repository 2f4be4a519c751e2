"""The gallery page opened in a real headless browser: Debian's chromium, driven by Playwright.

Media made here (two test-pattern clips, two SVG diagrams) are published, the page is written by
``cli.py gallery`` and served over HTTP from 127.0.0.1; the browser must load every video (both
the webm it picks and the mp4 fallback) to the duration PyAV reads from the file, every subtitle
track with all its cues, and every SVG at its own size. A screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import functools
import http.server
import io
import re
import subprocess
import threading
from pathlib import Path

import av
import pytest
from click.testing import CliRunner

from cli import main
from scenes.writers.publish import publish_video

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

SRT = ("1\n00:00:00,000 --> 00:00:01,000\nEach query row scores every key: <Q, K> & more.\n\n"
       "2\n00:00:01,000 --> 00:00:02,000\nThe softmax turns each row into weights.\n\n"
       "3\n00:00:02,000 --> 00:00:03,000\nThe weights mix the value vectors.\n\n")

SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">
<title>{title}</title><desc>{desc}</desc>
<rect width="{w}" height="{h}" fill="#ffffff"/>
<rect x="40" y="40" width="{bw}" height="80" fill="{colour}"/>
<text x="40" y="170" font-size="28" font-family="DejaVu Sans">{title}</text>
</svg>"""


def duration_of(path: Path) -> float:
    with av.open(str(path)) as box:
        return box.duration / av.time_base


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """renders/ with two published videos and two diagrams, plus the gallery page."""
    renders = tmp_path_factory.mktemp("site") / "renders"
    renders.mkdir()
    for name, seconds, size in (("attention", 3, "480x270"), ("multihead", 2, "320x180")):
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size={size}:rate=15:duration={seconds}", "-c:v", "libx264",
                        "-pix_fmt", "yuv420p", str(renders / f"{name}.mp4")], check=True)
        cues = SRT if seconds == 3 else SRT.split("\n\n3\n")[0] + "\n\n"
        (renders / f"{name}.srt").write_text(cues, encoding="utf-8")
        # multihead's frames show their captions (the scenes' default): its track starts off
        publish_video(renders / f"{name}.mp4", renders / f"{name}.srt",
                      captions_in_video=name == "multihead")
    svg_dir = renders / "svg" / "attention"
    svg_dir.mkdir(parents=True)
    for i, (step, desc, colour) in enumerate([("scores", "Raw scores Q·Kᵀ & their scale.", "#3b82f6"),
                                              ("softmax", "Each row sums to 1.", "#f97316")], 1):
        (svg_dir / f"{i:02d}-{step}.svg").write_text(
            SVG.format(w=960, h=540, bw=200 * i, title=step, colour=colour,
                       desc=desc.replace("&", "&amp;")), encoding="utf-8")
    result = CliRunner().invoke(main, ["gallery", "--renders", str(renders)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("(2 videos, 2 diagrams)")
    return renders


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(RangeHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges, as web hosts serve them: a browser can seek a video only
    when its server answers ``Range`` requests (http.server alone does not)."""

    def log_message(self, *args):
        pass

    def end_headers(self):
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        path = Path(self.translate_path(self.path))
        if wanted is None or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, last = wanted.groups()
        if first == "":  # the last N bytes
            start, end = max(size - int(last or 0), 0), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        with path.open("rb") as fh:
            fh.seek(start)
            part = fh.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        return io.BytesIO(part)


@pytest.fixture(scope="module")
def page(server):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make setup` (apt package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.problems, tab.requested = [], []
        tab.on("request", lambda r: tab.requested.append(r.url))
        tab.on("console", lambda m: m.type == "error" and tab.problems.append(m.text))
        # A media element cancels its open range request when it seeks or has buffered enough
        # (net::ERR_ABORTED): normal, not a failure.
        tab.on("requestfailed", lambda r: "ERR_ABORTED" not in (r.failure or "")
               and tab.problems.append(f"{r.url}: {r.failure}"))
        tab.on("response", lambda r: r.status >= 400 and tab.problems.append(f"{r.url}: {r.status}"))
        tab.goto(f"{server}/index.html", wait_until="load")
        yield tab
        browser.close()


VIDEO_STATE = """(video) => ({
    ready: video.readyState, duration: video.duration, src: video.currentSrc,
    error: video.error && video.error.code,
    tracks: Array.from(video.textTracks).map(t => ({
        kind: t.kind, mode: t.mode, cues: t.cues ? t.cues.length : -1,
        first: t.cues && t.cues.length
            ? [t.cues[0].startTime, t.cues[0].endTime, t.cues[0].getCueAsHTML().textContent] : null,
    })),
    trackReady: Array.from(video.querySelectorAll('track')).map(t => t.readyState),
})"""


@pytest.mark.parametrize("scene,seconds,cues", [("attention", 3, 3), ("multihead", 2, 2)])
def test_video_loads_with_its_duration_and_subtitles(page, site, scene, seconds, cues):
    video = page.locator(f"#video-{scene}")
    mode = "showing" if scene == "attention" else "disabled"
    assert video.evaluate("v => v.textTracks[0].mode") == mode
    if mode == "disabled":  # what the CC button does: a browser fetches a track only when on
        video.evaluate("v => { v.textTracks[0].mode = 'showing'; }")
    page.wait_for_function(
        """(v) => v.readyState >= 2 && v.querySelector('track').readyState === 2""",
        arg=video.element_handle(), timeout=15000)
    state = video.evaluate(VIDEO_STATE)
    assert state["error"] is None
    assert state["ready"] >= 2
    assert state["src"].endswith(f"/{scene}.webm")  # the first source, VP9, is what it chose
    assert state["duration"] == pytest.approx(duration_of(site / f"{scene}.webm"), abs=0.05)
    assert state["duration"] == pytest.approx(seconds, abs=0.1)
    assert state["trackReady"] == [2]  # LOADED
    (track,) = state["tracks"]
    assert (track["kind"], track["mode"], track["cues"]) == ("captions", "showing", cues)
    # as displayed: the WebVTT escapes of < and & are undone, no tag was swallowed
    assert track["first"] == [0, 1, "Each query row scores every key: <Q, K> & more."]


@pytest.mark.parametrize("scene", ["attention", "multihead"])
def test_snippet_files_load_on_their_own(page, site, scene):
    """The page's players carry their subtitles inline; the snippet points at the files. Here a
    player made in the page loads those: the mp4 (what a browser without VP9 takes) and the .vtt.
    """
    state = page.evaluate("""async (scene) => {
        const v = document.createElement('video');
        v.muted = true; v.preload = 'auto'; v.src = scene + '.mp4';
        const t = document.createElement('track');
        t.kind = 'captions'; t.src = scene + '.vtt'; t.default = true;
        v.appendChild(t); document.body.appendChild(v);
        const loaded = (el, ok) => new Promise((res, rej) => {
            el.addEventListener(ok, res); el.addEventListener('error', () => rej(ok + ' failed'));
            setTimeout(() => rej(ok + ' timeout'), 10000); });
        await Promise.all([loaded(v, 'loadeddata'), loaded(t, 'load')]);
        const out = {ready: v.readyState, duration: v.duration, w: v.videoWidth, h: v.videoHeight,
                     cues: t.track.cues.length, last: t.track.cues[t.track.cues.length - 1].endTime};
        v.remove();
        return out;
    }""", scene)
    assert state["ready"] >= 2
    assert state["duration"] == pytest.approx(duration_of(site / f"{scene}.mp4"), abs=0.05)
    assert (state["w"], state["h"]) == ((480, 270) if scene == "attention" else (320, 180))
    assert (state["cues"], state["last"]) == ((3, 3.0) if scene == "attention" else (2, 2.0))


def test_the_page_opened_from_disk_works_too(page, site):
    """file: pages may not load track files; the gallery's inline subtitles still show."""
    disk = page.context.new_page()
    try:
        disk.goto((site / "index.html").as_uri(), wait_until="load")
        disk.evaluate("() => document.querySelectorAll('video').forEach("
                      "v => { v.textTracks[0].mode = 'showing'; })")
        disk.wait_for_function("""() => Array.from(document.querySelectorAll('video')).every(
            v => v.readyState >= 2 && v.querySelector('track').readyState === 2)""", timeout=15000)
        cues = disk.eval_on_selector_all("video", "vs => vs.map(v => v.textTracks[0].cues.length)")
        widths = disk.eval_on_selector_all("img.diagram", "is => is.map(i => i.naturalWidth)")
        assert (cues, widths) == ([3, 2], [960, 960])
    finally:
        disk.close()


def test_every_svg_diagram_is_drawn_at_its_size(page):
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    images = page.eval_on_selector_all(
        "img.diagram", "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth, "
                       "i.naturalHeight, i.alt])")
    assert images == [["svg/attention/01-scores.svg", 960, 540, "Raw scores Q·Kᵀ & their scale."],
                      ["svg/attention/02-softmax.svg", 960, 540, "Each row sums to 1."]]
    captions = page.eval_on_selector_all("figcaption", "fs => fs.map(f => f.innerText)")
    assert captions == ["01-scores\nRaw scores Q·Kᵀ & their scale.", "02-softmax\nEach row sums to 1."]


def test_snippet_on_the_page_is_the_one_embed_prints(page, site):
    shown = page.locator("#attention pre code").first.inner_text()
    printed = CliRunner().invoke(main, ["embed", "attention", "--renders", str(site)]).stdout
    assert shown == printed.rstrip("\n")


def test_step_button_seeks_to_its_caption(page):
    """Clicking a step in the list jumps the video to that step; its subtitle is the one shown."""
    page.locator("#attention ol.steps button.seek").nth(1).click()
    # activeCues is updated asynchronously after a seek: wait until it reflects the new time,
    # and take the state at that moment (the video plays on: on a loaded machine, read again
    # after a pause, it had once run past the step's end, to 2.0023 s)
    state = page.wait_for_function("""() => { const v = document.getElementById('video-attention');
        const active = Array.from(v.textTracks[0].activeCues || []);
        const time = v.currentTime;
        const ok = !v.seeking && time >= 1.0 && active.length > 0
               && active.every(c => c.startTime <= time && time < c.endTime);
        if (!ok) return false;
        v.pause();
        return {time, seekable: v.seekable.length ? v.seekable.end(0) : 0,
                cues: active.map(c => c.getCueAsHTML().textContent)}; }""").json_value()
    assert 1.0 <= state["time"] < 2.0
    assert state["seekable"] == pytest.approx(3, abs=0.1)
    assert state["cues"] == ["The softmax turns each row into weights."]


def test_no_errors_and_a_screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "gallery.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert page.problems == []


def test_the_page_does_not_download_the_gifs(page, server):
    """The gif is offered as a link inside <video>; a browser that plays video never fetches it."""
    fetched = {url.removeprefix(server + "/") for url in page.requested}
    assert not [u for u in fetched if u.endswith(".gif")]
    assert {"attention.webm", "attention.poster.png", "attention.vtt", "multihead.webm",
            "multihead.vtt", "svg/attention/01-scores.svg"} <= fetched
