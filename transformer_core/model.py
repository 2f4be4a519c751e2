"""A tiny Transformer written out step by step, as in "Attention Is All You Need", with the
options of today's LLM block chosen by its :class:`~transformer_core.config.Config`.

Every intermediate exists as a tensor and is handed to an optional recorder ``rec(name, x)``,
which is how :mod:`transformer_core.trace` captures the numbers the scenes show. Names follow
module paths (``encoder.blocks.0.attn.pattern``). Shapes are for one sentence (no batch dim
in the recorded names); the modules themselves take a batch ``[B, T, d_model]``.

Attention projections carry no bias, so ``Q = X · W_Q`` holds exactly as drawn on screen.
By default layers are post-LN ("Add & Norm"): ``x = LayerNorm(x + Sublayer(x))``. The config
can make them pre-norm (``x = x + Sublayer(Norm(x))``, a final norm before W_U), use RMSNorm,
rotary positions on q and k (Hugging Face Llama's ``rotate_half`` pairing), SwiGLU,
grouped-query attention, no biases and tied embeddings: the block of GPT-2 and Llama.
``decode`` takes an optional :class:`KVCache` so generation feeds only the new token.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .config import Config

__all__ = ["KVCache", "Recorder", "Transformer", "causal_mask", "positional_encoding",
           "rope_angles", "rotate_half"]

Recorder = Optional[Callable[[str, torch.Tensor], None]]


def _noop(name: str, x: torch.Tensor) -> None:
    pass


def positional_encoding(max_len: int, d_model: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(same).  [pos, d_model]"""
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # [pos, 1]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)[None, :]  # [1, d_model/2]
    angle = pos / torch.pow(10000.0, two_i / d_model)  # [pos, d_model/2]
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


def causal_mask(t_q: int, t_k: int) -> torch.Tensor:
    """Mask out subsequent positions: True where query i may attend to key j (j <= i).

    With fewer queries than keys (new tokens after a KV cache) the queries are the last ones."""
    return torch.tril(torch.ones(t_q, t_k, dtype=torch.bool), diagonal=t_k - t_q)


def rope_angles(positions: torch.Tensor, d_head: int, theta: float) -> torch.Tensor:
    """Rotary angles pos · θ_i with θ_i = theta^(-2i/d_head), i < d_head/2.  [pos, d_head/2]

    Computed in float32 as Hugging Face Llama does, so the two agree to the last bits."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, d_head, 2, dtype=torch.int64).float() / d_head))
    return positions.float()[:, None] * inv_freq[None, :]  # [pos, d_head/2]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x_1 | x_2) → (−x_2 | x_1): dimension i is paired with i + d_head/2 (Llama's convention)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Turn each pair (x_i, x_{i+d/2}) of every row by its angle.  x [B, head, pos, d_head]"""
    emb = torch.cat((angle, angle), dim=-1)  # [pos, d_head]
    return x * emb.cos() + rotate_half(x) * emb.sin()  # [B, head, pos, d_head]


class KVCache:
    """Each layer's keys and values so far ([B, kv_head, pos, d_head], keys already rotated),
    so that ``decode`` can be fed only the new tokens. ``len(cache)`` is the positions cached."""

    def __init__(self) -> None:
        self.layers: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def extend(self, name: str, k: torch.Tensor, v: torch.Tensor):
        """Append the new rows of layer ``name``; returns all its K and V rows."""
        if name in self.layers:
            old_k, old_v = self.layers[name]
            k, v = torch.cat([old_k, k], dim=2), torch.cat([old_v, v], dim=2)
        self.layers[name] = (k, v)
        return k, v


class LayerNorm(nn.Module):
    """LayerNorm(x) = gamma * (x - mean) / sqrt(var + eps) + beta, over d_model."""

    def __init__(self, cfg: Config, name: str):
        super().__init__()
        self.name = name
        self.eps = cfg.ln_eps
        self.gamma = nn.Parameter(torch.ones(cfg.d_model))
        self.beta = nn.Parameter(torch.zeros(cfg.d_model))

    def forward(self, x: torch.Tensor, rec: Recorder) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)  # [B, T, 1]
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # [B, T, 1], biased as in nn.LayerNorm
        out = self.gamma * (x - mean) / torch.sqrt(var + self.eps) + self.beta  # [B, T, d_model]
        rec(f"{self.name}.mean", mean[..., 0])
        rec(f"{self.name}.var", var[..., 0])
        rec(f"{self.name}.out", out)
        return out


