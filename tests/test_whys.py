"""The why scene's numbers (transformer_core.whys): the parameter count against the built
models, and each why's records against the model's own tensors and PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transformer_core.config import Config
from transformer_core.model import Transformer
from transformer_core.whys import PAPER_BASE, SMOLLM2, count_parameters, why_run

CONFIGS = {
    "paper-tiny": Config(mode="encdec", src_vocab_size=23, tgt_vocab_size=24),
    "lm-tiny": Config(mode="decoder", tgt_vocab_size=33, n_dec_layers=2),
    "modern-tiny": Config(mode="decoder", tgt_vocab_size=33, n_dec_layers=2, d_ff=24,
                          scale_embedding=False, norm_position="pre", norm="rmsnorm",
                          positions="rope", ffn="swiglu", n_kv_heads=1, bias=False),
    "llama-tiny": Config(mode="decoder", tgt_vocab_size=50, d_model=12, n_heads=3, d_head=4,
                         d_ff=20, n_dec_layers=3, norm_position="pre", norm="rmsnorm",
                         positions="rope", ffn="swiglu", n_kv_heads=1, bias=False,
                         tie_embeddings=True, scale_embedding=False),
    "encdec-pre-tied": Config(mode="encdec", src_vocab_size=11, tgt_vocab_size=13,
                              n_enc_layers=2, n_dec_layers=3, norm_position="pre",
                              tie_embeddings=True),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_count_parameters_is_the_built_model(name):
    cfg = CONFIGS[name]
    model = Transformer(cfg)
    assert sum(count_parameters(cfg).values()) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("model", ["translate", "lm", "modern"])
def test_count_parameters_of_the_shipped_models(model):
    from transformer_core.checkpoint import load_model

    lm = load_model(model)
    assert sum(count_parameters(lm.cfg).values()) == sum(p.numel() for p in lm.model.parameters())


def test_published_sizes():
    assert sum(count_parameters(SMOLLM2).values()) == 134_515_008  # SmolLM2-135M's own count
    counts = count_parameters(PAPER_BASE)
    shared = PAPER_BASE.src_vocab_size * PAPER_BASE.d_model
    # the paper's ~65 M once one table serves both languages (its Table 3 says 65 M)
    assert 60e6 < sum(counts.values()) - shared < 66e6


@pytest.fixture(scope="module", params=["translate", "lm", "modern"])
def run(request):
    return why_run(request.param)


def test_scaling_is_the_models_softmax(run):
    prefix = "encoder.blocks.0.attn" if run.config.mode == "encdec" else "decoder.blocks.0.attn"
    pos = int(run["why.scale.pos"])
    np.testing.assert_allclose(run["why.scale.soft_scaled"], run[f"{prefix}.pattern"][0, pos],
                               atol=1e-6)
    np.testing.assert_allclose(run["why.scale.row"], run[f"{prefix}.scores"][0, pos], atol=1e-6)
    # the illustration: the spread of q·k is about √d_k, and about 1 after dividing by it
    np.testing.assert_allclose(run["why.scale.rand_std"], [2, 8], rtol=0.05)
    np.testing.assert_allclose(run["why.scale.rand_std_scaled"], [1, 1], rtol=0.05)


def test_dot_product_and_plane(run):
    a, b = run["why.dot.a"], run["why.dot.b"]
    la, lb = run["why.dot.len"]
    assert math.isclose(float(a @ b), float(run["why.dot.product"]), rel_tol=1e-12)
    assert math.isclose(la * lb * float(run["why.dot.cos"]), float(a @ b), rel_tol=1e-9)
    p = run["why.dot.plane"]  # the 2-D drawing keeps the lengths and the dot product
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), [la, lb])
    assert math.isclose(float(p[0] @ p[1]), float(a @ b), rel_tol=1e-9)
    i, j = run["why.dot.pos"]
    assert run.token_ids[i] != run.token_ids[j]


def test_softmax_worked_and_stable(run):
    x = torch.tensor(run["why.soft.x"])
    np.testing.assert_allclose(run["why.soft.probs"], torch.softmax(x, -1).numpy(), atol=1e-12)
    np.testing.assert_allclose(run["why.soft.big_probs"], run["why.soft.probs"], atol=1e-12)
    assert int(run["why.soft.overflows"]) > 0  # the naive exp of the shifted row is ∞


def test_norms(run):
    x = torch.tensor(run["why.norm.x"])
    eps = run.config.ln_eps
    np.testing.assert_allclose(run["why.norm.row"], F.layer_norm(x, x.shape[-1:], eps=eps),
                               atol=1e-10)
    bn = F.batch_norm(x, None, None, training=True, eps=eps)  # over the tokens, per feature
    np.testing.assert_allclose(run["why.norm.col"], bn.numpy(), atol=1e-10)


def test_heads_cost_and_residual(run):
    one, many = run["why.heads.cost"]
    assert (one == many).all()
    cfg = run.config
    wq = run.param(("encoder" if cfg.mode == "encdec" else "decoder") + ".blocks.0.attn.W_Q")
    np.testing.assert_allclose(run["why.heads.W_Q"][:, :cfg.d_head], wq[0])
    np.testing.assert_allclose(run["why.resid.sum"], run["why.resid.x"] + run["why.resid.sub"],
                               atol=1e-6)


def test_adam_update_is_torch_adam():
    from transformer_core.training_step import adam_update

    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    p = torch.nn.Parameter(w0.clone())
    opt = torch.optim.Adam([p], lr=0.01)
    w, m, v = w0.numpy().copy(), None, None
    for step in range(1, 4):
        g = torch.randn(3, 4, generator=gen, dtype=torch.float64)
        p.grad = g.clone()
        opt.step()
        out = adam_update(w, g.numpy(), 0.01, step, m, v)
        w, m, v = out["after"], out["m"], out["v"]
        np.testing.assert_allclose(w, p.detach().numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(m, opt.state[p]["exp_avg"].numpy(), atol=1e-15)
        if step == 1:  # bias correction undoes the zero start
            np.testing.assert_allclose(out["m_hat"], g.numpy(), atol=1e-15)
            np.testing.assert_allclose(out["v_hat"], g.numpy() ** 2, atol=1e-15)


def test_training_keeps_its_loss_curve():
    from transformer_core.train import train

    result = train("lm", steps=3)
    curve = result.detail["loss_curve"]
    assert len(curve) == 3 and curve[-1] == result.detail["final_loss"]
    assert all(math.isfinite(x) for x in curve)


def test_trace_exports_the_why_numbers(tmp_path):
    import json

    from click.testing import CliRunner

    from cli import main

    out = tmp_path / "w.json"
    result = CliRunner().invoke(main, ["trace", "--model", "lm", "--whys", "--json", "--out",
                                       str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    ref = why_run("lm")
    assert '"why.sizes.counts"' in text
    assert str(int(ref["why.sizes.counts"][2, 5])) in text  # SmolLM2's total
    json.loads(text)
    bad = CliRunner().invoke(main, ["trace", "--whys", "--grad"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
