"""Bad input and failure, through the real CLI: one line, a non-zero exit, nothing lost.

Each case checks the exit code (2 usage, 1 failure, 128 + signal), that the message is one
line saying what to do (no traceback), and the files: nothing partial under the output folder,
an earlier output of the same name untouched. The interruption tests send real signals to real
render processes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from cli import main

ROOT = Path(__file__).resolve().parents[1]
MARKUP = r"\input{/etc/passwd} $x_1$ 50% a & b {} <b>bold</b> # ~ ^"
MARKUP_PIECES = [r"\input{/etc/passwd}", "$x_1$", "50%", "&", "{}", "<b>bold</b>", "#", "~", "^"]


@pytest.fixture
def runner():
    return CliRunner()


def error_line(result) -> str:
    """The output of a failed command, checked to be exactly one line without a traceback."""
    text = result.output
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("Error: ")
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Everything under ``folder``, hidden names included: files with their bytes, folders
    (a staging folder left behind, say) as None."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))}


def hidden(folder: Path) -> list[str]:
    """Temporary names that must not survive a command: dot-files, .part, staging folders."""
    return [str(p.relative_to(folder)) for p in folder.rglob("*")
            if p.name.startswith(".") or ".part" in p.name]


# ---- usage mistakes: exit 2, the nearest valid name suggested, nothing created ----------------

@pytest.mark.parametrize("args,needles", [
    (["render", "attention", "--sentence", ""], ["--sentence", "empty", "at least one word"]),
    (["svg", "attention", "--sentence", " \t "], ["--sentence", "empty"]),
    (["render", "attention", "--sentence", "jane " * 13], ["has 13 tokens", "at most 12",
                                                           "shorter sentence"]),
    (["render", "attentoin"], ["no scene 'attentoin'", "did you mean 'attention'?"]),
    (["svg", "atention"], ["no scene 'atention'", "did you mean 'attention'?"]),
    (["render", "../../etc/passwd"], ["no scene '../../etc/passwd'"]),
    (["render", "attention", "--model", "lmm"], ["'lmm' is not one of", "did you mean 'lm'?"]),
    (["render", "attention", "--quality", "hihg"], ["did you mean 'high'?"]),
    (["render", "attention", "--theme", "lihgt"], ["did you mean 'light'?"]),
    (["render", "attention", "--format", "mp3"], ["did you mean 'mp4'?"]),
    (["svg", "attention", "--theme", "drak"], ["did you mean 'dark'?"]),
    (["render", "attention", "--layer", "1"], ["--layer", "layer 1 is out of range", "(0..0)"]),
    (["svg", "attention", "--model", "lm", "--layer", "2"], ["layer 2 is out of range",
                                                              "(0..1)"]),
    (["render", "attention", "--head", "2"], ["--head", "head 2 is out of range", "(0..1)"]),
    (["render", "attention", "--head", "-1"], ["--head", "-1 is not in the range"]),
    (["svg", "attention", "--step", "sofmax"], ["no step 'sofmax'", "did you mean 'softmax'?"]),
    (["svg", "attention", "--step", "../../../tmp/x"], ["no step '../../../tmp/x'"]),
    (["svg", "all", "--step", "title"], ["give a scene name"]),
    (["rendr", "attention"], ["No such command 'rendr'", "Did you mean 'render'?"]),
    (["render"], ["Missing argument 'SCENE'. Choose from all, attention"]),
    (["train"], ["Missing argument 'NAME'. Choose from translate, lm, modern."]),
    (["train", "translte"], ["did you mean 'translate'?"]),
])
def test_usage_mistakes(runner, tmp_path, args, needles):
    out = tmp_path / "out"
    result = runner.invoke(main, [*args, "--out", str(out)] if args[0] != "rendr" else args)
    assert result.exit_code == 2, result.output
    line = error_line(result)
    for needle in needles:
        assert needle in line
    assert not out.exists()  # checked before anything is created
    assert list(tmp_path.iterdir()) == []


def test_embed_takes_only_scene_names(runner, tmp_path):
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not yours")
    renders = tmp_path / "renders"
    renders.mkdir()
    result = runner.invoke(main, ["embed", "../secret", "--renders", str(renders)])
    assert result.exit_code == 2
    assert "no scene '../secret'" in error_line(result)
    result = runner.invoke(main, ["embed", "attention", "--renders", str(renders)])
    assert result.exit_code == 1
    assert "python cli.py render attention --out" in error_line(result)


def test_embed_base_url_is_escaped(runner, tmp_path):
    """A base URL full of markup stays text in the snippet: no tag of its own appears."""
    srt = "1\n00:00:00,000 --> 00:00:01,000\nOne <step> & more.\n"
    for suffix in (".mp4", ".webm", ".gif", ".poster.png", ".vtt"):
        (tmp_path / f"attention{suffix}").write_bytes(b"x")
    (tmp_path / "attention.srt").write_text(srt, encoding="utf-8")
    url = 'https://example.org/"><script>alert(1)</script>'
    result = runner.invoke(main, ["embed", "attention", "--renders", str(tmp_path),
                                  "--base-url", url])
    assert result.exit_code == 0, result.output
    assert "<script>" not in result.output and "<step>" not in result.output
    tags = re.findall(r"<(\w+)", result.output)
    assert set(tags) == {"video", "source", "track", "a"}
    assert "&lt;script&gt;" in result.output and "One &lt;step&gt; &amp; more." in result.output


# ---- the sentence: unknown words, non-ASCII, emoji and markup are shown, never interpreted ----

def test_unknown_words_are_a_notice_not_an_error(runner):
    result = runner.invoke(main, ["trace", "--sentence", "Jane visits Zanzibar in 2024"])
    assert result.exit_code == 0, result.output
    assert "note: not in the translate vocabulary, shown as <unk>: 'zanzibar', '2024'" \
        in result.output
    assert "tokens:   jane visits <unk> in <unk>" in result.output


def test_non_ascii_and_emoji_work_as_unk(runner, tmp_path):
    result = runner.invoke(main, ["svg", "attention", "--model", "lm", "--step", "embed",
                                  "--sentence", "the bird eats 🍕 crème brûlée", "--out",
                                  str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "shown as <unk>: '🍕', 'crème', 'brûlée'" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["02-embed.svg"]
    ET.parse(tmp_path / "02-embed.svg")


def test_markup_characters_are_literal_glyphs():
    """Pango lays out one glyph per visible character of these strings (had it read them as
    markup, ``<b>bold</b>`` would be four), and the scenes' text is made of exactly those
    glyphs' outlines."""
    from manim import Text

    from scenes.toolkit.text import FONT, label_text, plain_text

    for text in [*MARKUP_PIECES, MARKUP, "a & b", "<unk>"]:
        visible = sum(1 for c in text if not c.isspace())
        glyphs = Text(text, font=FONT, font_size=20)
        assert len(glyphs.submobjects) == visible, text
        outline = sum(len(m.points) for m in glyphs.family_members_with_points())
        for mob in (plain_text(text, 20, "#ffffff"), label_text(text, 20, "#ffffff")):
            assert mob.text == text
            assert len(mob.points) == outline, text


