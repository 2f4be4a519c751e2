"""Today's LLM block (pre-RMSNorm, RoPE, SwiGLU, grouped-query): equal to Hugging Face's
LlamaForCausalLM with the same weights; RMSNorm equal to PyTorch's; the KV cache equal to a
full recompute for every kind of model."""

import pytest
import torch
import torch.nn.functional as F

from transformer_core.checkpoint import build
from transformer_core.config import Config
from transformer_core.llama import from_hf_llama_state_dict, hf_llama_config, to_hf_llama_state_dict
from transformer_core.model import KVCache, RMSNorm, Transformer


def _random(name, seed):
    torch.manual_seed(seed)
    lm = build(name)
    with torch.no_grad():  # gammas away from 1 so that a dropped gamma would show
        for key, p in lm.model.named_parameters():
            if key.endswith("gamma"):
                p.add_(torch.randn_like(p) * 0.3)
    return lm.model.eval()


def test_rmsnorm_equals_torch():
    cfg = Config(mode="decoder", norm="rmsnorm")
    norm = RMSNorm(cfg, "n")
    with torch.no_grad():
        norm.gamma.copy_(torch.randn(cfg.d_model))
    x = torch.randn(3, 5, cfg.d_model)
    seen = {}
    ours = norm(x, seen.__setitem__)
    theirs = F.rms_norm(x, (cfg.d_model,), norm.gamma, eps=cfg.ln_eps)
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.allclose(seen["n.rms"], torch.sqrt(x.pow(2).mean(-1) + cfg.ln_eps))


@pytest.mark.parametrize("n_kv", [1, 2])
@torch.no_grad()
def test_modern_equals_llama(n_kv):
    transformers = pytest.importorskip("transformers")
    model = _random("modern", 5)
    if n_kv != model.cfg.kv_heads:  # also without grouping, on a larger rope base
        from dataclasses import replace
        cfg = replace(model.cfg, n_kv_heads=n_kv, rope_theta=500.0)
        torch.manual_seed(6)
        model = Transformer(cfg).eval()
    cfg = model.cfg
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**hf_llama_config(cfg))).eval()
    hf.load_state_dict(to_hf_llama_state_dict(model.state_dict(), cfg), strict=True)
    ids = torch.tensor([[4, 9, 12, 5, 20, 7, 8, 11]])
    seen = {}
    ours = model(ids, None, seen.__setitem__)
    out = hf(ids, output_hidden_states=True)

    def rel(a, b):
        return float((a - b).abs().max() / b.abs().max())

    assert rel(ours, out.logits) < 1e-5
    # hidden_states[i] is the input of layer i; the last is after the final norm
    for i in range(cfg.n_dec_layers):
        assert rel(seen[f"decoder.blocks.{i}.resid_pre"], out.hidden_states[i]) < 1e-5
    assert rel(seen["decoder.ln_f.out"], out.hidden_states[-1]) < 1e-5
    # the mapping is its own inverse
    back = from_hf_llama_state_dict(hf.state_dict(), cfg)
    assert back.keys() == model.state_dict().keys()
    assert all(torch.equal(back[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("name", ["translate", "lm", "modern"])
@torch.no_grad()
def test_kv_cache_equals_full_recompute(name):
    model = _random(name, 9)
    cfg = model.cfg
    ids = [1, 5, 8, 9, 4, 7, 6][: cfg.max_len]
    memory = model.encode(torch.tensor([[5, 10, 14, 4, 19]])) if cfg.mode == "encdec" else None
    full = model.decode(torch.tensor([ids]), memory)[0]  # [T, vocab]
    cache = KVCache()
    first = model.decode(torch.tensor([ids[:3]]), memory, cache=cache)[0]  # a prompt of 3
    assert len(cache) == 3
    assert torch.allclose(first, full[:3], atol=1e-6)
    for t in range(3, len(ids)):  # then one new token at a time
        step = model.decode(torch.tensor([[ids[t]]]), memory, cache=cache)[0, -1]
        assert (step - full[t]).abs().max() < 1e-6, (t, (step - full[t]).abs().max())
        assert len(cache) == t + 1
    k, v = cache.layers["decoder.blocks.0.attn"]
    assert k.shape == (1, cfg.kv_heads, len(ids), cfg.d_head) == v.shape


def test_bad_config_values():
    for bad in (dict(norm="batchnorm"), dict(positions="learned"), dict(ffn="gelu"),
                dict(norm_position="middle"), dict(n_kv_heads=3)):
        with pytest.raises(ValueError):
            Config(mode="decoder", **bad)
    with pytest.raises(ValueError, match="unknown config"):
        Config.from_dict({"mode": "decoder", "colour": 1})


def test_rotated_scores_depend_only_on_the_distance():
    from transformer_core import explain
    from transformer_core.trace import run_with_trace

    t = run_with_trace("modern")
    p = "decoder.blocks.0.attn"
    table = explain.lookup(t, f"explain.rope_shift_scores({p}.q[1, 4], {p}.k[0, 2], 4, 2, "
                              "config:rope_theta)")
    assert table[0, 2] == pytest.approx(float(t[f"{p}.scores"][1, 4, 2]), abs=1e-5)
    same = table[:-1, 2]  # the pair moved along the sentence
    assert abs(same - same[0]).max() < 1e-9 and set(table[:-1, 0] - table[:-1, 1]) == {2}
    assert abs(table[-1, 2] - same[0]) > 1e-3  # another distance, another score
    # the rotation the scene works through is the model's own
    rot = explain.rope_rotate(t[f"{p}.q"][0, 3], 3, t.config.rope_theta)
    assert abs(rot - t[f"{p}.q_rot"][0, 3]).max() < 1e-5


def test_compare_trace_holds_both_models_on_the_same_sentence():
    from transformer_core.compare import compare_run
    from transformer_core.trace import run_with_trace

    both = compare_run(sentence="the lazy cat")
    lm = run_with_trace("lm", "the lazy cat")
    assert both.model_name == "modern" and both.tokens == lm.tokens
    assert (both["paper.logits"] == lm["logits"]).all()
    assert (both["paper.param.W_U"] == lm.params["W_U"]).all()
    assert "decoder.blocks.0.attn.q_rot" in both.names and "paper.decoder.pos_embed" in both.names
