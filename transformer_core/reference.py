"""The hand-written model checked against PyTorch's own fused layers, loaded with its weights.

``nn.TransformerEncoderLayer``, ``nn.TransformerDecoderLayer``, ``nn.MultiheadAttention`` and
``F.scaled_dot_product_attention`` are independent implementations of the same maths. The
tests use these helpers on random inputs; ``python cli.py verify`` uses :func:`compare_trace`
on the very sentence a scene shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .model import causal_mask

__all__ = ["Comparison", "compare_trace", "load_mha", "torch_decoder_layer", "torch_encoder_layer"]


def _mha_weights(attn):
    """Our per-head W_Q/W_K/W_V [head, d_model, d_head] and W_O as nn.MultiheadAttention's."""
    H, D, dh = attn.W_Q.shape

    def rows(W):  # out-feature rows ordered head by head, as torch splits heads
        return W.permute(0, 2, 1).reshape(H * dh, D)

    in_proj = torch.cat([rows(attn.W_Q), rows(attn.W_K), rows(attn.W_V)])
    out_proj = attn.W_O.reshape(H * dh, D).T
    return in_proj, out_proj


def load_mha(torch_attn: nn.MultiheadAttention, attn) -> None:
    """Copy our attention's weights into ``torch_attn`` (zero biases: ours have none)."""
    in_proj, out_proj = _mha_weights(attn)
    with torch.no_grad():
        torch_attn.in_proj_weight.copy_(in_proj)
        torch_attn.in_proj_bias.zero_()
        torch_attn.out_proj.weight.copy_(out_proj)
        torch_attn.out_proj.bias.zero_()


def _load_ffn_norms(layer, block, norms) -> None:
    with torch.no_grad():
        layer.linear1.weight.copy_(block.mlp.W_1.T)
        layer.linear1.bias.copy_(block.mlp.b_1)
        layer.linear2.weight.copy_(block.mlp.W_2.T)
        layer.linear2.bias.copy_(block.mlp.b_2)
        for torch_norm, ours in norms:
            torch_norm.weight.copy_(ours.gamma)
            torch_norm.bias.copy_(ours.beta)


def torch_encoder_layer(block, cfg) -> nn.TransformerEncoderLayer:
    """PyTorch's post-LN encoder layer holding ``block``'s weights (also a decoder-only block)."""
    layer = nn.TransformerEncoderLayer(
        cfg.d_model, cfg.n_heads, cfg.d_ff, dropout=0.0, activation="relu",
        batch_first=True, norm_first=False, layer_norm_eps=cfg.ln_eps,
    )
    load_mha(layer.self_attn, block.attn)
    _load_ffn_norms(layer, block, [(layer.norm1, block.ln1), (layer.norm2, block.ln2)])
    return layer.eval()


def torch_decoder_layer(block, cfg) -> nn.TransformerDecoderLayer:
    """PyTorch's post-LN decoder layer holding ``block``'s weights."""
    layer = nn.TransformerDecoderLayer(
        cfg.d_model, cfg.n_heads, cfg.d_ff, dropout=0.0, activation="relu",
        batch_first=True, norm_first=False, layer_norm_eps=cfg.ln_eps,
    )
    load_mha(layer.self_attn, block.attn)
    load_mha(layer.multihead_attn, block.cross_attn)
    _load_ffn_norms(
        layer, block,
        [(layer.norm1, block.ln1), (layer.norm2, block.ln2), (layer.norm3, block.ln3)],
    )
    return layer.eval()


@dataclass(frozen=True)
class Comparison:
    """The largest difference between the trace and PyTorch, and where it is."""

    max_diff: float
    worst: str  # the record (and the PyTorch function) of the largest difference
    checks: int  # how many records were compared


def _t(trace, name: str) -> torch.Tensor:
    return torch.from_numpy(trace[name].copy())


