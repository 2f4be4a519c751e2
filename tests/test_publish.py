"""Web-ready outputs, subtitles and embed snippets, checked on small real videos made here.

Media facts are read back with PyAV and Pillow (the code under test uses ffmpeg/ffprobe), and
the mp4 box order with a parser written in this file.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli import main
from scenes.writers.publish import (
    PublishError,
    _ffmpeg_to,
    encode_webm,
    format_vtt,
    parse_srt,
    publish_video,
)

FPS = 15
SECONDS = 2.0
# The caption of step 1 has every character HTML and WebVTT treat specially.
SRT = (
    "1\n00:00:00,000 --> 00:00:00,800\nQ·Kᵀ/√d_k: scores <b>&</b> \"weights\" don't sum to 1.\n\n"
    "2\n00:00:00,800 --> 00:00:01,600\nThe softmax turns each row\ninto weights [that sum to 1].\n\n"
)
CUE_ENDS = (0.8, 1.6)


def make_video(path: Path, codec: str, seconds: float = SECONDS, faststart: bool = False) -> Path:
    """A test-pattern clip (moving, so frames differ) written by ffmpeg itself."""
    flags = ["-movflags", "+faststart"] if faststart else []
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size=320x180:rate={FPS}:duration={seconds}", "-c:v", codec,
                    "-pix_fmt", "yuv420p", *flags, str(path)], check=True)
    return path


def top_level_boxes(path: Path) -> list[str]:
    """ISO-BMFF box types at the top level of an mp4, in file order."""
    data = path.read_bytes()
    types, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        kind = data[at + 4:at + 8].decode("latin-1")
        if size == 1:  # 64-bit size follows the type
            size = int.from_bytes(data[at + 8:at + 16], "big")
        elif size == 0:  # box runs to the end of the file
            size = len(data) - at
        types.append(kind)
        at += size
    assert at == len(data), "boxes do not tile the file"
    return types


def video_stream_facts(path: Path) -> dict:
    with av.open(str(path)) as box:
        stream = box.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in box.decode(stream)]
        return {"codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
                "format": box.format.name, "duration": box.duration / av.time_base,
                "size": (stream.codec_context.width, stream.codec_context.height),
                "frames": frames}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Two rendered scenes: 'alpha' needs re-encoding (MPEG-4 part 2), 'beta' is H.264 with its
    index at the end (ffmpeg's default), so it only needs remuxing."""
    renders = tmp_path_factory.mktemp("renders")
    make_video(renders / "alpha.mp4", "mpeg4")
    (renders / "alpha.srt").write_text(SRT, encoding="utf-8")
    beta = make_video(renders / "beta.mp4", "libx264")
    beta_boxes_before = top_level_boxes(beta)
    out = {"alpha": publish_video(renders / "alpha.mp4", renders / "alpha.srt"),
           "beta": publish_video(beta)}
    return renders, out, beta_boxes_before


def test_publish_writes_every_file_beside_the_video(published):
    renders, out, _ = published
    assert set(out["alpha"]) == {"mp4", "webm", "gif", "poster", "srt", "vtt"}
    assert set(out["beta"]) == {"mp4", "webm", "gif", "poster"}
    names = sorted(p.name for p in renders.iterdir())
    assert names == ["alpha.gif", "alpha.mp4", "alpha.poster.png", "alpha.srt", "alpha.vtt",
                     "alpha.webm", "beta.gif", "beta.mp4", "beta.poster.png", "beta.webm"]
    for path in renders.iterdir():  # a web server running as another user must read them
        assert path.stat().st_mode & 0o044 == 0o044, path


@pytest.mark.parametrize("scene", ["alpha", "beta"])
def test_mp4_is_h264_yuv420p_with_moov_first(published, scene):
    renders, _, _ = published
    facts = video_stream_facts(renders / f"{scene}.mp4")
    assert (facts["codec"], facts["pix_fmt"], facts["size"]) == ("h264", "yuv420p", (320, 180))
    assert len(facts["frames"]) == FPS * SECONDS
    assert facts["duration"] == pytest.approx(SECONDS, abs=0.05)
    boxes = top_level_boxes(renders / f"{scene}.mp4")
    assert boxes.index("moov") < boxes.index("mdat"), boxes


def test_remux_moved_the_index_to_the_front(published):
    _, _, before = published
    assert before.index("moov") > before.index("mdat")  # the input really had it at the end


