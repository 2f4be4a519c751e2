"""The numbers the embedding, block and decoder scenes derive reproduce the trace: the
positional-encoding angles give PE through sin and cos, the heads concatenate to ``concat``,
W_O stacked per head turns it into ``out``, LayerNorm's standardised rows times γ plus β give
its output, and the most probable words are the greedy translation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transformer_core import explain
from transformer_core.explain import lookup, resolve

E = "encoder.blocks.0"


@pytest.mark.parametrize("stack", ["encoder", "decoder"])
def test_pe_angles_give_the_positional_encoding(tr, stack):
    angle = lookup(tr, f"explain.pe_angle({stack}.pos_embed, config:d_model)")
    pe = tr[f"{stack}.pos_embed"]
    assert angle.shape == pe.shape
    np.testing.assert_allclose(np.sin(angle[:, 0::2]), pe[:, 0::2], atol=1e-6)
    np.testing.assert_allclose(np.cos(angle[:, 1::2]), pe[:, 1::2], atol=1e-6)
    # the formula written out for one entry: pos 3, column 5 (2i = 4): 3 / 10000^(4/8)
    assert angle[3, 5] == pytest.approx(3 / 10000 ** (4 / 8))
    assert angle[3, 4] == angle[3, 5]  # sin and cos of a pair share the angle


def test_embedding_is_w_e_rows_times_root_d_model_and_x_adds_pe(tr):
    root = float(lookup(tr, "explain.sqrt(config:d_model)"))
    assert root == pytest.approx(math.sqrt(8))
    w_e = tr.param("encoder.W_E")
    np.testing.assert_allclose(tr["encoder.embed"], w_e[list(tr.token_ids)] * root, rtol=1e-6)
    np.testing.assert_allclose(tr["encoder.embed"] + tr["encoder.pos_embed"],
                               tr[f"{E}.resid_pre"], atol=1e-6)


@pytest.mark.parametrize("model,block", [("translate", E), ("lm", "decoder.blocks.1")])
def test_heads_concatenate_and_w_o_projects(tr, lm, model, block):
    t = tr if model == "translate" else lm
    p = f"{block}.attn"
    concat = lookup(t, f"explain.concat_heads({p}.z)")
    np.testing.assert_array_equal(concat, t[f"{p}.concat"])
    d = t.config.d_head
    np.testing.assert_array_equal(concat[:, d:2 * d], t[f"{p}.z"][1])  # head 1 to the right
    w_o = lookup(t, f"explain.stack_heads(param:{p}.W_O)")
    assert w_o.shape == (t.config.d_model, t.config.d_model)
    np.testing.assert_array_equal(w_o[d + 2], t.param(f"{p}.W_O")[1, 2])
    products = lookup(t, f"explain.matmul_products({p}.concat, explain.stack_heads("
                         f"param:{p}.W_O))")
    np.testing.assert_allclose(products.sum(-1), t[f"{p}.out"], atol=1e-5)
    np.testing.assert_allclose(t[f"{block}.resid_pre"] + t[f"{p}.out"], t[f"{block}.resid_mid"],
                               atol=1e-6)


@pytest.mark.parametrize("model,ln,x", [
    ("translate", f"{E}.ln1", f"{E}.resid_mid"),
    ("translate", f"{E}.ln2", f"{E}.resid_post"),
    ("translate", "decoder.blocks.0.ln3", "decoder.blocks.0.resid_post"),
    ("lm", "decoder.blocks.0.ln2", "decoder.blocks.0.resid_post"),
])
def test_layer_norm_is_standardise_then_gamma_and_beta(tr, lm, model, ln, x):
    t = tr if model == "translate" else lm
    rows = t[x].astype(np.float64)
    np.testing.assert_allclose(t[f"{ln}.mean"], rows.mean(-1), atol=1e-5)
    np.testing.assert_allclose(t[f"{ln}.var"], rows.var(-1), rtol=1e-4, atol=1e-6)
    z = lookup(t, f"explain.standardise({x}, {ln}.mean, {ln}.var, config:ln_eps)")
    np.testing.assert_allclose(z.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(-1), 1.0, atol=1e-3)
    np.testing.assert_allclose(z * t.param(f"{ln}.gamma") + t.param(f"{ln}.beta"),
                               t[f"{ln}.out"], atol=1e-5)


def test_fold_keeps_the_order_of_a_row(tr):
    hidden = tr[f"{E}.mlp.hidden"]
    folded = lookup(tr, f"explain.fold({E}.mlp.hidden[2], config:d_model)")
    assert folded.shape == (4, 8)
    assert resolve(tr, f"explain.fold({E}.mlp.hidden[2], config:d_model)", (1, 3)) == \
        pytest.approx(float(hidden[2, 11]))
    relu = lookup(tr, f"explain.fold({E}.mlp.act[2], config:d_model)")
    np.testing.assert_array_equal(relu, np.maximum(folded, 0.0))


def test_top_words_are_the_greedy_translation(tr):
    ids = explain.top_k_ids(tr["probs"], 3)
    assert ids.shape == (len(tr.target_tokens), 3)
    probs = tr["probs"]
    for i, row in enumerate(ids):
        assert list(probs[i, row]) == sorted(probs[i, row], reverse=True)
        assert probs[i, row[-1]] >= np.sort(probs[i])[-3]
    words = [tr.vocab[i] for i in ids[:, 0]]
    assert words == [*tr.output_tokens, "<eos>"]
    assert " ".join(words[:-1]) == "jane visite l'afrique en septembre"
    assert list(ids[:-1, 0]) == list(tr.target_ids[1:])  # each pick is the next input
    assert resolve(tr, "vocab", (int(ids[2, 0]),)) == "l'afrique"
    assert list(lookup(tr, "output_tokens")) == list(tr.output_tokens)


def test_block_example_is_the_attention_example_row(tr):
    pick = explain.block_example(tr, f"{E}.attn", 0)
    assert pick["row"] == explain.worked_example(tr, f"{E}.attn", 0)["query"]
    out = tr[f"{E}.attn.out"][pick["row"]]
    assert abs(out[pick["out_col"]]) == np.abs(out).max()


def test_training_targets_are_the_input_shifted_left(tr, lm):
    targets = explain.next_word_targets(tr)
    assert [tr.vocab[i] for i in targets] == [*tr.output_tokens, "<eos>"]
    assert [lm.vocab[i] for i in explain.next_word_targets(lm)] == [*lm.tokens[1:], "<eos>"]
    # the model is trained well: every target of the translation is its most probable word
    np.testing.assert_array_equal(targets, np.argmax(tr["probs"], axis=-1))
    loss = lookup(tr, "explain.neg_log(probs)")
    p = tr["probs"][np.arange(len(targets)), targets]
    np.testing.assert_allclose(loss[np.arange(len(targets)), targets], -np.log(p.astype(float)))
    assert np.all(loss[np.arange(len(targets)), targets] < 0.01)
    # the language model is unsure which adjective follows "the", so that loss is large
    lm_loss = lookup(lm, "explain.neg_log(probs)")[0, explain.next_word_targets(lm)[0]]
    assert lm_loss > 1.0
