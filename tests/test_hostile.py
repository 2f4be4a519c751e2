"""Hostile and unlucky input, round two (issue #34): the defects a probe of 560 runs found.

Each test reproduces one finding of /work/shared/reviews/2026-12-reliability-probe.md (D1-D15)
and checks what must hold instead: one line, the right exit code, nothing lost, nothing stale.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main


@pytest.fixture
def runner():
    return CliRunner()


# ---- D1: --out never renames over a device, a FIFO or a symbolic link ------------------------

def _read_fifo(path: Path, got: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as fh:
            got.append(fh.read())
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_trace_out_writes_into_a_fifo(runner, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    result = runner.invoke(main, ["trace", "--json", "--out", str(fifo)])
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a plain file"
    reader.join(10)
    assert got and json.loads(got[0])["model"] == "translate"
    assert os.listdir(tmp_path) == ["pipe"]  # no temporary file left beside it


@pytest.mark.skipif(os.geteuid() != 0, reason="only root makes device nodes")
@pytest.mark.parametrize("command", [["trace", "--json"], ["gallery"]])
def test_out_writes_into_a_device_node(runner, tmp_path, command):
    node = tmp_path / "mynull"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    if command[0] == "gallery":
        renders = tmp_path / "renders" / "svg" / "attention"
        renders.mkdir(parents=True)
        (renders / "01-title.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
        command = [*command, "--renders", str(tmp_path / "renders")]
    result = runner.invoke(main, [*command, "--out", str(node)])
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(node).st_mode), "the device node was replaced by a plain file"


def test_out_through_a_symlink_keeps_the_link(runner, tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = runner.invoke(main, ["trace", "--json", "--out", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert json.loads(target.read_text())["model"] == "translate"
    assert sorted(os.listdir(tmp_path)) == ["link.json", "real.json"]


# ---- D2: the clip and notebook caches key on the bytes of the model actually used ------------

def _retrained(path: Path, bump: float) -> Path:
    """The shipped lm with one weight changed, saved to ``path`` (a retrain in place)."""
    import torch

    from transformer_core.checkpoint import load_model, save_model

    lm = load_model("lm")
    with torch.no_grad():
        next(lm.model.parameters()).add_(bump)
    save_model(lm, path)
    return path


def test_clip_key_covers_the_checkpoint_used(tmp_path):
    from scenes.toolkit.storyboard import SceneOptions
    from scenes.writers.clips import fingerprint

    path = _retrained(tmp_path / "my.pt", 0.0)
    options = SceneOptions(model="lm", checkpoint=str(path))
    keys = {kind: fingerprint("attention", options, "low", kind) for kind in ("clips", "step:title")}
    _retrained(path, 0.5)  # same path, new model
    assert all(fingerprint("attention", options, "low", kind) != key for kind, key in keys.items())


# ---- D3: a checkpoint's sizes are bounded at load, before anything of those sizes is made ----

def _tampered(tmp_path: Path, name: str = "lm", **config) -> Path:
    """The shipped ``name`` checkpoint with its config changed (the weights as they are)."""
    import torch

    from transformer_core.checkpoint import default_path

    payload = torch.load(default_path(name), weights_only=True)
    payload["config"] = {**payload["config"], **config}
    path = tmp_path / f"{name}-{'-'.join(f'{k}{v}' for k, v in config.items())}.pt"
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("config,needle", [
    ({"max_len": 5000}, "max_len is 5000"),
    ({"max_len": 10**8}, "max_len is 100000000"),
    ({"tgt_vocab_size": 10**6}, "tgt_vocab_size is 1000000"),
    ({"d_model": 1024, "d_head": 512}, "d_model is 1024"),
    ({"n_dec_layers": 200}, "n_dec_layers is 200"),
    ({"d_ff": "32"}, "d_ff is '32', not a whole number"),
    ({"ln_eps": -1.0}, "ln_eps is -1.0"),
])
def test_checkpoint_sizes_are_bounded_at_load(runner, tmp_path, monkeypatch, config, needle):
    import transformer_core.model as model

    built = []
    monkeypatch.setattr(model.Transformer, "__init__",
                        lambda self, cfg: built.append(cfg) or (_ for _ in ()).throw(MemoryError))
    path = _tampered(tmp_path, **config)
    result = runner.invoke(main, ["trace", "--checkpoint", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "beyond what this tool shows" in result.output and needle in result.output
    assert not built  # refused before the model (and its tables) was made


def test_the_shipped_and_trained_sizes_are_within_bounds():
    from transformer_core.checkpoint import check_config_bounds, load_model
    from transformer_core.config import Config

    for name in ("lm", "translate"):
        check_config_bounds(load_model(name).cfg.to_dict(), name)
    biggest = Config(mode="encdec", src_vocab_size=1004, tgt_vocab_size=1004, n_enc_layers=2,
                     n_dec_layers=2, max_len=12)  # the most train_corpus plans
    check_config_bounds(biggest.to_dict(), "translate")
    # a kind states its own limits
    with pytest.raises(ValueError, match="max_len is 41, outside the 1..40 that a 'llama'"):
        check_config_bounds({**biggest.to_dict(), "max_len": 41}, "llama", {"max_len": (1, 40)})


def test_a_zip_bomb_checkpoint_is_refused_before_it_is_unpacked(tmp_path):
    import zipfile

    from transformer_core.checkpoint import NotACheckpointError, load_checkpoint

    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb/data.pkl", "w") as fh:
            block = bytes(1 << 20)
            for _ in range(64):  # 64 MB of zeros in about 64 kB
                fh.write(block)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(NotACheckpointError, match="would unpack to 67 MB"):
        load_checkpoint(path)


# ---- D4, D8, D9: the clip and notebook caches heal, survive a clear, work without a cache ----

STEPS2 = [("a", "first"), ("b", "second")]


@pytest.fixture
def fake_render(monkeypatch):
    """clips._render made instant: writes the files a two-step render writes; counts calls.
    ``during`` runs in the middle of the render (another process clearing the cache, say)."""
    from scenes.writers import clips

    calls: list[Path] = []
    during: list = []

    def render(scene, options, quality, out, progress):
        calls.append(out)
        (out / "video.mp4").write_bytes(b"whole video" * 100)
        for i, (name, _) in enumerate(STEPS2, 1):
            (out / f"{i:02d}-{name}.png").write_bytes(b"poster %d" % i * 100)
            for hook in during:
                hook()
            (out / f"{i:02d}-{name}.mp4").write_bytes(b"clip %d" % i * 100)
        return {"steps": [list(s) for s in STEPS2], "times": [[0, 1], [1, 2.5]],
                "width": 854, "height": 480}

    monkeypatch.setattr(clips, "_render", render)
    return calls, during


def _contents(clips) -> dict[str, bytes]:
    files = [clips.video] + [f(i) for i in range(len(clips.steps)) for f in (clips.clip, clips.poster)]
    return {p.name: p.read_bytes() for p in files}


def _truncate(entry: Path) -> None:
    path = entry / "01-a.mp4"
    path.write_bytes(path.read_bytes()[:10])


def _scramble(entry: Path) -> None:
    path = entry / "02-b.png"
    path.write_bytes(os.urandom(path.stat().st_size))


def _json(value):
    return lambda entry: (entry / "clips.json").write_text(json.dumps(value))


def _file_for_folder(entry: Path) -> None:
    import shutil

    shutil.rmtree(entry)
    entry.write_bytes(b"not a folder")


def _file_for_root(entry: Path) -> None:
    import shutil

    shutil.rmtree(entry.parent)
    entry.parent.write_bytes(b"not a folder")


@pytest.mark.parametrize("corrupt", [_truncate, _scramble, _json({}), _json([]),
                                     _json({"steps": 3}), _file_for_folder, _file_for_root],
                         ids=["clip-truncated", "poster-random", "json-empty-dict", "json-list",
                              "json-foreign", "entry-is-a-file", "clips-is-a-file"])
def test_a_corrupt_clip_entry_is_rendered_again(tmp_path, fake_render, corrupt):
    from scenes.writers.clips import step_clips

    calls, _ = fake_render
    first = step_clips("attention", cache=tmp_path)
    good = _contents(first)
    assert step_clips("attention", cache=tmp_path) == first and len(calls) == 1  # a hit
    corrupt(first.folder)
    again = step_clips("attention", cache=tmp_path)
    assert len(calls) == 2 and again.folder == first.folder and _contents(again) == good
    assert step_clips("attention", cache=tmp_path) == again and len(calls) == 2  # healed


def test_a_cache_clear_during_the_render_does_not_fail_it(tmp_path, fake_render):
    from scenes.writers.clips import step_clips
    from transformer_core import cache

    calls, during = fake_render
    during.append(lambda: cache.clear(tmp_path))
    clips = step_clips("attention", cache=tmp_path)
    assert len(calls) == 1 and len(_contents(clips)) == 5


@pytest.mark.parametrize("how", ["below-a-file", "full"])
def test_clips_work_without_a_writable_cache(tmp_path, fake_render, monkeypatch, how):
    import shutil

    from scenes.writers import clips as clip_cache

    calls, _ = fake_render
    if how == "below-a-file":
        (tmp_path / "file").write_bytes(b"x")
        root = tmp_path / "file" / "cache"
    else:  # every copy into the cache fails as on a full disk
        root = tmp_path / "cache"

        def full(src, dst, *a, **k):
            raise OSError(28, "No space left on device", str(dst))
        monkeypatch.setattr(shutil, "copyfile", full)
    clips = clip_cache.step_clips("attention", cache=root)
    monkeypatch.undo()
    assert len(calls) == 1 and len(_contents(clips)) == 5
    assert not str(clips.folder).startswith(str(tmp_path))  # a private folder, not the cache
    clip_cache._remove_private()
    assert not clips.folder.exists()  # removed when the process ends


def test_a_corrupt_notebook_step_is_rebuilt(tmp_path):
    from scenes.notebook import scene_step

    first = scene_step("attention", "title", cache=tmp_path)
    ET = pytest.importorskip("xml.etree.ElementTree")
    ET.fromstring(first.svg)
    entries = [p for p in (tmp_path / "steps").rglob("*") if p.is_file()]
    assert len(entries) == 1
    entries[0].write_bytes(entries[0].read_bytes()[:500])  # truncated
    assert scene_step("attention", "title", cache=tmp_path).svg == first.svg


def test_a_folder_where_a_cache_entry_goes_is_rebuilt(tmp_path, cache_home):
    from transformer_core.cache import Store

    store = Store("steps")
    key = "ab" * 32
    store.path(key).mkdir(parents=True)
    (store.path(key) / "inside").write_bytes(b"x")
    assert store.get(key) is None  # a miss, not an error
    store.put(key, b"payload")
    assert store.get(key) == b"payload"


# ---- D5: render --format png removes the stills of steps the new storyboard lacks -------------

def test_png_render_removes_stale_stills(runner, tmp_path):
    from scenes.registry import get_scene_class
    from scenes.toolkit.storyboard import SceneOptions

    stills = tmp_path / "attention-steps"
    stills.mkdir()
    for name in ("07-mask.png", "10-summary.png"):  # an lm render's steps, not translate's
        (stills / name).write_bytes(b"the other model")
    (stills / "notes.txt").write_text("mine")  # not a still: left alone
    result = runner.invoke(main, ["render", "attention", "--model", "translate", "--format", "png",
                                  "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    steps = get_scene_class("attention").storyboard(SceneOptions(model="translate"))
    expected = [f"{i:02d}-{s.name}.png" for i, s in enumerate(steps, 1)]
    assert sorted(p.name for p in stills.iterdir()) == sorted([*expected, "notes.txt"])


# ---- D6: control characters never become words, nor reach XML ------------------------------

@pytest.mark.parametrize("line", ["ctl\x01x sat", "esc \x1b[31m red", "the \x1f cat", "del\x7f it"])
def test_a_corpus_with_control_characters_is_refused(runner, tmp_path, line):
    corpus = tmp_path / "ctl.txt"
    corpus.write_text(f"the cat sat\n{line}\nthe dog ran\n", encoding="utf-8")
    result = runner.invoke(main, ["train", "lm", "--corpus", str(corpus),
                                  "--out", str(tmp_path / "ctl.pt")])
    assert result.exit_code == 2, result.output
    assert "line 2 holds the control character U+" in result.output
    assert not (tmp_path / "ctl.pt").exists()


@pytest.mark.parametrize("field,value,needle", [
    ("tgt_vocab", "ctl\x01x", "tgt_vocab holds a word with the control character U+0001"),
    ("tgt_vocab", "nul\x00", "control character U+0000"),
    ("tgt_vocab", 7, "holds 7, not a word"),
    ("default_sentence", "the \x1b[2J bird", "default sentence holds the control character U+001B"),
])
def test_a_checkpoint_with_control_characters_is_refused(runner, tmp_path, field, value, needle):
    import torch

    from transformer_core.checkpoint import default_path

    payload = torch.load(default_path("lm"), weights_only=True)
    if field == "tgt_vocab":
        payload["tgt_vocab"] = [*payload["tgt_vocab"][:-1], value]  # the same size
    else:
        payload[field] = value
    path = tmp_path / "ctl.pt"
    torch.save(payload, path)
    result = runner.invoke(main, ["trace", "--checkpoint", str(path)])
    assert result.exit_code == 1, result.output
    assert needle in result.output and len(result.output.strip().splitlines()) == 1


def test_svg_text_is_always_well_formed_xml():
    import xml.etree.ElementTree as ET

    from scenes.writers.svg import xml_text

    text = "a\x01b\x1b[0m <b>&\ud800 \t end"
    desc = ET.fromstring(f"<desc>{xml_text(text)}</desc>").text
    assert desc == "a\ufffdb\ufffd[0m <b>&\ufffd \t end"


# ---- D7: an svg export is all-or-nothing per scene -------------------------------------------

def test_an_interrupted_svg_export_leaves_the_earlier_set_whole(tmp_path, monkeypatch):
    from scenes.toolkit.storyboard import SceneOptions
    from scenes.writers.svg import export_svgs
    from tests.tiny_scene import register

    name = register(monkeypatch)
    export_svgs(name, SceneOptions(theme="dark"), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert len(before) == 2

    def stop_at_the_second(scene, index, step) -> None:
        if index == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        export_svgs(name, SceneOptions(theme="light"), tmp_path, listeners=[stop_at_the_second])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no new 01 beside old 02
    reported = []
    export_svgs(name, SceneOptions(theme="light"), tmp_path,
                progress=lambda path, status: reported.append((path.name, status)))
    assert reported == [(n, "written") for n in sorted(before)]
    assert all(p.read_bytes() != before[p.name] for p in tmp_path.iterdir())


def test_commit_files_that_fails_changes_nothing(tmp_path):
    from transformer_core.files import commit_files

    (tmp_path / "01-a.svg").write_bytes(b"old a")
    (tmp_path / "03-c.svg").write_bytes(b"old c")
    with pytest.raises(TypeError):
        commit_files(tmp_path, {"01-a.svg": b"new a", "02-b.svg": None},
                     remove=[tmp_path / "03-c.svg"])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"01-a.svg": b"old a",
                                                                    "03-c.svg": b"old c"}
    commit_files(tmp_path, {"01-a.svg": b"new a", "02-b.svg": b"new b"}, remove=[tmp_path / "03-c.svg"])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"01-a.svg": b"new a",
                                                                    "02-b.svg": b"new b"}


# ---- D10: a FIFO or a device as --checkpoint or --corpus is refused, not read -----------------

def _special(tmp_path: Path, what: str) -> Path:
    """A FIFO (a writer that closes at once, so an unfixed read ends instead of hanging), or
    a link to a null device of our own (never /dev/zero: an unfixed read would never end)."""
    if what == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
        threading.Thread(target=lambda: open(path, "wb").close(), daemon=True).start()
        return path
    if os.geteuid() != 0:
        pytest.skip("only root makes device nodes")
    node = tmp_path / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    link = tmp_path / "link"
    link.symlink_to(node)
    return link


@pytest.mark.parametrize("what", ["fifo", "device"])
@pytest.mark.parametrize("command,code", [(["trace", "--checkpoint"], 1),
                                          (["train", "lm", "--corpus"], 2)])
def test_a_special_file_as_checkpoint_or_corpus_is_refused(runner, tmp_path, what, command, code):
    path = _special(tmp_path, what)
    result = runner.invoke(main, [*command, str(path), *(["--out", str(tmp_path / "x.pt")]
                                                         if command[0] == "train" else [])])
    assert result.exit_code == code and "is not a regular file" in result.output, result.output


def test_file_digest_reads_no_special_file(tmp_path):
    from transformer_core.files import file_digest

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert file_digest(fifo) is None  # returns at once: a FIFO is never opened
    (tmp_path / "big").write_bytes(b"x" * 100)
    assert file_digest(tmp_path / "big", limit=99) is None
    assert file_digest(tmp_path / "big") is not None


# ---- D11: non-finite numbers: refused in a checkpoint, NaN shown as it is compares equal -----

def test_nan_shown_for_nan_is_a_match():
    from transformer_core.explain import matches

    nan = float("nan")
    assert matches("nan", nan) and not matches("0.50", nan) and not matches("nan", 0.5)
    assert matches("\u2212\u221e", float("-inf")) and not matches("nan", float("inf"))


def test_verify_accepts_a_diverged_training_step_shown_as_it_is(runner):
    result = runner.invoke(main, ["verify", "training", "--lr", "1e308"])
    assert result.exit_code == 0, result.output
    assert "equal the model's values" in result.output


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_checkpoint_with_non_finite_weights_is_refused(runner, tmp_path, value):
    import torch

    from transformer_core.checkpoint import default_path

    payload = torch.load(default_path("lm"), weights_only=True)
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = payload["state_dict"][name].clone().fill_(value)
    path = tmp_path / "nonfinite.pt"
    torch.save(payload, path)
    result = runner.invoke(main, ["svg", "heads", "--checkpoint", str(path), "--out",
                                  str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert f"its weight {name} holds NaN or infinite numbers" in result.output
    assert len(result.output.strip().splitlines()) == 1


# ---- D12: numbers and bytes that cannot work are usage errors (exit 2), not "unexpected" -----

@pytest.mark.parametrize("args,needle", [
    (["verify", "generate", "--model", "lm", "--sample", "nan"], "not nan"),
    (["verify", "generate", "--model", "lm", "--sample", "inf"], "not inf"),
    (["verify", "generate", "--model", "lm", "--sample", "1e-300"], "not 1e-300"),
    (["verify", "generate", "--model", "lm", "--sample", "1", "--seed", "-1"], "--seed"),
    (["train", "lm", "--seed", str(2**70)], "--seed"),
    (["trace", "--sentence", "jane \udcff visits"], "not valid UTF-8 text (byte 0xff)"),
    (["svg", "attention", "--sentence", "jane \udcff visits"], "not valid UTF-8 text"),
])
def test_impossible_numbers_and_bytes_are_usage_errors(runner, args, needle):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("value", ["nan", "1e309", "-inf"])
def test_a_cache_limit_that_is_no_number_means_the_default(runner, monkeypatch, cache_home, value):
    from transformer_core import cache

    monkeypatch.setenv("TRANSFORMER_CACHE_MB", value)
    assert cache.limit_bytes() == cache.DEFAULT_LIMIT_MB * 1_000_000
    result = runner.invoke(main, ["cache"])
    assert result.exit_code == 0, result.output


# ---- D13: a relative path with a colon reaches ffmpeg as a file, not a protocol ---------------

def test_a_relative_out_with_a_colon_is_a_file_to_ffmpeg(tmp_path, monkeypatch):
    import subprocess

    from scenes.writers.publish import extract_poster, probe

    folder = tmp_path / "data:x"
    folder.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x64:rate=5:duration=1", "-pix_fmt", "yuv420p",
                    str(folder / "clip.mp4")], check=True)
    monkeypatch.chdir(tmp_path)
    assert probe(Path("data:x/clip.mp4"))["width"] == 64
    poster = extract_poster(Path("data:x/clip.mp4"), Path("data:x/poster.png"), 0.5)
    assert (folder / "poster.png").stat().st_size > 0 and poster == Path("data:x/poster.png")


# ---- D14, D9: an OSError names the path that failed: a copy's destination, not its source -----

def test_an_os_error_names_the_destination():
    from scenes.cli.errors import describe
    from transformer_core.files import error_path

    full = OSError(28, "No space left on device", "/tmp/media/AttentionScene.mp4", None,
                   "/mnt/small/.staging-x/attention.mp4")
    assert describe(full).startswith("No space left on device (/mnt/small/.staging-x/attention.mp4)")
    assert error_path(OSError(2, "No such file or directory", "/a")) == "/a"
    assert error_path(OSError("no errno")) is None


# ---- D15: the smaller items -------------------------------------------------------------------

@pytest.mark.parametrize("kind,text,needle", [
    ("translate", "a b\tc d\nthe cat\t\n", "line 2: the target has no words"),
    ("translate", "a b\tc d\n\tle chat\n", "line 2: the source has no words"),
    ("lm", "the cat sat\n" + "w " * 20 + "\n" + "x " * 30 + "\n",
     "has only one sentence (2 more were skipped as longer than 11 tokens)"),
])
def test_corpus_messages_say_what_is_wrong(tmp_path, kind, text, needle):
    from transformer_core.corpus import CorpusError, read_corpus

    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        read_corpus(path, kind)
    assert needle in str(caught.value)


@pytest.mark.parametrize("args", [["trace", "--json", "--out", ""], ["svg", "attention", "--out", ""],
                                  ["render", "attention", "--out", " "], ["slides", "attention", "--out", ""],
                                  ["gallery", "--renders", ""], ["train", "lm", "--corpus", ""]])
def test_an_empty_path_is_a_usage_error(runner, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "an empty path" in result.output and os.listdir(tmp_path) == []


def test_a_huge_unknown_word_is_not_echoed_whole(runner):
    word = "x" * 100_000
    result = runner.invoke(main, ["trace", "--sentence", f"jane {word} visits"])
    assert result.exit_code == 0, result.output
    note = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and len(note[0]) < 200 and "(100000 characters)" in note[0]


def test_slides_missing_ffmpeg_suggests_no_option_it_lacks(runner, tmp_path, monkeypatch):
    import shutil

    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("latex", "dvisvgm"):
        (folder / tool).symlink_to(shutil.which(tool))
    monkeypatch.setenv("PATH", str(folder))
    result = runner.invoke(main, ["slides", "attention", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "ffmpeg and ffprobe not found (needed for the slides' video clips)" in result.output
    assert "--no-web" not in result.output


def test_a_step_that_leaves_the_loss_unchanged_is_not_called_too_large(runner):
    result = runner.invoke(main, ["trace", "--grad", "--lr", "1e-320"])
    assert result.exit_code == 0, result.output
    assert "went up" not in result.output
    assert "the loss did not change" in result.output


def test_staging_folders_left_by_a_killed_process_are_removed(tmp_path):
    import fcntl
    import time

    from transformer_core.files import staged_folder

    old = time.time() - 3600
    for name in (".staging-killed", ".staging-running", ".staging-just-made"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "01-a.png").write_bytes(b"x")
    for name in (".staging-killed", ".staging-running"):
        os.utime(tmp_path / name, (old, old))
    running = os.open(tmp_path / ".staging-running", os.O_RDONLY)  # another command's lock
    fcntl.flock(running, fcntl.LOCK_EX)
    try:
        with staged_folder(tmp_path) as stage:
            (stage / "new.txt").write_text("new")
    finally:
        os.close(running)
    assert sorted(os.listdir(tmp_path)) == [".staging-just-made", ".staging-running", "new.txt"]


def test_a_second_signal_after_the_first_is_ignored_until_exit():
    import signal
    import time

    from scenes.cli.signals import signals_unwind

    try:
        with pytest.raises(KeyboardInterrupt):
            with signals_unwind():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # a second one: no death by it
        with signals_unwind():  # without a signal, the handler before is back
            pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with signals_unwind():
        pass
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_one_foreign_svg_does_not_fail_the_gallery(runner, tmp_path):
    folder = tmp_path / "svg" / "attention"
    folder.mkdir(parents=True)
    (folder / "01-title.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10px" '
                                         'height="10px"><title>attention, step 1</title></svg>')
    (folder / "02-broken.svg").write_bytes(b"<svg><title>trunc")
    result = runner.invoke(main, ["gallery", "--renders", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "(0 videos, 1 diagram)" in result.output
    assert "left out 1 file that is not a readable SVG" in result.output and "02-broken.svg" in result.output
    page = (tmp_path / "index.html").read_text()
    assert "01-title.svg" in page and "02-broken.svg" not in page


def test_cache_clear_says_what_it_could_not_remove(runner, cache_home, monkeypatch):
    from transformer_core.cache import Store

    Store("text").put("ab" * 32, b"gone")
    Store("text").put("cd" * 32, b"stuck")
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if "cdcd" in os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_unlink(path, *args, **kwargs)
    monkeypatch.setattr(os, "unlink", unlink)
    result = runner.invoke(main, ["cache", "--clear"])
    assert result.exit_code == 1, result.output
    assert "freed" in result.output and "1 entry could not be removed" in result.output
    assert "Permission denied" in result.output


def test_srt_carries_no_markup_a_player_would_act_on():
    from scenes.toolkit.storyboard import Step
    from scenes.writers.publish import format_vtt, parse_srt
    from scenes.writers.video import format_srt

    caption = r"<eos> ends it; <b>bold</b> <svg/onload=alert(1)> {\an8}top"
    srt = format_srt([Step("a", caption)], [(0.0, 1.0)])
    body = srt.splitlines()[2]
    assert "<" not in body and ">" not in body and "{\\" not in body
    assert body.startswith("\u2039eos\u203a ends it")
    (cue,) = parse_srt(srt)
    assert cue.text == caption  # read back exactly: the WebVTT escapes it its own way
    assert "&lt;eos&gt; ends it" in format_vtt([cue])


def test_a_vocabulary_too_large_for_a_scene_is_a_checkpoint_problem(runner, tmp_path):
    import torch

    from transformer_core.checkpoint import LoadedModel, save_model
    from transformer_core.config import Config
    from transformer_core.model import Transformer
    from transformer_core.tokenizer import Vocab

    torch.manual_seed(0)
    vocab = Vocab([f"w{i}" for i in range(40)])
    cfg = Config(mode="decoder", tgt_vocab_size=len(vocab), n_dec_layers=1)
    path = tmp_path / "big-vocab.pt"
    save_model(LoadedModel("lm", Transformer(cfg), None, vocab, "w1 w2 w3", {}), path)
    result = runner.invoke(main, ["svg", "embedding", "--checkpoint", str(path), "--out",
                                  str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "Invalid value for --checkpoint:" in result.output
    assert "at most 34 words, and this model's vocabulary has 44" in result.output


@pytest.mark.parametrize("sentence", ["jane " + "x" * 200 + " visits",
                                      "jane " + "y" * 100_000 + " visits africa in september"])
def test_a_long_word_keeps_the_embedding_scene_readable(sentence):
    from scenes.toolkit.storyboard import SceneOptions
    from tests.scene_checks import assert_inside_frame, assert_readable_at_480p, capture

    _, states = capture("embedding", SceneOptions(sentence=sentence))
    assert_readable_at_480p(states)
    assert_inside_frame(states)
