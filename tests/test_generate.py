"""The autoregressive loop: each turn is a real decoder run whose newest row equals the full
run's row (the causal mask), the greedy loop writes the shipped outputs, sampling is seeded,
and every turn's number resolves by its source name."""

from __future__ import annotations

import numpy as np
import pytest

from transformer_core import explain
from transformer_core.generate import GenerationError, generate, n_turns, turn_input
from transformer_core.trace import SentenceTooLongError, run_with_trace


@pytest.fixture(scope="module")
def gen_tr():
    return generate("translate")


@pytest.fixture(scope="module")
def gen_lm():
    return generate("lm")


def test_greedy_translation_is_the_shipped_one(gen_tr):
    assert gen_tr.output_text == "jane visite l'afrique en septembre"
    words = [gen_tr.vocab[i] for i in gen_tr["gen.choice"]]
    assert words == ["jane", "visite", "l'afrique", "en", "septembre", "<eos>"]
    assert gen_tr.target_tokens == ("<bos>", "jane", "visite", "l'afrique", "en", "septembre")
    assert list(gen_tr["gen.position"]) == [0, 1, 2, 3, 4, 5]
    assert turn_input(gen_tr, 0) == ("<bos>",)
    assert turn_input(gen_tr, 3) == ("<bos>", "jane", "visite", "l'afrique")
    assert float(gen_tr["gen.temperature"]) == 0.0


def test_greedy_lm_continues_the_early_bird(gen_lm):
    assert gen_lm.sentence == "the early bird"
    assert gen_lm.output_tokens == ("eats", "the", "worm")
    assert [gen_lm.vocab[i] for i in gen_lm["gen.choice"]] == ["eats", "the", "worm", "<eos>"]
    assert list(gen_lm["gen.position"]) == [2, 3, 4, 5]
    assert turn_input(gen_lm, 1) == ("the", "early", "bird", "eats")


@pytest.mark.parametrize("which", ["translate", "lm"])
def test_each_greedy_pick_is_the_most_probable_word(gen_tr, gen_lm, which):
    g = gen_tr if which == "translate" else gen_lm
    for t in range(n_turns(g)):
        probs = g[f"gen.{t}.probs"]
        assert probs.shape == (len(g.vocab),)
        assert probs.sum() == pytest.approx(1.0, abs=1e-5)
        assert int(g["gen.choice"][t]) == int(np.argmax(probs))
        assert probs[g["gen.choice"][t]] == probs.max()


def test_translate_turns_equal_the_full_runs_rows(gen_tr):
    full = run_with_trace("translate")  # one run of the decoder on <bos> + the translation
    assert full.target_ids == gen_tr.target_ids
    for t in range(n_turns(gen_tr)):
        pos = int(gen_tr["gen.position"][t])
        np.testing.assert_allclose(gen_tr[f"gen.{t}.probs"], full["probs"][pos], atol=1e-6)
        np.testing.assert_allclose(gen_tr[f"gen.{t}.logits"], full["logits"][pos], atol=1e-5)
        cross = gen_tr[f"gen.{t}.cross_attn"]  # [layer, head, src]
        assert cross.shape == (1, 2, len(full.tokens))
        np.testing.assert_allclose(cross[0], full["decoder.blocks.0.cross_attn.pattern"][:, pos],
                                   atol=1e-6)
        own = gen_tr[f"gen.{t}.self_attn"]  # [layer, head, t + 1]
        assert own.shape == (1, 2, pos + 1)
        np.testing.assert_allclose(own[0], full["decoder.blocks.0.attn.pattern"][:, pos, :pos + 1],
                                   atol=1e-6)
        # the masked keys after the newest position carry nothing in the full run
        assert np.all(full["decoder.blocks.0.attn.pattern"][:, pos, pos + 1:] == 0)


