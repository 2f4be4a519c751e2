"""What is new in the ``embedding`` and ``overview`` scenes, beyond the per-step checks every
scene passes (:mod:`tests.test_every_scene`): the one-hot row times W_E shown is the word's row,
the PE entries shown are the paper's formula, the waves pass through this sentence's PE, the
overview's heat-maps are the trace's tensors and its boxes name real scenes; and the length
limit of every scene, refused in one line by the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from scenes.registry import SCENES, get_scene_class
from scenes.toolkit.mobjects import ValueMatrix
from scenes.toolkit.storyboard import SceneOptions
from tests import scene_checks as checks
from transformer_core.explain import format_value

DEFAULT = SceneOptions()  # the same options as test_every_scene's "translate" case
LM = SceneOptions(model="lm", theme="light", head=1)  # its "lm-light" case


def state(states, name):
    return next(s for s in states if s.name == name)


# ---- embedding -------------------------------------------------------------------------------

def test_one_hot_times_w_e_shows_the_words_row():
    scene, states = checks.capture("embedding", DEFAULT)
    t = scene.trace
    jane = t.input_vocab.index("jane")
    s = state(states, "one_hot")
    row = {i: text for (r, i), text in ((t_.index, t_.text) for t_ in s.texts
                                        if t_.source and "explain.matmul(explain.onehot" in t_.source)}
    w = t.param("encoder.W_E")[jane]
    assert [row[j] for j in range(8)] == [format_value(float(v), 2) for v in w]
    hot = [(t_.source, t_.index, t_.text) for t_ in s.texts
           if t_.source and t_.source.startswith("explain.column(explain.onehot")]
    assert len(hot) == len(t.input_vocab) == 23  # one entry per word of the vocabulary
    ones = [h for h in hot if h[2] == "1"]
    assert len(ones) == 1 and {h[2] for h in hot} == {"0", "1"}
    first = int(ones[0][0].rsplit("[", 1)[1].split(":")[0])  # the block's first row
    assert first + ones[0][1][0] == jane


def test_pe_entries_shown_are_the_papers_formula():
    scene, states = checks.capture("embedding", DEFAULT)
    s = state(states, "pe_table")
    shown = {t.index: t.text for t in s.texts if t.source and t.source.startswith("explain.pe_table")}
    assert len(shown) == 12 * 8  # every position the model reads, every column
    for (pos, col), text in shown.items():
        angle = pos / 10000 ** ((col // 2 * 2) / 8)
        value = math.sin(angle) if col % 2 == 0 else math.cos(angle)
        assert text == format_value(value, 2), (pos, col)
    worked = {t.text for t in state(states, "pe_entry").texts}
    assert format_value(math.sin(4 / 10000 ** (2 / 8)), 2) in worked  # position 4, column 2


def test_waves_pass_through_this_sentences_positional_encoding():
    scene, _ = checks.capture("embedding", DEFAULT)
    pe = scene.trace["encoder.pos_embed"]
    assert len(scene.waves) == 4
    for plot in scene.waves:
        axis, curve, dots, _ = plot
        y0, half = axis.get_y(), plot.half_height
        col = plot.column
        assert len(dots) == 5  # this sentence's positions
        for p, dot in enumerate(dots):
            assert (dot.get_y() - y0) / half == pytest.approx(float(pe[p, col]), abs=1e-6)
        # a continuous wave through the dots: many samples between two positions
        pts = np.asarray(curve.points)
        for dot in dots:
            assert np.min(np.linalg.norm(pts[:, :2] - dot.get_center()[:2], axis=1)) < 1e-6
        step = dots[1].get_x() - dots[0].get_x()
        assert np.diff(np.unique(np.round(pts[:, 0], 6))).max() < step / 8


def test_unknown_words_become_a_visible_unk():
    scene, states = checks.capture("embedding", SceneOptions(sentence="Jane visits the MOON!"))
    s = state(states, "tokens")
    tokens = [t.text for t in s.texts if t.kind == "token"]
    assert tokens == ["jane", "visits", "<unk>", "<unk>"]
    assert any("‘the’, ‘moon’" in (t.text or "") for t in s.texts)
    ids = [t.text for t in state(states, "ids").texts if t.source == "token_ids"]
    assert ids == ["5", "10", "3", "3"]  # <unk> is id 3 (the specials come first)


# ---- overview --------------------------------------------------------------------------------

EXPECTED_MAPS = {
    "translate": ["encoder.blocks.0.resid_pre", "encoder.blocks.0.ln1.out",
                  "encoder.blocks.0.ln2.out", "decoder.blocks.0.resid_pre",
                  "decoder.blocks.0.ln1.out", "decoder.blocks.0.ln2.out",
                  "decoder.blocks.0.ln3.out", "logits", "probs"],
    "lm": ["decoder.blocks.0.resid_pre", "decoder.blocks.0.ln2.out", "decoder.blocks.1.ln2.out",
           "logits", "probs"],
}


@pytest.mark.parametrize("options", [DEFAULT, LM], ids=["translate", "lm"])
def test_overview_heatmaps_are_the_traces_tensors(options):
    scene, _ = checks.capture("overview", options)
    maps = [m for top in scene.mobjects for m in top.get_family() if isinstance(m, ValueMatrix)]
    assert sorted(m.source for m in maps) == sorted(EXPECTED_MAPS[options.model])
    for m in maps:
        np.testing.assert_array_equal(m.values, scene.trace[m.source])
        assert not len(m.numbers)  # pictures: the numbers are in the other scenes


@pytest.mark.parametrize("options", [DEFAULT, LM], ids=["translate", "lm"])
def test_overview_boxes_name_registered_scenes_and_words_come_out_on_top(options):
    scene, states = checks.capture("overview", options)
    last = states[-1]
    tags = {t.text[2:] for t in last.texts if (t.text or "").startswith("▸ ")}
    assert tags and tags <= set(SCENES)
    assert {"embedding", "attention" if options.model == "translate" else "decoder",
            "multihead"} <= tags
    names = [t.text for t in last.texts if t.kind == "prose"]
    assert "Masked Multi-Head Attention" in names
    # the encoder's two and the decoder's three, or the decoder-only block's two
    assert names.count("Add & Norm") == (5 if options.model == "translate" else 2)
    t = scene.trace
    # the most probable next word at each position of this one run
    out = [x.text for x in last.texts if x.source == "vocab"]
    assert out == [t.vocab[int(i)] for i in np.argmax(t["probs"], axis=-1)]
    if options.model == "translate":  # the translation it read, shifted by one, then <eos>
        assert " ".join(out) == "jane visite l'afrique en septembre <eos>"


def test_overview_lights_the_box_being_computed():
    scene, states = checks.capture("overview", DEFAULT)
    assert scene.lit == set()  # the finished figure: nothing is being computed
    path, head = scene.cross_arrow  # from the encoder's top to the decoder's cross-attention
    assert path.get_start()[0] == pytest.approx(scene.frames["enc"].get_x())
    assert head.get_end()[0] == pytest.approx(scene.boxes["dec.cross"].get_left()[0], abs=0.05)


def test_overview_each_step_ends_with_its_path_lit(monkeypatch):
    """At the end of a step, every box it computed is lit (the sublayer and its Add & Norm),
    and nothing else: a still of the step names its subject."""
    from scenes.overview import OverviewScene

    lit = []
    hold = OverviewScene.hold
    monkeypatch.setattr(OverviewScene, "hold",
                        lambda self, seconds: (lit.append(set(self.lit)), hold(self, seconds)))
    scene, states = checks.capture.__wrapped__("overview", DEFAULT)  # played now, not remembered
    assert [s.name for s in states] == [s.name for s in scene.steps]
    assert dict(zip([s.name for s in states], lit, strict=True)) == {
        "figure": set(),
        "embed": {"enc.embed", "enc.pe"},
        "encoder": {"enc.attn", "enc.norm1", "enc.ffn", "enc.norm2"},
        "decoder_input": {"dec.embed", "dec.pe"},
        "masked": {"dec.attn", "dec.norm1"},
        "cross": {"dec.cross", "dec.norm2"},
        "feed_forward": {"dec.ffn", "dec.norm3"},
        "output": {"dec.linear", "dec.softmax"},
        "translation": set(),
    }


# ---- long sentences ----------------------------------------------------------------------------

LONGEST = {"translate": "in september jane visits africa in may paul sees rome in june",
           "lm": "the hungry mouse finds the cheese the sleepy bear wants the"}


def test_every_scene_states_its_limit_or_shows_the_longest_sentence():
    for name in SCENES:
        limit = get_scene_class(name).max_tokens
        assert limit is None or 5 <= limit < 12, name
    assert get_scene_class("embedding").max_tokens is None  # every step fits 12 positions
    assert get_scene_class("overview").max_tokens is None


@pytest.mark.parametrize("name", [n for n in SCENES if get_scene_class(n).max_tokens])
def test_a_sentence_too_long_for_a_scene_is_refused_in_one_line(name, tmp_path):
    limit = get_scene_class(name).max_tokens
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["svg", name, "--model", "translate", "--sentence",
                                       LONGEST["translate"], "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert f"the {name} scene shows at most {limit} positions" in lines[0]
    assert "this sentence has 12; give a shorter sentence" in lines[0]
    assert not out.exists()
