"""The attention scene, checked at the end state of every storyboard step (animations skipped):
every number on screen is the trace value it claims, every label the trace's token, and the
layout fits a 16:9 frame without overlapping numbers or text too small to read at 480p."""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass

import numpy as np
import pytest
from manim import MathTex, Text, VMobject, config, tempconfig

from scenes.attention import AttentionScene
from scenes.registry import SCENES, get_scene_class
from scenes.storyboard import (
    MIN_FONT_SIZE, SceneOptions, current_options, iter_sourced, load_trace, using_options,
)
from scenes.text import DIGIT_HEIGHT, FlatText
from transformer_core.explain import matches, resolve

FRAME_W, FRAME_H = 16 / 9 * 8.0, 8.0
# 480p: 60 pixels per scene unit; a digit must be at least this high (about 9 pixels)
MIN_DIGIT_HEIGHT = MIN_FONT_SIZE * DIGIT_HEIGHT * 0.98


@dataclass
class Shown:
    """One text-like mobject as it was at the end of a step."""

    text: str | None
    kind: str | None
    source: str | None
    index: tuple | None
    decimals: int | None
    box: tuple[float, float, float, float]  # left, bottom, right, top
    font_size: float | None
    cls: str


@dataclass
class StepState:
    name: str
    caption: str
    caption_shown: str | None
    texts: list[Shown]
    boxes: list[tuple[float, float, float, float]]  # every top-level mobject with points


def _box(mob) -> tuple[float, float, float, float]:
    pts = mob.get_all_points()
    return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()),
            float(pts[:, 1].max()))


def _record(scene, index, step) -> StepState:
    texts, seen = [], set()
    sourced = {id(m) for m, *_ in iter_sourced(scene.mobjects)}
    for top in scene.mobjects:
        for mob in top.get_family():
            if id(mob) in seen or not isinstance(mob, (FlatText, Text, MathTex)):
                continue
            seen.add(id(mob))
            if not len(mob.get_all_points()):
                continue
            texts.append(Shown(
                text=getattr(mob, "display_text", None) if id(mob) in sourced
                else getattr(mob, "text", None),
                kind=getattr(mob, "kind", None), source=getattr(mob, "source_name", None),
                index=getattr(mob, "source_index", None), decimals=getattr(mob, "decimals", None),
                box=_box(mob), font_size=float(mob.font_size), cls=type(mob).__name__))
            if id(mob) in sourced:
                assert mob.text == mob.display_text  # the marked text is the text drawn
    boxes = [_box(m) for m in scene.mobjects if len(m.get_all_points())]
    cap = scene.caption_mobject
    return StepState(step.name, step.caption, getattr(cap, "step_caption", None), texts, boxes)


def capture(options: SceneOptions) -> tuple[AttentionScene, list[StepState]]:
    states: list[StepState] = []
    with tempfile.TemporaryDirectory() as media, tempconfig({
        "dry_run": True, "disable_caching": True, "media_dir": media, "verbosity": "WARNING",
        "progress_bar": "none",
    }), using_options(options):
        assert (config.frame_width, config.frame_height) == pytest.approx((FRAME_W, FRAME_H))
        scene = AttentionScene(skip_animations=True)
        scene.step_listeners.append(lambda s, i, step: states.append(_record(s, i, step)))
        scene.render()
    return scene, states


CASES = {
    "default": SceneOptions(),
    "paul": SceneOptions(sentence="paul sees rome in may"),
    "lm-light": SceneOptions(model="lm", theme="light", head=1),
}


@pytest.fixture(scope="module", params=list(CASES))
def run(request):
    options = CASES[request.param]
    scene, states = capture(options)
    return options, scene, states


def test_storyboard_is_known_without_rendering():
    names = [s.name for s in AttentionScene.storyboard(SceneOptions())]
    assert names == ["title", "embed", "query", "keys_values", "scores", "scale", "softmax",
                     "weighted_sum", "summary"]
    lm = [s.name for s in AttentionScene.storyboard(SceneOptions(model="lm"))]
    assert lm[:6] == names[:6] and lm[6] == "mask" and lm[7:] == names[6:]
    assert get_scene_class("attention") is AttentionScene and "attention" in SCENES
    for step in AttentionScene.storyboard(SceneOptions(model="lm", layer=1)):
        assert step.caption.endswith(".") and step.caption.count(". ") == 0  # one sentence


def test_options_from_environment():
    env = {"SCENE_MODEL": "lm", "SCENE_LAYER": "1", "SCENE_HEAD": "1", "SCENE_THEME": "light",
           "SCENE_CAPTIONS": "off", "SCENE_SENTENCE": "the bird sees the worm"}
    assert SceneOptions.from_env(env) == SceneOptions(
        model="lm", sentence="the bird sees the worm", layer=1, head=1, theme="light",
        captions=False)
    assert SceneOptions.from_env({}) == SceneOptions()
    with using_options(SceneOptions(head=1)):
        assert current_options().head == 1


def test_every_step_ran_and_listeners_saw_it(run):
    options, scene, states = run
    assert [s.name for s in states] == [s.name for s in scene.steps]
    assert [s.caption_shown for s in states] == [s.caption for s in scene.steps]
    times = scene.step_times
    assert len(times) == len(states) and times[0][0] == 0.0
    assert all(b > a for a, b in times) and all(times[k][1] == times[k + 1][0]
                                                for k in range(len(times) - 1))
    assert 60.0 <= times[-1][1] <= 120.0  # the whole video stays short


