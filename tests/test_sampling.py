"""The sampler's maths: temperature, top-k and top-p equal Hugging Face transformers' logits
processors on the models' real logits, the seeded draw is reproducible inverse-CDF sampling,
and bad settings are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers.generation.logits_process import (
    TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper,
)

from transformer_core.sampling import (
    SHOWN_TEMPERATURES, SamplingError, check_sampler, sample_run, sampler, softmax, uniform,
)
from transformer_core.trace import run_with_trace


@pytest.fixture(scope="module", params=["lm", "translate"])
def logits(request):
    """Every position's real logits of a shipped model on its sentence.  [pos, vocab]"""
    return np.asarray(run_with_trace(request.param)["logits"], dtype=np.float32)


def reference(z: np.ndarray, temperature: float, top_k=None, top_p=None) -> np.ndarray:
    """transformers' processors in generate's order, then the softmax it samples from."""
    scores = torch.tensor(z, dtype=torch.float32)[None]
    scores = TemperatureLogitsWarper(temperature)(None, scores)
    if top_k is not None:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p is not None:
        scores = TopPLogitsWarper(top_p)(None, scores)
    return torch.softmax(scores, dim=-1)[0].double().numpy()


@pytest.mark.parametrize("temperature", [0.3, 0.5, 1.0, 2.0, 7.5])
def test_temperature_is_transformers_warper(logits, temperature):
    for z in logits:
        out = sampler(z, temperature, None, None, 0.5)
        np.testing.assert_allclose(out["tempered"], reference(z, temperature), atol=1e-6)
        np.testing.assert_allclose(out["final"], out["tempered"], atol=0)
        # and the formula: exp(z / T) / Σ exp(z / T)
        e = np.exp(z.astype(np.float64) / temperature)
        np.testing.assert_allclose(out["tempered"], e / e.sum(), atol=1e-6)


@pytest.mark.parametrize("top_k", [1, 2, 3, 10])
@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_top_k_is_transformers_warper(logits, top_k, temperature):
    for z in logits:
        out = sampler(z, temperature, top_k, None, 0.5)
        np.testing.assert_allclose(out["top_k.probs"], reference(z, temperature, top_k=top_k),
                                   atol=1e-6)
        assert out["top_k.kept"].sum() == top_k  # no ties among real logits
        kept = out["top_k.kept"]
        assert out["tempered"][kept].min() > out["tempered"][~kept].max()
        assert out["top_k.probs"][~kept].max() == 0
        np.testing.assert_allclose(out["top_k.probs"][kept],
                                   out["tempered"][kept] / out["tempered"][kept].sum(), atol=1e-6)


@pytest.mark.parametrize("top_p", [0.05, 0.3, 0.5, 0.9, 0.99, 1.0])
@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_top_p_is_transformers_warper(logits, top_p, temperature):
    for z in logits:
        out = sampler(z, temperature, None, top_p, 0.5)
        np.testing.assert_allclose(out["top_p.probs"], reference(z, temperature, top_p=top_p),
                                   atol=1e-6)
        # the sorted cumulative sum: the kept words are the first ones, and the sum before
        # the last kept word is below p while the kept words reach p
        order, cumsum, kept = out["top_p.order"], out["top_p.cumsum"], out["top_p.kept"]
        n = int(kept.sum())
        assert list(np.flatnonzero(kept[order])) == list(range(n))
        assert np.all(np.diff(out["tempered"][order]) <= 0)
        if top_p < 1:
            assert cumsum[n - 1] >= top_p - 1e-6 and (n == 1 or cumsum[n - 2] < top_p)


@pytest.mark.parametrize("top_k,top_p", [(3, 0.5), (10, 0.9), (2, 1.0)])
def test_top_k_then_top_p_is_transformers_order(logits, top_k, top_p):
    for z in logits:
        out = sampler(z, 1.3, top_k, top_p, 0.5)
        np.testing.assert_allclose(out["final"], reference(z, 1.3, top_k, top_p), atol=1e-6)


def test_the_draw_is_seeded_inverse_cdf(logits):
    z = logits[0]
    for seed in range(8):
        u = uniform(seed)
        assert u == np.random.default_rng(seed).random()  # the seed gives u
        out = sampler(z, 1.0, None, 0.9, u)
        again = sampler(z, 1.0, None, 0.9, uniform(seed))
        assert int(out["choice"]) == int(again["choice"])  # reproducible
        order, cumsum = out["draw.order"], out["draw.cumsum"]
        k = list(order).index(int(out["choice"]))
        assert (0 if k == 0 else cumsum[k - 1]) <= u < cumsum[k] + 1e-7
        assert np.all(out["final"][order] > 0) and len(order) == out["top_p.kept"].sum()
        assert int(out["greedy"]) == int(np.argmax(z))
    choices = {int(sampler(logits[0], 2.0, None, None, uniform(s))["choice"]) for s in range(20)}
    assert len(choices) >= 2 or softmax(logits[0], 2.0).max() > 0.999


