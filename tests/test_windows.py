"""Windows of big matrices: which rows and columns are drawn, that every number drawn is the
value at its true index in the slot that index maps to, the true shape beside it, and that the
shared check (tests/scene_checks.py, run on every scene) catches a number drawn out of place."""

from __future__ import annotations

import numpy as np
import pytest
from manim import VGroup

from scenes.toolkit.animations import build_worked_cell
from scenes.toolkit.mobjects import ValueMatrix, window
from scenes.toolkit.theme import THEMES
from scenes.toolkit.storyboard import SceneOptions
from tests import scene_checks as checks
from transformer_core.trace import run_with_trace
from transformer_core.verify import Shown, first_mismatch

SENTENCE = "the early bird eats the worm the lazy cat wants the"  # 11 positions


@pytest.fixture(scope="module")
def long_lm():
    return run_with_trace("lm", SENTENCE)


def test_window_keeps_first_last_and_the_worked_index():
    assert window(5, 7) == [0, 1, 2, 3, 4]
    assert window(12, None) == list(range(12))
    assert window(12, 7) == [0, 1, 2, 9, 10, 11]  # 3 + ⋮ + 3
    assert window(12, 7, keep=[5]) == [0, 1, 5, 10, 11]  # 2 + ⋮ + 1 + ⋮ + 2
    assert window(12, 7, keep=[10]) == [0, 1, 2, 9, 10, 11]
    assert window(576, 5, keep=[300]) == [0, 300, 575]


def _screen(m: ValueMatrix) -> list:
    return [checks.StepState("s", "c.", None, [], [], windows=[
        checks._window(m, {id(x) for x in m.get_family()})])]


def test_windowed_matrix_draws_true_values_at_true_indices(long_lm):
    source = "decoder.blocks.0.attn.scores[1]"
    m = ValueMatrix(long_lm, source, THEMES["dark"], max_rows=7, max_cols=7, keep_rows=[6],
                    row_labels="tokens", col_labels="tokens", name="S")
    assert m.row_ids == [0, 1, 6, 9, 10] and m.col_ids == [0, 1, 2, 8, 9, 10]
    assert len(m.numbers) == 5 * 6 and m.n_rows == m.n_cols == 11
    values = long_lm["decoder.blocks.0.attn.scores"][1]
    for mob in m.numbers:
        i, j = mob.source_index
        assert first_mismatch(long_lm, Shown("s", "number", mob.display_text, source,
                                             (i, j), 2)) is None
        assert float(mob.display_text.replace("−", "-")) == pytest.approx(values[i, j],
                                                                         abs=0.006)
    assert [label.display_text for label in m.row_labels] == [
        SENTENCE.split()[i] for i in m.row_ids]
    # in order on screen: row 6 under row 1, above row 9, one ⋮ slot between each
    y = [m.cell_centre(i, 0)[1] for i in m.row_ids]
    assert np.allclose(np.diff(y), [-m.cell_h, -2 * m.cell_h, -2 * m.cell_h, -m.cell_h])
    assert m.shape_label.display_text == "11 × 11"
    assert first_mismatch(long_lm, Shown("s", "shape", "11 × 11", source, ())) is None
    assert first_mismatch(long_lm, Shown("s", "shape", "11 × 12", source, ())) is not None
    checks.assert_windows_true(None, _screen(m))


def test_window_check_catches_a_number_out_of_place(long_lm):
    m = ValueMatrix(long_lm, "decoder.blocks.0.attn.scores[0]", THEMES["dark"], max_rows=7)
    a, b = m.number(1, 3), m.number(9, 3)  # same column, rows 1 and 9: two slots apart
    a.shift(b.get_center() - a.get_center())
    with pytest.raises(AssertionError):
        checks.assert_windows_true(None, _screen(m))


def test_window_check_wants_the_true_shape(long_lm):
    m = ValueMatrix(long_lm, "decoder.blocks.0.attn.scores[0]", THEMES["dark"], max_rows=7)
    m.shape_label.display_text = "7 × 11"
    with pytest.raises(AssertionError):
        checks.assert_windows_true(None, _screen(m))


def test_worked_dot_product_over_a_window_says_how_many_terms_are_left_out(long_lm):
    """Q = X · W_Q with W_Q's 8 rows shown as 2 + ⋮ + 2: four terms drawn, "+ 4 more terms"
    where the ⋮ is, and the sum is the whole dot product."""
    theme = THEMES["dark"]
    p = "decoder.blocks.0"
    x = ValueMatrix(long_lm, f"{p}.resid_pre", theme, cols=[0, 1, 6, 7])
    w = ValueMatrix(long_lm, f"param:{p}.attn.W_Q[0]", theme, rows=[0, 1, 6, 7])
    q = ValueMatrix(long_lm, f"{p}.attn.q[0]", theme)
    q.shift([3, -3, 0])
    work = build_worked_cell(long_lm, x, w, q, 4, 2,
                             f"explain.matmul_products({p}.resid_pre, param:{p}.attn.W_Q[0])")
    assert [t.source_index for t in work.products] == [(4, 2, k) for k in (0, 1, 6, 7)]
    assert [m.text for m in work.more] == ["+ 4 more terms"]
    assert work.total.display_text == q.number(4, 2).display_text
    # the note stands in W_Q's ⋮ slot, between rows 1 and 6
    assert w.cell_centre(6, 2)[1] < work.more[0].get_y() < w.cell_centre(1, 2)[1]
    assert isinstance(work, VGroup)


ALL_CHECKS = (checks.assert_numbers_true, checks.assert_labels_true, checks.assert_windows_true)
FRAME_CHECKS = (checks.assert_no_unsourced_digits, checks.assert_inside_frame,
                checks.assert_no_text_overlaps, checks.assert_readable_at_480p,
                checks.assert_outlines_on_their_cells)


@pytest.mark.parametrize("name,options", [
    # 11 positions: every matrix and table folds (the decoder's tables keep 8 row slots)
    ("decoder", SceneOptions(model="lm", sentence=SENTENCE)),
    # the decoder reads 7 positions (<bos> and 6 French words): refused before windows
    ("decoder", SceneOptions(sentence="anna leaves china in january", theme="light")),
    # the encoder's 5 words; the decoder's 7 do not count for attention
    ("attention", SceneOptions(sentence="in may anna leaves china")),
], ids=["decoder-lm-11", "decoder-translate-7", "attention-encoder-5"])
def test_long_inputs_render_every_step_with_true_windows(name, options):
    scene, states = checks.capture(name, options)
    checks.assert_steps_ran(scene, states)
    for check in ALL_CHECKS:
        check(scene, states)
    for check in FRAME_CHECKS:
        check(states)
    assert any(w for s in states for w in s.windows) == (name == "decoder")
    if options.model == "lm":  # the tables have a ⋮ row, and show the last position
        greedy = states[-1]
        assert "⋮" in [t.text for t in greedy.texts]
        assert (10,) in checks.shown(greedy, "tokens")