def test_markup_sentence_reaches_neither_latex_nor_pango_markup(runner, tmp_path, monkeypatch):
    """A full SVG export of a sentence made of LaTeX and Pango markup: it succeeds, the
    unknown words are named literally, every token on screen is a vocabulary word or <unk>,
    and no text or formula on screen holds any piece of what was typed."""
    import scenes.writers.svg
    from manim.mobject.text.tex_mobject import SingleStringMathTex

    from scenes.toolkit.provenance import iter_sourced
    from scenes.toolkit.text import FlatText
    from transformer_core.trace import run_with_trace

    seen: dict[str, dict] = {}

    def collect(scene, index, step) -> None:
        family = [m for top in scenes.writers.svg.display_list(scene) for m in top.get_family()]
        seen[step.name] = {
            "texts": [m.text for m in family if isinstance(m, FlatText)],
            "tex": [m.tex_string for m in family if isinstance(m, SingleStringMathTex)],
            "tokens": [text for mob, text, _, _ in iter_sourced(scenes.writers.svg.display_list(scene))
                       if mob.kind == "token"],
        }

    real_export = scenes.writers.svg.export_svgs
    monkeypatch.setattr(scenes.writers.svg, "export_svgs",
                        lambda *a, **k: real_export(*a, listeners=[collect], **k))
    # the overview shows the 11 tokens (attention, multihead and decoder stop at 6 positions)
    result = runner.invoke(main, ["svg", "overview", "--sentence", MARKUP, "--out",
                                  str(tmp_path)])
    assert result.exit_code == 0, result.output
    note = next(line for line in result.output.splitlines() if line.startswith("note:"))
    assert note == ("note: not in the translate vocabulary, shown as <unk>: "
                    + ", ".join(f"'{p}'" for p in MARKUP.split()))

    trace = run_with_trace("translate", MARKUP)
    vocab = set(trace.vocab)
    assert set(trace.tokens) == {"<unk>"}
    assert len(seen) == 9 and sum(len(s["tokens"]) for s in seen.values()) > 0
    # the one line that names the unknown words quotes them as plain text (no markup), cut
    warning = "not in the model's vocabulary, read as <unk>: "
    lines = [t for s in seen.values() for t in s["texts"] if t.startswith(warning)]
    assert lines and "\u2018\\input{/etc/pas\u2026\u2019" in lines[0]
    for step, shown in seen.items():
        assert all(t in vocab for t in shown["tokens"]), step
        texts = [t for t in shown["texts"] if not t.startswith(warning)]
        for piece in ("passwd", "\\input", "x_1", "50%", "bold", "<b>", "a & b"):
            assert not any(piece in t for t in texts), (step, piece)
            assert not any(piece in t for t in shown["tex"]), (step, piece)
    assert any("<unk>" in s["tokens"] for s in seen.values())

    files = sorted(tmp_path.iterdir())
    assert len(files) == 9 and not hidden(tmp_path)
    for path in files:
        root = ET.parse(path).getroot()  # well-formed: nothing typed broke the XML
        svg = "{http://www.w3.org/2000/svg}"
        assert root.findtext(f"{svg}title").startswith("overview, step ")
        assert "passwd" not in path.read_text(encoding="utf-8")