@torch.no_grad()
def compare_trace(model, trace) -> Comparison:
    """Recompute the trace's sentence with PyTorch's layers fed our weights.

    Per block: the block's output with ``nn.TransformerEncoderLayer`` /
    ``nn.TransformerDecoderLayer`` on the recorded input; each attention's output and per-head
    pattern with ``nn.MultiheadAttention``; each head's weighted sum with
    ``F.scaled_dot_product_attention``. Then the logits and the softmax. ``model`` is the
    :class:`~transformer_core.model.Transformer` that produced ``trace``.
    """
    cfg = model.cfg
    diffs: list[tuple[float, str]] = []

    def check(name: str, theirs: torch.Tensor, how: str) -> None:
        # Relative to the tensor's size where that exceeds 1: float32 rounding grows with the
        # numbers, and a 30-layer model's residual stream reaches the hundreds.
        ours = _t(trace, name)
        scale = max(1.0, float(theirs.abs().max()))
        diffs.append((float((ours - theirs.reshape(ours.shape)).abs().max()) / scale,
                      f"{name} ({how})"))

    if cfg.norm_position == "pre" or cfg.norm == "rmsnorm" or cfg.positions == "rope" \
            or cfg.ffn == "swiglu" or cfg.kv_heads != cfg.n_heads:
        _compare_modern(model, trace, check)
        worst = max(diffs)
        return Comparison(worst[0], worst[1], len(diffs))

    def attention(prefix: str, attn, x_kv: torch.Tensor | None, causal: bool) -> None:
        q, k, v = (_t(trace, f"{prefix}.{n}") for n in "qkv")
        mask = _t(trace, f"{prefix}.mask")
        check(f"{prefix}.z", F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
              "F.scaled_dot_product_attention")
        x = _t(trace, prefix.rsplit(".", 1)[0] + (".resid_pre" if "cross" not in prefix else ".ln1.out"))
        kv = x if x_kv is None else x_kv
        mha = nn.MultiheadAttention(cfg.d_model, cfg.n_heads, dropout=0.0, batch_first=True)
        load_mha(mha, attn)
        block_mask = ~causal_mask(x.shape[0], kv.shape[0]) if causal else None  # True = hidden
        out, weights = mha(x[None], kv[None], kv[None], attn_mask=block_mask, need_weights=True,
                           average_attn_weights=False)
        check(f"{prefix}.out", out[0], "nn.MultiheadAttention")
        check(f"{prefix}.pattern", weights[0], "nn.MultiheadAttention weights")

    memory = None
    if cfg.mode == "encdec":
        for i, block in enumerate(model.enc_blocks):
            p = f"encoder.blocks.{i}"
            attention(f"{p}.attn", block.attn, None, False)
            check(f"{p}.ln2.out", torch_encoder_layer(block, cfg)(_t(trace, f"{p}.resid_pre")[None]),
                  "nn.TransformerEncoderLayer")
        memory = _t(trace, f"encoder.blocks.{len(model.enc_blocks) - 1}.ln2.out")
    for i, block in enumerate(model.dec_blocks):
        p = f"decoder.blocks.{i}"
        x = _t(trace, f"{p}.resid_pre")[None]
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
        attention(f"{p}.attn", block.attn, None, True)
        if memory is None:
            theirs = torch_encoder_layer(block, cfg)(x, src_mask=mask, is_causal=True)
            check(f"{p}.ln2.out", theirs, "nn.TransformerEncoderLayer, causal")
        else:
            attention(f"{p}.cross_attn", block.cross_attn, memory, False)
            theirs = torch_decoder_layer(block, cfg)(x, memory[None], tgt_mask=mask, tgt_is_causal=True)
            check(f"{p}.ln3.out", theirs, "nn.TransformerDecoderLayer")
    last = "ln3" if memory is not None else "ln2"
    final = _t(trace, f"decoder.blocks.{len(model.dec_blocks) - 1}.{last}.out")
    logits = F.linear(final, model.W_U.T, model.b_U)
    check("logits", logits, "F.linear")
    check("probs", torch.softmax(_t(trace, "logits"), dim=-1), "torch.softmax")
    worst = max(diffs)
    return Comparison(worst[0], worst[1], len(diffs))


