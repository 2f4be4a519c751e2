"""The tokens scene on a model trained with ``--tokens bpe``: every per-step check of
``tests/test_every_scene.py`` on its BPE steps (the shipped models only reach the word-level
ones), a long sentence whose merges are summarised, and the merges it shows replaying to the
tokenizer's own output."""

from __future__ import annotations

import pytest

from scenes.toolkit.storyboard import SceneOptions
from tests import scene_checks as checks

CORPUS = "\n".join([
    "the quick brown fox jumps over the lazy dog",
    "the lazy dog sleeps in the warm sun",
    "a quick brown cat jumps over the fox",
    "the cat and the dog eat their dinner",
    "the brown fox sleeps in the cold rain",
    "a lazy cat watches the quick fox",
    "naïve foxes sleep in the café",
]) + "\n"
SENTENCES = {
    "rare": "the quickest foxes",  # a few merges, every one in the table
    "long": "the quick brown fox jumps over the dog",  # more merges than the table holds
    "bytes": "42 🦊 ü",  # digits, an emoji, a 2-byte letter: bytes the merges hardly join
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from transformer_core.checkpoint import save_model
    from transformer_core.corpus import read_corpus
    from transformer_core.train import train_corpus

    folder = tmp_path_factory.mktemp("tokens-bpe")
    (folder / "c.txt").write_text(CORPUS, encoding="utf-8")
    result = train_corpus(read_corpus(folder / "c.txt", "lm", "bpe", 320), max_steps=20)
    save_model(result.model, folder / "bpe.pt")
    return str(folder / "bpe.pt")


@pytest.fixture(scope="module", params=[(k, th) for k in SENTENCES for th in ("dark", "light")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def run(request, checkpoint):
    key, theme = request.param
    options = SceneOptions(model="lm", checkpoint=checkpoint, sentence=SENTENCES[key],
                           theme=theme)
    return key, checks.capture("tokens", options)


def test_every_per_step_check_on_the_bpe_steps(run):
    _, (scene, states) = run
    assert [s.name for s in states] == ["title", "words", "bytes", "first_merge", "merges",
                                        "tokens", "ids", "rows"]
    checks.assert_steps_ran(scene, states)
    checks.assert_numbers_true(scene, states)
    checks.assert_labels_true(scene, states)
    checks.assert_no_unsourced_digits(states)
    checks.assert_inside_frame(states)
    checks.assert_outlines_on_their_cells(states)
    checks.assert_no_text_overlaps(states)
    checks.assert_readable_at_480p(states)


def _shown(state, source):
    return {t.index: t.text for t in state.texts if t.source == source}


def test_the_merges_shown_replay_to_the_tokenizers_output(run, checkpoint):
    from transformer_core.checkpoint import load_checkpoint
    from transformer_core.tokenizer import display

    key, (scene, states) = run
    story = scene.trace.tokenizing
    merges = next(s for s in states if s.name == "merges")
    ranks = _shown(merges, "tok:merge_rank")
    n = len(story["merge_rank"])
    expected = display_tokens = [display(t) for t in load_checkpoint(checkpoint).tgt_vocab
                                 .tokenizer.encode(SENTENCES[key]).tokens]
    if len(ranks) == n:  # every merge on screen: replay what is shown on the bytes shown
        seq = [list(w) for w in story["bytes"]]
        left, right = _shown(merges, "tok:merge_left"), _shown(merges, "tok:merge_right")
        result = _shown(merges, "tok:merge_result")
        for k in range(n):
            w, p = story["merge_word"][k], story["merge_position"][k]
            assert seq[w][p:p + 2] == [left[(k,)], right[(k,)]]
            seq[w][p:p + 2] = [result[(k,)]]
        assert [s for w in seq for s in w] == expected
    else:  # summarised: the first and the last merges, and one line counting the others
        assert key == "long" and (0,) in ranks and (n - 1,) in ranks
        counted = [t.text for t in merges.texts if t.text and "more merges" in t.text]
        assert counted == [f"… {n - len(ranks)} more merges, of ranks "
                           f"{min(r for k, r in enumerate(story['merge_rank']) if (k,) not in ranks)}"
                           f" to {max(r for k, r in enumerate(story['merge_rank']) if (k,) not in ranks)} …"]
    tokens = next(s for s in states if s.name == "tokens")
    assert [t for _, t in sorted(_shown(tokens, "tokens").items())] == display_tokens
    assert "<unk>" not in display_tokens


@pytest.fixture(scope="module")
def smollm2():
    from transformer_core import pretrained

    try:
        pretrained.smollm2_file()
    except pretrained.PretrainedError as exc:
        pytest.skip(str(exc))
    options = SceneOptions(model="smollm2", sentence="unbelievably, tokenizers split words")
    return checks.capture("tokens", options)


def test_smollm2s_merges_pass_every_per_step_check(smollm2):
    scene, states = smollm2
    checks.assert_steps_ran(scene, states)
    checks.assert_numbers_true(scene, states)
    checks.assert_labels_true(scene, states)
    checks.assert_no_unsourced_digits(states)
    checks.assert_inside_frame(states)
    checks.assert_no_text_overlaps(states)
    checks.assert_readable_at_480p(states)
    merges = next(s for s in states if s.name == "merges")
    ranks = _shown(merges, "tok:merge_rank")
    assert len(ranks) == 27 and ranks[(0,)] == "0" and ranks[(26,)] == "23030"
    tokens = next(s for s in states if s.name == "tokens")
    assert [t for _, t in sorted(_shown(tokens, "tokens").items())] == [
        "un", "belie", "v", "ably", ",", "·token", "izers", "·split", "·words"]


def test_leading_spaces_are_visible(run):
    _, (scene, states) = run
    words = next(s for s in states if s.name == "words")
    assert all(t.startswith("·") for t in _shown(words, "tok:words").values())
