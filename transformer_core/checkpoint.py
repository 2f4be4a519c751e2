"""The shipped models and your own: their specs, and saving/loading checkpoints offline.

A checkpoint is a ``torch.save`` file that loads with ``weights_only=True`` (plain tensors,
dicts, lists, strings and numbers: no code runs when it is read). It holds::

    format, version     "transformer-explained checkpoint", 2 (the shipped files predate both)
    name                the model kind: "translate" (encoder-decoder), "lm" (decoder-only, the
                        paper's block) or "modern" (decoder-only, today's LLM block)
    config              Config.to_dict()
    src_vocab           list of tokens (None for an lm), specials first
    tgt_vocab           list of tokens
    tokens              the tokenization rule, "words" or "chars" (absent: "words")
    default_sentence    the sentence the scenes show when none is given
    meta                how it was trained: the training data's sha256, sentence counts,
                        accuracies on the training data and on the held-out part, seed, steps
    state_dict          the weights

A file that is not one (another kind of file, a truncated one, another kind of model than the
one needed) raises a :class:`CheckpointError` subclass whose message is one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from . import data
from .config import Config
from .model import Transformer
from .tokenizer import Vocab

__all__ = [
    "FORMAT", "KIND_NAMES", "MODEL_NAMES", "VERSION", "CheckpointError", "CheckpointKindError",
    "LoadedModel", "NotACheckpointError", "default_path", "load_checkpoint", "load_model",
    "save_model",
]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
MODEL_NAMES = ("translate", "lm", "modern", "smollm2")
KIND_NAMES = {"translate": "translation (encoder-decoder)", "lm": "language model (decoder-only)",
              "modern": "modern language model (pre-RMSNorm, RoPE, SwiGLU, grouped-query)",
              "smollm2": "pretrained Llama-family model (a GGUF file or Hugging Face folder)"}
TRAINABLE = ("translate", "lm", "modern")  # the kinds `train` makes and torch.save files hold
DECODER_ONLY = ("lm", "modern")  # kinds trained on a corpus of sentences, no source side
FORMAT = "transformer-explained checkpoint"
VERSION = 2


class CheckpointError(RuntimeError):
    """A checkpoint file is missing or unreadable."""


class NotACheckpointError(CheckpointError):
    """The file is not a checkpoint of this tool: another kind of file, or truncated."""


class CheckpointKindError(CheckpointError):
    """The checkpoint holds the other kind of model than the one needed."""


@dataclass
class LoadedModel:
    name: str
    model: Transformer
    src_vocab: Vocab | None  # None for a decoder-only model
    tgt_vocab: Vocab
    default_sentence: str
    meta: dict
    path: Path | None = None  # the file it was loaded from
    max_tokens: int | None = None  # the longest sentence, when shorter than the positions allow

    @property
    def kind(self) -> str:
        """``translate`` or ``lm``."""
        return self.name

    @property
    def rule(self) -> str:
        """The tokenization rule, ``words`` or ``chars``."""
        return self.input_vocab.rule

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
    if name == "modern":
        vocab = Vocab(data.lm_words())
        return LoadedModel(name, Transformer(modern_config(len(vocab))), None, vocab,
                           data.LM_DEFAULT, {})
    raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")


def modern_config(vocab_size: int) -> Config:
    """``lm``'s sizes with today's block: pre-RMSNorm, rotary positions, SwiGLU, 2 query heads
    sharing 1 K/V head, no biases, no √d_model scaling (as Llama). d_ff 24 ≈ 8/3 · d_model
    rounded up, so its three FFN matrices hold about as many weights as lm's two."""
    return Config(mode="decoder", tgt_vocab_size=vocab_size, n_dec_layers=2, d_ff=24,
                  scale_embedding=False, norm_position="pre", norm="rmsnorm", positions="rope",
                  ffn="swiglu", n_kv_heads=1, bias=False)