# ---- the output folder ------------------------------------------------------------------------

def test_out_is_created_when_missing(runner, tmp_path):
    out = tmp_path / "new" / "nested"
    result = runner.invoke(main, ["svg", "attention", "--step", "title", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["01-title.svg"]


@pytest.mark.parametrize("command", [["svg", "attention", "--step", "title"],
                                     ["render", "attention", "--format", "png"],
                                     ["slides", "attention"]])
def test_out_that_is_a_file(runner, tmp_path, command):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    result = runner.invoke(main, [*command, "--out", str(target)])
    assert result.exit_code == 2
    assert "is a file" in error_line(result)
    assert target.read_text() == "keep me" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("command,out", [
    (["svg", "attention", "--step", "title"], "notes.txt/figures"),
    (["render", "attention", "--format", "png"], "notes.txt/renders"),
    (["trace", "--json"], "notes.txt/trace.json"),
    (["gallery", "--renders", "RENDERS"], "notes.txt/index.html"),
    (["slides", "attention"], "notes.txt/slides"),
    (["train", "lm", "--steps", "3000"], "notes.txt/lm.pt"),  # fails before training (~40 s)
])
def test_out_that_cannot_be_written(runner, tmp_path, command, out):
    (tmp_path / "notes.txt").write_text("keep me")
    renders = tmp_path / "renders" / "svg" / "attention"
    renders.mkdir(parents=True)
    (renders / "01-title.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    command = [str(tmp_path / "renders") if c == "RENDERS" else c for c in command]
    started = time.perf_counter()
    result = runner.invoke(main, [*command, "--out", str(tmp_path / out)])
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert f"cannot write to {tmp_path / 'notes.txt'}" in line
    assert "Not a directory" in line or "it is a file, not a folder" in line
    assert time.perf_counter() - started < 20  # checked first: no training, no rendering
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_out_on_a_file_system_that_takes_no_files(runner):
    result = runner.invoke(main, ["svg", "attention", "--step", "title", "--out",
                                  "/proc/transformer-figures"])
    assert result.exit_code == 1
    assert "cannot write to /proc/transformer-figures" in error_line(result)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder(runner, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = runner.invoke(main, ["svg", "attention", "--step", "title", "--out",
                                      str(folder)])
    finally:
        folder.chmod(0o755)
    assert result.exit_code == 1
    assert "Permission denied" in error_line(result)
    assert list(folder.iterdir()) == []


# ---- checkpoints and system tools ----------------------------------------------------------------

@pytest.mark.parametrize("content,needle", [(None, "is missing"), (b"garbage", "is corrupt")])
@pytest.mark.parametrize("command", [["trace"], ["svg", "attention", "--step", "title"],
                                     ["render", "attention", "--format", "png"]])
def test_missing_or_corrupt_checkpoint(runner, tmp_path, monkeypatch, content, needle, command):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    if content is not None:
        (checkpoints / "translate.pt").write_bytes(content)
    monkeypatch.setenv("TRANSFORMER_CHECKPOINT_DIR", str(checkpoints))
    out = tmp_path / "out"
    result = runner.invoke(main, [*command, *(["--out", str(out)] if command[0] != "trace"
                                               else [])])
    assert result.exit_code == 1
    line = error_line(result)
    assert needle in line and str(checkpoints / "translate.pt") in line
    assert "python cli.py train translate" in line
    assert not out.exists()


def _path_with(tmp_path: Path, tools: list[str]) -> str:
    """A PATH holding only links to ``tools``."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in tools:
        (folder / tool).symlink_to(shutil.which(tool))
    return str(folder)


def test_missing_latex_is_named_with_the_install_command(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PATH": _path_with(tmp_path, ["ffmpeg", "ffprobe"])}
    run = subprocess.run([sys.executable, "cli.py", "svg", "attention", "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert run.stderr.startswith("Error: latex and dvisvgm not found")
    assert "run `make setup`, or `sudo apt-get install texlive-latex-base" in run.stderr
    assert " dvisvgm`" in run.stderr
    assert not out.exists()


def test_missing_ffmpeg_is_checked_before_rendering(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", _path_with(tmp_path, ["latex", "dvisvgm"]))
    out = tmp_path / "out"
    result = runner.invoke(main, ["render", "attention", "--out", str(out)])
    assert result.exit_code == 1
    line = error_line(result)
    assert line.startswith("Error: ffmpeg and ffprobe not found")
    assert "--no-web skips them" in line and "sudo apt-get install ffmpeg`" in line
    assert not out.exists()


def test_the_tools_checked_are_the_ones_manim_runs():
    from manim import config

    from scenes.writers.video import FORMATS, QUALITIES

    assert config.tex_template.tex_compiler == "latex"  # then dvisvgm: .dvi to outlines
    assert config.tex_template.output_format == ".dvi"
    assert cli.FORMULA_TOOLS == ("latex", "dvisvgm")
    assert cli.QUALITIES == tuple(QUALITIES) and cli.VIDEO_FORMATS == FORMATS


# ---- unexpected failures: one line, the traceback on request --------------------------------------

def test_unexpected_exception_is_one_line(runner, monkeypatch):
    import transformer_core.runs

    def broken(*args, **kwargs):
        raise RuntimeError("tensor on fire\nsecond line of detail")

    monkeypatch.setattr(transformer_core.runs, "trace", broken)
    result = runner.invoke(main, ["trace"])
    assert result.exit_code == 1
    assert error_line(result) == ("Error: RuntimeError: tensor on fire "
                                  "(set TRANSFORMER_DEBUG=1 to see the traceback)")
    monkeypatch.setenv("TRANSFORMER_DEBUG", "1")
    result = runner.invoke(main, ["trace"])
    assert isinstance(result.exception, RuntimeError)


def test_a_failed_render_leaves_the_earlier_files(runner, tmp_path, monkeypatch):
    """A step that fails half-way: exit 1, one line, the earlier stills exactly as they were."""
    from scenes.attention import AttentionScene

    stills = tmp_path / "attention-steps"
    stills.mkdir()
    (stills / "01-title.png").write_bytes(b"earlier title")
    (stills / "05-scores.png").write_bytes(b"earlier scores")
    before = snapshot(tmp_path)

    def broken(self):
        raise ValueError("no room for the scores")

    monkeypatch.setattr(AttentionScene, "step_scores", broken)
    result = runner.invoke(main, ["render", "attention", "--format", "png", "--out",
                                  str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: ValueError: no room for the scores (set TRANSFORMER_DEBUG=1 to see the "
        "traceback)")
    assert "Traceback" not in result.output
    assert snapshot(tmp_path) == before


# ---- writing: temporary names, renamed into place --------------------------------------------------

def test_atomic_write_leaves_no_temporary_file(tmp_path):
    from transformer_core.files import atomic_write

    path = tmp_path / "a.json"
    path.write_bytes(b"old")

    def writer(fh):
        fh.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, writer=writer)
    assert snapshot(tmp_path) == {"a.json": b"old"}
    atomic_write(path, b"new")
    assert snapshot(tmp_path) == {"a.json": b"new"}


def test_staged_folder_all_or_nothing(tmp_path):
    from transformer_core.files import staged_folder

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "01-a.png").write_bytes(b"old a")
    (tmp_path / "video.mp4").write_bytes(b"old video")
    (tmp_path / "mine.txt").write_bytes(b"someone's")
    with pytest.raises(RuntimeError), staged_folder(tmp_path) as stage:
        (stage / "video.mp4").write_bytes(b"new video")
        raise RuntimeError
    assert snapshot(tmp_path) == {"steps": None, "steps/01-a.png": b"old a",
                                  "video.mp4": b"old video", "mine.txt": b"someone's"}
    with staged_folder(tmp_path) as stage:
        (stage / "steps").mkdir()
        (stage / "steps" / "02-b.png").write_bytes(b"new b")
        (stage / "video.mp4").write_bytes(b"new video")
        assert (tmp_path / "video.mp4").read_bytes() == b"old video"  # not before the end
    assert snapshot(tmp_path) == {"steps": None, "steps/01-a.png": b"old a",
                                  "steps/02-b.png": b"new b", "video.mp4": b"new video",
                                  "mine.txt": b"someone's"}


# ---- interruption: real signals to real renders ----------------------------------------------------

def _start(args: list[str], tmp: Path, script: list[str] | None = None) -> subprocess.Popen:
    """A CLI process whose temporary files go to ``tmp``; Ctrl-C behaves as in a terminal
    even when the test runner was started with SIGINT ignored (a background job)."""
    tmp.mkdir(exist_ok=True)
    return subprocess.Popen(script or [sys.executable, "cli.py", *args], cwd=ROOT,
                            env={**os.environ, "TMPDIR": str(tmp)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 120) -> list[str]:
    deadline = time.monotonic() + timeout
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if needle in line:
            return lines
        assert time.monotonic() < deadline, "".join(lines)
    raise AssertionError(f"the process ended before {needle!r}: {''.join(lines)}")


def _finish(proc: subprocess.Popen, sig: int) -> tuple[int, str, float]:
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        rest = proc.stderr.read()
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
    return code, rest, time.monotonic() - sent


INTERRUPTED = re.compile(r"^Error: interrupted by SIG(INT|TERM): no half-written file was left")


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupted_render_keeps_the_earlier_video(tmp_path, sig, code):
    out = tmp_path / "renders"
    out.mkdir()
    (out / "attention.mp4").write_bytes(b"the earlier good video")
    (out / "attention.srt").write_bytes(b"the earlier subtitles")
    before = snapshot(out)
    tmp = tmp_path / "tmp"
    proc = _start(["render", "attention", "--quality", "low", "--no-web", "--out", str(out)],
                  tmp)
    _wait_for_line(proc, "step 2 of")  # mid-way: two steps encoded, seven to go
    assert [p.name for p in tmp.iterdir() if p.name.startswith("manim-media-")]  # Manim's files
    assert any(p.name.startswith(".staging-") for p in out.iterdir())
    returncode, rest, took = _finish(proc, sig)
    assert returncode == code, rest
    lines = [line for line in rest.splitlines() if line.strip()]
    assert len(lines) == 1 and INTERRUPTED.match(lines[0]), rest
    assert snapshot(out) == before  # the old bytes, and nothing else: no .part, no staging
    assert list(tmp.iterdir()) == []  # Manim's temporary media folder is gone too
    assert took < 10


FAKE_RENDER = """
import os, shutil, sys, types
from pathlib import Path
sys.path.insert(0, os.getcwd())
import scenes.writers.video

clip = Path(sys.argv[1])

def render_scene(name, options, quality, fmt, out_dir, progress, jobs=1, **more):
    out = Path(out_dir)
    shutil.copyfile(clip, out / f"{name}.mp4")
    (out / f"{name}.srt").write_text("1\\n00:00:00,000 --> 00:00:40,000\\nOne step.\\n")
    return types.SimpleNamespace(path=out / f"{name}.mp4", subtitles=out / f"{name}.srt",
                                 duration=40.0, stills=[])

scenes.writers.video.render_scene = render_scene
sys.argv = ["cli.py", *sys.argv[2:]]
import cli
cli.main()
"""


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        if ppid == pid:
            found.append((int(stat.parent.name), name))
    return found


def test_interrupted_publishing_kills_ffmpeg(tmp_path):
    """SIGTERM while ffmpeg encodes the web files: ffmpeg is stopped, nothing of the new set
    (not even the finished mp4) replaces the earlier files."""
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=854x480:rate=15:duration=40", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)], check=True)
    out = tmp_path / "renders"
    out.mkdir()
    for suffix in (".mp4", ".webm", ".gif", ".srt", ".vtt", ".poster.png"):
        (out / f"attention{suffix}").write_bytes(f"earlier {suffix}".encode())
    before = snapshot(out)
    script = tmp_path / "fake_render.py"
    script.write_text(FAKE_RENDER)
    proc = _start([], tmp_path / "tmp", [sys.executable, str(script), str(clip), "render",
                                         "attention", "--out", str(out)])
    deadline = time.monotonic() + 60
    while not any(name == "ffmpeg" for _, name in _children(proc.pid)):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    ffmpeg = [pid for pid, name in _children(proc.pid) if name == "ffmpeg"]
    returncode, rest, took = _finish(proc, signal.SIGTERM)
    assert returncode == 143, rest
    assert INTERRUPTED.match(rest.strip()), rest
    for pid in ffmpeg:  # gone, or a zombie waiting for init to reap it
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        assert stat[stat.rindex(")") + 2:].split()[0] in ("Z", "X"), stat
    assert snapshot(out) == before
    assert took < 10
