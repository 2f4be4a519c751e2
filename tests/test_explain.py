"""The derived numbers a scene shows reproduce the trace, and sources resolve as documented."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transformer_core import explain
from transformer_core.explain import format_value, lookup, matches, parse_value, resolve
from transformer_core.trace import run_with_trace

P = "encoder.blocks.0.attn"
D = "decoder.blocks.0.attn"


@pytest.mark.parametrize("h", [0, 1])
def test_products_of_x_and_w_q_sum_to_q(tr, h):
    x = tr["encoder.blocks.0.resid_pre"]
    w = tr.param(f"{P}.W_Q")[h]
    products = explain.matmul_products(x, w)
    assert products.shape == (x.shape[0], w.shape[1], x.shape[1])
    assert products[2, 3, 5] == pytest.approx(float(x[2, 5]) * float(w[5, 3]))
    np.testing.assert_allclose(products.sum(axis=-1), tr[f"{P}.q"][h], atol=1e-4)
    np.testing.assert_allclose(explain.matmul(x, w), tr[f"{P}.q"][h], atol=1e-4)


def test_products_of_q_and_k_sum_to_scores(tr):
    q, k = tr[f"{P}.q"][0], tr[f"{P}.k"][0]
    np.testing.assert_allclose(explain.matmul_products(q, k.T).sum(-1), tr[f"{P}.scores"][0],
                               atol=1e-4)


def test_products_of_pattern_and_v_sum_to_z(lm):
    a, v = lm[f"{D}.pattern"][1], lm[f"{D}.v"][1]
    np.testing.assert_allclose(explain.matmul(a, v), lm[f"{D}.z"][1], atol=1e-5)


def test_scale_by_root_d_k_gives_scaled(tr):
    d_k = tr.config.d_head
    assert float(explain.sqrt(d_k)) == pytest.approx(2.0)
    np.testing.assert_allclose(explain.scale(tr[f"{P}.scores"], d_k), tr[f"{P}.scaled"],
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("model,prefix", [("translate", P), ("lm", D)])
def test_exp_sum_divide_reproduces_the_pattern(tr, lm, model, prefix):
    t = tr if model == "translate" else lm
    for h in range(t.config.n_heads):
        masked = t[f"{prefix}.masked"][h]
        e = explain.softmax_exp(masked)
        assert e.max() == pytest.approx(1.0)  # exp(max − max)
        assert np.all(e[~t[f"{prefix}.mask"]] == 0.0)  # exp(−∞) = 0
        sums = explain.row_sum(e)
        np.testing.assert_allclose(e / sums[:, None], t[f"{prefix}.pattern"][h], atol=1e-6)
        np.testing.assert_allclose(explain.softmax(masked), t[f"{prefix}.pattern"][h], atol=1e-6)
        np.testing.assert_allclose(explain.row_sum(t[f"{prefix}.pattern"][h]), 1.0, atol=1e-6)


def test_lm_mask_is_causal_and_masked_is_minus_infinity(lm):
    mask = lm[f"{D}.mask"]
    assert np.array_equal(mask, np.tril(np.ones_like(mask)))
    assert np.all(np.isneginf(lm[f"{D}.masked"][:, ~mask]))


def test_lookup_grammar(tr):
    q = tr[f"{P}.q"]
    np.testing.assert_array_equal(lookup(tr, f"{P}.q[1]"), q[1])
    np.testing.assert_array_equal(lookup(tr, f"{P}.k[0].T"), tr[f"{P}.k"][0].T)
    np.testing.assert_array_equal(lookup(tr, f"param:{P}.W_V[1]"), tr.param(f"{P}.W_V")[1])
    assert lookup(tr, "config:d_head") == 4
    assert list(lookup(tr, "tokens")) == list(tr.tokens)
    nested = lookup(tr, f"explain.column(explain.row_sum(explain.softmax_exp({P}.masked[0])))")
    assert nested.shape == (len(tr.tokens), 1)
    prods = f"explain.matmul_products({P}.q[0], {P}.k[0].T)"
    assert resolve(tr, prods, (1, 2, 3)) == pytest.approx(float(q[0, 1, 3] * tr[f"{P}.k"][0, 2, 3]))
    assert resolve(tr, "tokens", (2,)) == "africa"
    assert resolve(tr, "dim", (5,)) == 5.0
    assert resolve(tr, "explain.sqrt(config:d_head)") == pytest.approx(2.0)
    with pytest.raises(KeyError, match="unknown explain function"):
        lookup(tr, f"explain.nope({P}.q[0])")
    with pytest.raises(KeyError, match="valid names"):
        lookup(tr, "encoder.blocks.0.attn.nope")


def test_format_and_parse():
    assert format_value(-1.234) == "\u22121.23"
    assert format_value(0.005) == "0.01"
    assert format_value(-0.004) == "0.00"  # never "−0.00"
    assert format_value(40.125, 1) == "40.1"
    assert format_value(-math.inf) == "\u2212\u221e"
    assert format_value(3.0, 0) == "3"
    assert parse_value("\u22121.23") == -1.23
    assert parse_value("\u2212\u221e") == -math.inf
    assert matches("\u22121.23", -1.2349)
    assert not matches("\u22121.23", -1.2351)
    assert not matches("1.23", -1.23)
    assert matches("\u2212\u221e", -math.inf)
    assert not matches("0.00", -math.inf)


def test_attention_prefix(tr, lm):
    assert explain.attention_prefix(tr.config, 0) == P
    assert explain.attention_prefix(lm.config, 1) == "decoder.blocks.1.attn"
    assert explain.n_attention_layers(lm.config) == 2
    with pytest.raises(IndexError, match="out of range"):
        explain.attention_prefix(tr.config, 1)


def test_worked_example_picks_the_most_spread_query():
    from transformer_core.explain import worked_example

    t = run_with_trace("translate")
    prefix = "encoder.blocks.0.attn"
    pick = worked_example(t, prefix, 0)
    pattern = t[f"{prefix}.pattern"][0]
    # the chosen row has the largest entropy of all rows
    logs = np.log(pattern, where=pattern > 0, out=np.zeros_like(pattern))
    entropies = -(pattern * logs).sum(axis=1)
    assert entropies[pick["query"]] == pytest.approx(entropies.max())
    assert pick["key"] == int(np.argmax(pattern[pick["query"]]))
    q_row = t[f"{prefix}.q"][0, pick["query"]]
    assert abs(q_row[pick["q_col"]]) == np.abs(q_row).max()
    z_row = t[f"{prefix}.z"][0, pick["query"]]
    assert abs(z_row[pick["z_col"]]) == np.abs(z_row).max()
