"""Caches never change a byte of output; unchanged work is skipped; render all runs every scene.

The persistent store (checksums, corrupt and foreign entries, pruning, clearing, switched off),
then real renders of a two-step test scene (``tests/tiny_scene.py``): with and without the
caches (cold and warm) the decoded video frames and the SVG files are identical, and so is a
video drawn by two processes; a damaged
cache entry is rebuilt, an unchanged re-render is skipped without touching a file, ``--force``
and a changed option render again, ``cache --clear`` says what it freed; and ``render all
--jobs 2`` through the real CLI writes every registered scene's video (in a catalogue of two
tiny scenes: every real scene's storyboard is played by ``test_every_scene``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from tests.tiny_scene import register
from transformer_core import cache

ROOT = Path(__file__).resolve().parent.parent


def _forget_in_memory() -> None:
    """Drop this process's in-memory copies, so the next render reads the disk cache."""
    from scenes.toolkit import mobjects, storyboard, text

    for fn in (text._text_points, text._baseline_points, text._mono_glyphs, mobjects._formula,
               storyboard._load_trace):
        fn.cache_clear()


def _frames(video: Path) -> list[np.ndarray]:
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.bin"))


# ---- the store -------------------------------------------------------------------------------

def test_store_round_trip_checksum_and_off(cache_home, monkeypatch):
    store = cache.Store("t")
    key = cache.digest("a", 1, b"x")
    assert store.get(key) is None
    store.put(key, b"payload")
    assert store.get(key) == b"payload"
    path = store.path(key)
    assert path.is_file() and path.parent.parent == cache_home / "t"
    blob = path.read_bytes()
    path.write_bytes(blob[:-1] + b"X")  # damaged payload: checksum fails
    assert store.get(key) is None and not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not one of ours at all")  # foreign
    assert store.get(key) is None
    store.put(key, b"again")
    assert store.get(key) == b"again"
    monkeypatch.setenv(cache.NO_CACHE_ENV, "1")
    assert store.get(key) is None
    other = cache.digest("b")
    store.put(other, b"ignored")
    assert not store.path(other).exists()


def test_prune_oldest_first_and_clear_counts(cache_home):
    store = cache.Store("t")
    keys = [cache.digest(i) for i in range(4)]
    for age, key in enumerate(keys):
        store.put(key, bytes(1000))
        os.utime(store.path(key), (1000 + age, 1000 + age))  # keys[0] is the oldest
    assert store.get(keys[0]) is not None  # a hit makes it the most recently used
    size = store.path(keys[1]).stat().st_size
    freed = cache.prune(limit=3 * size)
    assert freed == size
    assert not store.path(keys[1]).exists()
    assert all(store.path(k).exists() for k in (keys[0], keys[2], keys[3]))
    assert cache.usage() == 3 * size
    assert cache.clear() == (3, 3 * size)
    assert cache.usage() == 0 and _entries(cache_home) == []


