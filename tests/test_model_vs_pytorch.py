"""The hand-written model agrees with PyTorch's own fused layers, loaded with the same weights."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from transformer_core.checkpoint import build, load_model
from transformer_core.model import causal_mask, positional_encoding
from transformer_core.reference import compare_trace, torch_decoder_layer, torch_encoder_layer
from transformer_core.reference import load_mha as _load_mha
from transformer_core.trace import run_with_trace

TOL = 1e-5


def _noop(name, x):
    pass


@pytest.fixture(params=["shipped", "random"])
def translate_model(request):
    if request.param == "shipped":
        return load_model("translate").model
    torch.manual_seed(123)
    return build("translate").model.eval()


@pytest.fixture(params=["shipped", "random"])
def lm_model(request):
    if request.param == "shipped":
        return load_model("lm").model
    torch.manual_seed(321)
    return build("lm").model.eval()


@torch.no_grad()
def test_encoder_layer_matches_pytorch(translate_model):
    cfg = translate_model.cfg
    x = torch.randn(3, 5, cfg.d_model, generator=torch.Generator().manual_seed(0))
    block = translate_model.enc_blocks[0]
    ours = block(x, _noop)
    theirs = torch_encoder_layer(block, cfg)(x)
    assert torch.allclose(ours, theirs, atol=TOL), (ours - theirs).abs().max()


@torch.no_grad()
def test_decoder_layer_matches_pytorch(translate_model):
    cfg = translate_model.cfg
    g = torch.Generator().manual_seed(1)
    x, memory = torch.randn(2, 6, cfg.d_model, generator=g), torch.randn(2, 5, cfg.d_model, generator=g)
    block = translate_model.dec_blocks[0]
    ours = block(x, _noop, memory)
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    theirs = torch_decoder_layer(block, cfg)(x, memory, tgt_mask=mask, tgt_is_causal=True)
    assert torch.allclose(ours, theirs, atol=TOL), (ours - theirs).abs().max()


@torch.no_grad()
def test_decoder_only_block_is_a_causal_encoder_layer(lm_model):
    cfg = lm_model.cfg
    x = torch.randn(2, 6, cfg.d_model, generator=torch.Generator().manual_seed(2))
    for block in lm_model.dec_blocks:
        ours = block(x, _noop)
        mask = nn.Transformer.generate_square_subsequent_mask(6)
        theirs = torch_encoder_layer(block, cfg)(x, src_mask=mask, is_causal=True)
        assert torch.allclose(ours, theirs, atol=TOL), (ours - theirs).abs().max()


@torch.no_grad()
def test_whole_translate_model_matches_pytorch_stack(translate_model):
    """Embedding + PE, nn.TransformerEncoder/DecoderLayer stack, final linear: same logits."""
    m, cfg = translate_model, translate_model.cfg
    src = torch.tensor([[5, 10, 14, 4, 19]])
    tgt = torch.tensor([[1, 5, 8, 9, 4, 7]])
    pe = positional_encoding(cfg.max_len, cfg.d_model)
    scale = math.sqrt(cfg.d_model)
    x = m.enc_embed.W_E[src] * scale + pe[:5]
    for block in m.enc_blocks:
        x = torch_encoder_layer(block, cfg)(x)
    y = m.dec_embed.W_E[tgt] * scale + pe[:6]
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    for block in m.dec_blocks:
        y = torch_decoder_layer(block, cfg)(y, x, tgt_mask=mask, tgt_is_causal=True)
    theirs = y @ m.W_U + m.b_U
    ours = m(tgt, src)
    assert torch.allclose(ours, theirs, atol=TOL), (ours - theirs).abs().max()


@pytest.mark.parametrize("model,prefix", [
    ("translate", "encoder.blocks.0.attn"),
    ("translate", "decoder.blocks.0.attn"),
    ("translate", "decoder.blocks.0.cross_attn"),
    ("lm", "decoder.blocks.0.attn"),
    ("lm", "decoder.blocks.1.attn"),
])
def test_each_head_matches_scaled_dot_product_attention(model, prefix):
    t = run_with_trace(model)
    q, k, v = (torch.from_numpy(t[f"{prefix}.{n}"].copy()) for n in "qkv")
    mask = torch.from_numpy(t[f"{prefix}.mask"].copy())
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [head, q, d_head]
    z = torch.from_numpy(t[f"{prefix}.z"].copy())
    assert torch.allclose(z, expected, atol=TOL)


@pytest.mark.parametrize("model,prefix,causal", [
    ("translate", "encoder.blocks.0", False),
    ("lm", "decoder.blocks.1", True),
])
def test_trace_attention_matches_multihead_attention(model, prefix, causal):
    """Recorded attn.out and per-head pattern equal nn.MultiheadAttention on the recorded input."""
    loaded = load_model(model)
    blocks = loaded.model.enc_blocks if prefix.startswith("encoder") else loaded.model.dec_blocks
    attn = blocks[int(prefix.split(".")[-1])].attn
    cfg = loaded.cfg
    t = run_with_trace(loaded)
    x = torch.from_numpy(t[f"{prefix}.resid_pre"].copy())[None]
    mha = nn.MultiheadAttention(cfg.d_model, cfg.n_heads, dropout=0.0, batch_first=True)
    _load_mha(mha, attn)
    mask = ~causal_mask(x.shape[1], x.shape[1]) if causal else None  # True = not allowed
    with torch.no_grad():
        out, weights = mha(x, x, x, attn_mask=mask, need_weights=True, average_attn_weights=False)
    assert torch.allclose(out[0], torch.from_numpy(t[f"{prefix}.attn.out"].copy()), atol=TOL)
    assert torch.allclose(weights[0], torch.from_numpy(t[f"{prefix}.attn.pattern"].copy()), atol=TOL)


def test_positional_encoding_equals_formula():
    d_model, max_len = 8, 12
    pe = positional_encoding(max_len, d_model)
    for pos in range(max_len):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    # spot values worked by hand: position 1, dims 0/1 are sin(1), cos(1)
    assert pe[1, 0].item() == pytest.approx(0.841471, abs=1e-6)
    assert pe[1, 1].item() == pytest.approx(0.540302, abs=1e-6)
    assert pe[0, 1].item() == 1.0 and pe[0, 0].item() == 0.0


@pytest.mark.parametrize("model,sentence", [
    ("translate", None), ("lm", None), ("translate", "in may tom sees rome"), ("lm", "the cat"),
])
def test_compare_trace_agrees_on_the_shown_sentence(model, sentence):
    loaded = load_model(model)
    result = compare_trace(loaded.model, run_with_trace(loaded, sentence))
    assert result.max_diff < TOL
    assert result.checks >= (12 if model == "translate" else 10)


def test_compare_trace_catches_a_wrong_record():
    import dataclasses
    from types import MappingProxyType

    loaded = load_model("lm")
    t = run_with_trace(loaded)
    arrays = dict(t.items())
    wrong = arrays["decoder.blocks.1.attn.out"].copy()
    wrong[2, 3] += 0.01
    arrays["decoder.blocks.1.attn.out"] = wrong
    result = compare_trace(loaded.model, dataclasses.replace(t, _arrays=MappingProxyType(arrays)))
    # the difference is relative to the record's largest entry (where that is above 1)
    scale = max(1.0, float(abs(arrays["decoder.blocks.1.attn.out"]).max()))
    assert result.max_diff == pytest.approx(0.01 / scale, abs=1e-5)
    assert result.worst == "decoder.blocks.1.attn.out (nn.MultiheadAttention)"
