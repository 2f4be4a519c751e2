"""Our parameter names ↔ Hugging Face Llama's, written once (used by the truth tests and by
loaders of Llama-family files such as SmolLM2).

Our attention keeps per-head matrices (W_Q [head, d_model, d_head], read as ``X · W_Q``);
Llama keeps ``q_proj.weight`` [head · d_head, d_model], read as ``X · Wᵀ``. The rotary
convention is the same (dimension i paired with i + d_head/2), so rows map head by head with no
reordering. Nothing here imports ``transformers``: the config is returned as keyword arguments
for ``LlamaConfig``.
"""

from __future__ import annotations

import torch

from .config import Config

__all__ = ["from_hf_llama_state_dict", "hf_llama_config", "to_hf_llama_state_dict"]


def _check(cfg: Config) -> None:
    llama = (cfg.mode == "decoder" and cfg.norm_position == "pre" and cfg.norm == "rmsnorm"
             and cfg.positions == "rope" and cfg.ffn == "swiglu" and not cfg.bias
             and not cfg.scale_embedding)
    if not llama:
        raise ValueError("only a decoder-only pre-RMSNorm, RoPE, SwiGLU model without biases or "
                         "embedding scaling has a Llama equivalent")


def hf_llama_config(cfg: Config) -> dict:
    """Keyword arguments of the ``transformers.LlamaConfig`` that computes what ``cfg`` does."""
    _check(cfg)
    return dict(
        vocab_size=cfg.tgt_vocab_size, hidden_size=cfg.d_model, intermediate_size=cfg.d_ff,
        num_hidden_layers=cfg.n_dec_layers, num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.kv_heads, head_dim=cfg.d_head, max_position_embeddings=cfg.max_len,
        rms_norm_eps=cfg.ln_eps, rope_theta=cfg.rope_theta, attention_bias=False, mlp_bias=False,
        tie_word_embeddings=cfg.tie_embeddings, hidden_act="silu",
    )


def _heads_to_rows(W: torch.Tensor) -> torch.Tensor:
    """[head, d_model, d_head] → [head · d_head, d_model] (a Linear's weight, head by head)."""
    H, D, dh = W.shape
    return W.permute(0, 2, 1).reshape(H * dh, D)


def _rows_to_heads(W: torch.Tensor, d_head: int) -> torch.Tensor:
    """[head · d_head, d_model] → [head, d_model, d_head]."""
    rows, D = W.shape
    return W.reshape(rows // d_head, d_head, D).permute(0, 2, 1).contiguous()


def _pairs(cfg: Config):
    """(our name, Llama's name, ours → theirs, theirs → ours) for every parameter."""
    same = (lambda w: w, lambda w: w)
    transpose = (lambda w: w.T.contiguous(), lambda w: w.T.contiguous())
    heads = (_heads_to_rows, lambda w: _rows_to_heads(w, cfg.d_head))
    out_proj = (lambda w: w.reshape(-1, w.shape[-1]).T.contiguous(),
                lambda w: w.T.reshape(cfg.n_heads, cfg.d_head, -1).contiguous())
    yield ("dec_embed.W_E", "model.embed_tokens.weight", *same)
    for i in range(cfg.n_dec_layers):
        o, t = f"dec_blocks.{i}", f"model.layers.{i}"
        yield (f"{o}.ln1.gamma", f"{t}.input_layernorm.weight", *same)
        for ours, theirs in (("W_Q", "q_proj"), ("W_K", "k_proj"), ("W_V", "v_proj")):
            yield (f"{o}.attn.{ours}", f"{t}.self_attn.{theirs}.weight", *heads)
        yield (f"{o}.attn.W_O", f"{t}.self_attn.o_proj.weight", *out_proj)
        yield (f"{o}.ln2.gamma", f"{t}.post_attention_layernorm.weight", *same)
        for ours, theirs in (("W_gate", "gate_proj"), ("W_up", "up_proj"), ("W_down", "down_proj")):
            yield (f"{o}.mlp.{ours}", f"{t}.mlp.{theirs}.weight", *transpose)
    yield ("dec_ln_f.gamma", "model.norm.weight", *same)
    if not cfg.tie_embeddings:
        yield ("W_U", "lm_head.weight", *transpose)


def to_hf_llama_state_dict(state: dict[str, torch.Tensor], cfg: Config) -> dict[str, torch.Tensor]:
    """Our state dict as ``LlamaForCausalLM``'s."""
    _check(cfg)
    return {theirs: to(state[ours]) for ours, theirs, to, _ in _pairs(cfg)}


def from_hf_llama_state_dict(state: dict[str, torch.Tensor], cfg: Config) -> dict[str, torch.Tensor]:
    """A ``LlamaForCausalLM`` state dict (or a GGUF's tensors under Llama's names) as ours;
    extra entries (rotary buffers) are ignored, a missing one is a KeyError naming it."""
    _check(cfg)
    out = {}
    for ours, theirs, _, back in _pairs(cfg):
        if theirs not in state:
            raise KeyError(f"the Llama weights have no {theirs}")
        out[ours] = back(state[theirs])
    return out
