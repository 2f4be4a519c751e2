"""What a run of the model leaves behind, as read-only numpy: no torch needed to read it.

:class:`Trace` (every intermediate of one forward pass, :func:`transformer_core.trace.run_with_trace`
and :func:`transformer_core.generate.generate`) and :class:`TrainingTrace` (a forward pass that
also holds the backward pass and one update, :func:`transformer_core.training_step.training_step`)
live here, with the few helpers the scenes read them with, so that a scene drawing a trace kept
between runs (:mod:`transformer_core.runs`) never imports torch.

:func:`to_bytes` and :func:`from_bytes` write a trace exactly (every array with its dtype and bits,
every label and number) and read it back, as plain ``.npz`` arrays and JSON: no pickle.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .config import Config
from .explain import attention_prefix, neg_log, target_probs, top_k_ids

__all__ = ["REAL_MODEL", "SentenceTooLongError", "Trace", "TrainingTrace", "block_output",
           "final_hidden", "from_bytes", "n_turns", "to_bytes", "training_example", "turn_input"]


class SentenceTooLongError(ValueError):
    """The sentence has more tokens than the model has positions."""


def _frozen(x: np.ndarray) -> np.ndarray:
    x = np.array(x) if np.ndim(x) == 0 else np.ascontiguousarray(x)  # keeps 0-d arrays 0-d
    x.setflags(write=False)
    return x


@dataclass(frozen=True)
class Trace(Mapping):
    """Read-only mapping from recorded names to numpy arrays, plus what produced them.

    ``tokens`` (ids ``token_ids`` in ``input_vocab``) are the tokens the first stack reads
    (the encoder's for ``translate``, the decoder's for ``lm``); ``target_tokens`` are the
    decoder's input for ``translate`` (``<bos>`` and the greedy translation);
    ``output_tokens`` is the greedy translation (translate) or the greedy continuation (lm).
    """

    model_name: str
    sentence: str
    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    target_tokens: tuple[str, ...]
    target_ids: tuple[int, ...]
    output_tokens: tuple[str, ...]
    unknown: tuple[str, ...]
    config: Config
    vocab: tuple[str, ...]  # the decoder vocabulary, indexing logits and probs
    _arrays: Mapping = field(repr=False)
    params: Mapping = field(repr=False)
    tokenization: str = "words"  # the tokenizer's rule: "words", "chars" or "bpe"
    checkpoint: str | None = None  # the file the model was loaded from
    input_vocab: tuple[str, ...] = ()  # the vocabulary the sentence was read with
    # how the sentence became tokens (tokenizer.Vocab.story): pieces, or a BPE's merges
    tokenizing: dict | None = field(default=None, compare=False)

    @property
    def joiner(self) -> str:
        """What goes between tokens written as text: a space, or nothing for ``chars`` and
        ``bpe`` (whose tokens carry their spaces, shown as ``·``)."""
        return "" if self.tokenization in ("chars", "bpe") else " "

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except KeyError:
            raise KeyError(
                f"no trace record {name!r}; valid names: {', '.join(self._arrays)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    @property
    def names(self) -> list[str]:
        return list(self._arrays)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self._arrays.items()}

    def param(self, name: str) -> np.ndarray:
        try:
            return self.params[name]
        except KeyError:
            raise KeyError(f"no parameter {name!r}; valid names: {', '.join(self.params)}") from None

    @property
    def output_text(self) -> str:
        text = self.joiner.join(self.output_tokens)
        return text.replace("·", " ").replace("↵", "\n") if self.tokenization == "bpe" else text

    def tokens_for(self, prefix: str) -> tuple[str, ...]:
        """Token labels of the positions a record under ``prefix`` runs over."""
        if prefix.startswith("decoder") and self.config.mode == "encdec":
            return self.target_tokens
        return self.tokens

    def key_tokens_for(self, attn_prefix: str) -> tuple[str, ...]:
        """Token labels of the key positions of an attention record (cross-attention reads
        the encoder's tokens)."""
        if ".cross_attn" in attn_prefix:
            return self.tokens
        return self.tokens_for(attn_prefix)


@dataclass(frozen=True)
class TrainingTrace(Trace):
    """A trace of the forward pass that also holds the backward pass and one update."""

    grads: Mapping = field(repr=False, default_factory=dict)  # name -> ∂L/∂param, as params
    targets: tuple[int, ...] = ()
    lr: float = 0.0
    loss: float = 0.0
    loss_after: float = 0.0
    after: Trace | None = field(repr=False, default=None)  # forward pass with the new weights
    init: Trace | None = field(repr=False, default=None)  # the seeded initial model

    def grad(self, name: str) -> np.ndarray:
        """∂L/∂ of parameter ``name``."""
        try:
            return self.grads[name]
        except KeyError:
            raise KeyError(f"no parameter {name!r}; valid names: {', '.join(self.grads)}") from None

    @property
    def params_after(self) -> Mapping:
        return self.after.params

    @property
    def loss_went_up(self) -> bool:
        """Whether the step made the loss worse (the learning rate was too large; a NaN loss
        after it counts as worse)."""
        return not self.loss_after <= self.loss

    @property
    def loss_unchanged(self) -> bool:
        """Whether the step left the loss exactly as it was (a learning rate too small to move
        the weights in float32, such as 1e-320)."""
        return self.loss_after == self.loss

    def step_value(self, name: str) -> np.ndarray:
        """``step:targets``, ``step:loss``, ``step:loss_after`` or ``step:lr`` as an array."""
        values = {"targets": np.asarray(self.targets, np.int64), "loss": self.loss,
                  "loss_after": self.loss_after, "lr": self.lr}
        if name not in values:
            raise KeyError(f"no step value {name!r}; valid names: {', '.join(values)}")
        return np.asarray(values[name])

    def sub_trace(self, prefix: str) -> Trace:
        """The trace ``after:`` or ``init:`` sources read."""
        sub = {"after": self.after, "init": self.init}[prefix]
        if sub is None:
            raise KeyError(f"this training step has no {prefix!r} trace")
        return sub


def block_output(cfg, stack: str, layer: int) -> str:
    """The record a block hands on: its last norm's output (post-norm), or the residual
    stream after its feed-forward (pre-norm)."""
    p = f"{stack}.blocks.{layer}"
    if cfg.norm_position == "pre":
        return f"{p}.resid_post"
    return f"{p}.ln3.out" if stack == "decoder" and cfg.mode == "encdec" else f"{p}.ln2.out"


def final_hidden(trace: Trace) -> str:
    """The record the unembedding W_U multiplies: the last decoder block's output, or the
    final norm of a pre-norm stack."""
    cfg = trace.config
    if cfg.norm_position == "pre":
        return "decoder.ln_f.out"
    return block_output(cfg, "decoder", cfg.n_dec_layers - 1)


def training_example(trace: TrainingTrace, layer: int = 0, head: int = 0,
                     others: int = 3) -> dict:
    """Which cells the training scene works through, chosen from the step.

    ``row``: the position whose target was least probable (the largest −log p, so the most to
    learn); ``target``: its target word id; ``columns``: the target, then the ``others`` words
    the model found most probable at that row (the logit gradient's row and W_U's columns
    shown); ``dim``: the row of W_U whose entry in the target's column has the largest
    gradient (the cell of ∂L/∂W_U worked as a dot product over positions, and updated);
    ``wq_cell``: the largest-magnitude entry of ∂L/∂W_Q of ``head`` in self-attention
    ``layer`` of the stack that reads the sentence.
    """
    p = target_probs(trace["probs"], np.asarray(trace.targets))
    row = int(np.argmax(neg_log(p)))
    target = int(trace.targets[row])
    ranked = [int(i) for i in top_k_ids(trace["probs"][row][None], len(trace.vocab))[0]]
    columns = [target, *[i for i in ranked if i != target][:others]]
    dim = int(np.argmax(np.abs(trace.grad("W_U")[:, target])))
    w_q = np.abs(trace.grad(f"{attention_prefix(trace.config, layer)}.W_Q")[head])  # [d_model, d_head]
    cell = np.unravel_index(int(np.argmax(w_q)), w_q.shape)
    return {"row": row, "target": target, "columns": columns, "dim": dim,
            "wq_cell": (int(cell[0]), int(cell[1]))}


# ---- generation traces -----------------------------------------------------------------------

# A real model's sizes for the KV cache formula of a generation (gen.real.*): SmolLM2-135M, as its
# GGUF file's metadata says (llama.block_count 30, attention.head_count_kv 3,
# rope.dimension_count 64 = d_head, context_length 8192), its cache in float16 (2 bytes a
# number, llama.cpp's default).
REAL_MODEL = {"name": "SmolLM2-135M", "layers": 30, "kv_heads": 3, "d_head": 64,
              "context": 8192, "bytes_per_number": 2}

def n_turns(trace: Trace) -> int:
    """How many turns a generation trace holds."""
    return len(trace["gen.choice"])


def turn_input(trace: Trace, turn: int) -> tuple[str, ...]:
    """The decoder's input at ``turn``: the tokens up to that turn's newest position."""
    end = int(trace["gen.position"][turn]) + 1
    return trace.tokens_for("decoder")[:end]


# ---- kept on disk exactly ----------------------------------------------------------------------

FORMAT = "transformer-explained-trace-1"
_TUPLES = frozenset({"tokens", "token_ids", "target_tokens", "target_ids", "output_tokens",
                     "unknown", "vocab", "input_vocab", "targets"})
_MAPPINGS = ("_arrays", "params", "grads")  # name -> array
_NESTED = ("after", "init")  # a TrainingTrace's other traces


def _describe(trace: Trace, arrays: list[np.ndarray]) -> dict:
    """The JSON-able fields of ``trace``; its arrays are appended to ``arrays`` and named by
    their index there."""
    out: dict = {"class": type(trace).__name__}
    for f in fields(trace):
        value = getattr(trace, f.name)
        if f.name in _MAPPINGS and hasattr(value, "describe"):  # StoredParams: by reference
            out[f.name] = value.describe()
        elif f.name in _MAPPINGS:
            out[f.name] = []
            for name, array in value.items():
                out[f.name].append([name, len(arrays)])
                arrays.append(np.asarray(array))
        elif f.name in _NESTED:
            out[f.name] = None if value is None else _describe(value, arrays)
        elif f.name == "config":
            out[f.name] = value.to_dict()
        elif f.name in _TUPLES:
            out[f.name] = list(value)
        else:
            out[f.name] = value
    return out


def to_bytes(trace: Trace) -> bytes:
    """``trace`` as bytes that :func:`from_bytes` reads back equal, bit for bit."""
    arrays: list[np.ndarray] = []
    meta = {"format": FORMAT, "trace": _describe(trace, arrays)}
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
             **{f"a{i}": a for i, a in enumerate(arrays)})
    return buf.getvalue()


