"""Your own corpus: reading and checking it, training on it in seconds, its checkpoint."""

import hashlib
import unicodedata
import zipfile

import pytest
import torch

from transformer_core.checkpoint import (
    CheckpointKindError, NotACheckpointError, load_checkpoint, load_model, save_model,
)
from transformer_core.corpus import MAX_TOKENS, MAX_WORDS, CorpusError, read_corpus
from transformer_core.tokenizer import UNK, Vocab
from transformer_core.trace import run_with_trace
from transformer_core.train import ceiling, split_corpus, train_corpus

# Each sentence's continuation is decided by its first two words.
LM_LINES = [
    "the red fox eats a hen",
    "the red dog eats a bone",
    "a grey cat drinks the milk",
    "a grey cow drinks the water",
    "the small bird sings a song",
    "η γάτα πίνει γάλα",  # Greek: "the cat drinks milk"
    "кошка пьёт молоко",  # Russian: the same
    "le café est naïf",
]
PAIRS = [
    ("i am a student", "je suis étudiant"),
    ("she is a student", "elle est étudiante"),
    ("i am tired", "je suis fatigué"),
    ("she is tired", "elle est fatiguée"),
    ("we are tired", "nous sommes fatigués"),
    ("we are students", "nous sommes étudiants"),
]


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture(scope="module")
def lm_checkpoint(tmp_path_factory):
    path = write(tmp_path_factory.mktemp("lm") / "corpus.txt", "\n".join(LM_LINES) + "\n")
    result = train_corpus(read_corpus(path, "lm"), seed=1)
    out = path.parent / "my-lm.pt"
    save_model(result.model, out)
    return out, path, result


@pytest.fixture(scope="module")
def translate_checkpoint(tmp_path_factory):
    text = "# a comment line\n" + "\n".join(f"{a}\t{b}" for a, b in PAIRS) + "\n"
    path = write(tmp_path_factory.mktemp("tr") / "pairs.tsv", text)
    result = train_corpus(read_corpus(path, "translate"), seed=0)
    out = path.parent / "my-translate.pt"
    save_model(result.model, out)
    return out, path, result


def test_greedy_continuation_of_a_training_sentence_is_right(lm_checkpoint):
    out, _, result = lm_checkpoint
    assert result.detail["stopped_early"]
    t = run_with_trace(out, "the red fox")
    assert t.output_tokens == ("eats", "a", "hen")
    assert run_with_trace(out, "a grey cow").output_tokens == ("drinks", "the", "water")
    assert run_with_trace(out, "η γάτα").output_tokens == ("πίνει", "γάλα")


def test_greedy_translation_of_a_training_pair_is_right(translate_checkpoint):
    out, _, result = translate_checkpoint
    for en, fr in PAIRS:
        assert run_with_trace(out, en).output_text == fr
    assert result.detail["train_exact"] == 1.0
    assert result.detail["heldout_sentences"] == 0 and result.detail["heldout_exact"] is None


def test_words_of_other_scripts_are_tokens_not_unk(lm_checkpoint):
    out, _, _ = lm_checkpoint
    t = run_with_trace(out, "Η γάτα πίνει ΓΆΛΑ")  # upper case is lowered in Greek too
    assert t.tokens == ("η", "γάτα", "πίνει", "γάλα") and not t.unknown
    assert run_with_trace(out, "Кошка пьёт").tokens == ("кошка", "пьёт")
    # "café" typed as e + combining accent is the same word
    decomposed = unicodedata.normalize("NFD", "le café est naïf")
    assert decomposed != "le café est naïf"
    t = run_with_trace(out, decomposed)
    assert t.tokens == ("le", "café", "est", "naïf") and UNK not in t.tokens
    assert run_with_trace(out, "le thé").unknown == ("thé",)


def test_chars_tokenization_for_scripts_without_spaces(tmp_path):
    path = write(tmp_path / "zh.txt", "我是学生。\n你是老师！\n他是医生\n")
    corpus = read_corpus(path, "lm", rule="chars")
    assert corpus.sources[0] == ("我", "是", "学", "生")  # the full stop is punctuation
    result = train_corpus(corpus, seed=0)
    assert result.model.tgt_vocab.rule == "chars"
    out = tmp_path / "zh.pt"
    save_model(result.model, out)
    t = run_with_trace(out, "你是")
    assert t.tokens == ("你", "是") and t.output_text == "老师"


