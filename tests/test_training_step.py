"""A recorded training step agrees with PyTorch: its gradients are autograd's of F.cross_entropy
(and finite differences), its update is W − lr·∇W, and the loss goes down."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transformer_core import explain
from transformer_core.checkpoint import load_model
from transformer_core.export import to_dict, to_json, write_npz
from transformer_core.train import initial_model, train
from transformer_core.trace import _params, run_with_trace
from transformer_core.training_step import (
    DEFAULT_LR, check_lr, final_hidden, training_example, training_step,
)

# What each model is trained to predict at every position of its default sentence, written
# out by hand: the next word, then <eos>.
LM_TARGETS = "early bird eats the worm <eos>".split()
TR_INPUT = "<bos> jane visite l'afrique en septembre".split()
TR_TARGETS = "jane visite l'afrique en septembre <eos>".split()


@pytest.fixture(scope="module")
def steps():
    return {name: training_step(name) for name in ("lm", "translate", "modern")}


def _rel_err(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else float(np.abs(a).max(initial=0))


def _pytorch_reference(name: str):
    """Autograd of PyTorch's own F.cross_entropy on a freshly loaded model: (loss, grads of
    every parameter by trace name, grads of every record on the graph)."""
    lm = load_model(name)
    vocab = lm.tgt_vocab
    if name in ("lm", "modern"):
        dec = [vocab.stoi[w] for w in "the early bird eats the worm".split()]
        src = None
        targets = [vocab.stoi[w] for w in LM_TARGETS]
    else:
        dec = [vocab.stoi[w] for w in TR_INPUT]
        src = torch.tensor([list(lm.src_vocab.encode("jane visits africa in september").ids)])
        targets = [vocab.stoi[w] for w in TR_TARGETS]
    kept: dict[str, torch.Tensor] = {}

    def rec(n, x):
        if x.requires_grad:
            kept[n] = x

    logits = lm.model(torch.tensor([dec]), src, rec)
    loss = F.cross_entropy(logits[0], torch.tensor(targets))
    names = list(_params(lm.model))
    params = list(lm.model.parameters())
    rec_names = list(kept)
    got = torch.autograd.grad(loss, params + [kept[n] for n in rec_names], allow_unused=True)
    param_grads = {n: g.numpy() for n, g in zip(names, got[:len(params)], strict=True)}
    rec_grads = {n: (None if g is None else g[0].numpy())
                 for n, g in zip(rec_names, got[len(params):], strict=True)}
    return float(loss.detach()), param_grads, rec_grads, targets


@pytest.mark.parametrize("name", ["lm", "translate", "modern"])
def test_every_exported_gradient_equals_autograd_of_cross_entropy(steps, name):
    exported = json.loads(to_json(steps[name]))
    loss, param_grads, rec_grads, targets = _pytorch_reference(name)
    assert exported["step"]["targets"] == targets
    assert exported["step"]["loss"] == pytest.approx(loss, rel=1e-6)
    # grads: every parameter, same names and shapes as params
    assert list(exported["grads"]) == list(exported["params"])
    for n, g in exported["grads"].items():
        assert g["shape"] == exported["params"][n]["shape"]
        assert _rel_err(g["data"], param_grads[n]) <= 1e-5, n
    # grad.NAME records: exactly the records on the graph that have a gradient
    grad_records = {k[len("grad."):]: v for k, v in exported["records"].items() if k.startswith("grad.")}
    assert set(grad_records) == {n for n, g in rec_grads.items() if g is not None}
    assert "logits" in grad_records and grad_records["logits"]["shape"] == [6, len(exported["vocab"])]
    for n, g in grad_records.items():
        assert g["shape"] == exported["records"][n]["shape"]
        assert _rel_err(g["data"], rec_grads[n]) <= 1e-5, n


@pytest.mark.parametrize("name,param,index", [
    ("lm", "W_U", (4, 5)), ("lm", "decoder.blocks.0.attn.W_Q", (0, 3, 1)),
    ("lm", "decoder.W_E", (4, 2)),
    ("modern", "decoder.blocks.0.mlp.W_gate", (3, 5)), ("modern", "decoder.blocks.1.attn.W_K", (0, 2, 3)),
    ("modern", "decoder.ln_f.gamma", (6,)),
    ("translate", "W_U", (2, 14)), ("translate", "encoder.blocks.0.attn.W_K", (1, 5, 2)),
])
def test_gradients_match_finite_differences(steps, name, param, index):
    """Central differences of the loss in float64: a check that does not use autograd."""
    lm = load_model(name)
    model = lm.model.double()
    step = steps[name]
    src = torch.tensor([list(step.token_ids)]) if name == "translate" else None
    dec = torch.tensor([list(step.target_ids)])
    targets = torch.tensor(step.targets)
    w = dict(zip(_params(model), model.parameters(), strict=True))[param]
    eps = 1e-5

    def loss() -> float:
        with torch.no_grad():
            return float(F.cross_entropy(model(dec, src)[0], targets))

    with torch.no_grad():
        w[index] += eps
        up = loss()
        w[index] -= 2 * eps
        down = loss()
        w[index] += eps
    numeric = (up - down) / (2 * eps)
    assert step.grad(param)[index] == pytest.approx(numeric, rel=2e-3, abs=1e-7)
    assert abs(numeric) > 1e-6  # a cell that actually has a gradient


@pytest.mark.parametrize("name", ["lm", "translate", "modern"])
def test_logit_gradient_is_p_minus_y_over_t(steps, name):
    s = steps[name]
    probs = s["probs"].astype(np.float64)
    T = probs.shape[0]
    y = np.zeros_like(probs)
    for i, t in enumerate(s.targets):
        y[i, t] = 1.0
    np.testing.assert_allclose(s["grad.logits"], (probs - y) / T, atol=1e-7)
    np.testing.assert_allclose(explain.logit_grad(probs, np.array(s.targets)), (probs - y) / T)
    np.testing.assert_allclose(explain.lookup(s, "explain.p_minus_y(probs, step:targets)"), probs - y)
    assert float(explain.lookup(s, "explain.count(probs)")) == T == 6
    # the target column is (p − 1)/T: negative, so gradient descent raises that logit
    assert all(s["grad.logits"][i, t] < 0 for i, t in enumerate(s.targets))


@pytest.mark.parametrize("name", ["lm", "translate", "modern"])
def test_loss_is_the_mean_of_minus_log_p_and_goes_down(steps, name):
    s = steps[name]
    p = np.array([s["probs"][i, t] for i, t in enumerate(s.targets)], np.float64)
    assert s.loss == pytest.approx(float(np.mean(-np.log(p))), rel=1e-5)
    src = explain.lookup(s, "explain.mean(explain.neg_log(explain.target_probs(probs, step:targets)))")
    assert float(src) == pytest.approx(s.loss, rel=1e-5)
    assert s.lr == DEFAULT_LR[name]
    assert s.loss_after < s.loss and not s.loss_went_up
    p_after = explain.target_probs(s.after["probs"], np.array(s.targets))
    assert s.loss_after == pytest.approx(float(np.mean(-np.log(p_after))), rel=1e-5)


@pytest.mark.parametrize("name", ["lm", "translate", "modern"])
def test_params_after_are_params_minus_lr_times_grads(steps, name):
    s = steps[name]
    assert list(s.params_after) == list(s.params) == list(s.grads)
    lr = np.float32(s.lr)
    for n in s.params:
        np.testing.assert_allclose(s.params_after[n], s.params[n] - lr * s.grads[n], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(explain.sgd_update(s.params[n], s.grads[n], s.lr),
                                   s.params_after[n], rtol=1e-5, atol=1e-6)
    changed = [n for n in s.params if not np.array_equal(s.params[n], s.params_after[n])]
    assert "W_U" in changed
    # the loaded model itself is untouched
    np.testing.assert_array_equal(_params(load_model(name).model)["W_U"], s.params["W_U"])


@pytest.mark.parametrize("name", ["lm", "translate", "modern"])
def test_loss_after_is_the_updated_model_s_loss(steps, name):
    """Load the model, apply W − lr·∇W from the export, run it: the loss is loss_after."""
    s = steps[name]
    lm = load_model(name)
    with torch.no_grad():
        for n, p in zip(_params(lm.model), lm.model.parameters(), strict=True):
            p.copy_(torch.from_numpy(np.array(s.params[n] - np.float32(s.lr) * s.grads[n])))
    src = torch.tensor([list(s.token_ids)]) if name == "translate" else None
    logits = lm.model(torch.tensor([list(s.target_ids)]), src)
    loss = float(F.cross_entropy(logits[0], torch.tensor(s.targets)).detach())
    assert loss == pytest.approx(s.loss_after, rel=1e-5)


@pytest.mark.parametrize("name", ["lm", "translate", "modern"])
def test_forward_records_are_the_trace_s(steps, name):
    s, plain = steps[name], run_with_trace(name)
    assert s.tokens == plain.tokens and s.target_ids == plain.target_ids
    assert set(plain) <= set(s)
    for n in plain:
        np.testing.assert_allclose(s[n], plain[n], rtol=1e-6, atol=1e-6)
    assert [n for n in s if not n.startswith("grad.")] == list(plain)


def test_translate_targets_are_the_french_words_shifted_by_one(steps):
    s = steps["translate"]
    assert list(s.target_tokens) == TR_INPUT
    assert [s.vocab[i] for i in s.targets] == TR_TARGETS
    lm = steps["lm"]
    assert [lm.vocab[i] for i in lm.targets] == LM_TARGETS


def test_the_w_u_gradient_is_h_transposed_times_the_logit_gradient(steps):
    for s in steps.values():
        ex = training_example(s)
        h = final_hidden(s)
        products = explain.lookup(s, f"explain.matmul_products({h}.T, grad.logits)")
        terms = products[ex["dim"], ex["target"]]  # [pos]: h[i, d] · ∂L/∂logits[i, v]
        assert terms.shape == (6,)
        assert terms.sum() == pytest.approx(float(s.grad("W_U")[ex["dim"], ex["target"]]), rel=1e-5)
        np.testing.assert_allclose(explain.matmul(s[h].T, s["grad.logits"]), s.grad("W_U"), atol=1e-6)
        # the bias's gradient is the column sum of ∂L/∂logits (modern has no bias)
        if s.config.bias:
            np.testing.assert_allclose(s["grad.logits"].sum(0), s.grad("b_U"), atol=1e-7)


def test_training_example_picks_the_least_probable_target(steps):
    s = steps["lm"]
    ex = training_example(s)
    # "early" after "the" is a free choice among 9 adjectives: the hardest word here
    assert ex["row"] == 0 and s.vocab[ex["target"]] == "early"
    col = np.abs(s.grad("W_U")[:, ex["target"]])
    assert col[ex["dim"]] == col.max()
    # the columns: the target, then the three words the model preferred there
    assert ex["columns"][0] == ex["target"] and len(set(ex["columns"])) == 4
    probs = s["probs"][0]
    assert all(probs[c] >= probs[o] for c in ex["columns"][1:] for o in range(len(probs))
               if o not in ex["columns"])
    g = np.abs(s.grad("decoder.blocks.1.attn.W_Q")[1])
    assert g[training_example(s, 1, 1)["wq_cell"]] == g.max()


def test_sources_of_a_training_step_resolve(steps):
    s = steps["lm"]
    ex = training_example(s)
    r, v, d = ex["row"], ex["target"], ex["dim"]
    assert explain.resolve(s, "grad.logits", (r, v)) == pytest.approx(float(s["grad.logits"][r, v]))
    assert explain.resolve(s, "grad:W_U", (d, v)) == float(s.grads["W_U"][d, v])
    assert explain.resolve(s, "grad:decoder.blocks.0.attn.W_Q[1]", (2, 3)) == float(
        s.grads["decoder.blocks.0.attn.W_Q"][1, 2, 3])
    assert explain.resolve(s, "step:loss") == s.loss
    assert explain.resolve(s, "step:lr") == s.lr
    assert explain.resolve(s, "step:loss_after") == s.loss_after
    assert explain.resolve(s, "step:targets", (0,)) == s.targets[0]
    assert explain.resolve(s, "after:param:W_U", (d, v)) == float(s.params_after["W_U"][d, v])
    assert explain.resolve(s, "after:probs", (r, v)) == float(s.after["probs"][r, v])
    assert explain.resolve(s, "explain.sgd_step(grad:W_U, step:lr)", (d, v)) == pytest.approx(
        -s.lr * float(s.grads["W_U"][d, v]))
    assert explain.resolve(s, "explain.sgd_update(param:W_U, grad:W_U, step:lr)", (d, v)) == \
        pytest.approx(float(s.params_after["W_U"][d, v]), abs=1e-7)
    init = explain.lookup(s, "init:decoder.blocks.0.attn.pattern")
    np.testing.assert_allclose(init.sum(-1), 1.0, atol=1e-6)
    assert not np.allclose(init, s["decoder.blocks.0.attn.pattern"], atol=1e-2)
    with pytest.raises(KeyError, match="no parameter"):
        explain.lookup(s, "grad:W_X")
    with pytest.raises(KeyError, match="no step value"):
        explain.lookup(s, "step:epoch")
    with pytest.raises(KeyError, match="training step"):
        explain.lookup(run_with_trace("lm"), "grad:W_U")


def test_norm_and_rms():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    assert float(explain.norm(x)) == 5.0
    assert float(explain.rms(x)) == pytest.approx(2.5)
    assert float(explain.mean(x)) == 1.75
    np.testing.assert_array_equal(explain.onehot(np.array([1, 0]), 3), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(explain.target_probs(np.array([[0.2, 0.8], [0.6, 0.4]]),
                                                       np.array([1, 0])), [0.8, 0.6])


def test_init_is_the_shipped_run_s_starting_point(steps):
    s = steps["lm"]
    start = initial_model("lm")
    assert s.init is not None
    for n, w in _params(start.model).items():
        np.testing.assert_array_equal(s.init.params[n], w)
    assert not np.allclose(s.init.params["W_U"], s.params["W_U"])
    # train() starts from initial_model: zero steps of training leave exactly those weights
    zero = _params(train("lm", steps=0).model.model)
    for n, w in _params(start.model).items():
        np.testing.assert_array_equal(zero[n], w)
    # seeded, and leaves the caller's random state alone
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    again = initial_model("lm")
    assert torch.equal(torch.rand(1), before)
    np.testing.assert_array_equal(_params(again.model)["W_U"], s.init.params["W_U"])


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf"), "fast", None, True])
def test_a_bad_learning_rate_is_a_value_error(lr):
    with pytest.raises(ValueError, match="learning rate"):
        check_lr(lr) if lr is None else training_step("lm", lr=lr, with_init=False)


def test_check_lr_accepts_positive_numbers():
    assert check_lr(0.5) == 0.5 and check_lr("2") == 2.0 and check_lr(3) == 3.0


def test_a_too_large_learning_rate_is_reported_not_hidden():
    s = training_step("lm", lr=5.0, with_init=False)
    assert s.loss_after > s.loss and s.loss_went_up
    exported = to_dict(s)["step"]
    assert exported["loss_went_up"] is True and exported["lr"] == 5.0
    assert math.isfinite(exported["loss_after"])


def test_without_grad_the_export_is_unchanged():
    plain = to_dict(run_with_trace("lm"))
    assert set(plain) == {"model", "checkpoint", "sentence", "tokens", "token_ids", "target_tokens",
                          "target_ids", "output", "unknown_words", "config", "tokenization", "tokenizing",
                          "input_vocab", "vocab", "records", "params"}
    assert not any(k.startswith("grad.") for k in plain["records"])


def test_npz_export_of_a_step(steps, tmp_path):
    s = steps["translate"]
    path = tmp_path / "step.npz"
    write_npz(s, path)
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        assert meta["step"]["targets"] == list(s.targets)
        assert meta["step"]["loss"] == s.loss and meta["step"]["loss_after"] == s.loss_after
        np.testing.assert_array_equal(z["step:targets"], s.targets)
        for n in s.params:
            np.testing.assert_array_equal(z[f"grad:{n}"], s.grads[n])
            np.testing.assert_array_equal(z[f"after:param:{n}"], s.params_after[n])
        np.testing.assert_array_equal(z["grad.logits"], s["grad.logits"])


def test_token_ids_resolve(steps):
    s = steps["translate"]
    assert explain.resolve(s, "token_ids", (1,)) == s.token_ids[1]
    assert explain.resolve(s, "target_ids", (0,)) == s.vocab.index("<bos>")


def test_decimals_for_keeps_two_significant_digits():
    assert explain.decimals_for(np.array([0.12, -0.5])) == 2
    assert explain.decimals_for(np.array([0.0012, 0.0003])) == 4
    assert explain.decimals_for(np.array([-0.0099])) == 4
    assert explain.decimals_for(np.array([12.0])) == 2
    assert explain.decimals_for(np.zeros(3)) == 2
    assert explain.decimals_for(np.array([1e-9])) == 6


# ---- the CLI: trace --grad ---------------------------------------------------------------

def test_trace_grad_json_lets_a_reader_redo_the_loss_and_the_logit_gradient(tmp_path):
    from click.testing import CliRunner

    from cli import main

    out = tmp_path / "step.json"
    result = CliRunner().invoke(main, ["trace", "--model", "lm", "--grad", "--json", "--out",
                                       str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    step = data["step"]
    assert step["lr"] == DEFAULT_LR["lm"] and step["target_words"] == LM_TARGETS
    probs = np.array(data["records"]["probs"]["data"])
    t = step["targets"]
    nlp = [-math.log(probs[i][t[i]]) for i in range(len(t))]
    assert step["loss"] == pytest.approx(sum(nlp) / len(nlp), rel=1e-5)
    y = np.zeros_like(probs)
    y[np.arange(len(t)), t] = 1
    np.testing.assert_allclose(data["records"]["grad.logits"]["data"], (probs - y) / len(t),
                               atol=1e-7)
    assert step["loss_after"] < step["loss"] and step["loss_went_up"] is False
    for n, g in data["grads"].items():
        w, w2 = np.array(data["params"][n]["data"]), np.array(step["params_after"][n]["data"])
        np.testing.assert_allclose(w2, w - step["lr"] * np.array(g["data"]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("args,message", [
    (["--grad", "--lr", "0"], "positive finite number"),
    (["--grad", "--lr", "nan"], "positive finite number"),
    (["--grad", "--lr", "-2"], "positive finite number"),
    (["--grad", "--lr", "fast"], "not a valid float"),
    (["--lr", "0.1"], "add --grad"),
])
def test_trace_grad_bad_learning_rate_is_one_line_and_exit_2(args, message, tmp_path):
    from click.testing import CliRunner

    from cli import main

    out = tmp_path / "x.json"
    result = CliRunner().invoke(main, ["trace", "--model", "lm", "--json", "--out", str(out),
                                       *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not out.exists()


def test_trace_grad_too_large_says_the_loss_went_up():
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, ["trace", "--model", "lm", "--grad", "--lr", "5"])
    assert result.exit_code == 0
    assert "the loss went UP" in result.output


@pytest.mark.parametrize("command", ["render", "svg"])
def test_scene_commands_refuse_a_bad_learning_rate(command, tmp_path):
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, [command, "training", "--lr", "-1", "--out",
                                       str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "--lr" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
