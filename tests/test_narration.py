"""Narration (#32): the script reads the trace's numbers, the narrated video's sound fits its
picture step by step, and bad recordings stop the render naming the step. Offline: Piper's voice
is in the venv."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from scenes import narration as voice
from scenes.toolkit.storyboard import SceneOptions

from tests.tiny_scene import register


def test_numbers_and_symbols_are_spoken_as_a_person_reads_them():
    assert voice.speak_number("−0.31") == "minus zero point three one"
    assert voice.speak_number("40.12") == "forty point one two"
    assert voice.speak_number("1,024") == "one thousand and twenty-four"
    assert voice.speak_number("−∞") == "minus infinity"
    said = voice.speakable("Every score is divided by √d_k; Q·Kᵀ scores it, 1 row.")
    assert said == ("Every score is divided by the square root of d k; Q times K transposed "
                    "scores it, one row.")


@pytest.mark.parametrize("scene", ["tiny", "attention"])
def test_the_scripts_numbers_are_the_traces(monkeypatch, scene):
    """Every number the narration reads is a marked number of that step's end state, and it
    equals a fresh run of the model (as verify checks the screen)."""
    from scenes.registry import get_scene_class
    from transformer_core.checkpoint import load_model
    from transformer_core.trace import run_with_trace
    from transformer_core.verify import first_mismatch

    name = register(monkeypatch) if scene == "tiny" else scene
    options = SceneOptions()
    speeches = voice.narrate(name, options)
    assert [s.step for s in speeches] == [s.name for s in get_scene_class(name).storyboard(options)]
    fresh = run_with_trace(load_model(options.model, None), options.sentence)
    read = [n for s in speeches for n in s.numbers]
    assert read, "the matrix step reads one of its numbers"
    for s in speeches:
        for n in s.numbers:
            assert n.step == s.step
            assert first_mismatch(fresh, n) is None
            assert voice.speak_number(n.text) in s.text


def test_a_narrated_video_has_a_voice_that_fits_each_step(monkeypatch, tmp_path):
    from scenes.writers.video import render_scene

    name = register(monkeypatch)
    options = SceneOptions()
    speeches = voice.narrate(name, options)
    voice.synthesise(speeches)
    assert all(s.seconds > 1.0 for s in speeches)
    result = render_scene(name, options, quality="low", fmt="mp4", out_dir=tmp_path,
                          narration=voice.Narration(speeches))
    video = voice.video_seconds(result.path)
    assert abs(voice.audio_seconds(result.path) - video) <= 1 / 15 + 1e-6  # within one frame
    # Each step lasts at least its speech; the speech sits inside the step's time span: the
    # decoded sound is loud inside each speech and quiet around every step boundary.
    import av

    with av.open(str(result.path)) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=voice.RATE)
        sound = np.concatenate([f.to_ndarray().reshape(-1) for fr in c.decode(c.streams.audio[0])
                                for f in rs.resample(fr)])
    for s, (start, end) in zip(speeches, result.step_times, strict=True):
        assert end - start >= s.step_seconds - 1 / 15
        said = sound[int((start + voice.LEAD) * voice.RATE):
                     int((start + voice.LEAD + s.seconds) * voice.RATE)]
        assert np.sqrt(np.mean(said ** 2)) > 0.02
        quiet = np.r_[sound[int((end - 0.3) * voice.RATE):int(end * voice.RATE)],
                      sound[int(start * voice.RATE):int((start + 0.2) * voice.RATE)]]
        assert np.abs(quiet).max() < 0.02
    cues = result.subtitles.read_text()
    assert cues.count(" --> ") == sum(len(s.sentences) for s in speeches)
    assert speeches[1].sentences[0][0] in cues


def _wav(path: Path, seconds: float) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(np.arange(int(seconds * 8000)) / 5) * 8000).astype("<i2").tobytes())


@pytest.mark.parametrize("problem", ["missing", "not audio", "too long"])
def test_a_bad_recording_names_its_step_and_writes_nothing(tmp_path, problem):
    from click.testing import CliRunner

    from cli import main

    rec = tmp_path / "voice"
    rec.mkdir()
    steps = ["title", "embed", "query", "keys_values", "scores", "scale", "softmax",
             "weighted_sum", "summary"]
    for i, step in enumerate(steps):
        _wav(rec / f"{i + 1:02d}-{step}.wav", 0.5)
    bad = rec / "03-query.wav"
    if problem == "missing":
        bad.unlink()
    elif problem == "not audio":
        bad.write_text("this is not a recording\n")
    else:
        _wav(bad, voice.MAX_STEP_SECONDS + 1)
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["render", "attention", "--voice-dir", str(rec), "--out",
                                    str(out), "--script", str(tmp_path / "s.md")])
    assert run.exit_code == 1, run.output
    lines = run.output.strip().splitlines()
    assert len(lines) == 1 and "step 'query'" in lines[0], run.output
    assert not (tmp_path / "s.md").exists()
    assert not out.exists() or not any(out.iterdir())


def test_no_voice_installed_names_the_install_command(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "piper", None)
    with pytest.raises(voice.NarrationError, match=r"pip install -e '\.\[narration\]'"):
        voice._load_voice()


def test_help_does_not_import_the_voice():
    import subprocess
    import sys

    code = ("import sys; sys.argv=['cli.py','render','--help']\n"
            "import cli\ntry: cli.main()\nexcept SystemExit: pass\n"
            "assert 'piper' not in sys.modules and 'onnxruntime' not in sys.modules\n"
            "print('ok')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert run.stdout.strip().endswith("ok"), run.stderr


def _has_sound(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        return bool(c.streams.audio)


def test_slides_and_the_notebook_player_carry_the_narration(monkeypatch, tmp_path):
    from scenes.notebook import scene_video
    from scenes.writers.slides import write_slides

    name = register(monkeypatch)
    monkeypatch.setenv("TRANSFORMER_EXPLAINED_CACHE", str(tmp_path / "cache"))
    options = SceneOptions()
    speeches = voice.narrate(name, options)
    voice.synthesise(speeches)
    result = write_slides([name], options, "low", tmp_path / "slides", name,
                          narrations={name: voice.Narration(speeches)})
    for slide, speech in zip(result.slides, speeches, strict=True):
        assert _has_sound(slide.video)
        assert slide.duration >= speech.step_seconds - 1 / 15
    assert " muted" not in result.html.read_text()
    shown = scene_video(name, options, narrate=True)
    assert shown.sound and _has_sound(shown.path) and _has_sound(shown.webm)
    assert " muted" not in shown._repr_html_()[:200]
    assert speeches[0].sentences[0][0][:30] in __import__("base64").b64decode(
        shown._repr_html_().rsplit("base64,", 1)[1].split('"')[0]).decode()


def test_recordings_time_the_steps(monkeypatch, tmp_path):
    """--voice-dir's files (any rate, named NN-step or step) set each step's length; a step's
    cue is its script text for the whole recording."""
    from scenes.writers.video import render_scene

    name = register(monkeypatch)
    rec = tmp_path / "rec"
    rec.mkdir()
    _wav(rec / "01-title.wav", 2.0)
    _wav(rec / "matrix.wav", 3.0)
    speeches = voice.narrate(name, SceneOptions())
    voice.from_voice_dir(rec, speeches)
    assert [round(s.seconds, 2) for s in speeches] == [2.0, 3.0]
    result = render_scene(name, SceneOptions(), out_dir=tmp_path / "out",
                          narration=voice.Narration(speeches))
    spans = [b - a for a, b in result.step_times]
    assert spans[0] >= voice.LEAD + 2.0 + voice.TAIL - 1 / 15
    assert spans[1] >= voice.LEAD + 3.0 + voice.TAIL - 1 / 15
    cues = result.subtitles.read_text()
    assert cues.count(" --> ") == 2 and speeches[1].text in cues
    script = tmp_path / "script.md"
    voice.write_script(script, name, speeches, result.step_times)
    text = script.read_text()
    assert "## 02-matrix (" in text and "speech 3.0 s" in text and speeches[1].text in text
