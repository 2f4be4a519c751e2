"""Your own model through the real CLI: train it, render and verify it, and every bad input
answered with one line, its exit code and nothing written."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import MappingProxyType

import pytest
import torch
from click.testing import CliRunner

from cli import main
from transformer_core.corpus import MAX_WORDS

ROOT = Path(__file__).resolve().parents[1]
LM_TEXT = "\n".join([
    "the red fox eats a hen",
    "the grey cat drinks the milk",
    "η γάτα πίνει γάλα",
    "кошка пьёт молоко",
]) + "\n"
PAIRS_TEXT = "i am a student\tje suis étudiant\nshe is a student\telle est étudiante\n"


def error_line(result) -> str:
    """A failed command's output: exactly one line, no traceback."""
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An lm and a translation model trained by the CLI on tiny corpora."""
    folder = tmp_path_factory.mktemp("custom")
    (folder / "lm.txt").write_text(LM_TEXT, encoding="utf-8")
    (folder / "pairs.tsv").write_text(PAIRS_TEXT, encoding="utf-8")
    runner = CliRunner()
    lm = runner.invoke(main, ["train", "lm", "--corpus", str(folder / "lm.txt"), "--out",
                              str(folder / "my-lm.pt"), "--seed", "2"])
    tr = runner.invoke(main, ["train", "translate", "--pairs", str(folder / "pairs.tsv"),
                              "--out", str(folder / "my-tr.pt")])
    return folder, lm, tr


def test_train_prints_its_accuracies_and_writes_the_checkpoint(trained):
    folder, lm, tr = trained
    assert lm.exit_code == 0, lm.output
    assert re.search(r"learned its data in \d+ steps", lm.output)
    # after "the" comes "red" once and "grey" once: 18 of the 19 next words can be predicted
    assert ("training data: next word 94.7% right (4 sentences); the best possible is 94.7%"
            in lm.output)
    assert ("held-out data: none (4 sentences are too few to hold some out; 50 are needed)"
            in lm.output)
    assert f"wrote {folder / 'my-lm.pt'}" in lm.output
    assert tr.exit_code == 0, tr.output
    assert "training data: 100.0% of 2 pairs translated exactly" in tr.output
    payload = torch.load(folder / "my-tr.pt", weights_only=True)
    assert payload["name"] == "translate" and payload["meta"]["seed"] == 0


def test_trace_shows_the_checkpoint_words(trained):
    folder, _, _ = trained
    result = CliRunner().invoke(main, ["trace", "--checkpoint", str(folder / "my-lm.pt"),
                                       "--sentence", "η γάτα"])
    assert result.exit_code == 0, result.output
    assert "tokens:   η γάτα" in result.output and "output:   πίνει γάλα" in result.output
    result = CliRunner().invoke(main, ["trace", "--checkpoint", str(folder / "my-tr.pt"),
                                       "--sentence", "she is a student"])
    assert "output:   elle est étudiante" in result.output


def test_trace_escapes_control_characters_of_the_sentence():
    result = CliRunner().invoke(main, ["trace", "--sentence", "jane visits\nafrica \x1b[2J"])
    assert result.exit_code == 0
    assert "sentence: jane visits\\nafrica \\x1b[2J" in result.output
    assert "\x1b" not in result.output


def test_a_still_of_the_attention_scene_renders_with_the_checkpoint(trained, tmp_path):
    folder, _, _ = trained
    result = CliRunner().invoke(main, ["render", "attention", "--format", "png", "--checkpoint",
                                       str(folder / "my-lm.pt"), "--sentence", "the red fox",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    stills = sorted(p.name for p in (tmp_path / "attention-steps").iterdir())
    assert "07-mask.png" in stills and len(stills) == 10  # an lm: causal, with the mask step


def test_verify_passes_on_the_checkpoint(trained):
    folder, _, _ = trained
    result = CliRunner().invoke(main, ["verify", "attention", "--checkpoint",
                                       str(folder / "my-lm.pt")])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d+ numbers and \d+ word labels on 10 steps of 'attention' equal the "
                        r"model's values; the model equals PyTorch within \de-\d\d \(\d+ tensors "
                        r"compared; [\d.]+ s\)\n", result.output), result.output


def test_verify_catches_a_wrong_number(trained, monkeypatch):
    """The scene draws from a trace with the scores changed: verify names the first one."""
    import scenes.toolkit.storyboard as storyboard

    folder, _, _ = trained
    real = storyboard.load_trace

    def corrupted(*args):
        t = real(*args)
        arrays = dict(t.items())
        arrays["decoder.blocks.0.attn.scores"] = arrays["decoder.blocks.0.attn.scores"] + 0.5
        return dataclasses.replace(t, _arrays=MappingProxyType(arrays))

    monkeypatch.setattr(storyboard, "load_trace", corrupted)
    result = CliRunner().invoke(main, ["verify", "attention", "--checkpoint",
                                       str(folder / "my-lm.pt")])
    assert result.exit_code == 1
    line = error_line(result)
    assert re.match(r"Error: scene 'attention', step 'scores': shows −?\d\.\d\d for "
                    r"decoder\.blocks\.0\.attn\.scores\[0\]\[\d+, \d+\], but the model computed "
                    r"−?\d\.\d{6}$", line), line


# ---- bad input: one line, exit 1 or 2, nothing written ----------------------------------------

CORPORA = {
    "empty": b"",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "latin1": "un caf\u00e9\ndeux th\u00e9s\n".encode("latin-1"),
    "one": b"only one sentence here\n",
    "vocab": "\n".join(" ".join(f"w{i}x{j}" for j in range(10))
                       for i in range(MAX_WORDS // 10 + 1)).encode(),
    "no-tab": b"i am\tje suis\nyou are tu es\n",
    "lm": LM_TEXT.encode(),
}


@pytest.mark.parametrize("args,data,code,needle", [
    (["train", "lm", "--corpus", "{data}"], "empty", 2, "is empty: write one sentence per line"),
    (["train", "lm", "--corpus", "{data}"], "binary", 2, "is a binary file, not text"),
    (["train", "lm", "--corpus", "{data}"], "latin1", 2, "is not UTF-8 text (line 1, byte 0xe9)"),
    (["train", "lm", "--corpus", "{data}"], "one", 2, "has only one sentence"),
    (["train", "lm", "--corpus", "{data}"], "vocab", 2, f"different words; the limit is {MAX_WORDS}"),
    (["train", "translate", "--pairs", "{data}"], "no-tab", 2, "line 2 has no tab"),
    (["train", "lm", "--corpus", "{tmp}/missing.txt"], None, 2, "no such file"),
    (["train", "lm", "--corpus", "{data}", "--out", "{tmp}/nowhere/x.pt"], "lm", 2,
     "nowhere does not exist: create it first"),
    (["train", "lm", "--corpus", "{data}", "--out", "{data}"], "lm", 2,
     "exists and is not a checkpoint: it is left as it is"),
    (["train", "lm", "--pairs", "{data}"], "lm", 2, "--pairs is for translate"),
    (["trace", "--checkpoint", "{data}"], "lm", 1, "is not a checkpoint (not a PyTorch file)"),
    (["trace", "--checkpoint", "{tmp}/gone.pt"], None, 2, "does not exist"),
])
def test_each_bad_input_gives_its_line(tmp_path, args, data, code, needle):
    data_path = tmp_path / "data.txt"
    if data is not None:
        data_path.write_bytes(CORPORA[data])
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    argv = [a.replace("{data}", str(data_path)).replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == code, result.output
    assert needle in error_line(result)
    assert {p: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written
    assert not list(Path.cwd().glob("data.pt"))


@pytest.mark.parametrize("command", [["trace"], ["verify", "attention"],
                                     ["render", "attention", "--format", "png"]])
def test_checkpoint_truncated_or_of_the_other_kind(trained, tmp_path, command):
    folder, _, _ = trained
    out = ["--out", str(tmp_path / "out")] if command[0] == "render" else []
    result = CliRunner().invoke(main, [*command, "--model", "translate", "--checkpoint",
                                       str(folder / "my-lm.pt"), *out])
    assert result.exit_code == 2
    assert "is a language model (decoder-only) checkpoint (lm); this needs a translation" in \
        error_line(result)
    cut = tmp_path / "cut.pt"
    cut.write_bytes((folder / "my-lm.pt").read_bytes()[:2000])
    result = CliRunner().invoke(main, [*command, "--checkpoint", str(cut), *out])
    assert result.exit_code == 1
    assert "is a damaged or truncated checkpoint" in error_line(result)
    assert not (tmp_path / "out").exists()


def test_interrupted_training_leaves_no_checkpoint(tmp_path):
    """A real Ctrl-C during a long training: exit 130, no checkpoint, no temporary file."""
    import random

    rng = random.Random(0)
    words = [f"w{i}" for i in range(300)]
    corpus = tmp_path / "big.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words) for _ in range(10))
                                for _ in range(2000)), encoding="utf-8")
    out = tmp_path / "big.pt"
    proc = subprocess.Popen([sys.executable, "cli.py", "train", "lm", "--corpus", str(corpus),
                             "--out", str(out)], cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stderr:
            if "positions" in line:  # the model is sized: training starts
                break
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    assert code == 130, rest
    assert "interrupted by SIGINT" in rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt"]


def test_scene_options_from_the_environment_take_the_checkpoint_kind(trained):
    from scenes.toolkit.storyboard import SceneOptions

    folder, _, _ = trained
    options = SceneOptions.from_env({"SCENE_CHECKPOINT": str(folder / "my-lm.pt")})
    assert options.model == "lm" and options.checkpoint == str(folder / "my-lm.pt")


def test_a_large_vocabulary_keeps_every_scene_check(tmp_path_factory):
    """90 words: the logits step shows a readable window of the vocabulary, every check holds."""
    import random

    from scenes.toolkit.storyboard import SceneOptions
    from tests import scene_checks as checks
    from transformer_core.checkpoint import save_model
    from transformer_core.corpus import read_corpus
    from transformer_core.explain import VOCAB_COLUMNS
    from transformer_core.train import train_corpus

    folder = tmp_path_factory.mktemp("big")
    rng = random.Random(1)
    words = [f"word{i}" for i in range(90)]
    (folder / "big.txt").write_text("\n".join(" ".join(rng.choice(words) for _ in range(5))
                                              for _ in range(60)), encoding="utf-8")
    result = train_corpus(read_corpus(folder / "big.txt", "lm"), max_steps=20)
    save_model(result.model, folder / "big.pt")
    scene, states = checks.capture("decoder", SceneOptions(model="lm", checkpoint=str(folder / "big.pt")))
    for check in (checks.assert_numbers_true, checks.assert_labels_true, checks.assert_steps_ran):
        check(scene, states)
    for check in (checks.assert_no_unsourced_digits, checks.assert_inside_frame,
                  checks.assert_no_text_overlaps, checks.assert_readable_at_480p):
        check(states)
    logits = next(s for s in states if s.name == "logits")
    columns = {t.index for t in logits.texts if t.kind == "token" and "vocab" in t.source}
    assert len(columns) == VOCAB_COLUMNS < len(scene.trace.vocab)


def test_the_training_scene_runs_a_custom_checkpoint(trained):
    """trace --grad and the training scene's verify take --checkpoint too."""
    folder, _, _ = trained
    result = CliRunner().invoke(main, ["trace", "--grad", "--checkpoint", str(folder / "my-tr.pt"),
                                       "--sentence", "i am a student"])
    assert result.exit_code == 0, result.output
    assert "tokens:   i am a student" in result.output
    result = CliRunner().invoke(main, ["verify", "training", "--checkpoint", str(folder / "my-lm.pt"),
                                       "--sentence", "the red fox"])
    assert result.exit_code == 0, result.output
    assert "of 'training' equal the model's values" in result.output


