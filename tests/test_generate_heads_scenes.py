"""What is new in the generate and heads scenes: drawn quantities (line weights, bar heights)
equal their trace values, the turns follow the recorded loop, every head gets its own picture
and a caption computed from its weights. The shared per-step checks run in test_every_scene."""

from __future__ import annotations

import numpy as np
import pytest

from scenes.generate import GenerateScene, load_generation
from scenes.heads import LINE_FLOOR, LINE_MAX_WIDTH, HeadsScene
from scenes.registry import get_scene_class
from scenes.toolkit.storyboard import SceneOptions, load_trace
from tests import scene_checks as checks
from tests.test_every_scene import CASES
from transformer_core.explain import links_above

SCENE_CASES = [(s, c) for s in ("generate", "heads") for c in ("translate", "lm-light")]


@pytest.mark.parametrize("name,case", SCENE_CASES)
def test_every_drawn_weight_is_its_trace_value(name, case):
    scene, states = checks.capture(name, CASES[case])
    checks.assert_drawn_true(scene, states)
    assert sum(len(s.drawn) for s in states) > 0


def test_each_head_view_draws_every_visible_weight_of_its_head():
    scene, states = checks.capture("heads", CASES["translate"])
    by_name = {s.name: s for s in states}
    t = scene.trace
    for prefix, kind in (("encoder.blocks.0.attn", "encoder"), ("decoder.blocks.0.attn", "masked"),
                         ("decoder.blocks.0.cross_attn", "cross")):
        for h in range(2):
            state = by_name[f"{kind}_l0_h{h}"]
            pattern = t[f"{prefix}.pattern"][h]
            drawn = {idx: (value, m) for src, idx, value, m in state.drawn
                     if src == f"{prefix}.pattern[{h}]"}
            assert set(drawn) == set(links_above(pattern, LINE_FLOOR))
            q, k = np.unravel_index(np.argmax(pattern), pattern.shape)
            value, measures = drawn[(int(q), int(k))]
            assert measures["stroke_width"][0] == pytest.approx(LINE_MAX_WIDTH * pattern[q, k])
            if kind == "masked":  # no line reaches a later word
                assert all(k <= q for q, k in drawn)


def test_heads_storyboard_has_a_picture_per_head_with_a_caption_from_its_weights():
    steps = HeadsScene.storyboard(SceneOptions())
    names = [s.name for s in steps]
    assert names == ["title", "model_view", "encoder_l0_h0", "encoder_l0_h1", "masked_l0_h0",
                     "masked_l0_h1", "cross_l0_h0", "cross_l0_h1", "summary"]
    captions = {s.name: s.caption for s in steps}
    # the trained cross-attention aligns the translation with the English words
    assert captions["cross_l0_h0"].startswith("Cross-attention, layer 0, head 0: aligns French "
                                              "words with English words in order (5 of 6")
    assert captions["encoder_l0_h0"] == ("Encoder self-attention, layer 0, head 0: 3 of 5 "
                                         "words attend most to themselves.")
    lm = [s.name for s in HeadsScene.storyboard(SceneOptions(model="lm"))]
    assert lm[2:-1] == ["causal_l0_h0", "causal_l0_h1", "causal_l1_h0", "causal_l1_h1"]
    lm_caps = {s.name: s.caption for s in HeadsScene.storyboard(SceneOptions(model="lm"))}
    assert lm_caps["causal_l1_h0"].endswith("5 of the 5 words that can choose attend most to "
                                            "the first word, \u201cthe\u201d.")


def test_generate_storyboard_follows_the_loop():
    steps = GenerateScene.storyboard(SceneOptions())
    assert [s.name for s in steps] == ["title", "encode", "turn_1", "turn_2", "turn_3", "turn_4",
                                       "turn_5", "turn_6", "cache"]
    by = {s.name: s.caption for s in steps}
    assert "\u201c<bos> jane visite\u201d" in by["turn_3"] and "\u201cl'afrique\u201d" in by["turn_3"]
    assert by["turn_6"].endswith("\u201c<eos>\u201d, so the sentence is finished.")
    lm = GenerateScene.storyboard(SceneOptions(model="lm", max_new=2))
    assert [s.name for s in lm] == ["title", "turn_1", "turn_2", "cache"]
    assert "\u201cthe early bird eats\u201d" in lm[2].caption
    sampled = SceneOptions(model="lm", sentence="the", temperature=1.0, seed=3)
    assert load_generation(sampled) is load_generation(sampled)  # one run serves all
    assert "temperature 1" in GenerateScene.storyboard(sampled)[1].caption


def test_generate_turns_show_each_turns_row_and_pick():
    scene, states = checks.capture("generate", CASES["translate"])
    t = scene.trace
    for turn in range(6):
        state = next(s for s in states if s.name == f"turn_{turn + 1}")
        bars = {idx: value for src, idx, value, _ in state.drawn if src == f"gen.{turn}.probs"}
        assert len(bars) == len(t.vocab)  # the whole vocabulary
        # the newest position's attention weights over the cached rows, one per word so far
        weights = checks.shown(state, f"explain.column(gen.{turn}.self_attn[0,0])")
        assert set(weights) == {(i, 0) for i in range(turn + 1)}
        picked = [x.text for x in state.texts if x.source == "vocab" and x.index ==
                  (int(t["gen.choice"][turn]),)]
        assert len(picked) >= 2  # under its bar and appended to the input
    cache = next(s for s in states if s.name == "cache")
    for turn in range(6):
        c = int(t["gen.choice"][turn])
        cached = checks.shown(cache, f"gen.{turn}.logits")[(c,)]
        assert cached == checks.shown(cache, f"gen.{turn}.full_logits")[(c,)]
        assert checks.shown(cache, f"gen.{turn}.diff")[()] == "0.0000"
        assert checks.shown(cache, "gen.rows_cached")[(turn,)] == "1"  # <bos>, then one a turn
        assert checks.shown(cache, "gen.rows_full")[(turn,)] == str(turn + 1)
    assert checks.shown(cache, "gen.cache_bytes")[(5,)] == str(4 * 2 * 1 * 2 * 4 * 6)


LONGEST = {  # the models' longest inputs: 12 English words; 11 words and the next for lm
    "translate-12": SceneOptions(sentence="in may jane visits paris in june jane visits rome in may"),
    "lm-11": SceneOptions(model="lm", theme="light",
                          sentence="the early bird eats the worm the lazy cat wants the"),
}


@pytest.mark.parametrize("name", ["generate", "heads"])
@pytest.mark.parametrize("case", list(LONGEST))
def test_the_longest_sentences_fit_at_a_readable_size(name, case):
    """At the longest input the scene takes (the model's, or the scene's own ``max_tokens``)."""
    options, cls = LONGEST[case], get_scene_class(name)
    words = options.sentence.split()
    while cls.max_tokens and cls.positions(load_trace(options.model, options.sentence)) > cls.max_tokens:
        words = words[:-1]
        options = options.with_(sentence=" ".join(words))
    assert len(words) >= 10
    scene, states = checks.capture(name, options)
    checks.assert_steps_ran(scene, states)
    checks.assert_inside_frame(states)
    checks.assert_no_text_overlaps(states)
    checks.assert_readable_at_480p(states)
    checks.assert_numbers_true(scene, states)
    checks.assert_drawn_true(scene, states)