def _frozen_map(pairs, arrays) -> MappingProxyType:
    return MappingProxyType({name: _frozen(arrays[f"a{index}"]) for name, index in pairs})


def _build(desc: dict, arrays) -> Trace:
    cls = {"Trace": Trace, "TrainingTrace": TrainingTrace}[desc["class"]]
    kwargs = {}
    for f in fields(cls):
        value = desc[f.name]
        if f.name in _MAPPINGS and isinstance(value, dict):
            from .weights_file import StoredParams

            if not Path(value["stored"]).is_file():  # the weights cache was cleared: run again
                raise FileNotFoundError(value["stored"])
            value = StoredParams(value["stored"], value["names"], value["shapes"])
        elif f.name in _MAPPINGS:
            value = _frozen_map(value, arrays)
        elif f.name in _NESTED:
            value = None if value is None else _build(value, arrays)
        elif f.name == "config":
            value = Config.from_dict(value)
        elif f.name in _TUPLES:
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def from_bytes(blob: bytes) -> Trace | None:
    """The trace :func:`to_bytes` wrote, or None if ``blob`` is not one (damaged, foreign, or
    of another format)."""
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            meta = json.loads(arrays["meta"].tobytes().decode())
            if meta.get("format") != FORMAT:
                return None
            return _build(meta["trace"], arrays)
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError,
            zipfile.BadZipFile):
        return None
