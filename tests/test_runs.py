"""The model's runs kept between renders (transformer_core.runs): the same trace, bit for bit, as
running the model; torch never imported on a hit; bad entries rebuilt; failed runs not kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from transformer_core import cache, runs
from transformer_core.generate import generate
from transformer_core.records import Trace, TrainingTrace, from_bytes, to_bytes
from transformer_core.trace import SentenceTooLongError, run_with_trace
from transformer_core.training_step import training_step

ROOT = Path(__file__).resolve().parent.parent


def _entries(root: Path) -> list[Path]:
    return sorted((root / "runs").rglob("*.bin")) if (root / "runs").is_dir() else []


def assert_same(a: Trace, b: Trace, where: str = "trace") -> None:
    """Every field equal; every array of the same dtype, shape and bits, in the same order."""
    assert type(a) is type(b), where
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name in ("_arrays", "params", "grads"):
            assert list(x) == list(y), f"{where}.{f.name}"
            for name in x:
                assert x[name].dtype == y[name].dtype, f"{where}.{f.name}[{name}]"
                assert x[name].shape == y[name].shape, f"{where}.{f.name}[{name}]"
                assert x[name].tobytes() == y[name].tobytes(), f"{where}.{f.name}[{name}]"
                assert not y[name].flags.writeable
        elif f.name in ("after", "init"):
            assert (x is None) == (y is None), f"{where}.{f.name}"
            if x is not None:
                assert_same(x, y, f"{where}.{f.name}")
        else:
            assert x == y and type(x) is type(y), f"{where}.{f.name}: {x!r} != {y!r}"


def test_bytes_round_trip_every_kind_of_trace(tr):
    step = training_step("lm")
    sampled = generate("lm", "the early", temperature=0.8, seed=3)
    for original in (tr, step, sampled):
        assert_same(original, from_bytes(to_bytes(original)))
    assert isinstance(from_bytes(to_bytes(step)), TrainingTrace)
    assert from_bytes(to_bytes(step)).init is not None  # the nested traces came back too
    for junk in (b"", b"not a trace", to_bytes(tr)[:-40]):
        assert from_bytes(junk) is None


@pytest.mark.parametrize("kind", ["trace-translate", "trace-lm", "generation", "training"])
def test_kept_run_equals_a_fresh_run(cache_home, kind):
    fresh, kept = {
        "trace-translate": (lambda: run_with_trace("translate", "jane visits paris"),
                            lambda: runs.trace("translate", "jane visits paris")),
        "trace-lm": (lambda: run_with_trace("lm"), lambda: runs.trace("lm", None)),
        "generation": (lambda: generate("translate", None, max_new=3, temperature=0.5, seed=7),
                       lambda: runs.generation("translate", None, max_new=3, temperature=0.5,
                                               seed=7)),
        "training": (lambda: training_step("translate", None, 0.5),
                     lambda: runs.training("translate", None, 0.5)),
    }[kind]
    first = kept()  # a miss: the model runs and the result is kept
    assert len(_entries(cache_home)) == 1
    second = kept()  # a hit
    assert_same(fresh(), first)
    assert_same(fresh(), second)
    assert len(_entries(cache_home)) == 1


def test_options_are_in_the_key(cache_home):
    greedy = runs.generation("lm", "the early")
    sampled = runs.generation("lm", "the early", temperature=1.5, seed=1)
    other = runs.generation("lm", "the early", temperature=1.5, seed=2)
    assert float(greedy["gen.temperature"]) == 0.0 and float(sampled["gen.temperature"]) == 1.5
    assert len(_entries(cache_home)) == 3
    assert_same(other, generate("lm", "the early", temperature=1.5, seed=2))
    slow, fast = runs.training("lm", None, 0.05), runs.training("lm", None, 0.2)
    assert (slow.lr, fast.lr) == (0.05, 0.2)
    assert runs.trace("lm", "the worm").sentence == "the worm"


def test_a_hit_never_imports_torch(cache_home):
    runs.trace("translate", None)
    runs.training("lm", None)
    code = ("import sys; from transformer_core import runs; "
            "t = runs.trace('translate', None); s = runs.training('lm', None); "
            "print(len(t), s.loss > s.loss_after, 'torch' in sys.modules)")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home.parent)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == [str(len(run_with_trace("translate"))), "True", "False"]


def test_damaged_or_foreign_entries_are_run_again(cache_home):
    expected = run_with_trace("lm")
    runs.trace("lm", None)
    (entry,) = _entries(cache_home)
    entry.write_bytes(entry.read_bytes()[:-100])  # truncated: its checksum fails
    assert_same(expected, runs.trace("lm", None))
    (entry,) = _entries(cache_home)
    key = entry.stem
    cache.Store("runs").put(key, b"a valid entry that is not a trace")  # foreign payload
    assert_same(expected, runs.trace("lm", None))
    cache.Store("runs").put(key, to_bytes(runs.training("lm", None)))  # another kind of run
    got = runs.trace("lm", None)
    assert type(got) is Trace
    assert_same(expected, got)


def test_off_failed_and_unreadable_runs_are_not_kept(cache_home, monkeypatch, tmp_path):
    with pytest.raises(SentenceTooLongError):
        runs.trace("lm", "the early bird eats the worm " * 3)
    assert _entries(cache_home) == []
    missing = tmp_path / "missing.pt"
    with pytest.raises(Exception, match="missing.pt"):
        runs.trace("lm", None, missing)
    assert _entries(cache_home) == []
    monkeypatch.setenv(cache.NO_CACHE_ENV, "1")
    assert_same(run_with_trace("lm"), runs.trace("lm", None))
    assert _entries(cache_home) == []


def test_a_rewritten_checkpoint_is_run_again(cache_home, tmp_path):
    """The key holds the checkpoint's bytes: the same path with other contents is another run."""
    ckpt = tmp_path / "model.pt"
    shutil.copyfile(runs.checkpoint_file("lm"), ckpt)
    first = runs.trace("lm", None, ckpt)
    assert first.checkpoint == str(ckpt)
    assert_same(first, runs.trace("lm", None, ckpt))
    assert len(_entries(cache_home)) == 1
    import torch

    state = torch.load(ckpt, weights_only=False)
    weights = state["state_dict"] if "state_dict" in state else state["model"]
    name = next(k for k, v in weights.items() if v.dtype.is_floating_point and v.dim() == 2)
    weights[name] = weights[name] + 0.25
    torch.save(state, ckpt)
    second = runs.trace("lm", None, ckpt)
    assert len(_entries(cache_home)) == 2
    assert not np.array_equal(first["logits"], second["logits"])
    assert_same(run_with_trace(str(ckpt), None), second)