class RMSNorm(nn.Module):
    """RMSNorm(x) = gamma * x / sqrt(mean(x²) + eps): LayerNorm without the mean and without beta."""

    def __init__(self, cfg: Config, name: str):
        super().__init__()
        self.name = name
        self.eps = cfg.ln_eps
        self.gamma = nn.Parameter(torch.ones(cfg.d_model))

    def forward(self, x: torch.Tensor, rec: Recorder) -> torch.Tensor:
        rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # [B, T, 1]
        out = self.gamma * (x / rms)  # [B, T, d_model]
        rec(f"{self.name}.rms", rms[..., 0])
        rec(f"{self.name}.out", out)
        return out


def make_norm(cfg: Config, name: str) -> nn.Module:
    return RMSNorm(cfg, name) if cfg.norm == "rmsnorm" else LayerNorm(cfg, name)


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_h) W_O, head_i = softmax(Q_i K_iᵀ / √d_k) V_i.

    With grouped-query attention (``n_kv_heads`` < ``n_heads``) query head i uses K/V head
    i // group; with rotary positions q and k are turned by their positions before the scores."""

    def __init__(self, cfg: Config, name: str, rope: bool = False):
        super().__init__()
        self.name = name
        self.n_heads, self.d_head, self.group = cfg.n_heads, cfg.d_head, cfg.group
        self.rope, self.theta = rope, cfg.rope_theta
        std = 1.0 / math.sqrt(cfg.d_model)
        kv = cfg.kv_heads
        self.W_Q = nn.Parameter(torch.randn(cfg.n_heads, cfg.d_model, cfg.d_head) * std)
        self.W_K = nn.Parameter(torch.randn(kv, cfg.d_model, cfg.d_head) * std)
        self.W_V = nn.Parameter(torch.randn(kv, cfg.d_model, cfg.d_head) * std)
        self.W_O = nn.Parameter(torch.randn(cfg.n_heads, cfg.d_head, cfg.d_model) * std)

    def forward(
        self, x_q: torch.Tensor, x_kv: torch.Tensor, causal: bool, rec: Recorder,
        key_pad: torch.Tensor | None = None, cache: KVCache | None = None,
    ) -> torch.Tensor:
        """``key_pad`` [B, k_pos] is True at padding keys (training batches only); ``cache``
        holds the keys and values of earlier positions (self-attention only)."""
        n = self.name
        B, Tq, _ = x_q.shape
        start = len(cache) if cache is not None else 0  # position of the first new token
        q = torch.einsum("btd,hde->bhte", x_q, self.W_Q)  # [B, head, q_pos, d_head]
        k = torch.einsum("btd,hde->bhte", x_kv, self.W_K)  # [B, kv_head, k_pos, d_head]
        v = torch.einsum("btd,hde->bhte", x_kv, self.W_V)  # [B, kv_head, k_pos, d_head]
        rec(f"{n}.q", q)
        rec(f"{n}.k", k)
        rec(f"{n}.v", v)
        if self.rope:
            angle = rope_angles(torch.arange(start, start + Tq), self.d_head, self.theta)
            rec(f"{n}.angle", angle)  # [pos, d_head/2]: pos · θ_i
            q = apply_rope(q, angle)  # [B, head, q_pos, d_head]
            k = apply_rope(k, angle)  # [B, kv_head, k_pos, d_head]
            rec(f"{n}.q_rot", q)
            rec(f"{n}.k_rot", k)
        if cache is not None:
            k, v = cache.extend(n, k, v)  # [B, kv_head, start + k_pos, d_head]
        Tk = k.shape[2]
        if self.group > 1:  # each K/V head serves `group` query heads side by side
            k = k.repeat_interleave(self.group, dim=1)  # [B, head, k_pos, d_head]
            v = v.repeat_interleave(self.group, dim=1)  # [B, head, k_pos, d_head]
        scores = q @ k.transpose(-2, -1)  # [B, head, q_pos, k_pos]
        rec(f"{n}.scores", scores)
        scaled = scores / math.sqrt(self.d_head)  # [B, head, q_pos, k_pos]
        rec(f"{n}.scaled", scaled)
        if causal:
            mask = causal_mask(Tq, Tk).to(x_q.device)  # [q_pos, k_pos]
        else:
            mask = torch.ones(Tq, Tk, dtype=torch.bool, device=x_q.device)
        rec(f"{n}.mask", mask[None])
        if key_pad is not None:  # a padded training batch: no query looks at a padding key
            mask = mask[None, None] & ~key_pad[:, None, None, :]  # [B, 1, q_pos, k_pos]
        masked = scaled.masked_fill(~mask, float("-inf"))  # [B, head, q_pos, k_pos]
        rec(f"{n}.masked", masked)
        pattern = torch.softmax(masked, dim=-1)  # [B, head, q_pos, k_pos], rows sum to 1
        rec(f"{n}.pattern", pattern)
        z = pattern @ v  # [B, head, q_pos, d_head]
        rec(f"{n}.z", z)
        concat = z.transpose(1, 2).reshape(B, Tq, self.n_heads * self.d_head)  # [B, q_pos, d_model]
        rec(f"{n}.concat", concat)
        W_O = self.W_O.reshape(self.n_heads * self.d_head, -1)  # [h*d_head, d_model]
        out = concat @ W_O  # [B, q_pos, d_model]
        rec(f"{n}.out", out)
        return out


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2."""

    def __init__(self, cfg: Config, name: str):
        super().__init__()
        self.name = name
        self.W_1 = nn.Parameter(torch.randn(cfg.d_model, cfg.d_ff) / math.sqrt(cfg.d_model))
        self.W_2 = nn.Parameter(torch.randn(cfg.d_ff, cfg.d_model) / math.sqrt(cfg.d_ff))
        if cfg.bias:
            self.b_1 = nn.Parameter(torch.zeros(cfg.d_ff))
            self.b_2 = nn.Parameter(torch.zeros(cfg.d_model))
        else:
            self.b_1 = self.b_2 = None

    def forward(self, x: torch.Tensor, rec: Recorder) -> torch.Tensor:
        hidden = x @ self.W_1  # [B, T, d_ff]
        if self.b_1 is not None:
            hidden = hidden + self.b_1
        rec(f"{self.name}.hidden", hidden)
        act = F.relu(hidden)  # [B, T, d_ff]
        rec(f"{self.name}.act", act)
        out = act @ self.W_2  # [B, T, d_model]
        if self.b_2 is not None:
            out = out + self.b_2
        rec(f"{self.name}.out", out)
        return out


class SwiGLU(nn.Module):
    """SwiGLU(x) = (SiLU(x W_gate) ⊙ x W_up) W_down, SiLU(g) = g · sigmoid(g)."""

    def __init__(self, cfg: Config, name: str):
        super().__init__()
        self.name = name
        self.W_gate = nn.Parameter(torch.randn(cfg.d_model, cfg.d_ff) / math.sqrt(cfg.d_model))
        self.W_up = nn.Parameter(torch.randn(cfg.d_model, cfg.d_ff) / math.sqrt(cfg.d_model))
        self.W_down = nn.Parameter(torch.randn(cfg.d_ff, cfg.d_model) / math.sqrt(cfg.d_ff))

    def forward(self, x: torch.Tensor, rec: Recorder) -> torch.Tensor:
        gate = x @ self.W_gate  # [B, T, d_ff]
        up = x @ self.W_up  # [B, T, d_ff]
        rec(f"{self.name}.gate", gate)
        rec(f"{self.name}.up", up)
        act = F.silu(gate)  # [B, T, d_ff]
        rec(f"{self.name}.act", act)
        glu = act * up  # [B, T, d_ff], the gate scales each hidden unit
        rec(f"{self.name}.glu", glu)
        out = glu @ self.W_down  # [B, T, d_model]
        rec(f"{self.name}.out", out)
        return out


def make_ffn(cfg: Config, name: str) -> nn.Module:
    return SwiGLU(cfg, name) if cfg.ffn == "swiglu" else FeedForward(cfg, name)


class EncoderBlock(nn.Module):
    """Post-norm: x = N1(x + SelfAttn(x)); x = N2(x + FFN(x)).
    Pre-norm:  x = x + SelfAttn(N1(x)); x = x + FFN(N2(x))."""

    def __init__(self, cfg: Config, name: str, causal: bool = False):
        super().__init__()
        self.name = name
        self.pre = cfg.norm_position == "pre"
        self.causal = causal
        self.attn = MultiHeadAttention(cfg, f"{name}.attn", rope=cfg.positions == "rope")
        self.ln1 = make_norm(cfg, f"{name}.ln1")
        self.mlp = make_ffn(cfg, f"{name}.mlp")
        self.ln2 = make_norm(cfg, f"{name}.ln2")

    def sublayer(self, x, norm, fn, name, rec):
        """One residual sublayer in the config's norm position; returns the new x."""
        if self.pre:
            return self._add(x, fn(norm(x, rec)), name, rec)  # the stream itself is not normed
        return norm(self._add(x, fn(x), name, rec), rec)

    def forward(self, x: torch.Tensor, rec: Recorder, key_pad: torch.Tensor | None = None):
        rec(f"{self.name}.resid_pre", x)
        x = self.sublayer(x, self.ln1, lambda h: self.attn(h, h, False, rec, key_pad),
                          "resid_mid", rec)
        return self.sublayer(x, self.ln2, lambda h: self.mlp(h, rec), "resid_post", rec)

    def _add(self, x, sub, name, rec):
        total = x + sub  # residual connection
        rec(f"{self.name}.{name}", total)
        return total


