"""Byte-level BPE: learning it, showing its tokens, and replaying its merges one at a time
exactly as the tokenizer does."""

from __future__ import annotations

import pytest

from transformer_core.tokenizer import (
    MIN_BPE_VOCAB, BpeError, EmptySentenceError, Vocab, display, replay, train_bpe,
)

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "the lazy dog sleeps in the sun",
    "a quick brown cat jumps over the fox",
    "the dog and the cat eat 12 apples, 3 pears!",
    "naïve café owners serve crème brûlée",
    "Ελληνικά και Русский текст рядом",
    "the fox 🦊 likes the sun ☀️ and the rain",
] * 3

# rare words, digits, punctuation, non-ASCII letters, emoji, spaces of every kind
SENTENCES = [
    "unbelievably, tokenizers split words",
    "The quickest foxes jumped 1234567 times!!!",
    "naïveté: a café's crème brûlée costs 9.99 €",
    "Ελληνικά? Русский! 中文 日本語",
    "🦊🦊 emoji 👩‍👩‍👧 and ☀️",
    "  leading and   double  spaces\tand a tab",
    "x",
    "<eos> <unk> is text, not a token",
]


@pytest.fixture(scope="module")
def tok():
    return train_bpe(CORPUS, 400)


def test_learned_vocabulary_starts_with_specials_and_every_byte(tok):
    v = Vocab.from_tokenizer(tok)
    assert v.itos[:4] == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3)
    assert 256 + 4 < len(v) <= 400
    assert len(set(v.itos)) == len(v)


@pytest.mark.parametrize("sentence", SENTENCES)
def test_replay_gives_the_tokenizers_own_output(tok, sentence):
    r = replay(tok, sentence)
    enc = tok.encode(sentence, add_special_tokens=False)
    assert r.tokens == tuple(enc.tokens)
    assert r.ids == tuple(enc.ids)
    # each merge joins the pair it names, at its place, in the sequence before it
    for k, m in enumerate(r.merges):
        before = r.sequence(k)[m.word]
        assert before[m.position:m.position + 2] == (m.left, m.right)
        assert r.sequence(k + 1)[m.word] == (*before[:m.position], m.result,
                                             *before[m.position + 2:])
    # the bytes of each word are its first symbols, and no byte is lost by the merges
    assert ["".join(w) for w in r.initial] == list(r.words)
    assert "".join(r.tokens) == "".join(r.words)


def test_merges_come_lowest_rank_first_within_each_word(tok):
    r = replay(tok, "the quickest foxes jumped over the laziest dogs")
    assert r.merges
    for w in range(len(r.words)):
        ranks = [m.rank for m in r.merges if m.word == w]
        assert ranks == sorted(ranks)
    assert [m.rank for m in r.merges] == sorted(m.rank for m in r.merges)


def test_no_unk_ever(tok):
    v = Vocab.from_tokenizer(tok)
    for sentence in SENTENCES:
        t = v.encode(sentence)
        assert v.unk_id not in t.ids and not t.unknown
        assert v.text(t.ids).strip() == sentence.strip() or sentence.startswith(" ")


def test_display_shows_spaces_and_whole_characters():
    assert display("Ġfox") == "·fox"
    assert display("ĠcafÃ©") == "·café"
    assert display("Ã") == "<0xC3>"  # the first byte of é alone
    assert display("ðŁ¦Ĭ") == "🦊"
    assert display("Ċ") == "↵"  # a newline
    assert display("<eos>") == "<eos>"


def test_reload_from_json_gives_the_same_ids(tok):
    v = Vocab.from_tokenizer(tok)
    again = Vocab.from_tokenizer(v.to_json())
    assert again.itos == v.itos
    for sentence in SENTENCES:
        assert again.encode(sentence).ids == v.encode(sentence).ids


