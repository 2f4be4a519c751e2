"""The autoregressive loop, recorded turn by turn: the decoder writes one word per run.

``translate``: the encoder reads the English sentence once; the decoder input starts as
``<bos>``; each turn runs the real decoder on the input so far, reads the probabilities over
the whole French vocabulary at the newest position, picks a word (the most probable, or a
sample at a temperature) and appends it; until ``<eos>`` or ``max_new`` words. ``lm``: the
same loop continues a prefix (default ``"the early bird"``).

:func:`generate` returns a :class:`~transformer_core.trace.Trace` of one full run of the
decoder on the last turn's input (every usual record name), plus the turns, so every number
is reachable by ``explain.resolve``/``lookup``. Turn ``t`` (0, 1, ...)::

    gen.choice            [turn]               the word id picked at each turn
    gen.position          [turn]               the newest position of each turn's input
    gen.temperature       []                   0 for greedy, else the sampling temperature
    gen.top_k, gen.top_p  []                   the sampler's filters (0: not used)
    gen.T.logits          [vocab]              logits at the newest position of turn T
    gen.T.probs           [vocab]              softmax of them: what the model predicts
    gen.T.sample_probs    [vocab]              the distribution the word is drawn from:
                                               softmax(logits / temperature), after top-k and
                                               top-p if asked (sampling only)
    gen.T.sampler.*       every step of the draw (sampling only): tempered, top_k.*, top_p.*,
                          final, draw.order, draw.cumsum, u, choice, greedy (see
                          :func:`transformer_core.sampling.sampler`)
    gen.T.self_attn       [layer, head, T']    masked self-attention row of the newest position
    gen.T.cross_attn      [layer, head, src]   cross-attention row of the newest position
                                               (translate only)

Each turn runs the decoder with a :class:`~transformer_core.model.KVCache`: the first turn
reads the whole start (the prefix, or ``<bos>``), every later turn feeds only the newest word,
whose q, k and v are the only rows computed; its attention reads the cached K and V rows of the
earlier positions, and the cache grows by one row per layer. The same turn is also recomputed
without the cache, to show that nothing changes::

    gen.T.full_logits     [vocab]              turn T recomputed on the whole input, no cache
    gen.T.diff            []                   max |gen.T.logits − gen.T.full_logits|
    gen.T.cache.k/.v      [layer, kv_head, pos, d_head]   the cache after turn T (keys as the
                                               attention uses them: rotated, with rope)
    gen.rows_cached       [turn]               positions whose q, k, v the turn computed
    gen.rows_full         [turn]               the same without a cache: the whole input
    gen.rows_cached_total, gen.rows_full_total []   their sums over the turns
    gen.max_diff          []                   the largest gen.T.diff
    gen.cache_positions   [turn]               positions in the cache after each turn
    gen.cache_numbers     [turn]               numbers in the cache after each turn:
                                               2 (K, V) × layers × kv_heads × d_head × positions
    gen.cache_bytes       [turn]               × gen.bytes_per_number (4: float32)
    gen.numbers_per_token []                   2 × layers × kv_heads × d_head
    gen.real.*            []                   the same formula for a real model's sizes
                                               (:data:`REAL_MODEL`): layers, kv_heads, d_head,
                                               context, bytes_per_number, numbers_per_token,
                                               bytes (at the full context), megabytes

Turn T's input is the first ``gen.position[T] + 1`` entries of ``target_tokens`` (``tokens`` for
``lm``, which start with the prefix); ``T'`` is that length. Because the decoder's
self-attention is causal, turn T's numbers equal row ``gen.position[T]`` of the full run
(``probs``, ``decoder.blocks.L.cross_attn.pattern``, ...): the tests check it.
"""

from __future__ import annotations

import numpy as np
import torch

from .checkpoint import LoadedModel
from .model import KVCache
from .data import LM_DEFAULT, LM_PREFIX
from .records import REAL_MODEL, n_turns, turn_input
from .sampling import SamplingError, check_sampler, sampler
from .trace import CONTINUATION, Trace, resolve_model, tokenize_checked, trace_run

