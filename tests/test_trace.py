"""The trace contract: names, shapes, read-only values, and the identities between records."""

import math

import numpy as np
import pytest

from transformer_core.tokenizer import UNK, EmptySentenceError, Vocab
from transformer_core.trace import SentenceTooLongError, run_with_trace


@pytest.fixture(scope="module")
def tr():
    return run_with_trace("translate", "jane visits africa in september")


@pytest.fixture(scope="module")
def lm():
    return run_with_trace("lm", "the early bird eats the worm")


ATTN_PARTS = ["q", "k", "v", "scores", "scaled", "mask", "masked", "pattern", "z", "concat", "out"]


def test_translate_output_and_tokens(tr):
    assert tr.tokens == ("jane", "visits", "africa", "in", "september")
    assert tr.output_text == "jane visite l'afrique en septembre"
    assert tr.target_tokens == ("<bos>", "jane", "visite", "l'afrique", "en", "septembre")
    assert [tr.vocab[i] for i in tr.target_ids] == list(tr.target_tokens)


def test_names_and_shapes(tr):
    S, T, H, dh, D, F = 5, 6, 2, 4, 8, 32
    shapes = tr.shapes()
    expected = {
        "encoder.embed": (S, D),
        "encoder.pos_embed": (S, D),
        "encoder.blocks.0.resid_pre": (S, D),
        "encoder.blocks.0.attn.q": (H, S, dh),
        "encoder.blocks.0.attn.scores": (H, S, S),
        "encoder.blocks.0.attn.mask": (S, S),
        "encoder.blocks.0.attn.pattern": (H, S, S),
        "encoder.blocks.0.attn.z": (H, S, dh),
        "encoder.blocks.0.attn.concat": (S, D),
        "encoder.blocks.0.ln1.mean": (S,),
        "encoder.blocks.0.mlp.hidden": (S, F),
        "decoder.blocks.0.attn.pattern": (H, T, T),
        "decoder.blocks.0.cross_attn.pattern": (H, T, S),
        "decoder.blocks.0.cross_attn.k": (H, S, dh),
        "decoder.blocks.0.ln3.out": (T, D),
        "logits": (T, len(tr.vocab)),
        "probs": (T, len(tr.vocab)),
    }
    for name, shape in expected.items():
        assert shapes[name] == shape, name
    for part in ATTN_PARTS:
        assert f"encoder.blocks.0.attn.{part}" in tr
        assert f"decoder.blocks.0.cross_attn.{part}" in tr
    assert len(tr.names) == len(set(tr.names))


def test_unknown_name_lists_valid_ones(tr):
    with pytest.raises(KeyError) as err:
        tr["encoder.blocks.0.attn.nope"]
    assert "encoder.blocks.0.attn.pattern" in str(err.value)
    with pytest.raises(KeyError):
        tr.param("W_nope")


def test_records_are_read_only(tr):
    with pytest.raises(ValueError):
        tr["encoder.embed"][0, 0] = 1.0
    with pytest.raises(TypeError):
        tr._arrays["x"] = np.zeros(1)  # the mapping itself is read-only too


@pytest.mark.parametrize("prefix", ["encoder.blocks.0.attn", "decoder.blocks.0.attn",
                                    "decoder.blocks.0.cross_attn"])
def test_attention_identities(tr, prefix):
    q, k, v = tr[f"{prefix}.q"], tr[f"{prefix}.k"], tr[f"{prefix}.v"]
    scores = tr[f"{prefix}.scores"]
    assert np.allclose(scores, q @ k.transpose(0, 2, 1), atol=1e-5)
    assert np.allclose(tr[f"{prefix}.scaled"], scores / math.sqrt(q.shape[-1]), atol=1e-6)
    pattern = tr[f"{prefix}.pattern"]
    assert np.allclose(pattern.sum(-1), 1.0, atol=1e-6)
    assert np.allclose(tr[f"{prefix}.z"], pattern @ v, atol=1e-5)
    concat = tr[f"{prefix}.concat"]
    assert np.allclose(concat[:, :4], tr[f"{prefix}.z"][0]) and np.allclose(concat[:, 4:], tr[f"{prefix}.z"][1])


