"""The rule for worked arithmetic (README, "Worked arithmetic"): the equation check fails on
the review's examples and passes on what the scenes now print; every scene writes some."""

from __future__ import annotations

import numpy as np

from scenes.toolkit.storyboard import SceneOptions
from tests import scene_checks as checks
from transformer_core import explain

M = "\u2212"


def test_the_check_refuses_what_does_not_check_by_hand():
    dot = [["2.71", "0.20", "0.55"], ["2.04", "0.00", "0.00"]]
    assert "by hand 0.54" in checks.equation_problem("dot", dot, "0.55", None)
    dot = [["2.71", "0.20", "0.54"], ["2.04", "0.00", M + "0.01"]]
    assert checks.equation_problem("dot", dot, "0.53", None)  # 2.04 × 0.00 is 0.00
    dot = [["2.71", "0.20", "0.54"], ["2.04", "0.00", "0.00"]]
    assert checks.equation_problem("dot", dot, "0.54", None) is None
    assert checks.equation_problem("dot", dot, "0.55", None)  # the sum of the printed terms
    assert "signed zero" in checks.equation_problem("sum", ["0.00"], M + "0.00", None)
    assert checks.equation_problem("sum", ["0.33", "0.33", "0.33"], "1.00", None)
    assert checks.equation_problem("sum", ["0.33", "0.33", "0.33"], "0.99", None) is None
    assert checks.equation_problem("mean", ["0.12", "0.13"], "0.13", None) is None  # half up
    assert checks.equation_problem("update", ["0.50", "0.2", "0.1234", "0.02"], "0.48",
                                   None) is None
    assert checks.equation_problem("update", ["0.50", "0.2", "0.1234", "0.03"], "0.47", None)
    assert checks.equation_problem("approx", ["2.04"], "2.05", 0.02) is None
    assert checks.equation_problem("approx", ["2.04"], "2.10", 0.02)


def test_worked_products_are_of_the_printed_factors():
    a = np.array([[2.7134, 2.04]])
    b = np.array([[0.2012], [-0.00385]])
    assert explain.worked_products(a, b, 2).tolist() == [[[0.54, 0.0]]]
    assert explain.worked_sum(a, b, 2).tolist() == [[0.54]]
    # the unrounded products print as the review saw them: 0.55 and −0.01
    assert [explain.format_value(v) for v in explain.matmul_products(a, b)[0, 0]] == [
        "0.55", M + "0.01"]
    assert explain.worked_times(np.array(0.125), np.array(3.0), 3, 0, 2) == 0.38  # half away
    assert explain.printed_row_sum(np.array([[0.334, 0.333, 0.333]]), 2).tolist() == [0.99]


def test_every_scene_writes_equations_that_hold():
    kinds = {}
    for name in ("attention", "training", "embedding", "multihead"):
        _, states = checks.capture(name, SceneOptions(model="lm" if name == "training"
                                                     else "translate"))
        for state in states:
            for kind, *_ in state.equations:
                kinds[kind] = kinds.get(kind, 0) + 1
        checks.assert_equations_hold(states)
    assert {"dot", "sum", "product", "update"} <= set(kinds), kinds
