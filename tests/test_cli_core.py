"""The CLI's trace, train and list commands, through click's CliRunner and a real process."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from transformer_core.trace import run_with_trace

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["trace", "--help"], ["train", "-h"],
                                  ["list", "--help"]])
def test_help(runner, args):
    result = runner.invoke(main, args)
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_help_is_instant_and_imports_no_torch():
    code = "import sys, cli; print('torch' in sys.modules, 'manim' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"]
    start = time.perf_counter()
    subprocess.run([sys.executable, "cli.py", "--help"], cwd=ROOT, check=True, capture_output=True)
    assert time.perf_counter() - start < 5  # generous: the real figure is ~0.1 s; see the note


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2,
                    reason="counts the threads of a process in /proc, on more than one core")
def test_the_command_process_keeps_openblas_on_one_thread():
    """OpenBLAS starts a helper thread per further core when NumPy is imported; the command
    process sets it to one thread first, unless the user's environment chose a number."""
    count = "import numpy, os; print(len(os.listdir('/proc/self/task')))"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}

    def threads(setup: str, **extra) -> int:
        out = subprocess.run([sys.executable, "-c", setup + count], cwd=ROOT, text=True,
                             capture_output=True, env={**env, **extra})
        return int(out.stdout)

    assert threads("") > 1  # OpenBLAS's own threads, as NumPy starts them
    assert threads("import cli; cli.one_blas_thread(); ") == 1
    assert threads("import cli; cli.one_blas_thread(); ", OPENBLAS_NUM_THREADS="2") > 1


def test_trace_summary_shows_translation(runner):
    result = runner.invoke(main, ["trace", "--model", "translate"])
    assert result.exit_code == 0
    assert "jane visite l'afrique en septembre" in result.output
    assert "encoder.blocks.0.attn.pattern" in result.output


def test_trace_json_has_every_number(runner, tmp_path):
    out = tmp_path / "t.json"
    result = runner.invoke(main, ["trace", "--json", "--out", str(out), "--model", "lm"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    t = run_with_trace("lm")
    assert data["tokens"] == list(t.tokens)
    assert set(data["records"]) == set(t.names)
    pattern = np.array(data["records"]["decoder.blocks.0.attn.pattern"]["data"])
    assert np.allclose(pattern, t["decoder.blocks.0.attn.pattern"])
    masked = data["records"]["decoder.blocks.0.attn.masked"]["data"]
    assert masked[0][0][1] == "-inf"
    W_Q = np.array(data["params"]["decoder.blocks.0.attn.W_Q"]["data"])
    assert np.allclose(W_Q, t.param("decoder.blocks.0.attn.W_Q"))


def test_trace_npz(runner, tmp_path):
    out = tmp_path / "t.npz"
    result = runner.invoke(main, ["trace", "--format", "npz", "--out", str(out)])
    assert result.exit_code == 0, result.output
    z = np.load(out)
    t = run_with_trace("translate")
    assert np.array_equal(z["encoder.blocks.0.attn.scores"], t["encoder.blocks.0.attn.scores"])
    assert np.array_equal(z["param:encoder.W_E"], t.param("encoder.W_E"))
    assert json.loads(str(z["meta"]))["output"] == "jane visite l'afrique en septembre"


def test_trace_user_sentence_with_unknown_word(runner):
    result = runner.invoke(main, ["trace", "--sentence", "Paul sees Mars in May."])
    assert result.exit_code == 0
    assert "shown as <unk>: 'mars'" in result.output
    assert "tokens:   paul sees <unk> in may" in result.output


@pytest.mark.parametrize("args,code,needle", [
    (["trace", "--sentence", "   "], 2, "empty"),
    (["trace", "--model", "gpt"], 2, "'gpt' is not one of"),
    (["trace", "--sentence", "jane " * 20], 2, "at most"),
    (["trace", "--format", "npz"], 2, "needs --out"),
])
def test_trace_bad_input(runner, args, code, needle):
    result = runner.invoke(main, args)
    assert result.exit_code == code
    assert needle in result.output
    assert "Traceback" not in result.output


def test_train_command(runner, tmp_path):
    out = tmp_path / "m.pt"
    result = runner.invoke(main, ["train", "lm", "--steps", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "held-out next-token accuracy" in result.output
    assert out.is_file() and out.stat().st_size > 1000


def test_list(runner):
    result = runner.invoke(main, ["list"])
    assert result.exit_code == 0
    assert result.output.startswith("attention")
