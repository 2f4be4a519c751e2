"""The training scene: the worked cells on screen add up, on the numbers as shown (−log p and
their mean, (p − y)/T, the dot product over positions of ∂L/∂W_U, W + (−lr·∇W) = W′), the loss
goes down at the default learning rate and a too-large one is said on screen; the per-step
checks (values, labels, frame, overlap, font size) run in tests/test_every_scene.py."""

from __future__ import annotations

import math

import pytest

from scenes.registry import get_scene_class
from scenes.toolkit.storyboard import SceneOptions
from tests.scene_checks import (
    assert_inside_frame, assert_no_text_overlaps, assert_numbers_true, assert_readable_at_480p,
    capture,
)
from transformer_core.explain import parse_value

# the cases of tests/test_every_scene.py (shared captures), and a learning rate far too large
CASES = {
    "lm-light": SceneOptions(model="lm", theme="light", head=1),
    "translate": SceneOptions(),
}
P = "explain.target_probs(probs, step:targets)"


@pytest.fixture(scope="module", params=list(CASES))
def run(request):
    scene, states = capture("training", CASES[request.param])
    return scene, {s.name: s for s in states}


def _shown(state, source: str) -> dict[tuple, float]:
    return {t.index: parse_value(t.text) for t in state.texts if t.source == source}


def _decimals(state, source: str) -> int:
    return next(t.decimals for t in state.texts if t.source == source)


def _unit(decimals: int) -> float:
    """Half a unit in the last place shown: the rounding of one number."""
    return 0.5 * 10.0 ** -decimals


def test_storyboard():
    cls = get_scene_class("training")
    for options in (SceneOptions(model="lm"), SceneOptions()):
        steps = cls.storyboard(options)
        assert [s.name for s in steps] == [
            "data", "forward", "loss", "logit_grad", "w_u_grad", "grad_sizes", "grad_wq",
            "update", "after", "init"]
        assert "Adam" in next(s.caption for s in steps if s.name == "update")


def test_loss_is_the_mean_of_the_minus_log_p_shown(run):
    scene, states = run
    state = states["loss"]
    p, nlp = _shown(state, P), _shown(state, f"explain.neg_log({P})")
    d = _decimals(state, P)
    assert len(p) == len(nlp) == 6
    for i in p:  # −log of the p shown is the −log p shown (to the rounding of p)
        slack = _unit(d) / max(p[i] - _unit(d), 1e-9) + _unit(d)
        assert abs(-math.log(p[i]) - nlp[i]) <= slack
    (loss,) = _shown(state, "step:loss").values()
    assert abs(sum(nlp.values()) / len(nlp) - loss) <= _unit(d) + _unit(_decimals(state, "step:loss"))
    assert loss == pytest.approx(scene.trace.loss, abs=_unit(_decimals(state, "step:loss")))


def test_logit_gradient_row_is_p_minus_y_over_t(run):
    scene, states = run
    state = states["logit_grad"]
    p = _shown(state, "probs")
    y = _shown(state, "explain.onehot(step:targets, config:tgt_vocab_size)")
    py = _shown(state, "explain.p_minus_y(probs, step:targets)")
    g = _shown(state, "grad.logits")
    (T,) = _shown(state, "explain.count(probs)").values()
    assert T == 6 and len(p) == len(y) == len(py) == len(g) == 4
    assert sorted(y.values()) == [0, 0, 0, 1]  # the target column, and three others
    dp, dg = _decimals(state, "probs"), _decimals(state, "grad.logits")
    for k in p:
        assert abs(p[k] - y[k] - py[k]) <= 2 * _unit(dp)
        assert abs(py[k] / T - g[k]) <= _unit(dp) / T + _unit(dg)
        assert (g[k] < 0) == (y[k] == 1)


def test_w_u_gradient_cell_is_a_dot_product_over_positions(run):
    scene, states = run
    state = states["w_u_grad"]
    hidden = scene.hidden
    h = _shown(state, hidden)
    g = _shown(state, "grad.logits")
    dh, dg = _decimals(state, hidden), _decimals(state, "grad.logits")
    dt = _decimals(state, "grad:W_U")
    # the products of the printed factors (README, "Worked arithmetic")
    prods = _shown(state, f"explain.worked_times({hidden}.T[{scene.dim}], "
                          f"grad.logits.T[{scene.target}], {dh}, {dg}, {dt})")
    (total,) = _shown(state, "grad:W_U").values()
    assert len(h) == len(g) == len(prods) == 6
    rows = sorted(h)
    for (i, d), (j, v), (k,) in zip(rows, sorted(g), sorted(prods), strict=True):
        assert i == j == k and d == scene.dim and v == scene.target
        hv, gv = h[(i, d)], g[(j, v)]
        assert abs(hv * gv - prods[(i,)]) <= _unit(dt) + 1e-12
    assert abs(sum(prods.values()) - total) <= 6 * _unit(dt) + 1e-12
    assert total == pytest.approx(float(scene.trace.grad("W_U")[scene.dim, scene.target]),
                                  abs=_unit(dt))


