"""A tokenizer that never fails on non-empty text, for any script.

Two rules (a checkpoint records which one its vocabulary was made with):

``words`` (the shipped models, and the default for your own corpus), in order:

1. The text is put in Unicode NFC form (an accented letter typed as letter + combining accent
   equals the precomposed one) and lower-cased (``str.lower``: "Café", "Ναΐ", "Кошка" too).
   A typographic apostrophe ``’`` becomes ``'``.
2. The sentence punctuation ``. , ! ? ; :`` and double quotes are dropped; apostrophes stay
   inside words (``l'afrique`` is one token).
3. The rest is split on white space. Each piece that is in the vocabulary becomes its token;
   any other piece (an unknown word, an emoji, markup such as ``<b>``) becomes the visible
   unknown token ``<unk>``. The original piece is kept so the CLI can say what was replaced.

``chars`` (for scripts written without spaces: Chinese, Japanese, Thai): steps 1 and 2, then
every remaining character that is not white space and not punctuation (Unicode category P,
so ``。，！？`` go too) is one token.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["BOS", "EOS", "PAD", "SPECIALS", "TOKEN_RULES", "UNK", "EmptySentenceError", "Tokenized",
           "Vocab", "split"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)

_DROPPED = re.compile(r"[.,!?;:\"]")
TOKEN_RULES = ("words", "chars")


def _normalise(text: str) -> str:
    """NFC, lower case, typographic apostrophe as ``'``, sentence punctuation dropped."""
    text = unicodedata.normalize("NFC", text).lower().replace("\u2019", "'")
    return _DROPPED.sub(" ", text)


def split(text: str, rule: str = "words") -> list[str]:
    """The pieces of ``text`` under ``rule`` (``words`` or ``chars``), before the vocabulary."""
    if rule == "words":
        return _normalise(text).split()
    if rule == "chars":
        return [c for c in _normalise(text)
                if not c.isspace() and not unicodedata.category(c).startswith(("P", "C"))]
    raise ValueError(f"unknown tokenization rule {rule!r}; choose from {', '.join(TOKEN_RULES)}")


class EmptySentenceError(ValueError):
    """The sentence has no tokens (empty, white space or punctuation only)."""


@dataclass(frozen=True)
class Tokenized:
    tokens: tuple[str, ...]  # what the model reads, <unk> included
    ids: tuple[int, ...]
    unknown: tuple[str, ...]  # the original pieces that became <unk>, in order


class Vocab:
    """A fixed list of tokens; the four special tokens come first. ``rule`` splits the text."""

    def __init__(self, words: list[str] | tuple[str, ...], rule: str = "words"):
        if rule not in TOKEN_RULES:
            raise ValueError(f"unknown tokenization rule {rule!r}; choose from {', '.join(TOKEN_RULES)}")
        self.rule = rule
        words = [w for w in words if w not in SPECIALS]
        self.itos: tuple[str, ...] = SPECIALS + tuple(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("duplicate words in vocabulary")

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    @property
    def pad_id(self) -> int:
        return self.stoi[PAD]

    @property
    def bos_id(self) -> int:
        return self.stoi[BOS]

    @property
    def eos_id(self) -> int:
        return self.stoi[EOS]

    @property
    def unk_id(self) -> int:
        return self.stoi[UNK]

    @property
    def joiner(self) -> str:
        """What goes between tokens when they are written as text: a space, or nothing (chars)."""
        return "" if self.rule == "chars" else " "

    def split(self, text: str) -> list[str]:
        """The pieces of ``text`` under this vocabulary's rule."""
        return split(text, self.rule)

    def encode(self, text: str) -> Tokenized:
        pieces = self.split(text)
        if not pieces:
            raise EmptySentenceError("the sentence is empty: give at least one word")
        tokens, unknown = [], []
        for piece in pieces:
            if piece in self.stoi and piece not in SPECIALS:
                tokens.append(piece)
            else:
                tokens.append(UNK)
                unknown.append(piece)
        return Tokenized(tuple(tokens), tuple(self.stoi[t] for t in tokens), tuple(unknown))

    def decode(self, ids) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    def words(self) -> list[str]:
        """The vocabulary without the special tokens."""
        return list(self.itos[len(SPECIALS):])