def save_model(lm: LoadedModel, path: Path) -> None:
    """Write ``lm`` as a checkpoint, atomically: an interrupted save leaves the earlier file."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "name": lm.name,
        "config": lm.cfg.to_dict(),
        "src_vocab": list(lm.src_vocab.itos) if lm.src_vocab is not None else None,
        "tgt_vocab": list(lm.tgt_vocab.itos),
        "tokens": lm.tgt_vocab.rule,
        "default_sentence": lm.default_sentence,
        "meta": lm.meta,
        "state_dict": {k: v.detach().clone() for k, v in lm.model.state_dict().items()},
    }
    from .files import atomic_write

    # Written beside the old file and renamed over it when complete: an interrupted save
    # leaves the earlier checkpoint and no temporary file.
    atomic_write(Path(path), writer=lambda fh: torch.save(payload, fh))


def _read(path: Path) -> dict:
    """The payload of a checkpoint file; NotACheckpointError for anything else."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] != b"PK":  # torch.save writes a zip archive
        raise NotACheckpointError(f"{path} is not a checkpoint (not a PyTorch file): give a "
                                  "file written by 'python cli.py train'")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise NotACheckpointError(
            f"{path} is a damaged or truncated checkpoint ({type(exc).__name__}): "
            "train it again with 'python cli.py train'") from None
    if not isinstance(payload, dict) or not {"config", "state_dict", "tgt_vocab"} <= set(payload):
        raise NotACheckpointError(f"{path} is a PyTorch file but not a checkpoint of this tool: "
                                  "give a file written by 'python cli.py train'")
    if payload.get("format", FORMAT) != FORMAT or payload.get("version", 1) > VERSION:
        raise NotACheckpointError(f"{path} is not a checkpoint this version can read "
                                  f"(format {payload.get('format')!r} "
                                  f"version {payload.get('version')!r})")
    return payload


def load_checkpoint(path: Path | str, kind: str | None = None, retrain: str = "") -> LoadedModel:
    """Load a checkpoint file; with ``kind``, refuse one of the other kind of model.

    ``retrain`` is the command named in the messages (the shipped models name their own).
    """
    path = Path(path)
    advice = f"; run '{retrain}' to recreate it" if retrain else ""
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} is missing{advice}")
    from .sources import is_pretrained_path

    if is_pretrained_path(path):  # a GGUF file or a Hugging Face folder: Llama family
        if kind is not None and kind != "smollm2":
            raise CheckpointKindError(f"{path} is a {KIND_NAMES['smollm2']} (smollm2); this "
                                      f"needs a {KIND_NAMES[kind]} one ({kind})")
        from .pretrained import load_pretrained

        return load_pretrained(path)
    if path.is_dir():
        raise NotACheckpointError(f"{path} is a folder, not a checkpoint file")
    try:
        payload = _read(path)
    except NotACheckpointError as exc:
        if retrain:
            raise NotACheckpointError(f"checkpoint {path} is corrupt{advice}") from exc
        raise
    found = payload.get("name")
    if found not in TRAINABLE:
        raise NotACheckpointError(f"{path} holds an unknown kind of model ({found!r})")
    if kind is not None and found != kind:
        raise CheckpointKindError(f"{path} is a {KIND_NAMES[found]} checkpoint ({found}); this "
                                  f"needs a {KIND_NAMES[kind]} one ({kind})")
    try:
        rule = payload.get("tokens", "words")
        cfg = Config.from_dict(payload["config"])
        model = Transformer(cfg)
        model.load_state_dict(payload["state_dict"])
        src = Vocab(payload["src_vocab"], rule) if payload.get("src_vocab") is not None else None
        tgt = Vocab(payload["tgt_vocab"], rule)
        if len(tgt) != cfg.tgt_vocab_size or (src is not None and len(src) != cfg.src_vocab_size):
            raise ValueError("vocabulary and config disagree")
        default = str(payload.get("default_sentence") or "")
        meta = dict(payload.get("meta") or {})
    except Exception as exc:  # any inconsistent file is the same problem to the user
        raise NotACheckpointError(
            f"checkpoint {path} is corrupt ({type(exc).__name__})"
            f"{advice or ': train it again with python cli.py train'}") from None
    model.eval()
    return LoadedModel(found, model, src, tgt, default, meta, path)


def load_model(name: str = "translate", path: Path | str | None = None) -> LoadedModel:
    """Load a shipped checkpoint (or the given file, which must hold a ``name`` model)."""
    if name not in MODEL_NAMES:
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    if path is not None:
        return load_checkpoint(path, kind=name)
    if name == "smollm2":
        from .pretrained import load_pretrained

        return load_pretrained()
    return load_checkpoint(default_path(name), kind=name, retrain=f"python cli.py train {name}")