def test_a_tokenizer_with_digits_split_and_added_tokens():
    """A SmolLM2-like tokenizer: digits one by one, no prefix space, special tokens in text."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    t.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=350, special_tokens=["<|endoftext|>", "<|im_start|>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    for sentence in [*SENTENCES, "<|im_start|>user 2024<|endoftext|>"]:
        r = replay(t, sentence)
        enc = t.encode(sentence, add_special_tokens=False)
        assert (r.tokens, r.ids) == (tuple(enc.tokens), tuple(enc.ids)), sentence
    v = Vocab.from_tokenizer(t, {"bos": "<|im_start|>", "eos": "<|endoftext|>"})
    assert (v.bos_id, v.eos_id) == (1, 0)
    with pytest.raises(KeyError):
        v.pad_id  # noqa: B018


def test_bad_input():
    with pytest.raises(BpeError, match="smaller than the byte alphabet"):
        train_bpe(CORPUS, MIN_BPE_VOCAB - 1)
    with pytest.raises(BpeError, match="too small to learn merges"):
        train_bpe(["a b", "c d"], 500)
    v = Vocab.from_tokenizer(train_bpe(CORPUS, 300))
    for empty in ("", "   ", "\t\n"):
        with pytest.raises(EmptySentenceError):
            v.encode(empty)
        with pytest.raises(EmptySentenceError):
            v.replay(empty)


# ---- a model trained with --tokens bpe ----------------------------------------------------------

LM_CORPUS = "\n".join([
    "the quick brown fox jumps over the lazy dog",
    "the lazy dog sleeps in the warm sun",
    "a quick brown cat jumps over the fox",
    "the cat and the dog eat their dinner",
    "the brown fox sleeps in the cold rain",
    "a lazy cat watches the quick fox",
]) + "\n"
PAIRS = "i am a student\tje suis étudiant\nshe is a student\telle est étudiante\n" \
        "we are students\tnous sommes étudiants\nhe is a teacher\til est professeur\n"
NEW_WORDS = "zebras nap"  # no word of it is in the corpus


@pytest.fixture(scope="module")
def bpe_lm(tmp_path_factory):
    from transformer_core.checkpoint import save_model
    from transformer_core.corpus import read_corpus
    from transformer_core.train import train_corpus

    folder = tmp_path_factory.mktemp("bpe")
    (folder / "lm.txt").write_text(LM_CORPUS, encoding="utf-8")
    corpus = read_corpus(folder / "lm.txt", "lm", "bpe", 300)
    result = train_corpus(corpus, max_steps=40)
    save_model(result.model, folder / "lm.pt")
    return folder, corpus, result.model


def test_a_bpe_checkpoint_reloads_to_the_same_tokenizer(bpe_lm):
    from transformer_core.checkpoint import load_checkpoint

    folder, corpus, trained = bpe_lm
    loaded = load_checkpoint(folder / "lm.pt")
    assert loaded.rule == "bpe" and loaded.tgt_vocab.to_json() == corpus.tokenizer
    assert loaded.tgt_vocab.itos == trained.tgt_vocab.itos
    assert len(loaded.tgt_vocab) == loaded.cfg.tgt_vocab_size <= 300
    for sentence in [*SENTENCES, NEW_WORDS]:
        assert loaded.tgt_vocab.encode(sentence).ids == trained.tgt_vocab.encode(sentence).ids


def test_corpus_tokens_are_the_tokenizers(bpe_lm):
    _, corpus, trained = bpe_lm
    assert corpus.rule == "bpe" and trained.cfg.max_len == 12
    first = trained.tgt_vocab.encode(corpus.texts[0])
    assert corpus.sources[0] == first.tokens
    assert corpus.sources[0][1] == "·quick"  # a leading space is shown as ·


def test_words_absent_from_the_corpus_trace_without_unk(bpe_lm):
    from transformer_core.trace import run_with_trace

    folder, _, trained = bpe_lm
    t = run_with_trace(folder / "lm.pt", NEW_WORDS)
    assert "<unk>" not in t.tokens and trained.tgt_vocab.unk_id not in t.token_ids
    story = t.tokenizing
    assert story["rule"] == "bpe" and story["tokens"] == list(t.tokens)
    assert story["ids"] == list(t.token_ids)
    assert "".join(t.tokens).replace("·", " ") == " " + NEW_WORDS
    # the story's merges, replayed on its bytes, give its tokens
    seq = [list(w) for w in story["bytes"]]
    for k, rank in enumerate(story["merge_rank"]):
        w, p = story["merge_word"][k], story["merge_position"][k]
        assert seq[w][p:p + 2] == [story["merge_left"][k], story["merge_right"][k]]
        seq[w][p:p + 2] = [story["merge_result"][k]]
        assert seq == story["after"][k] and rank >= 0
    assert [s for w in seq for s in w] == story["tokens"]


def test_a_translation_model_shares_one_bpe(tmp_path):
    from transformer_core.corpus import read_corpus
    from transformer_core.train import build_for_corpus

    (tmp_path / "p.tsv").write_text(PAIRS, encoding="utf-8")
    corpus = read_corpus(tmp_path / "p.tsv", "translate", "bpe", 280)
    model = build_for_corpus(corpus)
    assert model.src_vocab is model.tgt_vocab
    assert model.cfg.src_vocab_size == model.cfg.tgt_vocab_size == len(model.tgt_vocab)
    assert "·étudiant" in model.tgt_vocab.itos  # learned from the targets too


def test_trace_summary_lists_tokens_ids_and_merges(bpe_lm):
    from click.testing import CliRunner

    from cli import main

    folder, _, _ = bpe_lm
    out = CliRunner().invoke(main, ["trace", "--checkpoint", str(folder / "lm.pt"),
                                    "--sentence", "the quickest foxes"])
    assert out.exit_code == 0, out.output
    assert "tokens:   ·the ·quick e s t ·fox e s" in out.output
    assert "merge   1: " in out.output and "(rank " in out.output


def _one_error_line(result) -> str:
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("args, text, message", [
    (["--tokens", "bpe", "--vocab-size", "100"], LM_CORPUS, "smaller than the byte alphabet"),
    (["--tokens", "bpe", "--vocab-size", "99999"], LM_CORPUS, "at most 1260"),
    (["--vocab-size", "300"], LM_CORPUS, "add --tokens bpe"),
    (["--tokens", "bpe"], "a b\nc d\n", "too small to learn merges"),
    (["--tokens", "bpe"], "only one sentence here\n", "only one sentence"),
])
def test_bad_training_input_is_one_line_and_exit_2(tmp_path, args, text, message):
    from click.testing import CliRunner

    from cli import main

    (tmp_path / "c.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "m.pt"
    result = CliRunner().invoke(main, ["train", "lm", "--corpus", str(tmp_path / "c.txt"),
                                       "--out", str(out), *args])
    assert result.exit_code == 2
    assert message in _one_error_line(result)
    assert not out.exists()


def test_an_empty_sentence_for_a_bpe_model_is_refused(bpe_lm):
    from click.testing import CliRunner

    from cli import main

    folder, _, _ = bpe_lm
    result = CliRunner().invoke(main, ["trace", "--checkpoint", str(folder / "lm.pt"),
                                       "--sentence", "  \t "])
    assert result.exit_code == 2
    assert "empty" in _one_error_line(result)


def test_replay_on_smollm2s_own_tokenizer():
    """SmolLM2's tokenizer (from its GGUF file): digits one by one, no prefix space, 48900
    merges; the replay gives its output exactly."""
    from transformer_core import pretrained

    try:
        vocab = pretrained.load_pretrained().tgt_vocab
    except pretrained.PretrainedError as exc:  # the file is not installed here
        pytest.skip(str(exc))
    for sentence in [*SENTENCES, "unbelievably, tokenizers split words", "In 2024, 1234 apples "
                     "cost $5.99!", "Héllo wörld: naïve café 😀 日本語\nnew line"]:
        r = vocab.replay(sentence)
        enc = vocab.tokenizer.encode(sentence, add_special_tokens=False)
        assert (r.tokens, r.ids) == (tuple(enc.tokens), tuple(enc.ids)), sentence
        story = vocab.story(sentence)
        assert story["tokens"] == [vocab.itos[i] for i in enc.ids]
    r = vocab.replay("unbelievably")
    assert [m.rank for m in r.merges] == sorted(m.rank for m in r.merges)
    assert vocab.story("·fox")["tokens"][0] != "·fox"  # a typed · is not a space