def test_checkpoint_carries_what_it_needs_and_loads_with_weights_only(lm_checkpoint):
    out, corpus_path, result = lm_checkpoint
    payload = torch.load(out, weights_only=True)
    assert payload["format"] == "transformer-explained checkpoint" and payload["version"] == 2
    assert payload["name"] == "lm" and payload["tokens"] == "words"
    assert payload["config"]["d_model"] == 8 and payload["config"]["n_heads"] == 2
    assert payload["config"]["max_len"] == 7  # the longest sentence has 6 words, + <eos>
    assert "γάτα" in payload["tgt_vocab"] and "кошка" in payload["tgt_vocab"]
    meta = payload["meta"]
    assert meta["data_sha256"] == hashlib.sha256(corpus_path.read_bytes()).hexdigest()
    assert meta["train_token_accuracy"] == pytest.approx(meta["best_possible_token_accuracy"])
    assert meta["sentences"] == len(LM_LINES) and meta["seed"] == 1
    assert payload["default_sentence"] == LM_LINES[0]
    loaded = load_checkpoint(out)
    assert loaded.kind == "lm" and loaded.meta == meta
    assert all(torch.equal(loaded.model.state_dict()[k], v)
               for k, v in result.model.model.state_dict().items())


def test_training_is_reproducible_with_seed(tmp_path):
    path = write(tmp_path / "c.txt", "\n".join(LM_LINES[:4]))
    a = train_corpus(read_corpus(path, "lm"), seed=5, max_steps=40)
    b = train_corpus(read_corpus(path, "lm"), seed=5, max_steps=40)
    c = train_corpus(read_corpus(path, "lm"), seed=6, max_steps=40)
    sa, sb = a.model.model.state_dict(), b.model.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa) and a.final_loss == b.final_loss
    assert not torch.equal(sa["W_U"], c.model.model.state_dict()["W_U"])


def test_progress_reports_every_step_with_the_loss(tmp_path):
    path = write(tmp_path / "c.txt", "\n".join(LM_LINES[:4]))
    seen = []
    result = train_corpus(read_corpus(path, "lm"), seed=0, max_steps=30,
                          progress=lambda step, loss: seen.append((step, loss)))
    assert [s for s, _ in seen] == list(range(1, 31))
    assert seen[-1][1] == result.final_loss and seen[-1][1] < seen[0][1]


def test_held_out_part_only_when_the_corpus_is_large_enough(tmp_path):
    small = read_corpus(write(tmp_path / "s.txt", "\n".join(LM_LINES)), "lm")
    assert split_corpus(small, None, 0)[1] == []
    big = read_corpus(write(tmp_path / "b.txt", "\n".join(f"w{i} x y" for i in range(60))), "lm")
    train, held = split_corpus(big, None, 0)
    assert len(held) == 6 and 0 in train and not set(train) & set(held)


def test_ceiling_counts_contexts_that_continue_in_several_ways(tmp_path):
    corpus = read_corpus(write(tmp_path / "c.txt", "a b\na c\na b\n"), "lm")
    # after "a": b, c, b (2 of 3 predictable); after "a b"/"a c": <eos> (all predictable)
    assert ceiling(corpus, [0, 1, 2]) == pytest.approx(5 / 6)


def test_lines_longer_than_the_limit_are_skipped_and_counted(tmp_path):
    long = " ".join(["word"] * (MAX_TOKENS + 1))
    corpus = read_corpus(write(tmp_path / "c.txt", f"a b\n{long}\nc d\n{long}\n"), "lm")
    assert len(corpus) == 2 and corpus.skipped == (2, 4)
    assert corpus.skipped_note() == f"skipped 2 lines longer than {MAX_TOKENS} tokens (line 2, 4)"


