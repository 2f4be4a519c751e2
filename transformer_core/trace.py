"""Run a model on one sentence and record every intermediate tensor as a read-only ``Trace``.

Names follow module paths. For block ``P`` (``encoder.blocks.L`` or ``decoder.blocks.L``)::

    P.resid_pre                [pos, d_model]     input to the block
    P.attn.q / .k / .v         [head, pos, d_head] X · W_Q, X · W_K, X · W_V per head
                               (k, v: [kv_head, pos, d_head] with grouped-query attention;
                               query head i reads K/V head i // (n_heads / n_kv_heads))
    P.attn.angle               [pos, d_head/2]    rotary angle pos · θ_i (positions "rope")
    P.attn.q_rot / .k_rot      like q / k         q, k with each pair (i, i + d_head/2) turned by
                                                  its angle; the scores use these (rope only)
    P.attn.scores              [head, q, k]       raw Q · Kᵀ
    P.attn.scaled              [head, q, k]       scores / √d_k
    P.attn.mask                [q, k]             True where query q may attend to key k
    P.attn.masked              [head, q, k]       scaled, with -inf where the mask is False
    P.attn.pattern             [head, q, k]       softmax over k; rows sum to 1
    P.attn.z                   [head, q, d_head]  pattern · V
    P.attn.concat              [q, d_model]       heads side by side
    P.attn.out                 [q, d_model]       concat · W_O
    P.resid_mid                [pos, d_model]     resid_pre + attn.out
    P.ln1.mean / .var / .out   [pos] [pos] [pos, d_model]   (post-norm: norm of resid_mid;
                               pre-norm: norm of resid_pre, the attention's input)
    P.ln1.rms / .out           [pos] [pos, d_model]  RMSNorm instead: sqrt(mean(x²) + eps)
    P.cross_attn.*, P.resid_cross, P.ln3.*        decoder of the encoder-decoder only
    P.mlp.hidden / .act / .out [pos, d_ff] [pos, d_ff] [pos, d_model]
    P.mlp.gate / .up / .act / .glu / .out   SwiGLU instead: x W_gate, x W_up, SiLU(gate),
                               act ⊙ up (all [pos, d_ff]), glu W_down [pos, d_model]
    P.resid_post               [pos, d_model]     (input of the FFN) + mlp.out
    P.ln2.*                    (and ln3 in the encoder-decoder's decoder)
    encoder.embed, encoder.pos_embed, decoder.embed, decoder.pos_embed   [pos, d_model]
                               (no pos_embed with rotary positions)
    encoder.ln_f.*, decoder.ln_f.*               final norm of a pre-norm stack
    logits, probs              [pos, vocab]       final linear, softmax over the vocabulary
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from .checkpoint import MODEL_NAMES, LoadedModel, load_checkpoint, load_model
from .explain import max_positions
from .records import SentenceTooLongError, Trace, _frozen
from .tokenizer import BOS, EOS

__all__ = ["SentenceTooLongError", "Trace", "resolve_model", "run_with_trace", "tokenize_checked",
           "trace_run"]


def _params(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """Parameters by module path, renamed to the trace's stack names."""
    out = {}
    for key, value in model.named_parameters():
        out[param_name(key)] = _frozen(value.detach().cpu().numpy().astype(np.float32))
    return out


_RENAME = {"enc_embed.": "encoder.", "dec_embed.": "decoder.", "enc_blocks.": "encoder.blocks.",
           "dec_blocks.": "decoder.blocks.", "enc_ln_f.": "encoder.ln_f.",
           "dec_ln_f.": "decoder.ln_f."}


def param_name(key: str) -> str:
    """A parameter's module path as the trace names it (``dec_blocks.0.attn.W_Q`` →
    ``decoder.blocks.0.attn.W_Q``)."""
    for old, new in _RENAME.items():
        if key.startswith(old):
            return new + key[len(old):]
    return key


def _trace_params(lm: LoadedModel):
    """The parameters a trace holds: a big pretrained model's stay in its cached weights file,
    read only when a value is asked for (a copy of each in every trace would be 538 MB)."""
    stored = lm.meta.get("weights")
    if stored:
        from .weights_file import StoredParams

        state = dict(lm.model.named_parameters())
        return StoredParams(stored, {param_name(k): k for k in state},
                            {param_name(k): tuple(v.shape) for k, v in state.items()})
    return MappingProxyType(_params(lm.model))


def resolve_model(model: str | os.PathLike | LoadedModel) -> LoadedModel:
    """A shipped model's name, a checkpoint file's path, or an already loaded model."""
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, str) and model in MODEL_NAMES:
        return load_model(model)
    return load_checkpoint(Path(model))


def tokenize_checked(lm: LoadedModel, sentence: str):
    """Tokenize ``sentence`` with the model's input vocabulary; refuse one that does not fit
    (a decoder-only model keeps one position for the next word)."""
    tok = lm.input_vocab.encode(sentence)
    cfg = lm.cfg
    limit = max_positions(cfg)
    if lm.max_tokens is not None:
        limit = min(limit, lm.max_tokens)
    if len(tok.tokens) > limit:
        raise SentenceTooLongError(
            f"the sentence has {len(tok.tokens)} tokens; this model reads at most {limit}"
        )
    return tok