@pytest.mark.parametrize("temperature,seed", [(0.0, 0), (1.0, 3)])
def test_lm_turns_equal_the_full_runs_rows(temperature, seed):
    g = generate("lm", "the", temperature=temperature, seed=seed)
    # an independent run of the whole written sentence, as the lm reads any sentence
    written = " ".join(g.tokens)
    full = run_with_trace("lm", written)
    assert full.tokens == g.tokens
    for t in range(n_turns(g)):
        pos = int(g["gen.position"][t])
        assert pos == t  # the prefix "the" is one word
        np.testing.assert_allclose(g[f"gen.{t}.probs"], full["probs"][pos], atol=1e-6)
        for layer in range(2):
            np.testing.assert_allclose(
                g[f"gen.{t}.self_attn"][layer],
                full[f"decoder.blocks.{layer}.attn.pattern"][:, pos, :pos + 1], atol=1e-6)


def test_sampling_is_seeded_and_draws_from_the_tempered_softmax():
    runs = {s: generate("lm", "the", temperature=1.0, seed=s) for s in range(6)}
    again = generate("lm", "the", temperature=1.0, seed=2)
    assert again.output_tokens == runs[2].output_tokens
    np.testing.assert_array_equal(again["gen.choice"], runs[2]["gen.choice"])
    assert len({r.output_tokens for r in runs.values()}) >= 2  # the seed matters
    hot = generate("lm", "the", temperature=2.0, seed=1)
    assert float(hot["gen.temperature"]) == 2.0
    for t in range(n_turns(hot)):
        logits = hot[f"gen.{t}.logits"].astype(np.float64)
        e = np.exp(logits / 2.0 - (logits / 2.0).max())
        np.testing.assert_allclose(hot[f"gen.{t}.sample_probs"], e / e.sum(), atol=1e-6)
        assert hot[f"gen.{t}.sample_probs"][hot["gen.choice"][t]] > 0
    assert "gen.0.sample_probs" not in generate("lm")


def test_max_new_words_and_bad_options():
    short = generate("lm", max_new=2)
    assert short.output_tokens == ("eats", "the") and n_turns(short) == 2
    assert short.tokens == ("the", "early", "bird", "eats")  # the last turn's input
    assert generate("translate", max_new=1).output_tokens == ("jane",)
    with pytest.raises(GenerationError):
        generate("lm", max_new=0)
    with pytest.raises(GenerationError):
        generate("lm", temperature=-1.0)
    with pytest.raises(SentenceTooLongError):
        generate("lm", "the " * 12)
    # eleven words leave the lm room for one more
    assert n_turns(generate("lm", "the " * 11)) == 1


def test_turn_values_resolve_by_their_source_names(gen_tr):
    jane = gen_tr.vocab.index("jane")
    assert explain.resolve(gen_tr, "gen.0.probs", (jane,)) == pytest.approx(
        float(gen_tr["probs"][0, jane]))
    assert explain.resolve(gen_tr, "gen.choice", (2,)) == float(gen_tr.vocab.index("l'afrique"))
    assert explain.resolve(gen_tr, "vocab", (int(gen_tr["gen.choice"][4]),)) == "septembre"
    row = explain.lookup(gen_tr, "gen.2.cross_attn[0, 1]")
    np.testing.assert_allclose(row, gen_tr["decoder.blocks.0.cross_attn.pattern"][1, 2], atol=1e-6)


# ---- the KV cache --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["translate", "lm", "modern"])
def test_cached_turns_equal_an_uncached_recompute(name):
    """Each turn's logits come from the cached run (only the new word fed); an independent run of
    the decoder on the whole input without a cache gives the same numbers: probabilities within
    1e-6, logits within 1e-6 of their size (float32 keeps 7 digits: at 12 one unit in the last
    place is 1e-6)."""
    import torch

    from transformer_core.checkpoint import load_model

    lm = load_model(name)
    g = generate(lm)
    src = torch.tensor([list(g.token_ids)]) if lm.cfg.mode == "encdec" else None
    memory = lm.model.encode(src) if src is not None else None
    dec = list(g.target_ids) if lm.cfg.mode == "encdec" else list(g.token_ids)
    for t in range(n_turns(g)):
        end = int(g["gen.position"][t]) + 1
        with torch.no_grad():
            full = lm.model.decode(torch.tensor([dec[:end]]), memory)[0, -1].double().numpy()
        cached = g[f"gen.{t}.logits"].astype(np.float64)
        assert np.max(np.abs(cached - full)) <= 1e-6 * max(1.0, np.abs(full).max())
        p_full = np.exp(full - full.max()) / np.exp(full - full.max()).sum()
        np.testing.assert_allclose(g[f"gen.{t}.probs"], p_full, atol=1e-6)
        np.testing.assert_allclose(g[f"gen.{t}.full_logits"], full, atol=1e-6 * np.abs(full).max())
        assert float(g[f"gen.{t}.diff"]) == pytest.approx(np.max(np.abs(
            g[f"gen.{t}.logits"] - g[f"gen.{t}.full_logits"])), abs=1e-9)
    assert float(g["gen.max_diff"]) < 1e-5 and float(g["gen.max_diff"]) < 5e-4  # to 4 decimals: 0


