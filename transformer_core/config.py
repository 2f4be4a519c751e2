"""The model's hyper-parameters, in the paper's notation, plus the options of today's LLM block.

The defaults are the 2017 paper's block (post-LN, LayerNorm, sinusoidal positions added to X,
ReLU feed-forward, every head with its own K and V, biases in the FFN and the unembedding). The
options turn the same model file into a GPT-2 / Llama-style block: pre-norm with a final norm,
RMSNorm, rotary positions on q and k, SwiGLU, grouped-query attention, no biases, tied
embeddings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

__all__ = ["Config"]

_CHOICES = {
    "mode": ("encdec", "decoder"),
    "norm_position": ("post", "pre"),
    "norm": ("layernorm", "rmsnorm"),
    "positions": ("sinusoidal", "rope"),
    "ffn": ("relu", "swiglu"),
}


@dataclass(frozen=True)
class Config:
    """Sizes of a tiny Transformer, small enough that every matrix fits on screen."""

    mode: str = "encdec"  # "encdec" (encoder-decoder) or "decoder" (decoder-only language model)
    src_vocab_size: int = 0  # encoder vocabulary; 0 in decoder-only mode
    tgt_vocab_size: int = 32  # decoder vocabulary, also the size of the final softmax
    d_model: int = 8
    n_heads: int = 2
    d_head: int = 4  # d_k = d_v = d_model / n_heads, as in the paper
    d_ff: int = 32  # 4 * d_model, as in the paper
    n_enc_layers: int = 1
    n_dec_layers: int = 1
    max_len: int = 12  # positions the sinusoidal table covers (and the most a scene reads)
    # The paper multiplies embeddings by sqrt(d_model) before adding the positional encoding.
    scale_embedding: bool = True
    ln_eps: float = 1e-5
    # ---- today's LLM block (defaults: the paper's) ----
    norm_position: str = "post"  # "post": x = Norm(x + Sub(x)); "pre": x = x + Sub(Norm(x)), final norm
    norm: str = "layernorm"  # "layernorm" | "rmsnorm" (no mean, no beta; eps = ln_eps)
    positions: str = "sinusoidal"  # "sinusoidal" (table added to X) | "rope" (rotary on q and k)
    rope_theta: float = 10000.0
    ffn: str = "relu"  # "relu" | "swiglu": W_down(SiLU(x W_gate) ⊙ x W_up)
    n_kv_heads: int = 0  # 0 = n_heads; fewer = grouped-query; 1 = multi-query
    bias: bool = True  # FFN and unembedding biases (b_1, b_2, b_U)
    tie_embeddings: bool = False  # W_U = W_Eᵀ (one parameter)

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, "
                                 f"not {getattr(self, name)!r}")
        if self.n_heads * self.d_head != self.d_model:
            raise ValueError("n_heads * d_head must equal d_model")
        if self.mode == "encdec" and self.src_vocab_size <= 0:
            raise ValueError("an encoder-decoder needs src_vocab_size > 0")
        if self.n_kv_heads < 0 or self.n_heads % self.kv_heads:
            raise ValueError(f"n_kv_heads ({self.n_kv_heads}) must divide n_heads ({self.n_heads})")
        if self.positions == "rope" and self.d_head % 2:
            raise ValueError("rotary positions need an even d_head")
        if self.rope_theta <= 0:
            raise ValueError("rope_theta must be positive")

    @property
    def kv_heads(self) -> int:
        """The number of K/V heads actually used (``n_kv_heads``, or ``n_heads`` when 0)."""
        return self.n_kv_heads or self.n_heads

    @property
    def group(self) -> int:
        """How many query heads share one K/V head (1 without grouped-query attention)."""
        return self.n_heads // self.kv_heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config options: {', '.join(sorted(unknown))}")
        return cls(**data)