@pytest.mark.parametrize("scene", ["alpha", "beta"])
def test_webm_is_vp9(published, scene):
    renders, _, _ = published
    facts = video_stream_facts(renders / f"{scene}.webm")
    assert facts["codec"] == "vp9"
    assert "webm" in facts["format"]
    assert facts["pix_fmt"] == "yuv420p"
    assert len(facts["frames"]) == FPS * SECONDS
    assert facts["duration"] == pytest.approx(SECONDS, abs=0.05)


def test_gif_loops_at_ten_frames_a_second(published):
    renders, _, _ = published
    with Image.open(renders / "alpha.gif") as gif:
        assert gif.format == "GIF"
        assert gif.size == (320, 180)  # narrower than the 640 px cap: kept as is
        assert gif.info.get("loop") == 0  # forever
        assert gif.n_frames == pytest.approx(10 * SECONDS, abs=1)
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
        assert sum(durations) == pytest.approx(SECONDS * 1000, abs=100)


def test_poster_is_the_frame_just_before_the_last_caption_ends(published):
    renders, _, _ = published
    poster = np.asarray(Image.open(renders / "alpha.poster.png").convert("RGB"), dtype=float)
    frames = video_stream_facts(renders / "alpha.mp4")["frames"]
    assert poster.shape == frames[0].shape
    errors = [np.abs(poster - f).mean() for f in frames]
    best = int(np.argmin(errors))
    # 0.25 s before the last cue ends (1.6 s): 1.35 s, frame 20 or 21 at 15 fps
    assert best in (20, 21), errors
    assert errors[best] < 3 and errors[0] > 10


def test_poster_without_subtitles_is_the_middle_frame(published):
    renders, _, _ = published
    poster = np.asarray(Image.open(renders / "beta.poster.png").convert("RGB"), dtype=float)
    frames = video_stream_facts(renders / "beta.mp4")["frames"]
    best = int(np.argmin([np.abs(poster - f).mean() for f in frames]))
    assert best in (14, 15)  # 1.0 s