class DecoderBlock(EncoderBlock):
    """Post-norm: x = N1(x + MaskedSelfAttn(x)); [x = N2(x + CrossAttn(x, memory));]
    x = N3(x + FFN(x)); pre-norm puts each norm on the sublayer's input instead.

    Without ``memory`` (decoder-only mode) there is no cross-attention and the FFN's norm is
    ``ln2``.
    """

    def __init__(self, cfg: Config, name: str):
        super().__init__(cfg, name)
        self.has_cross = cfg.mode == "encdec"
        if self.has_cross:
            # cross-attention keys are the encoder's words: no rotary positions between the two
            self.cross_attn = MultiHeadAttention(cfg, f"{name}.cross_attn")
            self.ln3 = make_norm(cfg, f"{name}.ln3")
            # in encdec mode ln2 follows cross-attention and ln3 follows the FFN

    def forward(self, x, rec: Recorder, memory: torch.Tensor | None = None,
                memory_pad: torch.Tensor | None = None, cache: KVCache | None = None):
        rec(f"{self.name}.resid_pre", x)
        x = self.sublayer(x, self.ln1, lambda h: self.attn(h, h, True, rec, cache=cache),
                          "resid_mid", rec)
        ffn_norm = self.ln2
        if self.has_cross:
            x = self.sublayer(x, self.ln2,
                              lambda h: self.cross_attn(h, memory, False, rec, memory_pad),
                              "resid_cross", rec)
            ffn_norm = self.ln3
        return self.sublayer(x, ffn_norm, lambda h: self.mlp(h, rec), "resid_post", rec)


