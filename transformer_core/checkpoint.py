"""The shipped models: their specs, and saving/loading checkpoints offline."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from . import data
from .config import Config
from .model import Transformer
from .tokenizer import Vocab

__all__ = ["MODEL_NAMES", "CheckpointError", "LoadedModel", "default_path", "load_model", "save_model"]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
MODEL_NAMES = ("translate", "lm")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing or unreadable."""


@dataclass
class LoadedModel:
    name: str
    model: Transformer
    src_vocab: Vocab | None  # None for a decoder-only model
    tgt_vocab: Vocab
    default_sentence: str
    meta: dict

    @property
    def cfg(self) -> Config:
        return self.model.cfg

    @property
    def input_vocab(self) -> Vocab:
        """The vocabulary the user's sentence is read with."""
        return self.src_vocab if self.src_vocab is not None else self.tgt_vocab


def default_path(name: str) -> Path:
    """The shipped checkpoint, or the one in $TRANSFORMER_CHECKPOINT_DIR when that is set."""
    folder = os.environ.get("TRANSFORMER_CHECKPOINT_DIR")
    return (Path(folder) if folder else CHECKPOINT_DIR) / f"{name}.pt"


def build(name: str) -> LoadedModel:
    """A freshly initialised (untrained) model for ``name``."""
    if name == "translate":
        src, tgt = Vocab(data.source_words()), Vocab(data.target_words())
        cfg = Config(mode="encdec", src_vocab_size=len(src), tgt_vocab_size=len(tgt))
        return LoadedModel(name, Transformer(cfg), src, tgt, data.TRANSLATE_DEFAULT, {})
    if name == "lm":
        vocab = Vocab(data.lm_words())
        cfg = Config(mode="decoder", tgt_vocab_size=len(vocab), n_dec_layers=2)
        return LoadedModel(name, Transformer(cfg), None, vocab, data.LM_DEFAULT, {})
    raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")


def save_model(lm: LoadedModel, path: Path) -> None:
    payload = {
        "name": lm.name,
        "config": lm.cfg.to_dict(),
        "src_vocab": list(lm.src_vocab.itos) if lm.src_vocab is not None else None,
        "tgt_vocab": list(lm.tgt_vocab.itos),
        "default_sentence": lm.default_sentence,
        "meta": lm.meta,
        "state_dict": {k: v.detach().clone() for k, v in lm.model.state_dict().items()},
    }
    from .files import atomic_write

    # Written beside the old file and renamed over it when complete: an interrupted save
    # leaves the earlier checkpoint and no temporary file.
    atomic_write(Path(path), writer=lambda fh: torch.save(payload, fh))


def load_model(name: str = "translate", path: Path | str | None = None) -> LoadedModel:
    """Load a shipped (or given) checkpoint; raise CheckpointError with a one-line reason."""
    if name not in MODEL_NAMES:
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    path = Path(path) if path is not None else default_path(name)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} is missing; run 'python cli.py train {name}' to recreate it"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        cfg = Config.from_dict(payload["config"])
        model = Transformer(cfg)
        model.load_state_dict(payload["state_dict"])
        src = Vocab(payload["src_vocab"]) if payload["src_vocab"] is not None else None
        tgt = Vocab(payload["tgt_vocab"])
    except Exception as exc:  # any unreadable file is the same problem to the user
        raise CheckpointError(
            f"checkpoint {path} is corrupt ({type(exc).__name__}); "
            f"run 'python cli.py train {name}' to recreate it"
        ) from None
    model.eval()
    return LoadedModel(name, model, src, tgt, payload["default_sentence"], payload.get("meta", {}))