@pytest.mark.parametrize("name", ["translate", "lm", "modern"])
def test_the_cache_grows_a_row_a_turn_and_holds_the_full_runs_keys(name):
    g = generate(name)
    cfg = g.config
    full = run_with_trace(name, g.joiner.join(g.tokens)) if cfg.mode == "decoder" else None
    start = int(g["gen.rows_cached"][0])
    assert start == (1 if cfg.mode == "encdec" else len(g.tokens) - n_turns(g) + 1)
    for t in range(n_turns(g)):
        k, v = g[f"gen.{t}.cache.k"], g[f"gen.{t}.cache.v"]
        rows = int(g["gen.position"][t]) + 1
        assert k.shape == v.shape == (cfg.n_dec_layers, cfg.kv_heads, rows, cfg.d_head)
        if t:
            assert int(g["gen.rows_cached"][t]) == 1 and int(g["gen.rows_full"][t]) == rows
            # the rows cached before stay as they were: a cache only grows
            np.testing.assert_array_equal(k[:, :, :-1], g[f"gen.{t - 1}.cache.k"])
    if full is not None:  # the last cache holds the keys and values of one full run
        last = n_turns(g) - 1
        rows = int(g["gen.position"][last]) + 1
        for layer in range(cfg.n_dec_layers):
            p = f"decoder.blocks.{layer}.attn"
            key = f"{p}.k_rot" if f"{p}.k_rot" in full else f"{p}.k"
            np.testing.assert_allclose(g[f"gen.{last}.cache.k"][layer], full[key][:, :rows],
                                       atol=1e-5)
            np.testing.assert_allclose(g[f"gen.{last}.cache.v"][layer], full[f"{p}.v"][:, :rows],
                                       atol=1e-5)
    per_token = 2 * cfg.n_dec_layers * cfg.kv_heads * cfg.d_head
    assert int(g["gen.numbers_per_token"]) == per_token
    assert list(g["gen.cache_numbers"]) == [per_token * (int(p) + 1) for p in g["gen.position"]]
    assert list(g["gen.cache_bytes"]) == [4 * n for n in g["gen.cache_numbers"]]
    assert int(g["gen.rows_cached_total"]) == sum(g["gen.rows_cached"])
    assert int(g["gen.rows_full_total"]) == sum(g["gen.rows_full"]) > int(g["gen.rows_cached_total"])
    assert int(g["gen.real.bytes"]) == 2 * 30 * 3 * 64 * 8192 * 2  # SmolLM2-135M, float16


def test_sampled_turns_record_the_samplers_steps():
    g = generate("lm", "the", temperature=1.5, top_k=5, top_p=0.8, seed=4)
    assert int(g["gen.top_k"]) == 5 and float(g["gen.top_p"]) == pytest.approx(0.8)
    rng = np.random.default_rng(4)
    for t in range(n_turns(g)):
        s = f"gen.{t}.sampler"
        assert float(g[f"{s}.u"]) == np.float32(rng.random())  # one uniform number per turn
        assert g[f"{s}.top_k.kept"].sum() == 5 and g[f"{s}.top_p.kept"].sum() <= 5
        np.testing.assert_array_equal(g[f"gen.{t}.sample_probs"], g[f"{s}.final"])
        assert int(g[f"{s}.choice"]) == int(g["gen.choice"][t])
        assert g[f"{s}.final"][int(g["gen.choice"][t])] > 0
    again = generate("lm", "the", temperature=1.5, top_k=5, top_p=0.8, seed=4)
    assert again.output_tokens == g.output_tokens
