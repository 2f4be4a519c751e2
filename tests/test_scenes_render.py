"""Real renders through ``render_scene``: a playable low-quality mp4 with one subtitle cue per
step, and light-theme stills; the CLI's render command checks its options."""

from __future__ import annotations

import re

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli import main
from scenes.attention import AttentionScene
from scenes.writers.video import format_srt, render_scene, srt_timestamp
from scenes.toolkit.storyboard import SceneOptions, Step
from scenes.toolkit.theme import THEMES

CUE = re.compile(r"(\d+)\n(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)\n(.+?)\n(?:\n|$)",
                 re.S)


def _seconds(stamp: str) -> float:
    h, m, rest = stamp.split(":")
    s, ms = rest.split(",")
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def test_srt_format():
    assert srt_timestamp(3723.4567) == "01:02:03,457"
    text = format_srt([Step("a", "First."), Step("b", "Second one.")], [(0.0, 1.5), (1.5, 62.25)])
    assert text == ("1\n00:00:00,000 --> 00:00:01,500\nFirst.\n\n"
                    "2\n00:00:01,500 --> 00:01:02,250\nSecond one.\n")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    out = tmp_path_factory.mktemp("renders")
    seen = []
    result = render_scene("attention", SceneOptions(), quality="low", fmt="mp4", out_dir=out,
                          progress=lambda i, step, n: seen.append((i, step.name, n)))
    return out, result, seen


def test_render_writes_a_playable_mp4(video):
    out, result, seen = video
    assert result.path == out / "attention.mp4" and result.path.stat().st_size > 100_000
    assert sorted(p.name for p in out.iterdir()) == ["attention.mp4", "attention.srt"]  # no temp
    with av.open(str(result.path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (854, 480)
        duration = float(container.duration / av.time_base)
        frames = sum(1 for _ in container.decode(video=0))
    assert duration == pytest.approx(result.duration, abs=0.2)
    assert frames == pytest.approx(duration * 15, abs=3)
    assert 60 <= duration <= 120
    steps = AttentionScene.storyboard(SceneOptions())
    assert seen == [(i, s.name, len(steps)) for i, s in enumerate(steps)]


def test_srt_has_one_cue_per_step(video):
    out, result, _ = video
    cues = CUE.findall((out / "attention.srt").read_text())
    steps = AttentionScene.storyboard(SceneOptions())
    assert [int(c[0]) for c in cues] == list(range(1, len(steps) + 1))
    assert [c[3] for c in cues] == [s.caption for s in steps]
    starts = [_seconds(c[1]) for c in cues]
    ends = [_seconds(c[2]) for c in cues]
    assert starts[0] == 0 and all(e > s for s, e in zip(starts, ends, strict=True))
    assert starts[1:] == ends[:-1]
    assert ends[-1] == pytest.approx(result.duration, abs=0.002)


def test_light_theme_stills(tmp_path):
    result = render_scene("attention", SceneOptions(theme="light", model="lm"), quality="low",
                          fmt="png", out_dir=tmp_path)
    steps = AttentionScene.storyboard(SceneOptions(model="lm"))
    assert [p.name for p in result.stills] == [f"{i + 1:02d}-{s.name}.png"
                                                for i, s in enumerate(steps)]
    assert sorted(p.name for p in (tmp_path / "attention-steps").iterdir()) == [
        p.name for p in result.stills]
    image = np.asarray(Image.open(result.stills[4]).convert("RGB"))
    assert image.shape == (480, 854, 3)
    assert tuple(image[2, 2]) == (255, 255, 255)  # the light theme's white background
    dark_text = np.all(image < 90, axis=-1).mean()  # the theme's dark text is drawn
    assert 0.002 < dark_text < 0.2
    assert THEMES["light"].background == "#FFFFFF"


def test_cli_render_rejects_bad_options(tmp_path):
    runner = CliRunner()
    for args, hint in ((["--layer", "1"], "--layer"), (["--head", "2"], "--head"),
                       (["--quality", "ultra"], "--quality"), (["--format", "avi"], "--format")):
        result = runner.invoke(main, ["render", "attention", "--out", str(tmp_path), *args])
        assert result.exit_code == 2, args
        assert hint in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["render", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no scene 'nope'" in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_render_stills_with_unknown_word(tmp_path):
    result = CliRunner().invoke(main, ["render", "attention", "--sentence", "paul sees xyzzy",
                                       "--format", "png", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "shown as <unk>: 'xyzzy'" in result.output
    assert f"to {tmp_path / 'attention-steps'}" in result.output
    assert len(list((tmp_path / "attention-steps").glob("*.png"))) == 9
