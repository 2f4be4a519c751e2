"""The model's hyper-parameters, in the paper's notation."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Config"]


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
    max_len: int = 12  # positions the sinusoidal table covers
    # The paper multiplies embeddings by sqrt(d_model) before adding the positional encoding.
    scale_embedding: bool = True
    ln_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.mode not in ("encdec", "decoder"):
            raise ValueError(f"mode must be 'encdec' or 'decoder', not {self.mode!r}")
        if self.n_heads * self.d_head != self.d_model:
            raise ValueError("n_heads * d_head must equal d_model")
        if self.mode == "encdec" and self.src_vocab_size <= 0:
            raise ValueError("an encoder-decoder needs src_vocab_size > 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        return cls(**data)