__all__ = ["GenerationError", "REAL_MODEL", "default_prefix", "generate", "n_turns",
           "turn_input"]



class GenerationError(SamplingError):
    """Generation options that cannot work (no room for a new word, a negative temperature)."""


def default_prefix(model: str | LoadedModel) -> str:
    """What the loop starts from by default: the sentence to translate, or for a language
    model a prefix to continue: the shipped lm's "the early bird", a model of your own the
    first half of its own default sentence (the shipped prefix would be <unk> to it)."""
    lm = resolve_model(model)
    if lm.cfg.mode == "encdec" or lm.max_tokens is not None:  # a pretrained model: its own
        return lm.default_sentence
    if lm.default_sentence == LM_DEFAULT:
        return LM_PREFIX
    if getattr(lm.tgt_vocab, "rule", "words") == "chars":  # a text of characters
        text = lm.default_sentence
        return text[:max(1, (len(text) + 1) // 2)]
    words = lm.default_sentence.split()
    return " ".join(words[:max(1, (len(words) + 1) // 2)])


def _newest_rows(records: dict[str, torch.Tensor], part: str, n_layers: int) -> np.ndarray:
    """The newest position's attention row of every layer and head.  [layer, head, key]"""
    rows = [records[f"decoder.blocks.{i}.{part}.pattern"][0, :, -1, :] for i in range(n_layers)]
    return torch.stack(rows).numpy().astype(np.float32)


@torch.no_grad()
def generate(model: str | LoadedModel = "translate", sentence: str | None = None, *,
             max_new: int | None = None, temperature: float = 0.0, seed: int = 0,
             top_k: int | None = None, top_p: float | None = None) -> Trace:
    """Run the decoder turn by turn from ``<bos>`` (translate) or the prefix (lm), recording
    each turn (see the module docstring); greedy unless ``temperature`` > 0 or a filter is
    given, then drawn by :func:`transformer_core.sampling.sampler` (temperature 1 if not
    given) with one uniform number per turn from ``numpy.random.default_rng(seed)``."""
    lm = resolve_model(model)
    sentence = default_prefix(lm) if sentence is None else sentence
    if temperature < 0 or not np.isfinite(temperature):
        raise GenerationError(f"the temperature must be 0 (greedy) or positive, not {temperature}")
    if temperature == 0 and (top_k is not None or top_p is not None):
        temperature = 1.0  # a filter alone samples from the model's own probabilities
    check_sampler(temperature or None, top_k, top_p, lm.cfg.tgt_vocab_size)
    tok = tokenize_checked(lm, sentence)
    cfg, v = lm.cfg, lm.tgt_vocab
    if cfg.mode == "encdec":
        memory = lm.model.encode(torch.tensor([list(tok.ids)]))  # [1, src, d_model]
        ids = [v.bos_id]
    else:
        memory, ids = None, list(tok.ids)
    room = cfg.max_len - len(ids)  # as model.greedy: the input never outgrows the positions
    if max_new is None:  # a pretrained model writes a few tokens, as its trace's continuation
        max_new = room if lm.max_tokens is None else CONTINUATION
    if max_new < 1:
        raise GenerationError(f"max_new must be at least 1, not {max_new}")
    max_new = min(max_new, room)
    rng = np.random.default_rng(seed)
    extra: dict[str, np.ndarray] = {}
    choices, positions, rows_cached, rows_full, diffs = [], [], [], [], []
    cache = KVCache()
    layers = [f"decoder.blocks.{i}.attn" for i in range(cfg.n_dec_layers)]
    for turn in range(max_new):
        records: dict[str, torch.Tensor] = {}  # this turn's decoder run, by trace name
        new = ids[len(cache):]  # the words the cache has not seen: all at first, then one
        logits = lm.model.decode(torch.tensor([new]), memory, records.__setitem__,
                                 cache=cache)[0, -1]  # [vocab]
        full = lm.model.decode(torch.tensor([ids]), memory)[0, -1]  # [vocab], no cache
        g = f"gen.{turn}"
        extra[f"{g}.logits"] = logits.numpy().astype(np.float32)
        extra[f"{g}.full_logits"] = full.numpy().astype(np.float32)
        diffs.append(float((logits - full).abs().max()))
        extra[f"{g}.diff"] = np.array(diffs[-1], dtype=np.float32)
        extra[f"{g}.cache.k"] = torch.stack([cache.layers[n][0][0] for n in layers]).numpy()
        extra[f"{g}.cache.v"] = torch.stack([cache.layers[n][1][0] for n in layers]).numpy()
        rows_cached.append(len(new))
        rows_full.append(len(ids))
        extra[f"{g}.probs"] = records["probs"][0, -1].numpy().astype(np.float32)
        extra[f"{g}.self_attn"] = _newest_rows(records, "attn", cfg.n_dec_layers)
        if cfg.mode == "encdec":
            extra[f"{g}.cross_attn"] = _newest_rows(records, "cross_attn", cfg.n_dec_layers)
        if temperature > 0:
            steps = sampler(logits.numpy(), temperature, top_k, top_p, float(rng.random()))
            for key, value in steps.items():
                extra[f"{g}.sampler.{key}"] = value
            extra[f"{g}.sample_probs"] = steps["final"]
            nxt = int(steps["choice"])
        else:
            nxt = int(logits.argmax())
        positions.append(len(ids) - 1)
        choices.append(nxt)
        ids.append(nxt)
        if nxt == v.eos_id:
            break
    extra["gen.choice"] = np.array(choices, dtype=np.int64)
    extra["gen.position"] = np.array(positions, dtype=np.int64)
    extra["gen.temperature"] = np.array(float(temperature), dtype=np.float32)
    extra["gen.top_k"] = np.array(top_k or 0, dtype=np.int64)
    extra["gen.top_p"] = np.array(top_p or 0.0, dtype=np.float32)
    extra.update(_work(cfg, rows_cached, rows_full, positions, diffs))
    start = 1 if cfg.mode == "encdec" else len(tok.ids)
    return trace_run(lm, sentence, tok, ids[:-1], ids[start:], extra)


def _work(cfg, rows_cached, rows_full, positions, diffs) -> dict[str, np.ndarray]:
    """What the cache saves and costs (see the module docstring)."""
    per_token = 2 * cfg.n_dec_layers * cfg.kv_heads * cfg.d_head  # K and V rows of every layer
    cached = np.array([p + 1 for p in positions], dtype=np.int64)  # positions after each turn
    real = REAL_MODEL
    real_per_token = 2 * real["layers"] * real["kv_heads"] * real["d_head"]
    real_bytes = real_per_token * real["context"] * real["bytes_per_number"]
    out = {
        "gen.rows_cached": np.array(rows_cached, dtype=np.int64),
        "gen.rows_full": np.array(rows_full, dtype=np.int64),
        "gen.rows_cached_total": np.array(sum(rows_cached), dtype=np.int64),
        "gen.rows_full_total": np.array(sum(rows_full), dtype=np.int64),
        "gen.max_diff": np.array(max(diffs), dtype=np.float32),
        "gen.numbers_per_token": np.array(per_token, dtype=np.int64),
        "gen.cache_positions": cached,
        "gen.cache_numbers": per_token * cached,
        "gen.bytes_per_number": np.array(4, dtype=np.int64),  # float32
        "gen.cache_bytes": 4 * per_token * cached,
        "gen.real.numbers_per_token": np.array(real_per_token, dtype=np.int64),
        "gen.real.bytes": np.array(real_bytes, dtype=np.int64),
        "gen.real.megabytes": np.array(real_bytes / 1e6, dtype=np.float64),
    }
    for key in ("layers", "kv_heads", "d_head", "context", "bytes_per_number"):
        out[f"gen.real.{key}"] = np.array(real[key], dtype=np.int64)
    return out