def _compare_modern(model, trace, check) -> None:
    """Today's block (decoder-only), each piece recomputed with PyTorch's own functions:
    F.rms_norm / F.layer_norm, the rotation as complex multiplication (torch.polar), grouped
    keys through F.scaled_dot_product_attention(enable_gqa=True), F.silu and F.linear."""
    cfg = model.cfg
    if cfg.mode != "decoder":
        raise ValueError("the reference for the modern block covers decoder-only models")

    def norm(name: str, module, x):
        if cfg.norm == "rmsnorm":
            return F.rms_norm(x, (cfg.d_model,), module.gamma, eps=cfg.ln_eps), "F.rms_norm"
        return F.layer_norm(x, (cfg.d_model,), module.gamma, module.beta, cfg.ln_eps), "F.layer_norm"

    def rotate(x, angle):  # pairs (i, i + d/2) as complex numbers times e^{i·angle}
        half = x.shape[-1] // 2
        z = torch.complex(x[..., :half].double(), x[..., half:].double())
        z = z * torch.polar(torch.ones_like(angle.double()), angle.double())
        return torch.cat([z.real, z.imag], dim=-1).float()

    pre = cfg.norm_position == "pre"
    for i, block in enumerate(model.dec_blocks):
        p = f"decoder.blocks.{i}"
        x = _t(trace, f"{p}.resid_pre")
        h = x
        if pre:
            h, how = norm(f"{p}.ln1", block.ln1, x)
            check(f"{p}.ln1.out", h, how)
        q = torch.einsum("td,hde->hte", h, block.attn.W_Q)
        k = torch.einsum("td,hde->hte", h, block.attn.W_K)
        v = torch.einsum("td,hde->hte", h, block.attn.W_V)
        check(f"{p}.attn.q", q, "einsum")
        check(f"{p}.attn.k", k, "einsum")
        if cfg.positions == "rope":
            pos = torch.arange(x.shape[0], dtype=torch.float64)
            inv = cfg.rope_theta ** (-torch.arange(0, cfg.d_head, 2, dtype=torch.float64) / cfg.d_head)
            angle = pos[:, None] * inv[None]
            check(f"{p}.attn.angle", angle.float(), "pos · θ^(−2i/d)")
            q, k = rotate(q, angle), rotate(k, angle)
            check(f"{p}.attn.q_rot", q, "complex rotation (torch.polar)")
            check(f"{p}.attn.k_rot", k, "complex rotation (torch.polar)")
        z = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True,
                                           enable_gqa=True)[0]
        check(f"{p}.attn.z", z, "F.scaled_dot_product_attention(enable_gqa=True)")
        out = F.linear(z.transpose(0, 1).reshape(x.shape[0], -1),
                       block.attn.W_O.reshape(cfg.d_model, -1).T)
        check(f"{p}.attn.out", out, "F.linear")
        mid = x + out if pre else None
        if not pre:
            mid, how = norm(f"{p}.ln1", block.ln1, x + out)
            check(f"{p}.ln1.out", mid, how)
        h2 = mid
        if pre:
            h2, how = norm(f"{p}.ln2", block.ln2, mid)
            check(f"{p}.ln2.out", h2, how)
        if cfg.ffn == "swiglu":
            ffn = F.linear(F.silu(F.linear(h2, block.mlp.W_gate.T)) * F.linear(h2, block.mlp.W_up.T),
                           block.mlp.W_down.T)
            how = "F.silu, F.linear"
        else:
            ffn = F.linear(F.relu(F.linear(h2, block.mlp.W_1.T, block.mlp.b_1)), block.mlp.W_2.T,
                           block.mlp.b_2)
            how = "F.relu, F.linear"
        check(f"{p}.mlp.out", ffn, how)
        if pre:
            check(f"{p}.resid_post", mid + ffn, "sum")
        else:
            final, how = norm(f"{p}.ln2", block.ln2, mid + ffn)
            check(f"{p}.ln2.out", final, how)
    last = f"decoder.blocks.{len(model.dec_blocks) - 1}"
    x = _t(trace, f"{last}.resid_post" if pre else f"{last}.ln2.out")
    if pre:
        x, how = norm("decoder.ln_f", model.dec_ln_f, x)
        check("decoder.ln_f.out", x, how)
    check("logits", F.linear(x, model.unembedding().T, model.b_U), "F.linear")
    check("probs", torch.softmax(_t(trace, "logits"), dim=-1), "torch.softmax")
