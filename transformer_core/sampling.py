"""How the next word is chosen from the logits: temperature, top-k, top-p (nucleus), a seeded
draw, and what greedy decoding would have picked; every step recorded so that a scene can draw
it and ``trace`` can export it.

The steps, as Hugging Face ``transformers`` applies its logits processors (temperature, then
top-k, then top-p), on one position's logits ``z`` over the vocabulary::

    tempered      = softmax(z / T)                                  temperature T > 0
    top_k.kept    = tempered ≥ the k-th largest of tempered         (ties at the cut are kept)
    top_k.mass    = Σ of the kept words' probabilities
    top_k.probs   = tempered · kept / top_k.mass                    renormalised
    top_p.order   = word ids by decreasing probability (of top_k.probs, or tempered)
    top_p.cumsum  = cumulative sum in that order
    top_p.kept    = the words whose cumulative sum *before* them is < p: the fewest most
                    probable words that reach p
    top_p.mass, top_p.probs   their total, and the probabilities renormalised over them
    final         = the distribution the word is drawn from
    draw.order, draw.cumsum   the kept words, most probable first, and their cumulative sum
    u             = a uniform number in [0, 1) from ``numpy.random.default_rng(seed)``
    choice        = the first word of ``draw.order`` whose cumulative sum exceeds u
    greedy        = argmax z (the same at every temperature)

:func:`sampler` computes them for one position (names without a prefix); :func:`sample_run` runs
the model on a sentence and records, under ``sample.``, one position's logits with the softmax at
several temperatures side by side, top-k and top-p each on the tempered distribution, and the
draw through the filters that were asked for. :mod:`transformer_core.generate` records the same
steps for every turn under ``gen.T.sampler.``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import MappingProxyType

import numpy as np

__all__ = ["SHOWN_TEMPERATURES", "SHOWN_WORDS", "SCENE_TOP_K", "SCENE_TOP_P", "SamplingError", "check_sampler",
           "draw", "sample_run", "sampler", "sampling_position", "softmax", "top_k_keep",
           "top_p_keep"]

SHOWN_TEMPERATURES = (0.5, 1.0, 2.0)  # the softmax side by side: sharper, as trained, flatter
SCENE_TOP_K = 3  # what the sampling scene's top-k step shows when --top-k is not given
SCENE_TOP_P = 0.9  # and its top-p step without --top-p
SHOWN_WORDS = 6  # the most probable words the temperature charts show (the rest as one bar)


class SamplingError(ValueError):
    """Sampler settings that mean nothing (a temperature ≤ 0, top-k above the vocabulary...)."""


TEMPERATURES = (0.01, 100.0)  # below, logits / T overflows and T is no longer drawn as itself


def check_sampler(temperature: float | None, top_k: int | None, top_p: float | None,
                  vocab_size: int | None = None) -> None:
    """Raise :class:`SamplingError` (one line) for settings outside their range; None is off."""
    low, high = TEMPERATURES
    if temperature is not None and not (math.isfinite(temperature) and low <= temperature <= high):
        raise SamplingError(f"the temperature must be from {low:g} to {high:g}, not {temperature:g}")
    if top_k is not None:
        if top_k < 1:
            raise SamplingError(f"top-k must be at least 1, not {top_k}")
        if vocab_size is not None and top_k > vocab_size:
            raise SamplingError(f"top-k must be at most the vocabulary's {vocab_size} words, "
                                f"not {top_k}")
    if top_p is not None and not (math.isfinite(top_p) and 0 < top_p <= 1):
        raise SamplingError(f"top-p must be in (0, 1], not {top_p}")


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / temperature) over the last axis, in float64."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _renormalised(probs: np.ndarray, kept: np.ndarray) -> np.ndarray:
    out = np.where(kept, probs, 0.0)
    return out / out.sum()


def _by_probability(probs: np.ndarray) -> np.ndarray:
    """Word ids by decreasing probability; equal ones by id (a stable order)."""
    return np.argsort(-probs, kind="stable")


def top_k_keep(probs: np.ndarray, k: int) -> np.ndarray:
    """True for the words at least as probable as the k-th most probable one."""
    cut = np.sort(probs)[::-1][min(k, len(probs)) - 1]
    return probs >= cut


def top_p_keep(probs: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(order, cumsum, kept)``: ids by decreasing probability, their cumulative sum, and True
    for the fewest most probable words whose probabilities reach ``p`` (the sum before a kept
    word is below p; the most probable word is always kept)."""
    order = _by_probability(probs)
    cumsum = np.cumsum(probs[order])
    before = np.concatenate([[0.0], cumsum[:-1]])
    kept_sorted = (before < p) | (np.arange(len(order)) == 0)
    if p >= 1.0:  # nothing cut, even words whose probability rounds to nothing
        kept_sorted[:] = True
    kept = np.zeros(len(probs), dtype=bool)
    kept[order] = kept_sorted
    return order, cumsum, kept


def draw(probs: np.ndarray, u: float) -> tuple[np.ndarray, np.ndarray, int]:
    """``(order, cumsum, choice)``: inverse-CDF sampling with the uniform number ``u``, over the
    words of non-zero probability, most probable first."""
    order = _by_probability(probs)
    order = order[probs[order] > 0]
    cumsum = np.cumsum(probs[order])
    k = int(np.searchsorted(cumsum, u * cumsum[-1], side="right"))
    return order, cumsum, int(order[min(k, len(order) - 1)])


