"""The multihead and decoder scenes on more option cases (another layer, another sentence, the
decoder-only model), with the per-step checks of :mod:`tests.scene_checks`; and the arithmetic
each picture claims, on the numbers as shown (rows add up, heads concatenate, LayerNorm's μ and
σ², ReLU, the greedy words are the most probable ones)."""

from __future__ import annotations

import numpy as np
import pytest

from scenes.registry import get_scene_class
from scenes.toolkit.storyboard import SceneOptions, load_trace
from tests.scene_checks import (
    FRAME_H, FRAME_W, StepState, assert_no_text_overlaps, assert_readable_at_480p, capture,
)
from transformer_core.explain import matches, parse_value, resolve


CASES = {
    "multihead-default": ("multihead", SceneOptions()),
    "multihead-paul-light": ("multihead", SceneOptions(sentence="paul sees rome in may",
                                                       theme="light", head=1)),
    "multihead-lm-layer1": ("multihead", SceneOptions(model="lm", layer=1)),
    "decoder-default": ("decoder", SceneOptions()),
    # 6 decoder positions (<bos> marie quitte rome en juin): the decoder scene's longest
    "decoder-marie-light": ("decoder", SceneOptions(sentence="marie leaves rome in june",
                                                    theme="light", head=1)),
    "decoder-lm": ("decoder", SceneOptions(model="lm")),
}


@pytest.fixture(scope="module", params=list(CASES))
def run(request):
    name, options = CASES[request.param]
    scene, states = capture(name, options)
    return name, options, scene, states


def _numbers(state: StepState):
    return [t for t in state.texts if t.kind in ("number", "dim")]


def _shown(state: StepState, source: str) -> dict[tuple, str]:
    return {t.index: t.text for t in state.texts if t.source == source}


def test_storyboards_are_one_sentence_steps():
    for name in ("multihead", "decoder"):
        cls = get_scene_class(name)
        for options in (SceneOptions(), SceneOptions(model="lm")):
            steps = cls.storyboard(options)
            assert len({s.name for s in steps}) == len(steps) >= 6
            for step in steps:
                assert step.caption.endswith(".") and ". " not in step.caption, step.caption
    decoder = [s.name for s in get_scene_class("decoder").storyboard(SceneOptions())]
    assert "cross_attention" in decoder
    lm = [s.name for s in get_scene_class("decoder").storyboard(SceneOptions(model="lm"))]
    assert "cross_attention" not in lm and lm[-2:] == decoder[-2:]


def test_every_step_ran_and_the_video_is_short(run):
    name, options, scene, states = run
    assert [s.name for s in states] == [s.name for s in scene.steps]
    assert [s.caption_shown for s in states] == [s.caption for s in scene.steps]
    times = scene.step_times
    assert all(b > a for a, b in times)
    assert 40.0 <= times[-1][1] <= 120.0  # readable pace (README, "Pacing"), under 2 minutes


def test_every_number_is_the_trace_value_it_claims(run):
    name, options, scene, states = run
    trace = load_trace(options.model, options.sentence)
    for state in states:
        numbers = _numbers(state)
        if state.name != "title":
            assert len(numbers) >= min(8, len(scene.trace.tokens)), state.name
        for t in numbers:
            value = resolve(trace, t.source, t.index)
            assert matches(t.text, value, t.decimals), (state.name, t.source, t.index, t.text,
                                                        value)


def test_every_label_is_the_trace_word(run):
    name, options, scene, states = run
    trace = load_trace(options.model, options.sentence)
    for state in states:
        for t in (t for t in state.texts if t.kind == "token"):
            assert t.text == resolve(trace, t.source, t.index), (state.name, t.source, t.index)


def test_no_unsourced_digits_on_screen(run):
    _, _, _, states = run
    for state in states:
        for t in state.texts:
            if t.cls == "FlatText" and t.text and any(c.isdigit() for c in t.text):
                assert t.source is not None or t.kind == "prose", (state.name, t.text)


def test_everything_inside_the_frame(run):
    _, _, _, states = run
    for state in states:
        for left, bottom, right, top in state.boxes:
            assert left >= -FRAME_W / 2 and right <= FRAME_W / 2, state.name
            assert bottom >= -FRAME_H / 2 and top <= FRAME_H / 2, state.name


def test_no_two_texts_overlap(run):
    assert_no_text_overlaps(run[-1])


def test_text_is_readable_at_480p(run):
    assert_readable_at_480p(run[-1])


# ---- the arithmetic each picture claims, on the numbers as shown ----------------------------

def _sum_holds(state: StepState, a: str, b: str, c: str, n: int, d: int) -> None:
    """C = A + B cell by cell as shown (each shown to 2 decimals: within 0.015)."""
    sa, sb, sc = _shown(state, a), _shown(state, b), _shown(state, c)
    assert len(sa) == len(sb) == len(sc) == n * d, state.name
    for idx, text in sc.items():
        assert abs(parse_value(text) - parse_value(sa[idx]) - parse_value(sb[idx])) <= 0.0151


