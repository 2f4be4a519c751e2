"""What a head does is read from its weights: constructed patterns give the rule they were built
with, and the shipped models' heads are described by their own numbers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from transformer_core import explain
from transformer_core.explain import describe_head, head_summary, strongest_keys
from transformer_core.model import causal_mask

WORDS = ("a", "b", "c", "d", "e", "f")


def peaked(keys: list[int], n_keys: int, weight: float = 0.9, mask=None) -> np.ndarray:
    """Rows that put ``weight`` on keys[q] and spread the rest over the other allowed keys."""
    n = len(keys)
    allowed = np.ones((n, n_keys), bool) if mask is None else mask
    p = np.zeros((n, n_keys))
    for q, k in enumerate(keys):
        others = [j for j in range(n_keys) if allowed[q, j] and j != k]
        p[q, k] = weight if others else 1.0
        for j in others:
            p[q, j] = (1.0 - weight) / len(others)
    return p


def causal(n: int) -> np.ndarray:
    return causal_mask(n, n).numpy()


def test_strongest_keys_prefers_the_lower_key_on_ties():
    p = np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    assert strongest_keys(p).tolist() == [0, 2]
    assert strongest_keys(np.stack([p, p[:, ::-1]])).tolist() == [[0, 2], [1, 0]]
    assert explain.lookup({"x": p}, "explain.strongest_keys(x)").tolist() == [0, 2]


def test_previous_word_head_in_a_causal_model():
    m = causal(6)
    p = peaked([0, 0, 1, 2, 3, 4], 6, mask=m)
    s = head_summary(p, m)
    assert (s["kind"], s["count"], s["of"]) == ("previous", 5, 5)  # the first word cannot choose
    assert describe_head(p, WORDS, WORDS, m) == (
        "5 of the 5 words that can choose attend most to the previous word")


def test_a_head_that_attends_to_itself_and_one_exception():
    p = peaked([0, 1, 2, 0, 4], 5)
    s = head_summary(p)
    assert (s["kind"], s["count"], s["of"]) == ("self", 4, 5)
    assert describe_head(p, WORDS, WORDS) == "4 of 5 words attend most to themselves"


def test_next_word_first_word_and_one_fixed_word():
    assert head_summary(peaked([1, 2, 3, 4, 4], 5))["kind"] == "next"
    m = causal(5)
    first = peaked([0, 0, 0, 0, 0], 5, mask=m)
    assert describe_head(first, WORDS, WORDS, m) == (
        "4 of the 4 words that can choose attend most to the first word, \u201ca\u201d")
    fixed = peaked([3, 3, 3, 1, 3], 5)
    s = head_summary(fixed)
    assert (s["kind"], s["key"], s["count"]) == ("fixed", 3, 4)
    assert describe_head(fixed, WORDS, WORDS) == "4 of 5 words attend most to \u201cd\u201d"


def test_cross_attention_aligned_in_order():
    p = peaked([0, 1, 3, 2, 4, 4], 5)  # six French positions over five English words
    s = head_summary(p, cross=True)
    assert (s["kind"], s["count"], s["of"]) == ("in_order", 4, 6)  # 0 1 3 4 or 0 1 2 4
    text = describe_head(p, WORDS, WORDS[:5], cross=True, query_noun="French word",
                         key_noun="English word")
    assert text == ("aligns French words with English words in order "
                    "(4 of 6 on one left-to-right path)")
    shuffled = peaked([3, 0, 4, 1, 2, 0], 5)
    assert head_summary(shuffled, cross=True)["kind"] != "in_order"


def test_spread_and_mixed_heads():
    flat = np.full((5, 5), 0.2)
    s = head_summary(flat)
    assert s["kind"] == "spread" and s["mean_max"] == pytest.approx(0.2)
    assert describe_head(flat, WORDS, WORDS) == ("spreads its attention over several words "
                                                  "(the largest weight averages 0.20)")
    mixed = peaked([2, 0, 4, 1, 3], 5, weight=0.6)
    mixed[4] = [0.0, 0.0, 0.03, 0.97, 0.0]  # the strongest link: "e" → "d"
    s = head_summary(mixed)
    assert s["kind"] == "mixed" and (s["query"], s["link_key"]) == (4, 3)
    assert describe_head(mixed, WORDS, WORDS) == ("no single rule; its strongest link is "
                                                  "\u201ce\u201d \u2192 \u201cd\u201d")


def test_a_one_word_causal_sentence_has_no_choice():
    m = causal(1)
    assert head_summary(np.ones((1, 1)), m)["kind"] == "forced"
    assert describe_head(np.ones((1, 1)), ("the",), ("the",), m) == "each word can only attend to itself"


def test_shipped_heads_are_described_from_their_weights(tr, lm):
    # translate's cross-attention lines up the translation with the English words
    cross = tr["decoder.blocks.0.cross_attn.pattern"][0]
    keys = strongest_keys(cross).tolist()
    s = head_summary(cross, cross=True)
    assert s["kind"] == "in_order"
    ordered = max(n for n in range(1, len(keys) + 1) for sub in itertools.combinations(keys, n)
                  if all(a < b for a, b in itertools.pairwise(sub)))  # brute force
    assert (s["count"], s["of"]) == (ordered, len(keys)) and ordered >= 5
    # a head's rule changes with its weights: moving each row's weight to the previous key
    pattern = lm["decoder.blocks.1.attn.pattern"][0]
    mask = lm["decoder.blocks.1.attn.mask"]
    assert head_summary(pattern, mask)["kind"] != "previous"
    shifted = np.zeros_like(pattern)
    for q in range(1, pattern.shape[0]):
        shifted[q, q - 1] = 1.0
    shifted[0, 0] = 1.0
    assert head_summary(shifted, mask)["kind"] == "previous"


def test_attention_views_and_links(tr, lm):
    views = explain.attention_views(tr.config)
    assert [(v["prefix"], v["kind"]) for v in views] == [
        ("encoder.blocks.0.attn", "encoder"), ("decoder.blocks.0.attn", "masked"),
        ("decoder.blocks.0.cross_attn", "cross")]
    assert [v["prefix"] for v in explain.attention_views(lm.config)] == [
        "decoder.blocks.0.attn", "decoder.blocks.1.attn"]
    for v in views:
        assert v["prefix"] + ".pattern" in tr
    p = np.array([[0.9, 0.1], [0.01, 0.99]])
    assert explain.links_above(p, 0.05) == [(0, 0), (0, 1), (1, 1)]


def test_sinks_and_copying_are_named_by_their_threshold():
    m = causal_mask(6, 6).numpy()
    # "x a y b x ?": the second "x" (query 4) looks at "a", which followed the first "x"
    words = ("x", "a", "y", "b", "x", "c")
    copy = peaked([0, 0, 1, 2, 1, 3], 6, mask=m)
    found = {name: (c, n) for name, c, n in explain.head_behaviours(copy, words, m)}
    assert found["copy"] == (1, 1)
    assert "copying" in describe_head(copy, words, words, m)
    sink = peaked([0, 0, 0, 2, 0, 4], 6, weight=0.6, mask=m)
    found = {name: (c, n) for name, c, n in explain.head_behaviours(sink, WORDS, m)}
    assert found["sink"] == (3, 5)
    # under the threshold: half the weight is not more than half
    weak = peaked([0, 0, 0, 2, 0, 4], 6, weight=0.5, mask=m)
    assert "sink" not in {name for name, *_ in explain.head_behaviours(weak, WORDS, m)}
