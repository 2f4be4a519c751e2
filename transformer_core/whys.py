"""The numbers behind the ``why`` scene: why the scores are divided by √d_k, what a dot
product measures, softmax worked on one row, layer norm against batch norm, what multi-head
attention costs, how many parameters each part of a model has, and the residual stream.

Everything is computed here from a model's trace (its real scores, activations and weights) and
recorded under ``why.`` so that the scene only lays it out and ``trace`` can export it. The one
thing the model does not compute, the spread of q·k for random vectors at d_k = 4 and 64, comes
from ``numpy.random.default_rng(SEED)`` and the scene labels it as an illustration.

:func:`count_parameters` counts, part by part, the parameters this repository's model builds
from a :class:`~transformer_core.config.Config` (the tests check it against ``sum(p.numel())``);
it also counts the paper's base model and SmolLM2-135M from their published sizes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import MappingProxyType

import numpy as np

from .config import Config

__all__ = ["PAPER_BASE", "PARTS", "SEED", "SMOLLM2", "count_parameters", "why_run"]

SEED = 0  # the random vectors of the √d_k illustration
RANDOM_PAIRS = 4000  # q, k pairs whose dot products give the illustration's spread
RANDOM_DK = (4, 64)
SHIFT = 100.0  # added to a row of scores to show why softmax subtracts the max
PARTS = ("embedding", "attention", "feed-forward", "norms", "unembedding")

# "Attention Is All You Need", Table 3, base: 6 + 6 layers, d_model 512, 8 heads of 64,
# d_ff 2048, a shared 37,000-token byte-pair vocabulary, the output layer tied to the embedding.
PAPER_BASE = Config(mode="encdec", src_vocab_size=37000, tgt_vocab_size=37000, d_model=512,
                    n_heads=8, d_head=64, d_ff=2048, n_enc_layers=6, n_dec_layers=6,
                    tie_embeddings=True)
# SmolLM2-135M's published sizes (its config.json; the same as the GGUF file --model smollm2 reads)
SMOLLM2 = Config(mode="decoder", tgt_vocab_size=49152, d_model=576, n_heads=9, d_head=64,
                 d_ff=1536, n_dec_layers=30, scale_embedding=False, norm_position="pre",
                 norm="rmsnorm", positions="rope", rope_theta=100000.0, ffn="swiglu",
                 n_kv_heads=3, bias=False, tie_embeddings=True)


def count_parameters(cfg: Config) -> dict[str, int]:
    """The parameters :class:`transformer_core.model.Transformer` builds from ``cfg``, by part
    (:data:`PARTS`). Attention has no biases; a tied model's unembedding is only its bias."""
    d, dk, h, kv = cfg.d_model, cfg.d_head, cfg.n_heads, cfg.kv_heads
    attn = h * d * dk * 2 + kv * d * dk * 2  # W_Q, W_O per query head; W_K, W_V per K/V head
    if cfg.ffn == "swiglu":
        ffn = 3 * d * cfg.d_ff
    else:
        ffn = 2 * d * cfg.d_ff
    if cfg.bias:
        ffn += cfg.d_ff + d
    norm = d * (2 if cfg.norm == "layernorm" else 1)
    enc = cfg.n_enc_layers if cfg.mode == "encdec" else 0
    dec = cfg.n_dec_layers
    cross = dec if cfg.mode == "encdec" else 0
    stacks = 1 + (cfg.mode == "encdec")
    norms = (2 * enc + 2 * dec + cross) * norm
    if cfg.norm_position == "pre":
        norms += stacks * norm  # each stack's final norm
    embedding = cfg.tgt_vocab_size * d + (cfg.src_vocab_size * d if cfg.mode == "encdec" else 0)
    unembed = (0 if cfg.tie_embeddings else d * cfg.tgt_vocab_size)
    unembed += cfg.tgt_vocab_size if cfg.bias else 0
    return {"embedding": embedding, "attention": (enc + dec + cross) * attn,
            "feed-forward": (enc + dec) * ffn, "norms": norms, "unembedding": unembed}


def first_attention(cfg: Config) -> str:
    """The first layer's self-attention: the encoder's, or a decoder-only model's."""
    return f"{'encoder' if cfg.mode == 'encdec' else 'decoder'}.blocks.0.attn"


