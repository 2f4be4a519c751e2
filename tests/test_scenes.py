"""The attention scene, beyond the checks every scene passes (tests/test_every_scene.py): its
storyboard, options, a dense screen of numbers in every step with every word labelled, worked
dot products that add up, softmax rows that sum to 1, the causal mask, and layer/head checks."""

from __future__ import annotations

import math
import tempfile

import numpy as np
import pytest
from manim import VMobject, tempconfig

from scenes.attention import AttentionScene
from scenes.registry import SCENES, get_scene_class
from scenes.toolkit.storyboard import SceneOptions, current_options, load_trace, using_options
from tests import scene_checks as checks
from tests.scene_checks import StepState
from tests.test_every_scene import CASES
from transformer_core.explain import matches, resolve


def capture(options: SceneOptions) -> tuple[AttentionScene, list[StepState]]:
    return checks.capture("attention", options)


@pytest.fixture(scope="module", params=list(CASES))
def run(request):
    options = CASES[request.param]
    scene, states = capture(options)
    return options, scene, states


def test_storyboard_is_known_without_rendering():
    names = [s.name for s in AttentionScene.storyboard(SceneOptions())]
    assert names == ["title", "embed", "query", "keys_values", "scores", "scale", "softmax",
                     "weighted_sum", "summary"]
    lm = [s.name for s in AttentionScene.storyboard(SceneOptions(model="lm"))]
    assert lm[:6] == names[:6] and lm[6] == "mask" and lm[7:] == names[6:]
    assert get_scene_class("attention") is AttentionScene and "attention" in SCENES
    for step in AttentionScene.storyboard(SceneOptions(model="lm", layer=1)):
        assert step.caption.endswith(".") and step.caption.count(". ") == 0  # one sentence


def test_options_from_environment():
    env = {"SCENE_MODEL": "lm", "SCENE_LAYER": "1", "SCENE_HEAD": "1", "SCENE_THEME": "light",
           "SCENE_CAPTIONS": "off", "SCENE_SENTENCE": "the bird sees the worm"}
    assert SceneOptions.from_env(env) == SceneOptions(
        model="lm", sentence="the bird sees the worm", layer=1, head=1, theme="light",
        captions=False)
    assert SceneOptions.from_env({}) == SceneOptions()
    with using_options(SceneOptions(head=1)):
        assert current_options().head == 1


def test_every_step_ran_and_listeners_saw_it(run):
    options, scene, states = run
    assert [s.name for s in states] == [s.name for s in scene.steps]
    assert [s.caption_shown for s in states] == [s.caption for s in scene.steps]
    times = scene.step_times
    assert len(times) == len(states) and times[0][0] == 0.0
    assert all(b > a for a, b in times) and all(times[k][1] == times[k + 1][0]
                                                for k in range(len(times) - 1))
    assert 60.0 <= times[-1][1] <= 130.0  # the whole video stays short, at a readable pace


def test_every_number_is_the_trace_value_it_claims(run):
    options, scene, states = run
    trace = load_trace(options.model, options.sentence)
    for state in states:
        numbers = [t for t in state.texts if t.kind in ("number", "dim")]
        if state.name not in ("title", "summary"):
            assert len(numbers) >= 20, state.name
        for t in numbers:
            value = resolve(trace, t.source, t.index)
            assert matches(t.text, value, t.decimals), (state.name, t.source, t.index, t.text,
                                                        value)


def test_every_label_is_the_trace_token(run):
    options, scene, states = run
    trace = load_trace(options.model, options.sentence)
    for state in states:
        tokens = [t for t in state.texts if t.kind == "token"]
        if state.name != "summary":
            shown = {t.index[0] for t in tokens}
            assert shown == set(range(len(trace.tokens))), state.name  # every word is labelled
        for t in tokens:
            assert t.text == resolve(trace, t.source, t.index) == trace.tokens[t.index[0]]


def test_worked_dot_products_add_up(run):
    """The products written out for a cell are of the printed factors, their printed sum is
    shown, and it is within rounding of the trace's value (shown beside it when it differs)."""
    options, scene, states = run
    trace = load_trace(options.model, options.sentence)
    for state in states:
        products = [t for t in state.texts if t.source and t.source.startswith(
            "explain.worked_products")]
        if state.name in ("query", "scores", "weighted_sum"):
            assert products, state.name
            cells = {t.index[:2] for t in products}
            assert len(cells) == 1
            total = sum(resolve(trace, t.source, t.index) for t in products)
            i, j = cells.pop()
            shown_sum = [t for t in state.texts if (t.source or "").startswith("explain.worked_sum")]
            assert [t.index for t in shown_sum] == [(i, j)]
            assert float(shown_sum[0].text.replace("\u2212", "-")) == pytest.approx(total, abs=1e-9)
            target = {"query": "q", "scores": "scores", "weighted_sum": "z"}[state.name]
            assert total == pytest.approx(
                float(trace[f"{scene.prefix}.{target}"][options.head, i, j]), abs=0.005 * 9)


def test_softmax_rows_sum_to_one_on_screen(run):
    """The row sums add the printed weights: 1.00, or 0.99/1.01 with the note saying why."""
    options, scene, states = run
    softmax = next(s for s in states if s.name == "softmax")
    sums = [t for t in softmax.texts if (t.source or "").startswith(
        "explain.column(explain.printed_row_sum(" + scene.prefix)]
    assert len(sums) == len(scene.trace.tokens)
    assert {t.text for t in sums} <= {"0.99", "1.00", "1.01"}
    off = any(t.text != "1.00" for t in sums)
    assert off == any(t.text and "unrounded, to 1" in t.text for t in softmax.texts)
    pattern = [t for t in softmax.texts if t.source == scene.src("pattern")]
    assert len(pattern) == len(scene.trace.tokens) ** 2


def test_mask_step_shows_minus_infinity_where_masked(run):
    options, scene, states = run
    names = [s.name for s in states]
    if options.model not in ("lm", "modern"):  # decoder-only models mask
        assert "mask" not in names
        return
    mask = scene.trace[f"{scene.prefix}.mask"]
    state = states[names.index("mask")]
    shown = {t.index: t.text for t in state.texts if t.source == scene.src("masked")}
    assert len(shown) == mask.size
    for (i, j), allowed in np.ndenumerate(mask):
        assert (shown[(i, j)] == "\u2212\u221e") == (not allowed)
        if allowed:
            assert math.isfinite(float(shown[(i, j)].replace("\u2212", "-")))


def test_layer_and_head_are_checked():
    for bad in (SceneOptions(layer=1), SceneOptions(head=2)):
        with tempfile.TemporaryDirectory() as media, tempconfig(
                {"dry_run": True, "media_dir": media, "verbosity": "WARNING"}), \
                using_options(bad):
            with pytest.raises(ValueError, match="out of range"):
                AttentionScene(skip_animations=True).render()


def test_captions_can_be_turned_off():
    scene, states = capture(SceneOptions(captions=False, model="lm", layer=1))
    assert scene.caption_mobject is None and all(s.caption_shown is None for s in states)
    assert scene.prefix == "decoder.blocks.1.attn"
    embed = states[1]  # layer 1 reads the output of layer 0
    assert {t.source for t in embed.texts if t.kind == "number"} == {
        "decoder.blocks.1.resid_pre"}
    assert isinstance(scene.mobjects[0], VMobject)
