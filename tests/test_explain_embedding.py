"""Words → ids → rows of W_E → × √d_model, and the positional encoding as a table and as waves:
the derived numbers the embedding and overview scenes show reproduce the model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transformer_core import explain
from transformer_core.explain import lookup, resolve
from transformer_core.model import positional_encoding
from transformer_core.trace import SentenceTooLongError, run_with_trace

ROWS = "explain.gather_rows(param:encoder.W_E, token_ids)"


def test_input_vocab_names_the_rows_of_the_first_w_e(tr, lm):
    assert len(tr.input_vocab) == tr.param("encoder.W_E").shape[0] == 23
    assert [tr.input_vocab[i] for i in tr.token_ids] == ["jane", "visits", "africa", "in",
                                                        "september"]
    assert tr.input_vocab != tr.vocab  # English rows, French output
    assert lm.input_vocab == lm.vocab


def test_id_and_vocabulary_sources(tr):
    assert resolve(tr, "token_ids", (2,)) == float(tr.input_vocab.index("africa"))
    assert resolve(tr, "input_vocab", (tr.token_ids[2],)) == "africa"
    assert resolve(tr, "target_ids", (0,)) == float(tr.vocab.index("<bos>"))


def test_row_slices_and_integer_literals(tr):
    w = tr.param("encoder.W_E")
    np.testing.assert_array_equal(lookup(tr, "param:encoder.W_E[12:23]"), w[12:23])
    assert resolve(tr, "param:encoder.W_E[12:23]", (0, 3)) == float(w[12, 3])
    assert resolve(tr, "input_vocab[12:23]", (1,)) == tr.input_vocab[13]
    assert int(lookup(tr, "5")) == 5


def test_one_hot_times_w_e_is_the_tokens_row(tr):
    w = tr.param("encoder.W_E").astype(np.float64)
    hot = lookup(tr, "explain.onehot(token_ids, config:src_vocab_size)")
    assert hot.shape == (5, 23)
    assert hot.sum(axis=1).tolist() == [1.0] * 5
    assert hot[2, tr.input_vocab.index("africa")] == 1.0
    picked = lookup(tr, "explain.matmul(explain.onehot(token_ids, config:src_vocab_size), "
                        "param:encoder.W_E)")
    np.testing.assert_array_equal(picked[2], w[14])
    np.testing.assert_array_equal(lookup(tr, ROWS), picked)


def test_rows_times_root_d_model_are_the_models_embedding(tr, lm):
    scaled = lookup(tr, f"explain.times({ROWS}, explain.sqrt(config:d_model))")
    np.testing.assert_allclose(scaled, tr["encoder.embed"], atol=1e-6)
    jane = tr.input_vocab.index("jane")
    assert scaled[0, 0] == pytest.approx(float(tr.param("encoder.W_E")[jane, 0]) * math.sqrt(8))
    lm_rows = "explain.gather_rows(param:decoder.W_E, token_ids)"
    lm_scaled = lookup(lm, f"explain.times({lm_rows}, explain.sqrt(config:d_model))")
    np.testing.assert_allclose(lm_scaled, lm["decoder.embed"], atol=1e-6)


def test_pe_table_is_the_models_encoding_at_every_position(tr):
    table = lookup(tr, "explain.pe_table(config:max_len, config:d_model)")
    assert table.shape == (12, 8)
    np.testing.assert_allclose(table, positional_encoding(12, 8).numpy(), atol=1e-7)
    np.testing.assert_allclose(table[:5], tr["encoder.pos_embed"], atol=1e-7)
    # by the paper's formula, written out: position 7, columns 2 (sin) and 5 (cos)
    assert table[7, 2] == pytest.approx(math.sin(7 / 10000 ** (2 / 8)))
    assert table[7, 5] == pytest.approx(math.cos(7 / 10000 ** (4 / 8)))


@pytest.mark.parametrize("col", [0, 1, 2, 7])
def test_pe_wave_passes_through_the_table_at_whole_positions(tr, col):
    wave = lookup(tr, f"explain.pe_wave(config:max_len, config:d_model, {col})")
    table = lookup(tr, "explain.pe_table(config:max_len, config:d_model)")
    whole = wave[:: explain.WAVE_SAMPLES]
    np.testing.assert_array_equal(whole[:, 0], np.arange(12))
    np.testing.assert_allclose(whole[:, 1], table[:, col], atol=1e-12)
    # between positions it is the same sine or cosine, continuous: position 2.5
    mid = wave[int(2.5 * explain.WAVE_SAMPLES)]
    f = math.sin if col % 2 == 0 else math.cos
    assert mid[0] == 2.5
    assert mid[1] == pytest.approx(f(2.5 / 10000 ** ((col // 2 * 2) / 8)))


def test_embedding_table_sources(tr, lm):
    assert explain.embedding_table(tr, "encoder") == ("param:encoder.W_E", "input_vocab",
                                                      "token_ids")
    assert explain.embedding_table(tr, "decoder") == ("param:decoder.W_E", "vocab", "target_ids")
    assert explain.embedding_table(lm, "decoder") == ("param:decoder.W_E", "input_vocab",
                                                      "token_ids")


def test_max_positions_is_the_limit_the_trace_enforces(tr, lm):
    assert explain.max_positions(tr.config) == 12
    assert explain.max_positions(lm.config) == 11
    run_with_trace("lm", " ".join(["the"] * 11))
    with pytest.raises(SentenceTooLongError, match="at most 11"):
        run_with_trace("lm", " ".join(["the"] * 12))