def sampler(logits: np.ndarray, temperature: float, top_k: int | None, top_p: float | None,
            u: float) -> dict[str, np.ndarray]:
    """Every step of choosing one word from ``logits`` [vocab] (see the module docstring);
    ``top_k``/``top_p`` None (or top-p 1) leave that filter out. Arrays are float32, ids int64,
    masks bool."""
    check_sampler(temperature, top_k, top_p, len(logits))
    out: dict[str, np.ndarray] = {}
    probs = softmax(logits, temperature)
    out["tempered"] = probs
    if top_k is not None:
        kept = top_k_keep(probs, top_k)
        out["top_k.mass"] = np.float64(np.where(kept, probs, 0.0).sum())  # what p′ divides by
        probs = _renormalised(probs, kept)
        out["top_k.kept"], out["top_k.probs"] = kept, probs
    if top_p is not None:
        order, cumsum, kept = top_p_keep(probs, top_p)
        out["top_p.mass"] = np.float64(np.where(kept, probs, 0.0).sum())
        probs = _renormalised(probs, kept)
        out["top_p.order"], out["top_p.cumsum"] = order, cumsum
        out["top_p.kept"], out["top_p.probs"] = kept, probs
    out["final"] = probs
    order, cumsum, choice = draw(probs, u)
    out["draw.order"], out["draw.cumsum"] = order, cumsum
    out["u"] = np.float64(u)
    out["choice"] = np.int64(choice)
    out["greedy"] = np.int64(int(np.argmax(logits)))
    return {k: _stored(v) for k, v in out.items()}


def _stored(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.float64:
        return x.astype(np.float32)
    return x


def uniform(seed: int) -> float:
    """The seeded uniform number of a draw."""
    return float(np.random.default_rng(seed).random())


def sampling_position(probs: np.ndarray, given: bool, decoder_only: bool) -> int:
    """Which position's logits the sampling scene shows: for a language model given a text, its
    last (what comes next); otherwise the position where the model is least sure (the largest
    entropy of its probabilities, the first of equals), where sampling changes most."""
    if given and decoder_only:
        return len(probs) - 1
    p = np.asarray(probs, dtype=np.float64)
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=-1)
    return int(np.argmax(entropy))


def sample_run(model="translate", sentence: str | None = None, *, temperature: float | None = None,
               top_k: int | None = None, top_p: float | None = None, seed: int = 0):
    """A :class:`~transformer_core.records.Trace` of the model on ``sentence`` (every usual
    record) plus the sampler at one position (:func:`sampling_position`), under ``sample.``::

        sample.position        []              the decoder position whose logits are sampled
        sample.logits          [vocab]         its logits
        sample.temperatures    [n]             the temperatures shown side by side (0.5, 1, 2)
        sample.softmax_at      [n, vocab]      softmax(logits / T) at each of them
        sample.shown           [6]             the most probable words (largest logits first)
        sample.rest_at         [n]             the other words' probabilities, summed
        sample.temperature     []              the sampler's temperature (default 1)
        sample.k.*             top-k alone on the tempered distribution (k: --top-k, else 3)
        sample.p.*             top-p alone on it (p: --top-p, else 0.9)
        sample.chain.*         the draw, through the filters asked for (:func:`sampler`)
        sample.top_k, sample.top_p   [] the values the k and p steps use
        sample.filters         [2]             whether the draw used top-k, top-p

    ``sample.k.top_k.kept`` and so on are :func:`sampler`'s names after the prefix.
    """
    from .records import _frozen
    from .trace import resolve_model, run_with_trace

    lm = resolve_model(model)
    check_sampler(temperature, top_k, top_p, lm.cfg.tgt_vocab_size)
    full = run_with_trace(lm, sentence)
    decoder_only = lm.cfg.mode != "encdec"
    pos = sampling_position(full["probs"], sentence is not None, decoder_only)
    t = 1.0 if temperature is None else float(temperature)
    k = SCENE_TOP_K if top_k is None else int(top_k)
    k = min(k, lm.cfg.tgt_vocab_size)
    p = SCENE_TOP_P if top_p is None else float(top_p)
    logits = np.asarray(full["logits"][pos], dtype=np.float32)
    u = uniform(seed)
    at = np.stack([softmax(logits, x) for x in SHOWN_TEMPERATURES])  # [n, vocab]
    shown = np.argsort(-logits, kind="stable")[:SHOWN_WORDS].astype(np.int64)
    extra: dict[str, np.ndarray] = {
        "sample.position": np.int64(pos),
        "sample.logits": logits,
        "sample.temperatures": np.array(SHOWN_TEMPERATURES, dtype=np.float32),
        "sample.softmax_at": at.astype(np.float32),
        "sample.shown": shown,
        "sample.rest_at": np.delete(at, shown, axis=1).sum(axis=1).astype(np.float32),
        "sample.temperature": np.float32(t),
        "sample.top_k": np.int64(k),
        "sample.top_p": np.float32(p),
        "sample.filters": np.array([top_k is not None, top_p is not None]),
        "sample.seed": np.int64(seed),
    }
    parts = {"k": (k, None), "p": (None, p), "chain": (top_k, top_p)}
    for name, (kk, pp) in parts.items():
        for key, value in sampler(logits, t, kk, pp, u).items():
            extra[f"sample.{name}.{key}"] = value
    clash = set(extra) & set(full)
    if clash:
        raise RuntimeError(f"trace names recorded twice: {sorted(clash)}")
    arrays = {**full._arrays, **{name: _frozen(value) for name, value in extra.items()}}
    return replace(full, _arrays=MappingProxyType(arrays))
