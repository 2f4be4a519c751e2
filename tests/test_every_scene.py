"""Every registered scene, checked at the end state of every storyboard step (animations
skipped), on each option case below: each number on screen is the trace value it claims at its
precision, each word label the trace's word, no digit without a source, everything inside the
frame, every highlight outline on the cells it marks, no two texts overlapping, nothing smaller
than the 480p minimum, one-sentence captions, every written-out equation checking by hand.

A new scene needs no code here: registering it in ``scenes/registry.py`` is enough. Its own
tests (of what is new in it) can reuse these runs through :func:`tests.scene_checks.capture`.
"""

from __future__ import annotations

import pytest

from scenes.registry import SCENES, default_model, get_scene_class
from scenes.toolkit.storyboard import SceneOptions, load_trace
from tests import scene_checks as checks

# Every model, both themes, another sentence, another head and layer.
CASES = {
    "translate": SceneOptions(),
    "translate-light": SceneOptions(sentence="paul sees rome in may", theme="light", head=1),
    "lm-light": SceneOptions(model="lm", theme="light", head=1),
    "modern": SceneOptions(model="modern"),
    "modern-light": SceneOptions(model="modern", theme="light", head=1, layer=1),
}
# The pretrained SmolLM2-135M, seen through windows (576 wide, 64 per head, 49,152 words), on
# the scenes that show it so far; head 4 reads the keys and values of K/V head 1.
SMOLLM2 = SceneOptions(model="smollm2", sentence="the quick brown fox jumps over the lazy dog",
                       head=4, theme="light")
SMOLLM2_SCENES = ("attention", "decoder", "generate", "embedding", "overview")
# And the longest sentence each scene shows: all the model's positions (12; lm keeps one for
# the word it predicts), or fewer where the scene says so with ``max_tokens``.
LONGEST = {"translate": "in september jane visits africa in may paul sees rome in june",
           "lm": "the early bird eats the worm the lazy cat wants the"}
LONGEST["modern"] = LONGEST["lm"]  # the same words


def longest(name: str) -> SceneOptions:
    """The scene's default model on the longest sentence the scene can show."""
    cls, model = get_scene_class(name), default_model(name)
    limit = cls.max_tokens or 12
    words = LONGEST[model].split()
    for k in range(min(limit, len(words)), 0, -1):  # the decoder's input counts too
        sentence = " ".join(words[:k])
        if cls.positions(load_trace(model, sentence)) <= limit:
            return SceneOptions(model=model, sentence=sentence)
    raise AssertionError(f"{name} shows no sentence")


@pytest.fixture(scope="module", params=[(s, c) for s in SCENES for c in [*CASES, "longest"]]
                + [(s, "smollm2") for s in SMOLLM2_SCENES], ids=lambda p: f"{p[0]}-{p[1]}")
def run(request):
    name, case = request.param
    options = (longest(name) if case == "longest" else SMOLLM2 if case == "smollm2"
               else CASES[case])
    scene, states = checks.capture(name, options)
    return scene, states


@pytest.mark.parametrize("name", list(SCENES))
def test_storyboard_is_one_sentence_steps(name):
    cls = get_scene_class(name)
    for options in CASES.values():
        steps = cls.storyboard(options)
        checks.assert_one_sentence_steps(steps)
        assert steps == cls.storyboard(options)  # known without rendering, and stable


def test_every_step_ran(run):
    checks.assert_steps_ran(*run)


def test_every_number_is_the_trace_value_it_claims(run):
    checks.assert_numbers_true(*run)


def test_windowed_matrices_show_their_true_indices_and_shape(run):
    checks.assert_windows_true(*run)


def test_every_label_is_the_trace_word(run):
    checks.assert_labels_true(*run)


def test_no_unsourced_digits_on_screen(run):
    checks.assert_no_unsourced_digits(run[1])


def test_everything_inside_the_frame(run):
    checks.assert_inside_frame(run[1])


def test_highlight_outlines_lie_on_their_cells(run):
    checks.assert_outlines_on_their_cells(run[1])


def test_no_two_texts_overlap(run):
    checks.assert_no_text_overlaps(run[1])


def test_text_is_readable_at_480p(run):
    checks.assert_readable_at_480p(run[1])


def test_every_equation_checks_by_hand(run):
    checks.assert_equations_hold(run[1])


def test_every_step_is_paced_to_be_read(run):
    checks.assert_paced(run[0])
