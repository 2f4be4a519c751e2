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
else ``~/.cache/transformer-explained``; only the :data:`KEEP` newest entries are kept.
"""

from __future__ import annotations

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


def _load(folder: Path, scene: str) -> Clips | None:
    try:
        meta = json.loads((folder / "clips.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    clips = Clips(scene, folder, [tuple(s) for s in meta["steps"]],
                  [tuple(t) for t in meta["times"]], meta["width"], meta["height"])
    files = [clips.video] + [f(i) for i in range(len(clips.steps)) for f in (clips.clip, clips.poster)]
    return clips if all(p.is_file() for p in files) else None


def _prune(root: Path, keep: int) -> None:
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        shutil.rmtree(old, ignore_errors=True)


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
        os.utime(folder)  # recently used: kept by the pruning
        return found
    root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".render-", dir=root))
    try:
        meta = _render(scene, options, quality, stage, progress)
        (stage / "clips.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # an incomplete earlier entry
        os.replace(stage, folder)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _prune(root, KEEP)
    found = _load(folder, scene)
    assert found is not None, f"render of {scene} left incomplete clips in {folder}"
    return found


def _render(scene: str, options, quality: str, out: Path, progress: Progress | None) -> dict:
    """Render with one section per step into ``out``; return the clips.json content."""
    from manim import tempconfig
    from PIL import Image

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
        with tempconfig(settings), using_options(options):
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
