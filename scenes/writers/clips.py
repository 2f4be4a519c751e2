"""One clip per storyboard step, cut by Manim itself, cached: what the slides and notebooks play.

:func:`step_clips` renders a scene once with Manim's ``save_sections``: the storyboard already
opens one section per step, so Manim writes each step's animation as its own mp4 (the step's
partial movies joined without re-encoding, so every clip is frame-exact and ends on the step's
end state) beside the whole video. A step listener saves each end state as a PNG (the poster
shown where a video cannot play). The result lands in a cache folder named by a hash of
everything that decides the pixels: the scene, its options, the quality, the source code of
``scenes`` and ``transformer_core``, the model's checkpoint and Manim's version; the same inputs
find the folder again, so a notebook cell or ``cli.py slides`` runs again instantly.

    <cache>/clips/<key>/video.mp4       the whole scene
    <cache>/clips/<key>/NN-step.mp4     step NN's animation
    <cache>/clips/<key>/NN-step.png     step NN's end state
    <cache>/clips/<key>/clips.json      steps, captions, (start, end) times, file names

The cache is ``$TRANSFORMER_EXPLAINED_CACHE``, else ``$XDG_CACHE_HOME/transformer-explained``,
else ``~/.cache/transformer-explained``; only the :data:`KEEP` newest entries are kept. As every
cache here, it is never trusted blindly and never an error: ``clips.json`` records each file's
size and SHA-256, and an entry that does not match (truncated, corrupt, foreign, a file where
the folder goes) is removed and rendered again. The render is made in a private temporary
folder and copied into the cache only when complete (``cache --clear`` meanwhile cannot take
it away); a cache that cannot be written (full, read-only) only means no caching: the clips
are then used from that temporary folder, removed when the process ends.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Clips", "KEEP", "cache_root", "fingerprint", "step_clips"]

KEEP = 24  # cached renders kept (the oldest beyond this are removed)
_PACKAGES = ("scenes", "transformer_core")


@dataclass(frozen=True)
class Clips:
    """A rendered scene cut into steps (files in ``folder``)."""

    scene: str
    folder: Path
    steps: list[tuple[str, str]]  # (name, caption) in storyboard order
    times: list[tuple[float, float]]  # (start, end) of each step in video.mp4, seconds
    width: int
    height: int

    @property
    def video(self) -> Path:
        return self.folder / "video.mp4"

    def clip(self, index: int) -> Path:
        return self.folder / f"{index + 1:02d}-{self.steps[index][0]}.mp4"

    def poster(self, index: int) -> Path:
        return self.folder / f"{index + 1:02d}-{self.steps[index][0]}.png"

    @property
    def duration(self) -> float:
        return self.times[-1][1] if self.times else 0.0


def cache_root() -> Path:
    """Where renders are cached (see the module docstring)."""
    if os.environ.get("TRANSFORMER_EXPLAINED_CACHE"):
        return Path(os.environ["TRANSFORMER_EXPLAINED_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "transformer-explained"


def _source_digest() -> str:
    """A hash of every Python file of the packages that draw (any code change: a new key)."""
    import importlib

    digest = hashlib.sha256()
    for package in _PACKAGES:
        root = Path(importlib.import_module(package).__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root.parent).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(scene: str, options, quality: str, kind: str = "clips") -> str:
    """The cache key: a hash of everything that decides what a render of ``scene`` shows."""
    import manim

    from transformer_core.files import file_digest
    from transformer_core.runs import checkpoint_file

    # The bytes of the model the render shows: the --checkpoint given, else the shipped one
    # (a checkpoint retrained in place is a new key).
    checkpoint = file_digest(checkpoint_file(options.model, options.checkpoint)) or "missing"
    parts = {"kind": kind, "scene": scene, "options": asdict(options), "quality": quality,
             "source": _source_digest(), "checkpoint": checkpoint, "manim": manim.__version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:20]


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _load(folder: Path, scene: str) -> Clips | None:
    """The clips in ``folder``, or None unless every file is there with the size and SHA-256
    that clips.json records (a missing, truncated, corrupt or foreign entry)."""
    try:
        meta = json.loads((folder / "clips.json").read_text(encoding="utf-8"))
        clips = Clips(scene, folder, [(str(n), str(c)) for n, c in meta["steps"]],
                      [(float(a), float(b)) for a, b in meta["times"]],
                      int(meta["width"]), int(meta["height"]))
        files = [clips.video] + [f(i) for i in range(len(clips.steps))
                                 for f in (clips.clip, clips.poster)]
        recorded = meta["files"]
        for path in files:
            size, sha = recorded[path.name]
            if path.stat().st_size != size or _digest(path) != sha:
                return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None
    return clips


def _remove(path: Path) -> None:
    """Whatever is at ``path`` (a folder, or a file where a folder should be)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


STALE_SECONDS = 24 * 3600  # a staging folder this old was left by a killed process


