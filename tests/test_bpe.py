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
    assert display("Ã") == "Ã"  # the first byte of é alone: its byte-level letter
    assert display("ðŁ¦Ĭ") == "🦊"
    assert display("Ċ") == "Ċ"  # a newline, a control: its letter
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