@torch.no_grad()
def trace_run(lm: LoadedModel, sentence: str, tok, dec_ids: list[int], output_ids: list[int],
              extra: Mapping[str, np.ndarray] | None = None) -> Trace:
    """Run the model once with decoder input ``dec_ids`` (the encoder reads ``tok``) and record
    every intermediate; ``extra`` records are added beside them (names must not collide)."""
    cfg, v = lm.cfg, lm.tgt_vocab
    records: dict[str, np.ndarray] = {}

    def rec(name: str, x: torch.Tensor) -> None:
        if name in records:
            raise RuntimeError(f"trace name {name!r} recorded twice")
        arr = x.detach().cpu().numpy()
        arr = arr[0] if arr.ndim >= 1 and arr.shape[0] == 1 else arr  # drop the batch dim
        records[name] = _frozen(arr.astype(np.bool_ if arr.dtype == np.bool_ else np.float32))

    if cfg.mode == "encdec":
        lm.model(torch.tensor([dec_ids]), torch.tensor([list(tok.ids)]), rec)
        target_tokens = tuple(v.decode(dec_ids))
        tokens, token_ids = tok.tokens, tok.ids
    else:
        lm.model(torch.tensor([dec_ids]), None, rec)
        target_tokens = tokens = tuple(v.decode(dec_ids))
        token_ids = tuple(int(i) for i in dec_ids)
    for name, value in (extra or {}).items():
        if name in records:
            raise RuntimeError(f"trace name {name!r} recorded twice")
        records[name] = _frozen(np.asarray(value))
    if lm.rule == "bpe":  # its specials are the file's own; the end is its eos id
        output_tokens = tuple(v.decode([i for i in output_ids if i != v.eos_id]))
    else:
        output_tokens = tuple(t for t in v.decode(output_ids) if t not in (BOS, EOS))
    return Trace(
        model_name=lm.name,
        sentence=sentence,
        tokens=tokens,
        token_ids=token_ids,
        target_tokens=target_tokens,
        target_ids=tuple(int(i) for i in dec_ids),
        output_tokens=output_tokens,
        unknown=tok.unknown,
        config=cfg,
        vocab=v.itos,
        _arrays=MappingProxyType(records),
        params=_trace_params(lm),
        tokenization=lm.rule,
        checkpoint=str(lm.path) if lm.path is not None else None,
        input_vocab=lm.input_vocab.itos,
    )


CONTINUATION = 8  # tokens of a pretrained model's greedy continuation in a trace


@torch.no_grad()
def greedy_cached(model, prefix: list[int], eos_id: int, max_new: int) -> list[int]:
    """``model.greedy`` of a decoder-only model, each new token run alone against the KV cache
    (its logits equal a full recompute's within 1e-6: i26's test)."""
    from .model import KVCache

    ids, cache = list(prefix), KVCache()
    logits = model.decode(torch.tensor([ids]), None, cache=cache)
    while max_new > 0 and len(ids) < model.cfg.max_len:
        nxt = int(logits[0, -1].argmax())
        ids.append(nxt)
        max_new -= 1
        if nxt == eos_id or max_new == 0:
            break
        logits = model.decode(torch.tensor([[nxt]]), None, cache=cache)
    return ids


@torch.no_grad()
def run_with_trace(
    model: str | os.PathLike | LoadedModel = "translate", sentence: str | None = None
) -> Trace:
    """Tokenize ``sentence``, run the model and record every intermediate.

    ``model`` is a shipped model's name (``translate``, ``lm``), a checkpoint file written by
    ``python cli.py train`` (a ``Path``, or a string that is not a shipped name), or a
    :class:`LoadedModel`. For ``translate`` the decoder is run on ``<bos>`` followed by the
    greedy translation. For ``lm`` the greedy continuation is computed too but the trace
    covers the sentence.
    """
    lm = resolve_model(model)
    sentence = lm.default_sentence if sentence is None else sentence
    tok = tokenize_checked(lm, sentence)
    cfg, v = lm.cfg, lm.tgt_vocab
    if cfg.mode == "encdec":
        out = lm.model.greedy([v.bos_id], list(tok.ids), v.eos_id, cfg.max_len)
        output_ids = [i for i in out[1:] if i != v.eos_id]
        dec_ids = out if out[-1] != v.eos_id else out[:-1]  # <bos> + translation
    else:
        ids = list(tok.ids)
        if lm.max_tokens is not None:  # a pretrained model: a few words, with the KV cache
            out = greedy_cached(lm.model, ids, v.eos_id, CONTINUATION)
        else:
            out = lm.model.greedy(ids, None, v.eos_id, cfg.max_len - len(ids))
        output_ids = [i for i in out[len(ids):] if i != v.eos_id]
        dec_ids = ids
    return trace_run(lm, sentence, tok, dec_ids, output_ids)