def _softmax(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _scaling(full, cfg: Config, head: int) -> dict[str, np.ndarray]:
    """This head's real scores, and the spread of q·k for random vectors (an illustration)."""
    prefix = first_attention(cfg)
    scores = np.asarray(full[f"{prefix}.scores"][head], dtype=np.float64)  # [T, T]
    allowed = np.asarray(full[f"{prefix}.mask"], dtype=bool)  # True where a key is visible
    pos = scores.shape[0] - 1  # the last query sees every key, even under a causal mask
    row = scores[pos]
    rng = np.random.default_rng(SEED)
    spread, spread_scaled = [], []
    for dk in RANDOM_DK:
        q = rng.standard_normal((RANDOM_PAIRS, dk))
        k = rng.standard_normal((RANDOM_PAIRS, dk))
        dots = (q * k).sum(axis=1)
        spread.append(dots.std())
        spread_scaled.append((dots / math.sqrt(dk)).std())
    # one illustrative row of scores at d_k = 64: a random query against as many random keys
    q = rng.standard_normal(RANDOM_DK[-1])
    keys = rng.standard_normal((len(row), RANDOM_DK[-1]))
    big = keys @ q
    dk = cfg.d_head
    return {
        "why.scale.pos": np.int64(pos),
        "why.scale.d_k": np.int64(dk),
        "why.scale.sqrt_d_k": np.float64(math.sqrt(dk)),
        "why.scale.row": row,
        "why.scale.scaled": row / math.sqrt(dk),
        "why.scale.soft_raw": _softmax(row),
        "why.scale.soft_scaled": _softmax(row / math.sqrt(dk)),
        "why.scale.real_std": np.float64(scores[allowed].std()),
        "why.scale.real_std_scaled": np.float64((scores[allowed] / math.sqrt(dk)).std()),
        "why.scale.rand_d_k": np.array(RANDOM_DK, dtype=np.int64),
        "why.scale.rand_sqrt": np.sqrt(np.array(RANDOM_DK, dtype=np.float64)),
        "why.scale.rand_std": np.array(spread),
        "why.scale.rand_std_scaled": np.array(spread_scaled),
        "why.scale.rand_row": big,
        "why.scale.rand_soft_raw": _softmax(big),
        "why.scale.rand_soft_scaled": _softmax(big / math.sqrt(RANDOM_DK[-1])),
    }


def _dot(full, cfg: Config) -> dict[str, np.ndarray]:
    """Two of the sentence's input vectors X (the two most alike), their lengths, angle and dot
    product, and their coordinates in the plane they span (lengths and angle kept exactly)."""
    x = np.asarray(full[f"{first_attention(cfg).rsplit('.attn', 1)[0]}.resid_pre"],
                   dtype=np.float64)
    norms = np.linalg.norm(x, axis=1)
    cos = (x @ x.T) / np.outer(norms, norms)
    ids = np.asarray(full.token_ids)
    cos[ids[:, None] == ids[None, :]] = -2.0  # two different words (the same word is one vector
    if (cos < -1.5).all():  # without positions); a sentence of one repeated word: any two
        cos = (x @ x.T) / np.outer(norms, norms)
        np.fill_diagonal(cos, -2.0)
    i, j = np.unravel_index(int(np.argmax(cos)), cos.shape)
    i, j = sorted((int(i), int(j)))
    a, b = x[i], x[j]
    la, lb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    c = float(a @ b / (la * lb))
    theta = math.acos(max(-1.0, min(1.0, c)))
    return {
        "why.dot.pos": np.array([i, j], dtype=np.int64),
        "why.dot.a": a, "why.dot.b": b,
        "why.dot.len": np.array([la, lb]),
        "why.dot.cos": np.float64(c),
        "why.dot.angle": np.float64(math.degrees(theta)),
        "why.dot.product": np.float64(a @ b),
        "why.dot.plane": np.array([[la, 0.0], [lb * c, lb * math.sin(theta)]]),
    }


def _softmax_row(row: np.ndarray) -> dict[str, np.ndarray]:
    """Softmax of the scaled row, worked: max, x − max, exp, sum, division; and the same row
    shifted by SHIFT, whose naive exp overflows float32 while the stable softmax is unchanged."""
    shifted = row - row.max()
    e = np.exp(shifted)
    big = row + SHIFT
    with np.errstate(over="ignore"):
        naive = np.exp(big.astype(np.float32))
    return {
        "why.soft.x": row,
        "why.soft.max": np.float64(row.max()),
        "why.soft.shifted": shifted,
        "why.soft.exp": e,
        "why.soft.sum": np.float64(e.sum()),
        "why.soft.probs": e / e.sum(),
        "why.soft.offset": np.float64(SHIFT),
        "why.soft.big": big,
        "why.soft.big_probs": _softmax(big),
        "why.soft.overflows": np.int64(int(np.isinf(naive).sum())),
        "why.soft.f32_limit": np.float64(math.log(float(np.finfo(np.float32).max))),
    }


def _norms(full, cfg: Config) -> dict[str, np.ndarray]:
    """The activations the first block's first norm reads, normalised along each row (layer
    norm: one token's features) and along each column (batch norm's direction: one feature
    over the sentence's tokens), without γ and β."""
    block = first_attention(cfg).rsplit(".attn", 1)[0]
    x = np.asarray(full[f"{block}.resid_pre" if cfg.norm_position == "pre"
                        else f"{block}.resid_mid"], dtype=np.float64)
    eps = cfg.ln_eps
    row = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + eps)
    col = (x - x.mean(0, keepdims=True)) / np.sqrt(x.var(0, keepdims=True) + eps)
    return {"why.norm.x": x, "why.norm.row": row, "why.norm.col": col,
            "why.norm.row_mean": x.mean(1), "why.norm.row_std": x.std(1),
            "why.norm.col_mean": x.mean(0), "why.norm.col_std": x.std(0)}


