"""Hostile and unlucky input, round two (issue #34): the defects a probe of 560 runs found.

Each test reproduces one finding of /work/shared/reviews/2026-12-reliability-probe.md (D1-D15)
and checks what must hold instead: one line, the right exit code, nothing lost, nothing stale.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main


@pytest.fixture
def runner():
    return CliRunner()


# ---- D1: --out never renames over a device, a FIFO or a symbolic link ------------------------

def _read_fifo(path: Path, got: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as fh:
            got.append(fh.read())
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_trace_out_writes_into_a_fifo(runner, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    result = runner.invoke(main, ["trace", "--json", "--out", str(fifo)])
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a plain file"
    reader.join(10)
    assert got and json.loads(got[0])["model"] == "translate"
    assert os.listdir(tmp_path) == ["pipe"]  # no temporary file left beside it


@pytest.mark.skipif(os.geteuid() != 0, reason="only root makes device nodes")
@pytest.mark.parametrize("command", [["trace", "--json"], ["gallery"]])
def test_out_writes_into_a_device_node(runner, tmp_path, command):
    node = tmp_path / "mynull"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    if command[0] == "gallery":
        renders = tmp_path / "renders" / "svg" / "attention"
        renders.mkdir(parents=True)
        (renders / "01-title.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
        command = [*command, "--renders", str(tmp_path / "renders")]
    result = runner.invoke(main, [*command, "--out", str(node)])
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(os.lstat(node).st_mode), "the device node was replaced by a plain file"


def test_out_through_a_symlink_keeps_the_link(runner, tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = runner.invoke(main, ["trace", "--json", "--out", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert json.loads(target.read_text())["model"] == "translate"
    assert sorted(os.listdir(tmp_path)) == ["link.json", "real.json"]


# ---- D2: the clip and notebook caches key on the bytes of the model actually used ------------

def _retrained(path: Path, bump: float) -> Path:
    """The shipped lm with one weight changed, saved to ``path`` (a retrain in place)."""
    import torch

    from transformer_core.checkpoint import load_model, save_model

    lm = load_model("lm")
    with torch.no_grad():
        next(lm.model.parameters()).add_(bump)
    save_model(lm, path)
    return path


def test_clip_key_covers_the_checkpoint_used(tmp_path):
    from scenes.toolkit.storyboard import SceneOptions
    from scenes.writers.clips import fingerprint

    path = _retrained(tmp_path / "my.pt", 0.0)
    options = SceneOptions(model="lm", checkpoint=str(path))
    keys = {kind: fingerprint("attention", options, "low", kind) for kind in ("clips", "step:title")}
    _retrained(path, 0.5)  # same path, new model
    assert all(fingerprint("attention", options, "low", kind) != key for kind, key in keys.items())


# ---- D3: a checkpoint's sizes are bounded at load, before anything of those sizes is made ----

def _tampered(tmp_path: Path, name: str = "lm", **config) -> Path:
    """The shipped ``name`` checkpoint with its config changed (the weights as they are)."""
    import torch

    from transformer_core.checkpoint import default_path

    payload = torch.load(default_path(name), weights_only=True)
    payload["config"] = {**payload["config"], **config}
    path = tmp_path / f"{name}-{'-'.join(f'{k}{v}' for k, v in config.items())}.pt"
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("config,needle", [
    ({"max_len": 5000}, "max_len is 5000"),
    ({"max_len": 10**8}, "max_len is 100000000"),
    ({"tgt_vocab_size": 10**6}, "tgt_vocab_size is 1000000"),
    ({"d_model": 1024, "d_head": 512}, "d_model is 1024"),
    ({"n_dec_layers": 200}, "n_dec_layers is 200"),
    ({"d_ff": "32"}, "d_ff is '32', not a whole number"),
    ({"ln_eps": -1.0}, "ln_eps is -1.0"),
])
def test_checkpoint_sizes_are_bounded_at_load(runner, tmp_path, monkeypatch, config, needle):
    import transformer_core.model as model

    built = []
    monkeypatch.setattr(model.Transformer, "__init__",
                        lambda self, cfg: built.append(cfg) or (_ for _ in ()).throw(MemoryError))
    path = _tampered(tmp_path, **config)
    result = runner.invoke(main, ["trace", "--checkpoint", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "beyond what this tool shows" in result.output and needle in result.output
    assert not built  # refused before the model (and its tables) was made


def test_the_shipped_and_trained_sizes_are_within_bounds():
    from transformer_core.checkpoint import check_config_bounds, load_model
    from transformer_core.config import Config

    for name in ("lm", "translate"):
        check_config_bounds(load_model(name).cfg.to_dict(), name)
    biggest = Config(mode="encdec", src_vocab_size=1004, tgt_vocab_size=1004, n_enc_layers=2,
                     n_dec_layers=2, max_len=12)  # the most train_corpus plans
    check_config_bounds(biggest.to_dict(), "translate")
    with pytest.raises(ValueError, match="max_len 1..40"):  # a kind states its own limits
        check_config_bounds({**biggest.to_dict(), "max_len": 41}, "llama", {"max_len": (1, 40)})


def test_a_zip_bomb_checkpoint_is_refused_before_it_is_unpacked(tmp_path):
    import zipfile

    from transformer_core.checkpoint import NotACheckpointError, load_checkpoint

    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb/data.pkl", "w") as fh:
            block = bytes(1 << 20)
            for _ in range(64):  # 64 MB of zeros in about 64 kB
                fh.write(block)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(NotACheckpointError, match="would unpack to 67 MB"):
        load_checkpoint(path)
