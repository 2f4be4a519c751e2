"""A tiny Transformer written out step by step, as in "Attention Is All You Need".

Every intermediate exists as a tensor and is handed to an optional recorder ``rec(name, x)``,
which is how :mod:`transformer_core.trace` captures the numbers the scenes show. Names follow
module paths (``encoder.blocks.0.attn.pattern``). Shapes are for one sentence (no batch dim
in the recorded names); the modules themselves take a batch ``[B, T, d_model]``.

Attention projections carry no bias, so ``Q = X · W_Q`` holds exactly as drawn on screen.
Layers are post-LN ("Add & Norm"): ``x = LayerNorm(x + Sublayer(x))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .config import Config

__all__ = ["Recorder", "Transformer", "causal_mask", "positional_encoding"]

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
    """Mask out subsequent positions: True where query i may attend to key j (j <= i)."""
    return torch.tril(torch.ones(t_q, t_k, dtype=torch.bool))


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


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_h) W_O, head_i = softmax(Q_i K_iᵀ / √d_k) V_i."""

    def __init__(self, cfg: Config, name: str):
        super().__init__()
        self.name = name
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        std = 1.0 / math.sqrt(cfg.d_model)
        self.W_Q = nn.Parameter(torch.randn(cfg.n_heads, cfg.d_model, cfg.d_head) * std)
        self.W_K = nn.Parameter(torch.randn(cfg.n_heads, cfg.d_model, cfg.d_head) * std)
        self.W_V = nn.Parameter(torch.randn(cfg.n_heads, cfg.d_model, cfg.d_head) * std)
        self.W_O = nn.Parameter(torch.randn(cfg.n_heads, cfg.d_head, cfg.d_model) * std)

    def forward(
        self, x_q: torch.Tensor, x_kv: torch.Tensor, causal: bool, rec: Recorder,
        key_pad: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``key_pad`` [B, k_pos] is True at padding keys (training batches only)."""
        n = self.name
        B, Tq, _ = x_q.shape
        Tk = x_kv.shape[1]
        q = torch.einsum("btd,hde->bhte", x_q, self.W_Q)  # [B, head, q_pos, d_head]
        k = torch.einsum("btd,hde->bhte", x_kv, self.W_K)  # [B, head, k_pos, d_head]
        v = torch.einsum("btd,hde->bhte", x_kv, self.W_V)  # [B, head, k_pos, d_head]
        rec(f"{n}.q", q)
        rec(f"{n}.k", k)
        rec(f"{n}.v", v)
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
        self.b_1 = nn.Parameter(torch.zeros(cfg.d_ff))
        self.W_2 = nn.Parameter(torch.randn(cfg.d_ff, cfg.d_model) / math.sqrt(cfg.d_ff))
        self.b_2 = nn.Parameter(torch.zeros(cfg.d_model))

    def forward(self, x: torch.Tensor, rec: Recorder) -> torch.Tensor:
        hidden = x @ self.W_1 + self.b_1  # [B, T, d_ff]
        rec(f"{self.name}.hidden", hidden)
        act = F.relu(hidden)  # [B, T, d_ff]
        rec(f"{self.name}.act", act)
        out = act @ self.W_2 + self.b_2  # [B, T, d_model]
        rec(f"{self.name}.out", out)
        return out


class EncoderBlock(nn.Module):
    """x = LN1(x + SelfAttn(x)); x = LN2(x + FFN(x))."""

    def __init__(self, cfg: Config, name: str):
        super().__init__()
        self.name = name
        self.attn = MultiHeadAttention(cfg, f"{name}.attn")
        self.ln1 = LayerNorm(cfg, f"{name}.ln1")
        self.mlp = FeedForward(cfg, f"{name}.mlp")
        self.ln2 = LayerNorm(cfg, f"{name}.ln2")

    def forward(self, x: torch.Tensor, rec: Recorder, key_pad: torch.Tensor | None = None):
        rec(f"{self.name}.resid_pre", x)
        x = self.ln1(self._add(x, self.attn(x, x, False, rec, key_pad), "resid_mid", rec), rec)
        return self.ln2(self._add(x, self.mlp(x, rec), "resid_post", rec), rec)

    def _add(self, x, sub, name, rec):
        total = x + sub  # residual connection
        rec(f"{self.name}.{name}", total)
        return total


class DecoderBlock(EncoderBlock):
    """x = LN1(x + MaskedSelfAttn(x)); [x = LN2(x + CrossAttn(x, memory));] x = LN3(x + FFN(x)).

    Without ``memory`` (decoder-only mode) there is no cross-attention and the FFN's norm is
    ``ln2``.
    """

    def __init__(self, cfg: Config, name: str):
        super().__init__(cfg, name)
        self.has_cross = cfg.mode == "encdec"
        if self.has_cross:
            self.cross_attn = MultiHeadAttention(cfg, f"{name}.cross_attn")
            self.ln3 = LayerNorm(cfg, f"{name}.ln3")
            # in encdec mode ln2 follows cross-attention and ln3 follows the FFN

    def forward(self, x, rec: Recorder, memory: torch.Tensor | None = None,
                memory_pad: torch.Tensor | None = None):
        rec(f"{self.name}.resid_pre", x)
        x = self.ln1(self._add(x, self.attn(x, x, True, rec), "resid_mid", rec), rec)
        if self.has_cross:
            cross = self.cross_attn(x, memory, False, rec, memory_pad)
            x = self.ln2(self._add(x, cross, "resid_cross", rec), rec)
            return self.ln3(self._add(x, self.mlp(x, rec), "resid_post", rec), rec)
        return self.ln2(self._add(x, self.mlp(x, rec), "resid_post", rec), rec)


class Embed(nn.Module):
    """x = Embedding(tokens) * √d_model + PE(pos)."""

    def __init__(self, cfg: Config, vocab_size: int, name: str):
        super().__init__()
        self.name = name
        self.scale = math.sqrt(cfg.d_model) if cfg.scale_embedding else 1.0
        self.W_E = nn.Parameter(torch.randn(vocab_size, cfg.d_model) * 0.5)
        self.register_buffer("pe", positional_encoding(cfg.max_len, cfg.d_model), persistent=False)

    def forward(self, ids: torch.Tensor, rec: Recorder) -> torch.Tensor:
        T = ids.shape[1]
        if T > self.pe.shape[0]:
            raise ValueError(f"{T} tokens exceed the model's {self.pe.shape[0]} positions")
        embed = self.W_E[ids] * self.scale  # [B, T, d_model]
        rec(f"{self.name}.embed", embed)
        pos = self.pe[:T][None].expand_as(embed)  # [B, T, d_model]
        rec(f"{self.name}.pos_embed", pos)
        return embed + pos


class Transformer(nn.Module):
    """Encoder-decoder (``mode="encdec"``) or decoder-only (``mode="decoder"``) Transformer."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        if cfg.mode == "encdec":
            self.enc_embed = Embed(cfg, cfg.src_vocab_size, "encoder")
            self.enc_blocks = nn.ModuleList(
                EncoderBlock(cfg, f"encoder.blocks.{i}") for i in range(cfg.n_enc_layers)
            )
        self.dec_embed = Embed(cfg, cfg.tgt_vocab_size, "decoder")
        self.dec_blocks = nn.ModuleList(
            DecoderBlock(cfg, f"decoder.blocks.{i}") for i in range(cfg.n_dec_layers)
        )
        self.W_U = nn.Parameter(torch.randn(cfg.d_model, cfg.tgt_vocab_size) / math.sqrt(cfg.d_model))
        self.b_U = nn.Parameter(torch.zeros(cfg.tgt_vocab_size))

    def encode(self, src: torch.Tensor, rec: Recorder = None, src_pad=None) -> torch.Tensor:
        """Encoder stack; ``src_pad`` [B, S] marks padding in a training batch."""
        rec = rec or _noop
        x = self.enc_embed(src, rec)  # [B, S, d_model]
        for block in self.enc_blocks:
            x = block(x, rec, src_pad)
        return x

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor | None, rec: Recorder = None,
               src_pad=None):
        """Decoder stack, final linear and softmax: returns logits [B, T, vocab]."""
        rec = rec or _noop
        x = self.dec_embed(tgt, rec)  # [B, T, d_model]
        for block in self.dec_blocks:
            x = block(x, rec, memory, src_pad)
        logits = x @ self.W_U + self.b_U  # [B, T, vocab]
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