@pytest.mark.parametrize("content,kind,message", [
    (b"", "lm", "is empty: write one sentence per line"),
    (b"  \n\n", "lm", "is empty"),
    (b"PK\x03\x04\x00\x00binary", "lm", "is a binary file, not text"),
    ("one\ncaf\u00e9 two\n".encode("latin-1"), "lm", "is not UTF-8 text (line 2, byte 0xe9)"),
    (b"just one sentence\n", "lm", "has only one sentence: a model needs at least 2"),
    (b"a b\tc\nd e\n", "translate", "line 2 has no tab: write SOURCE<TAB>TARGET"),
    (b"a\tb\tc\nd\te\n", "translate", "line 1 has 2 tabs"),
    (b"a\t!!\nd\te\n", "translate", "line 1: the target has no words"),
    (("x " * 20 + "\n") .encode() * 2, "lm", f"every line is longer than {MAX_TOKENS} tokens"),
])
def test_each_bad_corpus_gives_its_one_line_message(tmp_path, content, kind, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError) as err:
        read_corpus(path, kind)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read_corpus(tmp_path / "nope.txt", "lm")
    with pytest.raises(CorpusError, match="is a folder"):
        read_corpus(tmp_path, "lm")


def test_vocabulary_above_the_limit_is_refused_with_the_limit(tmp_path):
    lines = [" ".join(f"w{i}_{j}" for j in range(10)) for i in range(MAX_WORDS // 10 + 1)]
    with pytest.raises(CorpusError, match=f"has {10 * len(lines)} different words; the limit is {MAX_WORDS}"):
        read_corpus(write(tmp_path / "big.txt", "\n".join(lines)), "lm")


def test_not_a_checkpoint_truncated_or_of_the_other_kind(tmp_path, lm_checkpoint, translate_checkpoint):
    lm_path, corpus_path, _ = lm_checkpoint
    with pytest.raises(NotACheckpointError, match="not a PyTorch file"):
        load_checkpoint(corpus_path)  # a text file
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes(lm_path.read_bytes()[:3000])
    with pytest.raises(NotACheckpointError, match="damaged or truncated"):
        load_checkpoint(truncated)
    other = tmp_path / "weights.pt"
    torch.save({"W": torch.zeros(2)}, other)
    with pytest.raises(NotACheckpointError, match="not a checkpoint of this tool"):
        load_checkpoint(other)
    assert zipfile.is_zipfile(other)
    with pytest.raises(CheckpointKindError, match=r"is a language model .* needs a translation"):
        load_checkpoint(lm_path, kind="translate")
    with pytest.raises(CheckpointKindError, match=r"needs a language model"):
        load_model("lm", translate_checkpoint[0])


def test_interrupted_save_leaves_no_checkpoint(tmp_path, lm_checkpoint, monkeypatch):
    _, _, result = lm_checkpoint
    out = tmp_path / "new.pt"

    def interrupted(obj, fh):
        fh.write(b"PK half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(result.model, out)
    assert list(tmp_path.iterdir()) == []


def test_vocab_rule_is_checked():
    with pytest.raises(ValueError, match="unknown tokenization rule"):
        Vocab(["a"], "letters")


def test_summary_names_the_checkpoint_and_escapes_control_characters(lm_checkpoint):
    from transformer_core.export import summary, to_dict

    out, _, _ = lm_checkpoint
    text = summary(run_with_trace(out, "the red\nfox \x1b[2J"))
    assert f"checkpoint: {out} (tokenized as words)" in text
    assert "sentence: the red\\nfox \\x1b[2J" in text and "\x1b" not in text
    assert "tokens:   the red fox <unk>" in text
    shipped = run_with_trace("lm")
    assert "checkpoint" not in summary(shipped) and to_dict(shipped)["checkpoint"] is None
    assert to_dict(run_with_trace(out))["checkpoint"] == str(out)


def test_the_initial_model_of_a_corpus_training_is_its_seeded_start(tmp_path):
    from transformer_core.train import initial_corpus_model

    corpus = read_corpus(write(tmp_path / "c.txt", "\n".join(LM_LINES[:4])), "lm")
    untrained = train_corpus(corpus, seed=7, max_steps=0).model.model.state_dict()
    start = initial_corpus_model(train_corpus(corpus, seed=7, max_steps=0).model.cfg, 7).state_dict()
    assert all(torch.equal(untrained[k], start[k]) for k in untrained)