def test_poster_time_can_be_chosen(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", "libx264", seconds=1.0)
    publish_video(clip, poster_at=0.2)
    poster = np.asarray(Image.open(tmp_path / "clip.poster.png").convert("RGB"), dtype=float)
    frames = video_stream_facts(clip)["frames"]
    assert int(np.argmin([np.abs(poster - f).mean() for f in frames])) == 3  # 0.2 s at 15 fps


VTT_CUE = re.compile(r"^(\d\d:\d\d:\d\d\.\d\d\d) --> (\d\d:\d\d:\d\d\.\d\d\d)$", re.M)
SRT_CUE = re.compile(r"^(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)$", re.M)


def test_vtt_has_the_srt_timings_and_escaped_text(published):
    renders, _, _ = published
    vtt = (renders / "alpha.vtt").read_text(encoding="utf-8")
    srt = (renders / "alpha.srt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\n")
    srt_times = [(a.replace(",", "."), b.replace(",", ".")) for a, b in SRT_CUE.findall(srt)]
    assert VTT_CUE.findall(vtt) == srt_times == [("00:00:00.000", "00:00:00.800"),
                                                ("00:00:00.800", "00:00:01.600")]
    assert "Q·Kᵀ/√d_k: scores &lt;b&gt;&amp;&lt;/b&gt; \"weights\" don't sum to 1." in vtt
    assert "<b>" not in vtt
    assert "The softmax turns each row\ninto weights [that sum to 1]." in vtt


def test_srt_parsing_tolerates_bom_crlf_and_hours():
    text = "\ufeff1\r\n01:02:03,004 --> 01:02:05,600\r\nline one\r\nline two\r\n\r\n"
    (cue,) = parse_srt(text)
    assert (cue.start_ms, cue.end_ms) == (3_723_004, 3_725_600)
    assert cue.text == "line one\nline two"
    assert "01:02:03.004 --> 01:02:05.600\nline one\nline two" in format_vtt([cue])
    with pytest.raises(PublishError, match="not a SubRip cue"):
        parse_srt("1\nno times here\n")


def test_failed_encode_leaves_the_old_file_and_no_temp(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    (tmp_path / "broken.webm").write_bytes(b"old")
    with pytest.raises(PublishError, match="cannot read .*broken.mp4"):
        encode_webm(tmp_path / "broken.mp4", tmp_path / "broken.webm")
    # ffmpeg itself failing, after the temporary file was made
    with pytest.raises(PublishError, match="ffmpeg failed writing broken.webm"):
        _ffmpeg_to(tmp_path / "broken.webm", ["-f", "lavfi", "-i", "testsrc=duration=1",
                                              "-c:v", "libvpx-vp9", "-crf", "999", "-f", "webm"])
    assert (tmp_path / "broken.webm").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "broken.webm"]


# ------------------------------------------------------------------------------------------
# embed


class Tags(HTMLParser):
    """(tag, attributes) in document order."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def embed(renders: Path, *args: str):
    return CliRunner().invoke(main, ["embed", *args, "--renders", str(renders)])


CAPTIONS = ("Q·Kᵀ/√d_k: scores <b>&</b> \"weights\" don't sum to 1. "
            "The softmax turns each row into weights [that sum to 1].")


def test_embed_html_has_both_sources_poster_track_and_caption_alt(published):
    renders, _, _ = published
    result = embed(renders, "alpha")
    assert result.exit_code == 0, result.output
    tags = Tags(result.stdout).tags
    assert [t for t, _ in tags] == ["video", "source", "source", "track", "a"]
    video = tags[0][1]
    for flag in ("muted", "loop", "playsinline", "controls"):
        assert flag in video and video[flag] is None  # boolean attributes
    assert video["poster"] == "alpha.poster.png"
    assert (video["width"], video["height"]) == ("320", "180")
    assert video["aria-label"] == CAPTIONS  # parser un-escapes: the text survives exactly
    assert tags[1][1] == {"src": "alpha.webm", "type": "video/webm"}
    assert tags[2][1] == {"src": "alpha.mp4", "type": "video/mp4"}
    assert tags[3][1]["src"] == "alpha.vtt" and tags[3][1]["kind"] == "captions"
    assert "default" in tags[3][1]
    assert tags[4][1] == {"href": "alpha.gif"}  # a link: an <img> here would be fetched
    assert result.stdout.count("weights [that sum to 1]") == 1  # the transcript once, as the label


def test_track_is_not_switched_on_when_the_frames_show_the_captions(published, tmp_path):
    renders, _, _ = published
    for name in ("alpha.mp4", "alpha.webm", "alpha.poster.png", "alpha.srt"):
        (tmp_path / name).write_bytes((renders / name).read_bytes())
    cues = parse_srt(SRT)
    (tmp_path / "alpha.vtt").write_text(format_vtt(cues, burned_in=True), encoding="utf-8")
    vtt = (tmp_path / "alpha.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\nNOTE ")  # a WebVTT comment block, ignored by players
    assert VTT_CUE.findall(vtt)[0] == ("00:00:00.000", "00:00:00.800")
    tags = Tags(embed(tmp_path, "alpha").stdout).tags
    track = next(a for t, a in tags if t == "track")
    assert "default" not in track and track["src"] == "alpha.vtt"


def test_embed_escapes_caption_markup(published):
    renders, _, _ = published
    out = embed(renders, "alpha").stdout
    assert "<b>" not in out and "&lt;b&gt;&amp;&lt;/b&gt;" in out
    assert "&quot;weights&quot;" in out and "don&#x27;t" in out


def test_embed_base_url(published):
    renders, _, _ = published
    out = embed(renders, "alpha", "--base-url", "https://example.org/media/").stdout
    srcs = [a.get("src") or a.get("poster") or a.get("href") for _, a in Tags(out).tags]
    assert srcs == ["https://example.org/media/alpha.poster.png",
                    "https://example.org/media/alpha.webm", "https://example.org/media/alpha.mp4",
                    "https://example.org/media/alpha.vtt", "https://example.org/media/alpha.gif"]
    out = embed(renders, "alpha", "--base-url", "/assets/tx").stdout
    assert 'src="/assets/tx/alpha.webm"' in out


def test_embed_markdown_links_the_gif_to_the_mp4(published):
    renders, _, _ = published
    result = embed(renders, "alpha", "--format", "markdown")
    assert result.exit_code == 0
    alt = (r"""Q·Kᵀ/√d\_k: scores \<b\>\&\</b\> "weights" don't sum to 1. """
           r"The softmax turns each row into weights \[that sum to 1\].")
    assert result.stdout == f"[![{alt}](alpha.gif)](alpha.mp4)\n"
    out = embed(renders, "beta", "--format", "markdown", "--base-url", "https://x.org/m").stdout
    assert out == "[![Animation: beta](https://x.org/m/beta.gif)](https://x.org/m/beta.mp4)\n"