def test_every_number_is_the_trace_value_it_claims(run):
    options, scene, states = run
    trace = load_trace(options.model, options.sentence)
    for state in states:
        numbers = [t for t in state.texts if t.kind in ("number", "dim")]
        if state.name not in ("title", "summary"):
            assert len(numbers) >= 20, state.name
        for t in numbers:
            value = resolve(trace, t.source, t.index)
            assert matches(t.text, value, t.decimals), (state.name, t.source, t.index, t.text,
                                                        value)


def test_every_label_is_the_trace_token(run):
    options, scene, states = run
    trace = load_trace(options.model, options.sentence)
    for state in states:
        tokens = [t for t in state.texts if t.kind == "token"]
        if state.name != "summary":
            shown = {t.index[0] for t in tokens}
            assert shown == set(range(len(trace.tokens))), state.name  # every word is labelled
        for t in tokens:
            assert t.text == resolve(trace, t.source, t.index) == trace.tokens[t.index[0]]


def test_no_unsourced_digits_on_screen(run):
    """A number that is not marked with its source would escape the test above."""
    _, _, states = run
    for state in states:
        for t in state.texts:
            if t.cls == "FlatText" and t.text and any(c.isdigit() for c in t.text):
                assert t.source is not None or t.kind == "prose", (state.name, t.text)


def test_everything_inside_the_frame(run):
    _, _, states = run
    for state in states:
        for left, bottom, right, top in state.boxes:
            assert left >= -FRAME_W / 2 and right <= FRAME_W / 2, state.name
            assert bottom >= -FRAME_H / 2 and top <= FRAME_H / 2, state.name


def _overlap(a, b, slack=0.004) -> bool:
    return (min(a[2], b[2]) - max(a[0], b[0]) > slack
            and min(a[3], b[3]) - max(a[1], b[1]) > slack)


def assert_no_text_overlaps(states) -> None:
    """Numbers, labels, notes, names, headings and the caption: no two boxes intersect."""
    for state in states:
        boxes = [t for t in state.texts if t.cls in ("FlatText", "MathTex")]
        for k, a in enumerate(boxes):
            for b in boxes[k + 1:]:
                assert not _overlap(a.box, b.box), (state.name, a.text, b.text)


def assert_readable_at_480p(states) -> None:
    """No text below the minimum font size; every number's digits tall enough at 480p."""
    for state in states:
        for t in state.texts:
            assert t.font_size >= MIN_FONT_SIZE - 1e-6, (state.name, t.text, t.font_size)
            if t.kind == "number" and t.text and t.text[-1].isdigit():
                assert t.box[3] - t.box[1] >= MIN_DIGIT_HEIGHT, (state.name, t.text)


def test_no_two_texts_overlap(run):
    assert_no_text_overlaps(run[-1])


def test_text_is_readable_at_480p(run):
    assert_readable_at_480p(run[-1])


def test_worked_dot_products_add_up(run):
    """The products written out for a cell are the trace's factors, and their sum is shown."""
    options, scene, states = run
    trace = load_trace(options.model, options.sentence)
    for state in states:
        products = [t for t in state.texts if t.source and t.source.startswith(
            "explain.matmul_products")]
        if state.name in ("query", "scores", "weighted_sum"):
            assert products, state.name
            cells = {t.index[:2] for t in products}
            assert len(cells) == 1
            total = sum(resolve(trace, t.source, t.index) for t in products)
            i, j = cells.pop()
            target = {"query": "q", "scores": "scores", "weighted_sum": "z"}[state.name]
            assert total == pytest.approx(
                float(trace[f"{scene.prefix}.{target}"][options.head, i, j]), abs=1e-4)


def test_softmax_rows_sum_to_one_on_screen(run):
    options, scene, states = run
    softmax = next(s for s in states if s.name == "softmax")
    sums = [t for t in softmax.texts if t.source and t.source.startswith(
        "explain.column(explain.row_sum(encoder") or (t.source or "").startswith(
        "explain.column(explain.row_sum(decoder")]
    assert sum(1 for t in sums if t.text == "1.00") == len(scene.trace.tokens)
    pattern = [t for t in softmax.texts if t.source == scene.src("pattern")]
    assert len(pattern) == len(scene.trace.tokens) ** 2


def test_mask_step_shows_minus_infinity_where_masked(run):
    options, scene, states = run
    names = [s.name for s in states]
    if options.model != "lm":
        assert "mask" not in names
        return
    mask = scene.trace[f"{scene.prefix}.mask"]
    state = states[names.index("mask")]
    shown = {t.index: t.text for t in state.texts if t.source == scene.src("masked")}
    assert len(shown) == mask.size
    for (i, j), allowed in np.ndenumerate(mask):
        assert (shown[(i, j)] == "\u2212\u221e") == (not allowed)
        if allowed:
            assert math.isfinite(float(shown[(i, j)].replace("\u2212", "-")))


def test_layer_and_head_are_checked():
    for bad in (SceneOptions(layer=1), SceneOptions(head=2)):
        with tempfile.TemporaryDirectory() as media, tempconfig(
                {"dry_run": True, "media_dir": media, "verbosity": "WARNING"}), \
                using_options(bad):
            with pytest.raises(ValueError, match="out of range"):
                AttentionScene(skip_animations=True).render()


def test_captions_can_be_turned_off():
    scene, states = capture(SceneOptions(captions=False, model="lm", layer=1))
    assert scene.caption_mobject is None and all(s.caption_shown is None for s in states)
    assert scene.prefix == "decoder.blocks.1.attn"
    embed = states[1]  # layer 1 reads the output of layer 0
    assert {t.source for t in embed.texts if t.kind == "number"} == {
        "decoder.blocks.1.resid_pre"}
    assert isinstance(scene.mobjects[0], VMobject)
