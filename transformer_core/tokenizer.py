"""A word-level tokenizer that never fails on non-empty text.

Rules, in order:

1. The text is lower-cased (``str.lower``).
2. The sentence punctuation ``. , ! ? ; :`` and double quotes are dropped; apostrophes stay
   inside words (``l'afrique`` is one token).
3. The rest is split on white space. Each piece that is in the vocabulary becomes its token;
   any other piece (an unknown word, an emoji, markup such as ``<b>``) becomes the visible
   unknown token ``<unk>``. The original piece is kept so the CLI can say what was replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["BOS", "EOS", "PAD", "SPECIALS", "UNK", "EmptySentenceError", "Tokenized", "Vocab"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)

_DROPPED = re.compile(r"[.,!?;:\"]")


class EmptySentenceError(ValueError):
    """The sentence has no tokens (empty, white space or punctuation only)."""


@dataclass(frozen=True)
class Tokenized:
    tokens: tuple[str, ...]  # what the model reads, <unk> included
    ids: tuple[int, ...]
    unknown: tuple[str, ...]  # the original pieces that became <unk>, in order


class Vocab:
    """A fixed list of tokens; the four special tokens come first."""

    def __init__(self, words: list[str] | tuple[str, ...]):
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

    @staticmethod
    def split(text: str) -> list[str]:
        """Lower-case, drop sentence punctuation, split on white space."""
        return _DROPPED.sub(" ", text.lower()).split()

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
