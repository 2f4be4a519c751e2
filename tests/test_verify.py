"""verify's comparison: a number or label on screen against the model's value."""

from transformer_core.explain import format_value
from transformer_core.verify import Shown, check_shown


def test_right_numbers_and_labels_pass_and_a_wrong_one_is_named(lm):
    value = float(lm["decoder.blocks.0.attn.pattern"][1, 2, 0])
    good = [
        Shown("softmax", "number", format_value(value, 2), "decoder.blocks.0.attn.pattern", (1, 2, 0), 2),
        Shown("title", "token", lm.tokens[1], "tokens", (1,)),
    ]
    verdict = check_shown(lm, good)
    assert (verdict.numbers, verdict.labels, verdict.steps, verdict.mismatch) == (1, 1, 2, None)
    wrong = Shown("softmax", "number", format_value(value + 0.01, 2), "decoder.blocks.0.attn.pattern",
                  (1, 2, 0), 2)
    verdict = check_shown(lm, [*good, wrong, wrong])
    assert verdict.numbers == 3
    assert str(verdict.mismatch) == (f"step 'softmax': shows {format_value(value + 0.01, 2)} for "
                                     f"decoder.blocks.0.attn.pattern[1, 2, 0], but the model "
                                     f"computed {format_value(value, 6)}")
    label = check_shown(lm, [Shown("title", "token", "cat", "tokens", (1,))]).mismatch
    assert "shows cat for tokens[1], but the model computed early" in str(label)
    missing = check_shown(lm, [Shown("x", "number", "1.00", "nope.record", (0,), 2)]).mismatch
    assert "does not exist in the model's trace" in str(missing)


def test_vocab_window_keeps_each_position_s_best_word():
    import numpy as np

    from transformer_core.explain import VOCAB_COLUMNS, take_columns, vocab_window

    probs = np.full((3, 50), 0.01)
    probs[0, 49], probs[1, 7], probs[2, 49] = 0.5, 0.4, 0.3  # the rows' best words
    probs[:, 20] = 0.02  # likelier anywhere than the rest
    ids = vocab_window(probs)
    assert len(ids) == VOCAB_COLUMNS and list(ids) == sorted(set(ids.tolist()))
    assert {7, 20, 49} <= set(ids.tolist())
    assert list(vocab_window(probs[:, :30])) == list(range(30))
    words = np.array([f"w{i}" for i in range(50)], dtype=object)
    assert list(take_columns(words, [3, 7])) == ["w3", "w7"]
    assert take_columns(probs, ids).shape == (3, VOCAB_COLUMNS)


def test_vocab_window_is_a_source(lm):
    from transformer_core.explain import lookup, resolve

    ids = lookup(lm, "explain.vocab_window(probs)")
    assert list(ids) == list(range(len(lm.vocab)))  # the shipped lm has 33 words: all shown
    assert resolve(lm, "explain.take_columns(vocab, explain.vocab_window(probs))", (5,)) == lm.vocab[5]
