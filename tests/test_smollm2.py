"""SmolLM2-135M in our model code: equal to transformers' LlamaForCausalLM loaded from the same
GGUF file (logits and every layer's hidden state), its tokenizer equal to transformers' on many
sentences, " Paris" after "The capital of France is"; the weights cache rebuilt when damaged.

One module-scoped pair of models (ours from the cache the session shares, theirs from the file:
transformers dequantizes it again, the slow part of this module)."""

import pytest
import torch

from transformer_core import pretrained

pytestmark = pytest.mark.filterwarnings("ignore")

SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "The capital of France is",
    "In 2024, 1234 apples cost $5.99!",
    "Héllo wörld: naïve café 😀 日本語",
]


@pytest.fixture(scope="module")
def ours():
    return pretrained.load_pretrained()


@pytest.fixture(scope="module")
def theirs():
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    path = pretrained.smollm2_file()
    model = transformers.LlamaForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return model, tok


def _rel(a, b) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_config_read_from_the_file(ours):
    cfg = ours.cfg
    assert (cfg.d_model, cfg.n_heads, cfg.kv_heads, cfg.d_head, cfg.d_ff, cfg.n_dec_layers) == \
        (576, 9, 3, 64, 1536, 30)
    assert cfg.tgt_vocab_size == len(ours.tgt_vocab) == 49152
    assert cfg.rope_theta == 100000.0 and abs(cfg.ln_eps - 1e-5) < 1e-9
    assert cfg.tie_embeddings and not cfg.bias and cfg.norm == "rmsnorm" and cfg.positions == "rope"


MORE = SENTENCES + [
    "don't you're I'll we've they'd",
    "  two  spaces\nnewline\ttab",
    "<|im_start|>user\nhi<|im_end|>",
    "E = mc^2; x_1 + x_2 >= 3.14159",
    "https://example.org/path?q=1&r=two",
    "Ελληνικά, русский, العربية, हिन्दी",
    "ALL CAPS and MiXeD cAsE",
    "a",
    "    indented code():\n        return 42",
]


def test_tokenizer_equals_transformers(ours, theirs):
    _, tok = theirs
    v = ours.tgt_vocab
    for text in MORE:
        got = v.encode(text)
        assert list(got.ids) == tok.encode(text, add_special_tokens=False), text
        assert v.text(got.ids) == text  # byte-level: the text comes back exactly
        assert not got.unknown
    assert v.encode("the quick brown fox").tokens == ("the", "·quick", "·brown", "·fox")


@torch.no_grad()
def test_logits_and_hidden_states_equal_transformers(ours, theirs):
    model, _ = theirs
    cfg = ours.cfg
    for text in SENTENCES:
        ids = torch.tensor([list(ours.tgt_vocab.encode(text).ids)])
        seen = {}
        logits = ours.model(ids, None, seen.__setitem__)
        out = model(ids, output_hidden_states=True)
        assert _rel(logits, out.logits) < 1e-4, text
        for i in range(cfg.n_dec_layers):  # hidden_states[i]: the input of layer i
            assert _rel(seen[f"decoder.blocks.{i}.resid_pre"], out.hidden_states[i]) < 1e-4, (text, i)
        assert _rel(seen["decoder.ln_f.out"], out.hidden_states[-1]) < 1e-4, text


@torch.no_grad()
def test_greedy_continues_with_paris(ours):
    v = ours.tgt_vocab
    prefix = list(v.encode("The capital of France is").ids)
    out = ours.model.greedy(prefix, None, v.eos_id, 1)
    assert v.decode(out[len(prefix):]) == ["·Paris"]


def test_damaged_weights_cache_is_rebuilt(tmp_path, monkeypatch):
    """A truncated or flipped cache file is deleted and read as missing, never an error."""
    import numpy as np

    path = tmp_path / "w.f32"
    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(5, np.float32)}
    pretrained.write_weights(path, {"x": 1}, arrays)
    meta, back = pretrained.read_weights(path)
    assert meta == {"x": 1} and all(np.array_equal(back[k], arrays[k]) for k in arrays)
    data = path.read_bytes()
    from transformer_core.weights_file import StoredParams, read_array

    params = StoredParams(path, {"x.a": "a", "x.b": "b"}, {"x.a": (3, 4), "x.b": (5,)})
    assert np.array_equal(params["x.a"], arrays["a"]) and list(params) == ["x.a", "x.b"]
    flipped = bytearray(data)
    flipped[-64 + 2] ^= 1  # in b (the last 64 bytes: b's 20, padding): a still reads alone, b
    # is found damaged and the file deleted
    path.write_bytes(bytes(flipped))
    assert np.array_equal(read_array(path, "a"), arrays["a"])
    assert read_array(path, "b") is None and not path.exists()
    path.write_bytes(data[:-7])  # truncated
    assert pretrained.read_weights(path) is None and not path.exists()
    flipped = bytearray(data)
    flipped[-3] ^= 1
    path.write_bytes(bytes(flipped))
    assert pretrained.read_weights(path) is None and not path.exists()


def test_generation_continues_the_default_sentence(ours):
    from transformer_core.generate import default_prefix, generate

    assert default_prefix(ours) == "The capital of France is"
    gen = generate(ours)
    assert len(gen["gen.choice"]) == 8  # a pretrained model's few tokens by default
    assert gen.output_text.startswith(" Paris")
    assert ours.tgt_vocab.decode(gen["gen.choice"][:1]) == ["·Paris"]
