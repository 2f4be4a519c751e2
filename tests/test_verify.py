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