class Embed(nn.Module):
    """x = Embedding(tokens) * √d_model + PE(pos); with rotary positions only the embedding
    (position enters inside attention instead)."""

    def __init__(self, cfg: Config, vocab_size: int, name: str):
        super().__init__()
        self.name = name
        self.max_len = cfg.max_len
        self.scale = math.sqrt(cfg.d_model) if cfg.scale_embedding else 1.0
        self.W_E = nn.Parameter(torch.randn(vocab_size, cfg.d_model) * 0.5)
        self.sinusoidal = cfg.positions == "sinusoidal"
        if self.sinusoidal:
            self.register_buffer("pe", positional_encoding(cfg.max_len, cfg.d_model),
                                 persistent=False)

    def forward(self, ids: torch.Tensor, rec: Recorder, start: int = 0) -> torch.Tensor:
        T = ids.shape[1]
        if start + T > self.max_len:
            raise ValueError(f"{start + T} tokens exceed the model's {self.max_len} positions")
        embed = self.W_E[ids] * self.scale  # [B, T, d_model]
        rec(f"{self.name}.embed", embed)
        if not self.sinusoidal:
            return embed
        pos = self.pe[start:start + T][None].expand_as(embed)  # [B, T, d_model]
        rec(f"{self.name}.pos_embed", pos)
        return embed + pos