def test_update_cell_adds_up(run):
    scene, states = run
    state = states["update"]
    cell = (scene.dim, scene.target)
    (w,) = [v for k, v in _shown(state, "param:W_U").items() if k == cell]
    # the worked line: W − (lr × ∇W as printed) = W′ as printed (README, "Worked arithmetic")
    (lr_g,) = [parse_value(t.text) for t in state.texts
               if (t.source or "").startswith("explain.worked_times(step:lr") and t.index == cell]
    step = -lr_g
    (w2,) = [parse_value(t.text) for t in state.texts
             if (t.source or "").startswith("explain.worked_update(") and t.index == cell]
    d = _decimals(state, "param:W_U")
    assert w + step == pytest.approx(w2, abs=1e-9)
    lrs = set(_shown(state, "step:lr").values())
    assert lrs == {scene.trace.lr}
    (grad,) = _shown(state, "grad:W_U").values()
    assert abs(-scene.trace.lr * grad - step) <= _unit(d) + scene.trace.lr * _unit(
        _decimals(state, "grad:W_U"))
    # the whole column: W, −lr·∇W and W′ have one number per row of W_U
    v = scene.target
    for src in (f"explain.column(param:W_U.T[{v}])",
                f"explain.column(explain.sgd_step(grad:W_U.T[{v}], step:lr))",
                f"explain.column(after:param:W_U.T[{v}])"):
        assert len(_shown(state, src)) == scene.trace.config.d_model


def test_loss_goes_down_on_screen(run):
    scene, states = run
    state = states["after"]
    (before,) = _shown(state, "step:loss").values()
    (after,) = _shown(state, "step:loss_after").values()
    assert after < before
    notes = [t.text for t in state.texts if t.kind == "prose"]
    assert any("went down" in n for n in notes) and not any("UP" in n for n in notes)
    # every target's p before and after is on screen
    assert len(_shown(state, "explain.target_probs(after:probs, step:targets)")) == 6


def test_init_shows_the_same_head_before_and_after_training(run):
    scene, states = run
    state = states["init"]
    src = f"{scene.prefix}.pattern[{scene.h}]"
    init = _shown(state, f"init:{src}")
    trained = _shown(state, src)
    assert init.keys() == trained.keys() and len(init) > 4
    assert init != trained


def test_a_too_large_learning_rate_is_said_on_screen():
    scene, states = capture("training", SceneOptions(model="lm", lr=5.0))
    by_name = {s.name: s for s in states}
    state = by_name["after"]
    (before,) = _shown(state, "step:loss").values()
    (after,) = _shown(state, "step:loss_after").values()
    assert after > before and scene.trace.loss_went_up
    assert any("went UP" in t.text for t in state.texts if t.kind == "prose")
    assert set(_shown(state, "step:lr").values()) == {5.0}
    assert_numbers_true(scene, states)
    assert_inside_frame(states)
    assert_no_text_overlaps(states)
    assert_readable_at_480p(states)


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan"), float("inf")])
def test_scene_options_refuse_a_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="learning rate"):
        SceneOptions(lr=lr)
    assert SceneOptions.from_env({"SCENE_LR": "0.5"}).lr == 0.5


def test_the_cli_renders_training_with_lm_unless_told(monkeypatch, tmp_path):
    from click.testing import CliRunner

    import cli
    from scenes.writers import video

    seen = {}

    def fake(scene, options, **kwargs):
        seen[scene] = (options.model, options.lr)
        raise SystemExit(0)

    monkeypatch.setattr(video, "render_scene", fake)
    out = str(tmp_path / "r")
    for args in (["training"], ["attention"], ["training", "--model", "translate", "--lr", "0.5"]):
        CliRunner().invoke(cli.main, ["render", *args, "--format", "png", "--out", out])
        assert args[0] in seen
        if len(args) == 1:
            assert seen.pop(args[0]) == ({"training": "lm"}.get(args[0], "translate"), None)
    assert seen["training"] == ("translate", 0.5)