def test_multihead_pictures_add_up(run):
    name, options, scene, states = run
    if name != "multihead":
        return
    trace = scene.trace
    by = {s.name: s for s in states}
    b, p = scene.block, scene.prefix
    n, d, dh = len(trace.tokens), trace.config.d_model, trace.config.d_head
    # both heads' Z, then the same numbers side by side
    heads = by["heads"]
    for h in range(trace.config.n_heads):
        assert len(_shown(heads, f"{p}.z[{h}]")) == n * dh
    concat = _shown(by["concat"], f"explain.concat_heads({p}.z)")
    z1 = _shown(heads, f"{p}.z[1]")
    assert all(concat[(i, dh + j)] == z1[(i, j)] for i in range(n) for j in range(dh))
    # the worked cell of concat · W_O sums to the attention output shown
    products = [t for t in by["project"].texts if t.source and t.source.startswith(
        "explain.worked_products")]
    assert len(products) == d
    (i, j), = {t.index[:2] for t in products}
    out = _shown(by["project"], f"{p}.out")
    assert abs(sum(parse_value(t.text) for t in products) - parse_value(out[(i, j)])) <= 0.05
    _sum_holds(by["residual"], f"{b}.resid_pre", f"{p}.out", f"{b}.resid_mid", n, d)
    _sum_holds(by["residual_2"], f"{b}.ln1.out", f"{b}.mlp.out", f"{b}.resid_post", n, d)
    # LayerNorm: μ and σ² of every row, as the trace recorded them, and the row they describe
    for step, ln, x in (("norm", "ln1", "resid_mid"), ("norm_2", "ln2", "resid_post")):
        state = by[step]
        mu = _shown(state, f"explain.column({b}.{ln}.mean)")
        var = _shown(state, f"explain.column({b}.{ln}.var)")
        rows = _shown(state, f"{b}.{x}")
        assert len(mu) == len(var) == n and len(_shown(state, f"{b}.{ln}.out")) == n * d
        for i in range(n):
            row = np.array([parse_value(rows[(i, k)]) for k in range(d)])
            assert abs(parse_value(mu[(i, 0)]) - row.mean()) <= 0.01
            assert abs(parse_value(var[(i, 0)]) - row.var()) <= 0.02 * max(1.0, row.var())
    # ReLU: the strip after is the strip before with negatives set to zero
    row = scene.row
    before = _shown(by["ffn_hidden"], f"explain.fold({b}.mlp.hidden[{row}], config:d_model)")
    after = _shown(by["relu"], f"explain.fold({b}.mlp.act[{row}], config:d_model)")
    assert len(before) == len(after) == trace.config.d_ff
    for idx, text in before.items():
        assert parse_value(after[idx]) == max(0.0, parse_value(text))


def test_decoder_pictures_tell_the_translation(run):
    name, options, scene, states = run
    if name != "decoder":
        return
    trace = scene.trace
    by = {s.name: s for s in states}
    probs = trace["probs"]
    picks = by["next_word"]
    # each position's most probable word, of this one run: no claim that the model wrote it
    assert not [t for t in picks.texts if t.source == "output_tokens"]
    best = {t.text for t in picks.texts if t.kind == "token" and t.source == "vocab"}
    assert {trace.vocab[int(i)] for i in np.argmax(probs, axis=-1)} <= best
    table = by["probabilities"]
    shown = [t for t in table.texts if t.source == "probs"]
    rows = {}
    for t in shown:
        rows.setdefault(t.index[0], []).append((t.index[1], parse_value(t.text)))
    assert set(rows) == set(range(probs.shape[0]))
    vocab_words = {t.index[0] for t in table.texts if t.source == "vocab"}
    for i, entries in rows.items():
        ids = [k for k, _ in entries]
        assert ids[0] == int(np.argmax(probs[i]))  # the most probable word comes first
        assert set(ids) <= vocab_words
        values = [v for _, v in entries]
        assert values == sorted(values, reverse=True)
    if trace.config.mode == "encdec":
        cross = by["cross_attention"]
        src = f"{scene.cross}.pattern[{options.head}]"
        assert len(_shown(cross, src)) == len(trace.target_tokens) * len(trace.tokens)
        cols = {t.index[0] for t in cross.texts if t.source == "tokens"}
        rows_ = {t.index[0] for t in cross.texts if t.source == "target_tokens"}
        assert cols == set(range(len(trace.tokens)))
        assert rows_ == set(range(len(trace.target_tokens)))
    masked = by["masked_attention"]
    mask = trace[f"{scene.prefix}.mask"]
    shown_masked = _shown(masked, f"{scene.prefix}.masked[{options.head}]")
    assert len(shown_masked) == mask.size
    for (i, j), allowed in np.ndenumerate(mask):
        assert (shown_masked[(i, j)] == "\u2212\u221e") == (not allowed)
