"""What issue 30 added to the scenes: the pace option, captions that match the picture per
model, the warning for input the model never learned, and generate's stop at a full context."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from scenes.registry import get_scene_class
from scenes.toolkit.storyboard import PACES, SceneOptions
from tests import scene_checks as checks


def test_a_slower_pace_is_longer_and_each_is_checked():
    lengths = {}
    for pace in ("brisk", "normal", "lecture"):
        scene, _ = checks.capture("attention", SceneOptions(pace=pace))
        checks.assert_paced(scene)
        lengths[pace] = scene.step_times[-1][1]
    assert lengths["brisk"] < lengths["normal"] < lengths["lecture"]
    assert PACES["normal"].chars_per_second <= 15  # the readable default


def test_an_unknown_pace_is_a_usage_error():
    import cli

    result = CliRunner().invoke(cli.main, ["render", "attention", "--pace", "slow"])
    assert result.exit_code == 2 and "--pace" in result.output
    with pytest.raises(ValueError, match="pace"):
        SceneOptions(pace="slow")


def test_input_outside_training_is_said_on_the_first_step_only():
    sentence = "in september jane visits africa in may paul sees rome"
    scene, states = checks.capture("heads", SceneOptions(sentence=sentence))
    first = [t.text for t in states[0].texts]
    assert any(t and "outside what the model was trained on" in t for t in first)
    assert not any(t and "outside what the model" in t for s in states[1:] for t in
                   (x.text for x in s.texts))
    scene, states = checks.capture("heads", SceneOptions())
    assert scene.input_warning() is None
    scene, states = checks.capture("attention", SceneOptions(sentence="jane visits mars"))
    assert "<unk>" in scene.input_warning() and "mars" in scene.input_warning()


def test_each_model_says_what_reads_the_block_output():
    cls = get_scene_class("multihead")
    last = {m: cls.storyboard(SceneOptions(model=m))[-1].caption for m in ("translate", "lm")}
    assert "cross-attention" in last["translate"]
    assert "layer 1" in last["lm"]
    assert "W_U" in cls.storyboard(SceneOptions(model="lm", layer=1))[-1].caption


def test_generate_says_when_the_context_is_full_and_shows_the_whole_text():
    options = SceneOptions(model="lm", sentence="the early bird eats the worm the lazy cat")
    steps = get_scene_class("generate").storyboard(options)
    assert "stops: its context of 11 positions is full" in steps[-2].caption
    _, states = checks.capture("generate", options)
    scene = checks.capture("generate", options)[0]
    shown = {t.index[0] for t in states[-1].texts if t.source == "tokens"}
    assert shown == set(range(len(scene.trace.tokens)))  # the prompt is part of the result