def test_generate_continues_the_checkpoints_own_sentence(trained):
    from transformer_core.checkpoint import load_checkpoint
    from transformer_core.generate import default_prefix

    folder, lm, _ = trained
    assert default_prefix(load_checkpoint(folder / "my-lm.pt")) == "the red fox"


def test_the_suggested_render_command_fits_the_scene(tmp_path):
    import shlex

    from scenes.registry import get_scene_class
    from scenes.toolkit.storyboard import load_trace

    long_first = "the old red fox eats a small grey hen"
    (tmp_path / "c.txt").write_text(f"{long_first}\nthe cat drinks milk\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["train", "lm", "--corpus", str(tmp_path / "c.txt"),
                                       "--out", str(tmp_path / "c.pt"), "--steps", "5"])
    assert result.exit_code == 0, result.output
    args = shlex.split(result.output.strip().splitlines()[-1].split("show it: ", 1)[1])
    assert args[:4] == ["python", "cli.py", "render", "attention"]
    sentence = args[args.index("--sentence") + 1] if "--sentence" in args else long_first
    trace = load_trace("lm", sentence, str(tmp_path / "c.pt"))
    assert get_scene_class("attention").too_long(trace, "attention") is None
    limit = get_scene_class("attention").max_tokens  # None: windows show any length
    if limit is not None and limit < 9:  # the first line does not fit
        assert sentence == "the cat drinks milk"
    else:  # it fits: the corpus's own default sentence, no --sentence
        assert "--sentence" not in args