class Transformer(nn.Module):
    """Encoder-decoder (``mode="encdec"``) or decoder-only (``mode="decoder"``) Transformer."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        pre = cfg.norm_position == "pre"
        if cfg.mode == "encdec":
            self.enc_embed = Embed(cfg, cfg.src_vocab_size, "encoder")
            self.enc_blocks = nn.ModuleList(
                EncoderBlock(cfg, f"encoder.blocks.{i}") for i in range(cfg.n_enc_layers)
            )
            if pre:  # a pre-norm stack's output has not been normed yet
                self.enc_ln_f = make_norm(cfg, "encoder.ln_f")
        self.dec_embed = Embed(cfg, cfg.tgt_vocab_size, "decoder")
        self.dec_blocks = nn.ModuleList(
            DecoderBlock(cfg, f"decoder.blocks.{i}") for i in range(cfg.n_dec_layers)
        )
        if pre:
            self.dec_ln_f = make_norm(cfg, "decoder.ln_f")
        if not cfg.tie_embeddings:
            self.W_U = nn.Parameter(
                torch.randn(cfg.d_model, cfg.tgt_vocab_size) / math.sqrt(cfg.d_model))
        self.b_U = nn.Parameter(torch.zeros(cfg.tgt_vocab_size)) if cfg.bias else None

    def unembedding(self) -> torch.Tensor:
        """W_U [d_model, vocab]: its own parameter, or W_Eᵀ when the embeddings are tied."""
        return self.dec_embed.W_E.T if self.cfg.tie_embeddings else self.W_U

    def encode(self, src: torch.Tensor, rec: Recorder = None, src_pad=None) -> torch.Tensor:
        """Encoder stack; ``src_pad`` [B, S] marks padding in a training batch."""
        rec = rec or _noop
        x = self.enc_embed(src, rec)  # [B, S, d_model]
        for block in self.enc_blocks:
            x = block(x, rec, src_pad)
        if self.cfg.norm_position == "pre":
            x = self.enc_ln_f(x, rec)  # [B, S, d_model]
        return x

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor | None, rec: Recorder = None,
               src_pad=None, cache: KVCache | None = None):
        """Decoder stack, final linear and softmax: returns logits [B, T, vocab].

        With ``cache``, ``tgt`` holds only the new tokens: their positions continue from the
        cache's length, they attend to the cached keys and values, and the cache grows."""
        rec = rec or _noop
        start = len(cache) if cache is not None else 0
        x = self.dec_embed(tgt, rec, start)  # [B, T, d_model]
        for block in self.dec_blocks:
            x = block(x, rec, memory, src_pad, cache)
        if self.cfg.norm_position == "pre":
            x = self.dec_ln_f(x, rec)  # [B, T, d_model]
        if cache is not None:
            cache.length = start + tgt.shape[1]
        logits = x @ self.unembedding()  # [B, T, vocab]
        if self.b_U is not None:
            logits = logits + self.b_U
        rec("logits", logits)
        rec("probs", torch.softmax(logits, dim=-1))
        return logits

    def forward(self, tgt: torch.Tensor, src: torch.Tensor | None = None, rec: Recorder = None,
                src_pad: torch.Tensor | None = None):
        """Logits [B, T, vocab]; ``src_pad`` [B, S] is True at padding in the source batch."""
        memory = self.encode(src, rec, src_pad) if self.cfg.mode == "encdec" else None
        return self.decode(tgt, memory, rec, src_pad)

    @torch.no_grad()
    def greedy(self, prefix: list[int], src: list[int] | None, eos_id: int, max_new: int):
        """Extend ``prefix`` one most-probable token at a time until <eos> or the last position."""
        ids = list(prefix)
        memory = None
        if self.cfg.mode == "encdec":
            memory = self.encode(torch.tensor([src]))
        while len(ids) < self.cfg.max_len and max_new > 0:
            logits = self.decode(torch.tensor([ids]), memory)
            nxt = int(logits[0, -1].argmax())
            ids.append(nxt)
            max_new -= 1
            if nxt == eos_id:
                break
        return ids