def test_embed_before_rendering_names_the_render_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no renders/ here
    result = CliRunner().invoke(main, ["embed", "attention"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert result.output == ("Error: scene 'attention' has not been rendered yet (no "
                             "renders/attention.mp4): run `python cli.py render attention` first\n")
    # another folder: the command that writes there
    result = embed(tmp_path / "site", "attention")
    assert result.exit_code == 1
    assert f"run `python cli.py render attention --out {tmp_path / 'site'}` first" in result.output


def test_embed_with_only_the_raw_video_lists_what_is_missing(tmp_path):
    make_video(tmp_path / "attention.mp4", "libx264", seconds=0.2)
    result = embed(tmp_path, "attention")
    assert result.exit_code == 1
    assert "attention.webm, attention.poster.png, attention.vtt" in result.output
    assert "python cli.py render attention" in result.output


def test_embed_unknown_scene_is_a_usage_error(tmp_path):
    result = embed(tmp_path, "no-such-scene")
    assert result.exit_code == 2
    assert "no scene 'no-such-scene'" in result.output and "attention" in result.output


def test_gallery_with_nothing_rendered_fails_and_writes_nothing(tmp_path):
    result = CliRunner().invoke(main, ["gallery", "--renders", str(tmp_path)])
    assert result.exit_code == 1
    assert "nothing rendered" in result.output and "python cli.py render" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["embed", "--help"], ["gallery", "-h"]])
def test_help(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "Usage:" in result.output


def test_gallery_elsewhere_links_media_relative_to_the_page(published, tmp_path):
    renders, _, _ = published
    diagrams = renders / "svg" / "alpha"
    diagrams.mkdir(parents=True, exist_ok=True)
    (diagrams / "01-scores.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="960px" height="540px">'
        "<title>scores</title><desc>Scores &lt;Q, K&gt; &amp; scale.</desc></svg>",
        encoding="utf-8")
    try:
        out = tmp_path / "site" / "page.html"
        result = CliRunner().invoke(main, ["gallery", "--renders", str(renders), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert result.output == f"wrote {out} (2 videos, 1 diagram)\n"
        page = out.read_text(encoding="utf-8")
        tags = Tags(page).tags
        rel = Path(os.path.relpath(renders, out.parent)).as_posix()  # ../../renders0 or so
        assert rel.startswith("../")
        srcs = [a.get("src") or a.get("poster") for t, a in tags if t in ("video", "source", "img")]
        assert srcs == [f"{rel}/alpha.poster.png", f"{rel}/alpha.webm", f"{rel}/alpha.mp4",
                        f"{rel}/svg/alpha/01-scores.svg",
                        f"{rel}/beta.poster.png", f"{rel}/beta.webm", f"{rel}/beta.mp4"]
        diagram = next(a for t, a in tags if t == "img" and "diagram" in a.get("class", ""))
        assert diagram["alt"] == "Scores <Q, K> & scale."
        assert "Scores &lt;Q, K&gt; &amp; scale." in page and "<Q, K>" not in page
        # the snippets to copy are the ones `embed` prints: relative to the renders folder
        code = "\n".join(html.unescape(c) for c in re.findall(r"<code>(.*?)</code>", page, re.S))
        assert code.count('<source src="alpha.webm" type="video/webm">') == 1
        assert "http" not in page.split("<body>")[0]  # nothing fetched from elsewhere
    finally:
        (diagrams / "01-scores.svg").unlink()
        diagrams.rmdir()
        diagrams.parent.rmdir()



@pytest.fixture
def fake_render(monkeypatch):
    """`render_scene` replaced by one that writes a 1 s clip and its .srt, as the real one does."""
    import types

    import scenes.writers.video

    def render_scene(name, options, quality, fmt, out_dir, progress, **_):
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        video = make_video(out / f"{name}.{fmt}", "libx264", seconds=1.0)
        srt = out / f"{name}.srt"
        srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nOne step.\n", encoding="utf-8")
        return types.SimpleNamespace(path=video, subtitles=srt, duration=1.0, stills=[])

    monkeypatch.setattr(scenes.writers.video, "render_scene", render_scene)


@pytest.mark.parametrize("args,web,note", [([], True, True), (["--no-captions"], True, False),
                                           (["--no-web"], False, False)])
def test_render_command_publishes_the_mp4_for_the_web(fake_render, tmp_path, args, web, note):
    result = CliRunner().invoke(main, ["render", "attention", "--out", str(tmp_path), *args])
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    web_files = {"attention.webm", "attention.gif", "attention.poster.png", "attention.vtt"}
    assert web_files <= names if web else not web_files & names
    if web:
        assert f"wrote {tmp_path / 'attention.webm'}\n" in result.output
        assert (("NOTE" in (tmp_path / "attention.vtt").read_text(encoding="utf-8")) == note)
        boxes = top_level_boxes(tmp_path / "attention.mp4")
        assert boxes.index("moov") < boxes.index("mdat")