def _heads(full, cfg: Config, params) -> dict[str, np.ndarray]:
    """W_Q's heads side by side, and what one head of width d_model and h heads of width d_k
    cost: [one, h] × [W_Q, W_K, W_V parameters, their multiplications, Q·Kᵀ's, ·V's]."""
    prefix = first_attention(cfg)
    wq = np.asarray(params[f"{prefix}.W_Q"], dtype=np.float64)  # [h, d, d_k]
    t = int(np.asarray(full[f"{prefix}.scores"]).shape[-1])
    d, h, dk = cfg.d_model, cfg.n_heads, cfg.d_head
    one = [3 * d * d, 3 * t * d * d, t * t * d, t * t * d]
    many = [3 * h * d * dk, 3 * h * t * d * dk, h * t * t * dk, h * t * t * dk]
    return {"why.heads.W_Q": np.concatenate(list(wq), axis=1),
            "why.heads.tokens": np.int64(t), "why.heads.h": np.int64(h),
            "why.heads.d": np.int64(d), "why.heads.d_k": np.int64(dk),
            "why.heads.cost": np.array([one, many], dtype=np.int64)}


def _sizes(cfg: Config) -> dict[str, np.ndarray]:
    """Parameters by part (and their total) for this model, the paper's base and SmolLM2."""
    rows = []
    for c in (cfg, PAPER_BASE, SMOLLM2):
        counts = count_parameters(c)
        rows.append([counts[p] for p in PARTS] + [sum(counts.values())])
    return {"why.sizes.counts": np.array(rows, dtype=np.int64),
            "why.sizes.shared": np.int64(PAPER_BASE.src_vocab_size * PAPER_BASE.d_model),
            "why.sizes.configs": np.array([[c.d_model, c.n_heads, c.d_head, c.d_ff,
                                            c.n_enc_layers if c.mode == "encdec" else 0,
                                            c.n_dec_layers, c.tgt_vocab_size]
                                           for c in (cfg, PAPER_BASE, SMOLLM2)], dtype=np.int64)}


def _residual(full, cfg: Config) -> dict[str, np.ndarray]:
    """The first block's attention sub-layer adding into the stream at the last position: the
    input row, the sub-layer's output, their sum (before any post-norm)."""
    prefix = first_attention(cfg)
    block = prefix.rsplit(".attn", 1)[0]
    x = np.asarray(full[f"{block}.resid_pre"], dtype=np.float64)
    pos = x.shape[0] - 1
    return {"why.resid.pos": np.int64(pos), "why.resid.x": x[pos],
            "why.resid.sub": np.asarray(full[f"{prefix}.out"], dtype=np.float64)[pos],
            "why.resid.sum": np.asarray(full[f"{block}.resid_mid"], dtype=np.float64)[pos]}


def why_run(model="translate", sentence: str | None = None, head: int = 0):
    """A :class:`~transformer_core.records.Trace` of the model on ``sentence`` (every usual
    record) plus the ``why.*`` records of this module for attention head ``head`` of the first
    layer (float64, except the integer counts)."""
    from .records import _frozen
    from .trace import resolve_model, run_with_trace

    lm = resolve_model(model)
    full = run_with_trace(lm, sentence)
    cfg = lm.cfg
    if not 0 <= head < cfg.n_heads:
        raise ValueError(f"head {head} is out of range: this model has {cfg.n_heads}")
    extra = _scaling(full, cfg, head)
    extra.update(_dot(full, cfg))
    extra.update(_softmax_row(extra["why.scale.scaled"]))
    extra.update(_norms(full, cfg))
    extra.update(_heads(full, cfg, full.params))
    extra.update(_sizes(cfg))
    extra.update(_residual(full, cfg))
    clash = set(extra) & set(full)
    if clash:
        raise RuntimeError(f"trace names recorded twice: {sorted(clash)}")
    arrays = {**full._arrays, **{name: _frozen(np.asarray(v)) for name, v in extra.items()}}
    return replace(full, _arrays=MappingProxyType(arrays))
