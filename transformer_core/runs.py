"""The model's runs for the scenes, kept between renders: torch is imported only on a miss.

A scene draws a :class:`~transformer_core.records.Trace` of the sentence, a generation (the
decoder turn by turn) or one training step with its gradients. Running the model for them is
quick, but importing torch to do it is not (1.5–2 s and about 200 MB per process), and every
render, ``svg`` and ``render all`` process did both again for the same sentence. Each run is
kept in the user's cache folder (store ``runs``, see :mod:`transformer_core.cache`) as exact
arrays (:func:`transformer_core.records.to_bytes`): a hit gives the same trace, bit for bit, as
running the model again.

The key of a run covers everything it depends on: what was asked (the run's kind, model,
sentence, checkpoint argument and options), the bytes of the checkpoint file, the source of
``transformer_core`` (the model, the tokenizer, the training data and seeds) and the versions
of Python, torch and numpy. A run that fails (a bad sentence, an unreadable checkpoint) is not
kept, so it fails again with the same message; a checkpoint that cannot be read is never looked
up. ``--no-cache`` runs the model every time. The kind of model a checkpoint file holds is kept
the same way (:func:`checkpoint_kind`), so that a warm render of your own model needs no torch
either.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
from collections.abc import Callable
from pathlib import Path

from .cache import Store, digest
from .files import file_digest
from .records import Trace, TrainingTrace, from_bytes, to_bytes
from .sources import PRETRAINED, smollm2_path

__all__ = ["checkpoint_file", "checkpoint_kind", "file_digest", "generation", "sampling", "trace",
           "training", "whys"]

SCHEMA = "transformer-explained-runs-1"
HERE = Path(__file__).resolve().parent
_STORE = Store("runs")


def checkpoint_file(model: str, checkpoint: str | os.PathLike | None = None) -> Path:
    """The file the model is loaded from: ``checkpoint``, else the shipped one (or the one in
    ``$TRANSFORMER_CHECKPOINT_DIR``), as :func:`transformer_core.checkpoint.default_path`."""
    if checkpoint is not None:
        return Path(checkpoint)
    if model in PRETRAINED:  # the installed package's file (a missing one: load says so)
        return smollm2_path() or Path("missing-smollm2-file")
    folder = os.environ.get("TRANSFORMER_CHECKPOINT_DIR")
    return (Path(folder) if folder else HERE / "checkpoints") / f"{model}.pt"


@functools.cache
def _code_digest() -> str:
    """SHA-256 over the names and bytes of ``transformer_core``'s sources."""
    h = hashlib.sha256()
    for path in sorted(HERE.glob("*.py")):
        data = path.read_bytes()
        h.update(f"{path.name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


@functools.cache
def _versions() -> tuple[str, ...]:
    from importlib import metadata

    found = [platform.python_version()]
    for dist in ("torch", "numpy", "tokenizers", "gguf"):
        try:
            found.append(metadata.version(dist))
        except metadata.PackageNotFoundError:
            found.append("missing")
    return tuple(found)




def _kept(kind: str, model: str, checkpoint, asked: dict, run: Callable[[], Trace],
          cls: type) -> Trace:
    """The run's trace from the cache, else ``run()`` (kept for next time)."""
    path = checkpoint_file(model, checkpoint)
    before = file_digest(path)
    if before is None:  # unreadable: loading it gives the one-line error
        return run()
    key = digest(SCHEMA, kind, model, None if checkpoint is None else os.fspath(checkpoint),
                 os.fspath(path), asked, before, _code_digest(), _versions())
    blob = _STORE.get(key)
    if blob is not None:
        found = from_bytes(blob)
        if type(found) is cls:
            return found
    result = run()
    if file_digest(path) == before:  # not rewritten while it ran (a training run beside us)
        _STORE.put(key, to_bytes(result))
    return result


def _loaded(model: str, checkpoint):
    from .checkpoint import load_model

    return load_model(model, checkpoint) if checkpoint is not None else model


def trace(model: str, sentence: str | None, checkpoint: str | os.PathLike | None = None) -> Trace:
    """:func:`transformer_core.trace.run_with_trace` of the shipped ``model`` (or of the
    ``checkpoint`` file, which must hold a ``model`` model) on ``sentence``."""

    def run() -> Trace:
        from .trace import run_with_trace

        return run_with_trace(_loaded(model, checkpoint), sentence)

    return _kept("trace", model, checkpoint, {"sentence": sentence}, run, Trace)


def generation(model: str, sentence: str | None, checkpoint: str | os.PathLike | None = None, *,
               max_new: int | None = None, temperature: float = 0.0, seed: int = 0,
               top_k: int | None = None, top_p: float | None = None) -> Trace:
    """:func:`transformer_core.generate.generate` with these options."""

    def run() -> Trace:
        from .generate import generate

        return generate(_loaded(model, checkpoint), sentence, max_new=max_new,
                        temperature=temperature, seed=seed, top_k=top_k, top_p=top_p)

    asked = {"sentence": sentence, "max_new": max_new, "temperature": float(temperature),
             "seed": seed, "top_k": top_k, "top_p": top_p}
    return _kept("generation", model, checkpoint, asked, run, Trace)


def sampling(model: str, sentence: str | None, checkpoint: str | os.PathLike | None = None, *,
             temperature: float | None = None, top_k: int | None = None,
             top_p: float | None = None, seed: int = 0) -> Trace:
    """:func:`transformer_core.sampling.sample_run` with these options."""

    def run() -> Trace:
        from .sampling import sample_run

        return sample_run(_loaded(model, checkpoint), sentence, temperature=temperature,
                          top_k=top_k, top_p=top_p, seed=seed)

    asked = {"sentence": sentence, "temperature": temperature, "top_k": top_k, "top_p": top_p,
             "seed": seed}
    return _kept("sampling", model, checkpoint, asked, run, Trace)


def whys(model: str, sentence: str | None, checkpoint: str | os.PathLike | None = None, *,
         head: int = 0) -> Trace:
    """:func:`transformer_core.whys.why_run` for attention head ``head`` of the first layer."""

    def run() -> Trace:
        from .whys import why_run

        return why_run(_loaded(model, checkpoint), sentence, head)

    return _kept("whys", model, checkpoint, {"sentence": sentence, "head": head}, run, Trace)


def training(model: str, sentence: str | None, lr: float | None = None,
             checkpoint: str | os.PathLike | None = None) -> TrainingTrace:
    """:func:`transformer_core.training_step.training_step` with learning rate ``lr`` (None: the
    model's default)."""

    def run() -> TrainingTrace:
        from .training_step import training_step

        return training_step(_loaded(model, checkpoint), sentence, lr)

    asked = {"sentence": sentence, "lr": None if lr is None else float(lr)}
    return _kept("training", model, checkpoint, asked, run, TrainingTrace)


def checkpoint_kind(checkpoint: str | os.PathLike, load: Callable[[], str],
                    kinds: tuple[str, ...]) -> str:
    """The kind of model (one of ``kinds``) the ``checkpoint`` file holds: kept by the file's
    bytes, else ``load()`` (which reads the file, and raises for a bad one: nothing is kept)."""
    path = Path(checkpoint)
    before = file_digest(path)
    if before is None:
        return load()
    key = digest(SCHEMA, "kind", before, _code_digest(), _versions())
    blob = _STORE.get(key)
    if blob is not None and blob.decode("ascii", "replace") in kinds:
        return blob.decode("ascii")
    kind = load()
    if kind in kinds and file_digest(path) == before:
        _STORE.put(key, kind.encode("ascii"))
    return kind