def test_a_checkpoints_kind_is_kept_too(cache_home, tmp_path):
    """A warm render of your own model needs no torch either: its kind is kept by its bytes; the
    wrong --model is still refused in one line; a foreign kind entry is read again."""
    import click

    from scenes.cli_support import load_trace, model_kind

    ckpt = tmp_path / "mine.pt"
    shutil.copyfile(runs.checkpoint_file("lm"), ckpt)
    assert model_kind(None, ckpt) == "lm"
    assert model_kind("lm", ckpt) == "lm"
    expected = load_trace("lm", None, ckpt)
    code = ("import sys; from scenes.cli_support import load_trace, model_kind; "
            f"k = model_kind(None, {str(ckpt)!r}); t = load_trace(k, None, {str(ckpt)!r}); "
            "print(k, t.checkpoint, float(t['logits'].sum()), 'torch' in sys.modules)")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home.parent)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["lm", str(ckpt), repr(float(expected["logits"].sum())), "False"]
    with pytest.raises(click.BadParameter,
                       match=r"is a language model .*\(lm\); this needs a translation .*"
                             r"leave out --model, or give a translate checkpoint$"):
        model_kind("translate", ckpt)
    (kind_entry,) = [p for p in _entries(cache_home) if p.stat().st_size < 100]
    cache.Store("runs").put(kind_entry.stem, b"translate ")  # not a kind: ignored
    assert model_kind(None, ckpt) == "lm"
    assert kind_entry.read_bytes().endswith(b"lm")  # and written again