def test_q_is_x_times_w_q_per_head(tr):
    x = tr["encoder.blocks.0.resid_pre"]
    W_Q = tr.param("encoder.blocks.0.attn.W_Q")
    for h in range(2):
        assert np.allclose(tr["encoder.blocks.0.attn.q"][h], x @ W_Q[h], atol=1e-5)


def test_x_is_embedding_plus_positional_encoding(tr):
    W_E = tr.param("encoder.W_E")
    embed = W_E[list(tr.token_ids)] * math.sqrt(8)
    assert np.allclose(tr["encoder.embed"], embed, atol=1e-6)
    assert np.allclose(tr["encoder.blocks.0.resid_pre"], embed + tr["encoder.pos_embed"], atol=1e-6)


def test_causal_mask_entries_are_exactly_zero(lm):
    for layer in (0, 1):
        p = f"decoder.blocks.{layer}.attn"
        mask, pattern = lm[f"{p}.mask"], lm[f"{p}.pattern"]
        assert mask.dtype == np.bool_
        assert np.array_equal(mask, np.tril(np.ones((6, 6), dtype=bool)))
        assert np.all(pattern[:, ~mask] == 0.0)
        assert np.all(np.isneginf(lm[f"{p}.masked"][:, ~mask]))
        assert np.allclose(pattern.sum(-1), 1.0, atol=1e-6)


def test_encoder_mask_allows_everything(tr):
    assert tr["encoder.blocks.0.attn.mask"].all()


def test_residuals_and_layernorm(tr, lm):
    for t, P in ((tr, "encoder.blocks.0"), (lm, "decoder.blocks.1")):
        assert np.allclose(t[f"{P}.resid_mid"], t[f"{P}.resid_pre"] + t[f"{P}.attn.out"], atol=1e-6)
        mid = t[f"{P}.resid_mid"]
        assert np.allclose(t[f"{P}.ln1.mean"], mid.mean(-1), atol=1e-6)
        assert np.allclose(t[f"{P}.ln1.var"], mid.var(-1), atol=1e-5)
        out = t[f"{P}.ln1.out"]
        g, b = t.param(f"{P}.ln1.gamma"), t.param(f"{P}.ln1.beta")
        assert np.allclose((out - b) / g, (mid - mid.mean(-1, keepdims=True))
                           / np.sqrt(mid.var(-1, keepdims=True) + 1e-5), atol=1e-4)
        assert np.allclose(t[f"{P}.mlp.act"], np.maximum(t[f"{P}.mlp.hidden"], 0))
        assert np.allclose(t[f"{P}.resid_post"], out + t[f"{P}.mlp.out"], atol=1e-6)


def test_probs_are_softmax_of_logits(tr):
    logits, probs = tr["logits"], tr["probs"]
    e = np.exp(logits - logits.max(-1, keepdims=True))
    assert np.allclose(probs, e / e.sum(-1, keepdims=True), atol=1e-6)
    # the greedy translation is the argmax at each decoder position
    assert [tr.vocab[i] for i in probs.argmax(-1)[:-1]] == list(tr.output_tokens)[:5]


def test_lm_continuation():
    assert run_with_trace("lm", "the early bird").output_tokens == ("eats", "the", "worm")


def test_tokenizer_rules():
    v = Vocab(["jane", "l'afrique"])
    tok = v.encode("Jane, L'Afrique! Mars 🚀 <b>x</b>")
    assert tok.tokens == ("jane", "l'afrique", UNK, UNK, UNK)
    assert tok.unknown == ("mars", "🚀", "<b>x</b>")
    for empty in ("", "   ", "..."):
        with pytest.raises(EmptySentenceError):
            v.encode(empty)
    assert v.encode("<unk>").tokens == (UNK,) and v.encode("<unk>").unknown == ("<unk>",)


def test_too_long_sentence_is_refused():
    with pytest.raises(SentenceTooLongError):
        run_with_trace("translate", "jane " * 13)