def test_cache_root_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("TRANSFORMER_EXPLAINED_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_root() == tmp_path / "transformer-explained"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache.cache_root() == Path.home() / ".cache" / "transformer-explained"


# ---- renders with and without the caches ----------------------------------------------------

def test_cached_and_uncached_renders_are_identical(cache_home, monkeypatch, tmp_path):
    from scenes.writers.svg import export_svgs
    from scenes.writers.video import render_scene

    name = register(monkeypatch)
    videos, svgs = [], []
    for label, on in (("off", False), ("cold", True), ("warm", True)):
        cache.set_enabled(on)
        try:
            _forget_in_memory()
            result = render_scene(name, quality="low", out_dir=tmp_path / label)
            videos.append(_frames(result.path))
            _forget_in_memory()
            paths = export_svgs(name, out_dir=tmp_path / f"svg-{label}")
            svgs.append([p.read_bytes() for p in paths])
        finally:
            cache.set_enabled(True)
        if label == "off":
            assert _entries(cache_home) == []  # nothing read or written without the cache
    assert ({p.parent.parent.name for p in _entries(cache_home)}
            == {"text", "formula", "runs"})
    reference = videos[0]
    assert len(reference) > 10
    for frames in videos[1:]:
        assert len(frames) == len(reference)
        differ = [k for k, (a, b) in enumerate(zip(frames, reference, strict=True))
                  if not np.array_equal(a, b)]
        assert not differ, (differ, [int((frames[k] != reference[k]).any(axis=2).sum())
                                     for k in differ[:5]])
    assert len(svgs[0]) == 2 and svgs[1] == svgs[0] and svgs[2] == svgs[0]

    # Every entry damaged: ignored, rebuilt, same bytes.
    for entry in _entries(cache_home):
        entry.write_bytes(entry.read_bytes()[:40] + b"garbage")
    _forget_in_memory()
    paths = export_svgs(name, out_dir=tmp_path / "svg-rebuilt")
    assert [p.read_bytes() for p in paths] == svgs[0]
    store = cache.Store("text")
    rebuilt = [e for e in _entries(cache_home / "text")]
    assert rebuilt and all(store.get(e.stem) is not None for e in rebuilt)


def test_two_processes_draw_the_same_video(cache_home, monkeypatch, tmp_path):
    """Every other animation drawn by a forked process: the same frames and subtitles."""
    from scenes.writers.video import render_scene

    name = register(monkeypatch)
    one = render_scene(name, quality="low", out_dir=tmp_path / "one", jobs=1)
    two = render_scene(name, quality="low", out_dir=tmp_path / "two", jobs=2)
    frames_one, frames_two = _frames(one.path), _frames(two.path)
    assert len(frames_two) == len(frames_one) > 10
    differ = [k for k, (a, b) in enumerate(zip(frames_one, frames_two, strict=True))
              if not np.array_equal(a, b)]
    assert not differ, (differ, [int((frames_one[k] != frames_two[k]).any(axis=2).sum())
                                 for k in differ[:5]])
    assert two.subtitles.read_text() == one.subtitles.read_text()
    assert two.step_times == one.step_times


_FAULTS = """
import resource, threading
import numpy as np
from scenes.engine.frames import keep_freed_memory

def segment():  # as an encoder does: its buffers made in a thread of its own, filled, freed
    buffers = [np.empty(size, np.uint8) for size in (3 << 20, 2 << 20, 1 << 20, 5 << 19)]
    for buffer in buffers:
        buffer.fill(7)

def faults():  # the page faults of 20 segments
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        thread = threading.Thread(target=segment)
        thread.start()
        thread.join()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

plain = faults()
kept = keep_freed_memory()
print(plain, faults(), kept)
"""


def test_freed_memory_is_reused_not_faulted_in_again():
    """After keep_freed_memory (what a video render calls first), a segment's buffers take the
    memory the last segment freed: far fewer page faults than fresh pages for every segment
    (the x264 encoder of every segment made most of a render's half a million)."""
    out = subprocess.run([sys.executable, "-c", _FAULTS], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent, check=True).stdout
    plain, kept, ok = out.split()
    if ok != "True":
        pytest.skip("not glibc: its allocator keeps its own ways")
    pages = (3 + 2 + 1 + 2.5) * (1 << 20) / 4096  # one segment's buffers
    assert int(plain) > 15 * pages  # fresh pages, segment after segment
    assert int(kept) < 3 * pages  # the first segment's, then the same memory again


# ---- skipping unchanged work (the CLI) ------------------------------------------------------

def _render(args: list[str]):
    result = CliRunner().invoke(main, ["render", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_unchanged_render_skips_force_and_changed_option_render(cache_home, monkeypatch,
                                                                tmp_path):
    name = register(monkeypatch)
    out = tmp_path / "out"
    args = [name, "--no-web", "--out", str(out)]
    first = _render(args)
    assert "wrote" in first
    files = sorted(p for p in out.iterdir() if not p.name.startswith("."))
    assert [p.name for p in files] == [f"{name}.mp4", f"{name}.srt"]
    stamps = {p: p.stat().st_mtime_ns for p in files}
    dark = _frames(out / f"{name}.mp4")[0][5, 5].tolist()

    again = _render(args)
    assert f"{name}: skipped" in again and "wrote" not in again
    assert {p: p.stat().st_mtime_ns for p in files} == stamps

    forced = _render([*args, "--force"])
    assert "wrote" in forced
    assert all(p.stat().st_mtime_ns != stamps[p] for p in files)
    stamps = {p: p.stat().st_mtime_ns for p in files}

    light = _render([*args, "--theme", "light"])  # another option: rendered
    assert "wrote" in light
    assert _frames(out / f"{name}.mp4")[0][5, 5].tolist() != dark
    assert f"{name}: skipped" in _render([*args, "--theme", "light"])

    (out / f"{name}.srt").write_text("edited by hand\n")  # an output changed since
    assert "wrote" in _render([*args, "--theme", "light"])

    result = CliRunner().invoke(main, ["cache", "--clear"])
    assert result.exit_code == 0
    assert f"from {cache_home}" in result.output and _entries(cache_home) == []
    usage_line = CliRunner().invoke(main, ["cache"]).output
    assert usage_line.startswith(f"{cache_home}: 0 bytes")


def test_skip_key_tells_the_installed_tools_apart(cache_home, monkeypatch, tmp_path):
    """Another ffmpeg, LaTeX or dvisvgm first on PATH (wrappers: the same programs run through
    another file) gives another key; each changes only its own entry. A program's version line
    is asked once per program file, then read from the cache."""
    from scenes.engine import skip

    skip.tool_versions.cache_clear()
    base = dict(skip.tool_versions())
    assert {"manim", "pycairo", "av", "torch", "numpy", "cairo", "ffmpeg", "latex",
            "dvisvgm"} <= set(base)
    assert base["ffmpeg"].startswith("ffmpeg version")
    key = skip.make_key("render", "attention", {"quality": "low"})
    tools = tmp_path / "bin"
    tools.mkdir()
    runs = tmp_path / "runs"
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    for name in ("dvisvgm", "latex", "ffmpeg"):
        wrapper = tools / name
        # The same program, another file; LaTeX and FFmpeg also say something else first.
        say = "" if name == "dvisvgm" else f"echo {name} another build; "
        wrapper.write_text(f'#!/bin/sh\necho >> {runs}; {say}exec {shutil.which(name)} "$@"\n')
        wrapper.chmod(0o755)
        skip.tool_versions.cache_clear()
        other = skip.tool_versions()
        assert {n for n in base if other[n] != base[n]} == {name}
        assert skip.make_key("render", "attention", {"quality": "low"}) != key
        if name != "dvisvgm":  # known by its file, never run
            assert other[name] == f"{name} another build"
            asked = runs.read_text().count("\n")
            skip.tool_versions.cache_clear()
            assert skip.tool_versions() == other  # the same file: not asked again
            assert runs.read_text().count("\n") == asked
        wrapper.unlink()
    assert runs.read_text().count("\n") == 2  # latex and ffmpeg, once each
    skip.tool_versions.cache_clear()
    assert skip.tool_versions() == base


def test_cache_clear_reports_bytes(cache_home):
    store = cache.Store("text")
    for i in range(3):
        store.put(cache.digest(i), bytes(500))
    size = sum(p.stat().st_size for p in _entries(cache_home))
    cache.Store("runs").put(cache.digest("one"), bytes(2000))
    shown = CliRunner().invoke(main, ["cache"]).output.splitlines()
    assert shown[1] == f"  runs {(2000 + 40) / 1000:.1f} kB · text {size / 1000:.1f} kB"
    shutil.rmtree(cache_home / "runs")  # what follows counts the text store only
    result = CliRunner().invoke(main, ["cache", "--clear"])
    assert result.exit_code == 0
    assert result.output.startswith(f"freed {size / 1000:.1f} kB (3 files)")
    assert _entries(cache_home) == []


def test_skipped_svg_export_leaves_files(cache_home, monkeypatch, tmp_path):
    name = register(monkeypatch)
    out = tmp_path / "svg"
    first = CliRunner().invoke(main, ["svg", name, "--out", str(out)])
    assert first.exit_code == 0, first.output
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*.svg")}
    assert len(stamps) == 2
    again = CliRunner().invoke(main, ["svg", name, "--out", str(out)])
    assert f"{name}: skipped" in again.output
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.svg")} == stamps
    changed = CliRunner().invoke(main, ["svg", name, "--out", str(out), "--transparent"])
    assert f"{name}: skipped" not in changed.output and "01-title.svg" in changed.output


# ---- render all ------------------------------------------------------------------------------

TINY_CATALOGUE = """
import scenes.registry as registry
registry.SCENES.clear()
for name in ("tiny", "tiny2"):
    registry.SCENES[name] = registry.SceneInfo(module="tests.tiny_scene", cls="TinyScene",
                                               description="test scene")
"""


def tiny_catalogue_env(tmp_path: Path) -> dict:
    """An environment in which every Python process (the command and the scene processes it
    starts) sees a catalogue of two tiny scenes: a ``sitecustomize`` on ``PYTHONPATH`` swaps
    the registry at start-up, so ``render all`` runs its real machinery in seconds."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(TINY_CATALOGUE)
    path = os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"),
                TRANSFORMER_EXPLAINED_CACHE="", PYTHONPATH=path)


def test_render_all_jobs_2_writes_every_scene(tmp_path):
    """Every registered scene (a catalogue of two tiny ones), two processes at a time."""
    env = tiny_catalogue_env(tmp_path)
    listed = subprocess.run([sys.executable, str(ROOT / "cli.py"), "list"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["tiny", "tiny2"]
    out = tmp_path / "all"
    run = subprocess.run([sys.executable, str(ROOT / "cli.py"), "render", "all", "--jobs", "2",
                          "--no-web", "--out", str(out)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    for name in ("tiny", "tiny2"):
        assert f"[{name}] done in" in run.stdout
        assert f"[{name}] rendering {name}: step 1 of" in run.stdout  # its own progress
        with av.open(str(out / f"{name}.mp4")) as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert frames >= 30  # 2.3 s at 15 frames a second
    again = subprocess.run([sys.executable, str(ROOT / "cli.py"), "render", "all", "--no-web",
                            "--out", str(out)], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0
    assert all(f"[{name}] {name}: skipped" in again.stdout for name in ("tiny", "tiny2"))


def test_render_all_same_mistake_once(tmp_path):
    env = tiny_catalogue_env(tmp_path)
    run = subprocess.run([sys.executable, str(ROOT / "cli.py"), "render", "all", "--head", "7",
                          "--out", str(tmp_path / "x")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith("Error:")
    assert "head 7 is out of range" in run.stderr


def test_render_all_ctrl_c_stops_every_process(tmp_path):
    """Ctrl-C in a terminal reaches the whole process group: every scene process stops, the
    command exits 130 with one line, and no process is left behind."""
    import signal
    import time

    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), TRANSFORMER_EXPLAINED_CACHE="")
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "render", "all", "--jobs",
                             "2", "--format", "png", "--out", str(tmp_path / "out")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "step 1 of" in line:
            break
    children = [int(p.name) for p in Path("/proc").glob("[0-9]*")
                if _parent(p) == proc.pid]
    assert len(children) == 2, seen
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert [line for line in err.splitlines() if line.strip()][-1].startswith(
        "Error: interrupted by SIGINT")
    time.sleep(0.5)
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)  # none left running
    assert not list((tmp_path / "out").rglob("*.part"))


def _parent(proc_dir: Path) -> int | None:
    try:
        text = (proc_dir / "stat").read_text()
    except OSError:
        return None
    return int(text[text.rindex(")") + 2:].split()[1])


def test_render_all_starts_the_longest_scene_first(tmp_path):
    """The order follows the times of the last `render all` (longest first); the times of
    scenes that rendered are kept, those of skipped ones are not."""
    env = tiny_catalogue_env(tmp_path)
    code = ("import sys; from scenes.cli.jobs import record_render_times as r, render_times as t;"
            "r('low mp4', {'tiny': 1.0, 'tiny2': 50.0}); print(t('low mp4'))")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    out = tmp_path / "all"
    args = [sys.executable, str(ROOT / "cli.py"), "render", "all", "--jobs", "1", "--no-web",
            "--out", str(out)]
    run = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.index("[tiny2] started") < run.stdout.index("[tiny] started")
    read = ("from scenes.cli.jobs import render_times as t; import json;"
            "print(json.dumps(t('low mp4')))")
    times = json.loads(subprocess.run([sys.executable, "-c", read], cwd=ROOT, env=env, check=True,
                                      capture_output=True, text=True, timeout=60).stdout)
    assert set(times) == {"tiny", "tiny2"} and all(0 < v < 50.0 for v in times.values())
    # Both tiny scenes took about as long; now unchanged, both skip: the times stay.
    again = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0 and "skipped" in again.stdout
    kept = json.loads(subprocess.run([sys.executable, "-c", read], cwd=ROOT, env=env, check=True,
                                     capture_output=True, text=True, timeout=60).stdout)
    assert kept == times