def test_u_walks_the_cumulative_sum():
    z = np.log(np.array([0.5, 0.3, 0.2], dtype=np.float32))
    assert [int(sampler(z, 1.0, None, None, u)["choice"]) for u in (0.0, 0.49, 0.51, 0.79,
                                                                     0.81, 0.999)] == \
        [0, 0, 1, 1, 2, 2]


def test_bad_settings_are_refused():
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(SamplingError, match="temperature"):
            check_sampler(bad, None, None)
    for bad in (0, -2, 34):
        with pytest.raises(SamplingError, match="top-k"):
            check_sampler(1.0, bad, None, 33)
    check_sampler(1.0, 33, None, 33)
    for bad in (0.0, -0.1, 1.0001, float("nan")):
        with pytest.raises(SamplingError, match="top-p"):
            check_sampler(1.0, None, bad)
    check_sampler(None, None, 1.0)
    with pytest.raises(SamplingError):
        sample_run("lm", top_k=40)


def test_sample_run_records_one_positions_sampler():
    t = sample_run("lm", top_p=0.9, seed=3)
    pos = int(t["sample.position"])
    assert pos == 0 and t.tokens[0] == "the"  # the least sure position of its sentence
    np.testing.assert_array_equal(t["sample.logits"], t["logits"][pos])
    assert tuple(t["sample.temperatures"]) == SHOWN_TEMPERATURES
    for j, temperature in enumerate(SHOWN_TEMPERATURES):
        np.testing.assert_allclose(t["sample.softmax_at"][j],
                                   reference(t["sample.logits"], temperature), atol=1e-6)
    assert int(t["sample.top_k"]) == 3 and t["sample.k.top_k.kept"].sum() == 3
    assert list(t["sample.filters"]) == [False, True]
    assert "sample.chain.top_k.kept" not in t  # the draw used top-p only
    np.testing.assert_array_equal(t["sample.chain.final"], t["sample.p.final"])
    assert float(t["sample.chain.u"]) == np.float32(uniform(3))
    again = sample_run("lm", top_p=0.9, seed=3)
    assert int(again["sample.chain.choice"]) == int(t["sample.chain.choice"])
    given = sample_run("lm", "the hungry cat")
    assert int(given["sample.position"]) == 2  # a given text: what comes after it


# ---- the scene and the command line ------------------------------------------------------------

def test_sampling_scene_draws_three_samplers_on_real_logits():
    from scenes.toolkit.storyboard import SceneOptions
    from tests import scene_checks as checks

    options = SceneOptions(model="lm", top_p=0.9)
    scene, states = checks.capture("sampling", options)
    t = scene.trace
    by = {s.name: s for s in states}
    assert list(by) == ["logits", "temperature", "top_k", "top_p", "draw"]
    logits = checks.shown(by["logits"], "sample.logits")
    assert len(logits) == len(t["sample.shown"])
    # three softmaxes side by side, drawn as bars of one scale
    heights = {index: m for source, index, _, m in by["temperature"].drawn
               if source == "sample.softmax_at"}
    assert {i[0] for i in heights} == {0, 1, 2}
    checks.assert_drawn_true(scene, states)
    # top-k: the kept words' renormalised p′, the cut ones 0
    shown_k = checks.shown(by["top_k"], "sample.k.top_k.probs")
    kept = np.flatnonzero(t["sample.k.top_k.kept"])
    assert len(kept) == 3 and all((int(w),) in shown_k for w in kept)
    # top-p: the cumulative sum in sorted order, up to the word that reaches p, and the next
    cumsum = checks.shown(by["top_p"], "sample.p.top_p.cumsum")
    n_kept = int(t["sample.p.top_p.kept"].sum())
    assert set(cumsum) == {(r,) for r in range(n_kept + 1)}
    # the draw: u, the drawn word and greedy's word
    draw = by["draw"]
    assert checks.shown(draw, "sample.chain.u")
    words = {x.text for x in draw.texts if x.source == "vocab"}
    assert t.vocab[int(t["sample.chain.choice"])] in words
    assert t.vocab[int(t["sample.chain.greedy"])] in words


@pytest.mark.parametrize("args,option", [
    (["--temperature", "0"], "--temperature"), (["--temperature", "nan"], "--temperature"),
    (["--temperature", "-2"], "--temperature"), (["--top-k", "0"], "--top-k"),
    (["--top-k", "34"], "--top-k"), (["--top-p", "0"], "--top-p"),
    (["--top-p", "1.01"], "--top-p"), (["--top-p", "inf"], "--top-p")])
@pytest.mark.parametrize("scene", ["sampling", "generate"])
def test_bad_sampler_options_are_one_line_and_exit_2(tmp_path, args, option, scene):
    from click.testing import CliRunner

    from cli import main

    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["svg", scene, "--model", "lm", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and option in lines[0] and "Traceback" not in result.output
    assert not out.exists()