def _prune(root: Path, keep: int) -> None:
    import time

    try:
        children = list(root.iterdir())
        entries = sorted((p for p in children if p.is_dir() and not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[keep:]:
            shutil.rmtree(old, ignore_errors=True)
        for left in children:  # copies a killed process left half-made
            if left.name.startswith(".render-") and time.time() - left.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(left, ignore_errors=True)
    except OSError:
        pass


_private: list[Path] = []  # clips used from a temporary folder: removed when the process ends


@atexit.register
def _remove_private() -> None:
    while _private:
        shutil.rmtree(_private.pop(), ignore_errors=True)


def _store(stage: Path, root: Path, folder: Path) -> bool:
    """Copy the complete render in ``stage`` into the cache as ``folder``; False when the cache
    cannot take it (full, read-only, a file in the way, cleared meanwhile)."""
    copy = None
    try:
        if root.exists() and not root.is_dir():
            root.unlink()  # a file where the cache's folder goes: foreign, removed
        root.mkdir(parents=True, exist_ok=True)
        copy = Path(tempfile.mkdtemp(prefix=".render-", dir=root))
        for path in stage.iterdir():
            shutil.copyfile(path, copy / path.name)
        _remove(folder)  # an incomplete or corrupt earlier entry
        os.replace(copy, folder)
        copy = None
        return True
    except OSError:
        return False
    finally:
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)


Progress = Callable[[int, object, int], None]  # (index, step, number of steps)


def step_clips(scene: str, options=None, quality: str = "low", progress: Progress | None = None,
               cache: Path | None = None) -> Clips:
    """The clips of ``scene``: from the cache, or rendered now (see the module docstring)."""
    from scenes.toolkit.storyboard import SceneOptions
    from scenes.writers.video import QUALITIES

    options = options if options is not None else SceneOptions()
    if quality not in QUALITIES:
        raise ValueError(f"unknown quality {quality!r}; choose from {', '.join(QUALITIES)}")
    root = (Path(cache) if cache is not None else cache_root()) / "clips"
    folder = root / fingerprint(scene, options, quality)
    found = _load(folder, scene)
    if found is not None:
        try:
            os.utime(folder)  # recently used: kept by the pruning
        except OSError:
            pass
        return found
    if folder.exists() or folder.is_symlink():
        _remove(folder)  # corrupt or foreign: rendered again
    stage = Path(tempfile.mkdtemp(prefix="transformer-clips-"))
    try:
        meta = _render(scene, options, quality, stage, progress)
        names = sorted(p.name for p in stage.iterdir())
        meta["files"] = {n: [(stage / n).stat().st_size, _digest(stage / n)] for n in names}
        (stage / "clips.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if _store(stage, root, folder):
            _prune(root, KEEP)
            found = _load(folder, scene)
        if found is None:  # no caching: the clips from the private folder
            found = _load(stage, scene)
            assert found is not None, f"render of {scene} left incomplete clips in {stage}"
            _private.append(stage)
            stage = None
        return found
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)


def _render(scene: str, options, quality: str, out: Path, progress: Progress | None) -> dict:
    """Render with one section per step into ``out``; return the clips.json content."""
    from manim import tempconfig
    from PIL import Image

    from scenes.engine.patching import rendering
    from scenes.registry import get_scene_class
    from scenes.toolkit.storyboard import using_options
    from scenes.writers.video import QUALITIES

    scene_cls = get_scene_class(scene)

    def on_step(s, index: int, step) -> None:
        Image.fromarray(s.draw_frame()).convert("RGB").save(
            out / f"{index + 1:02d}-{step.name}.png", optimize=False)
        if progress is not None:
            progress(index, step, len(s.steps))

    with tempfile.TemporaryDirectory(prefix="manim-media-") as media:
        settings = {"quality": QUALITIES[quality], "media_dir": media, "disable_caching": True,
                    "progress_bar": "none", "verbosity": "WARNING", "format": "mp4",
                    "save_sections": True}
        with tempconfig(settings), using_options(options), rendering():
            s = scene_cls()
            s.step_listeners.append(on_step)
            s.render()
            writer = s.renderer.file_writer
            shutil.move(writer.movie_file_path, out / "video.mp4")
            index = json.loads(next(Path(writer.sections_output_dir).glob("*.json")).read_text())
            # one section per step, in order (Manim drops empty ones: a step must animate)
            if [e["name"] for e in index] != [st.name for st in s.steps]:
                raise RuntimeError(f"{scene}: Manim's sections {[e['name'] for e in index]} are "
                                   f"not the storyboard's steps")
            for number, entry in enumerate(index, start=1):
                shutil.move(Path(writer.sections_output_dir) / entry["video"],
                            out / f"{number:02d}-{entry['name']}.mp4")
            width, height = int(index[0]["width"]), int(index[0]["height"])
    return {"steps": [[st.name, st.caption] for st in s.steps],
            "times": [[round(a, 6), round(b, 6)] for a, b in s.step_times],
            "width": width, "height": height}
