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

``bpe`` (byte-level byte-pair encoding): the vocabulary is a Hugging Face
``tokenizers.Tokenizer`` (learned on your corpus by :func:`train_bpe`, or a model's own, such as
SmolLM2's), kept whole in the checkpoint as its JSON. The text is not lower-cased and nothing is
dropped: it is put in NFC form, cut into words by the tokenizer's pre-tokenizer (a word keeps
its leading space), each word's UTF-8 bytes are its first symbols (all 256 bytes are in the
vocabulary, so there is never an ``<unk>``), and the learned merges join neighbouring symbols,
lowest rank first. :func:`replay` does those merges one at a time, as the tokenizer does, and
records each (pair, rank, result, the sequence after it) for the ``tokens`` scene. A token is
shown by :func:`display`: the text its bytes spell, a space as ``·`` (``·fox``), a newline as
``↵``, and a byte that is not a whole character as ``<0xC3>``. GPT-2's byte-level alphabet, in
which the tokenizer writes each byte as a letter (a space ``Ġ``, the two bytes of ``é`` ``Ã©``),
is what :func:`byte_letter` gives.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["BOS", "BYTE_ALPHABET", "EOS", "MIN_BPE_VOCAB", "PAD", "SPECIALS", "TOKEN_RULES", "UNK",
           "BpeError", "EmptySentenceError", "Merge", "Replay", "Tokenized", "Vocab", "bpe_story",
           "byte_letter", "display", "replay", "split", "train_bpe"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)

_DROPPED = re.compile(r"[.,!?;:\"]")
TOKEN_RULES = ("words", "chars", "bpe")
BYTE_ALPHABET = 256  # a byte-level BPE starts from every byte
MIN_BPE_VOCAB = BYTE_ALPHABET + len(SPECIALS) + 1  # the bytes, the specials and one merge


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
    if rule == "bpe":
        raise ValueError("a bpe vocabulary splits text with its tokenizer: use Vocab.encode")
    raise ValueError(f"unknown tokenization rule {rule!r}; choose from {', '.join(TOKEN_RULES)}")


class EmptySentenceError(ValueError):
    """The sentence has no tokens (empty, white space or punctuation only)."""


class BpeError(ValueError):
    """A BPE cannot be learned (vocabulary size, corpus) or read; the message is one line."""


@dataclass(frozen=True)
class Tokenized:
    tokens: tuple[str, ...]  # what the model reads, <unk> included
    ids: tuple[int, ...]
    unknown: tuple[str, ...]  # the original pieces that became <unk>, in order


# ---- byte-level BPE -----------------------------------------------------------------------------

@functools.cache
def _byte_letters() -> tuple[dict[int, str], dict[str, int]]:
    """GPT-2's byte-level alphabet: each byte as a printable letter. Printable Latin-1 bytes
    stand for themselves; the others (controls, space, ...) take the letters from U+0100 on, in
    byte order, so a space is ``Ġ`` and a newline ``Ċ``."""
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    letters, extra = {}, 0
    for b in range(256):
        if b in keep:
            letters[b] = chr(b)
        else:
            letters[b] = chr(256 + extra)
            extra += 1
    return letters, {c: b for b, c in letters.items()}


def to_bytes(symbol: str) -> bytes | None:
    """The bytes a byte-level symbol stands for, or None if it is not one (a special token)."""
    back = _byte_letters()[1]
    try:
        return bytes(back[c] for c in symbol)
    except KeyError:
        return None


def display(symbol: str) -> str:
    """How a byte-level token is shown: the text its bytes spell, a space as ``·`` (``·fox``),
    a newline as ``↵``, a tab as ``→``, and each byte that is not part of a whole printable
    character as ``<0xNN>``. A token that is not byte-level (``<eos>``) is shown as it is."""
    raw = to_bytes(symbol)
    if raw is None or not symbol:
        return symbol
    out, i = [], 0
    while i < len(raw):
        for width in (1, 2, 3, 4):  # the shortest whole character starting here
            try:
                char = raw[i:i + width].decode("utf-8")
            except UnicodeDecodeError:
                continue
            break
        else:
            char, width = None, 1
        if char in _SHOWN:
            out.append(_SHOWN[char])
        elif char is None or unicodedata.category(char) == "Cc":
            out.append("".join(f"<0x{b:02X}>" for b in raw[i:i + width]))
        else:
            out.append(char)
        i += width
    return "".join(out)


_SHOWN = {" ": "·", "\n": "↵", "\t": "→"}


def byte_letter(byte: int) -> str:
    """A byte as GPT-2's byte-level alphabet writes it (the space, ``Ġ`` there, as ``·``)."""
    return "·" if byte == 0x20 else _byte_letters()[0][byte]


def _tokenizers():
    try:
        import tokenizers
    except ImportError:  # pragma: no cover - a runtime dependency
        raise BpeError("the 'tokenizers' package is missing: run 'make setup'") from None
    return tokenizers


def train_bpe(texts, vocab_size: int):
    """A byte-level BPE learned on ``texts`` with Hugging Face ``tokenizers``: every byte plus
    the four special tokens (ids 0-3: ``<pad> <bos> <eos> <unk>``) and merges of pairs seen at
    least twice, until ``vocab_size`` or no pair is left. The special tokens are in the
    vocabulary only: text that spells ``<eos>`` is read as its bytes, never as the token."""
    if vocab_size < MIN_BPE_VOCAB:
        raise BpeError(f"a vocabulary of {vocab_size} is smaller than the byte alphabet: a "
                       f"byte-level BPE needs the {BYTE_ALPHABET} bytes, {len(SPECIALS)} special "
                       f"tokens and at least one merge, so at least {MIN_BPE_VOCAB}")
    tk = _tokenizers()
    tok = tk.Tokenizer(tk.models.BPE())
    tok.normalizer = tk.normalizers.NFC()
    # A prefix space makes a sentence's first word the same token as it is inside a sentence.
    tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = tk.decoders.ByteLevel()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=list(SPECIALS),
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    spec = json.loads(tok.to_str())
    spec["added_tokens"] = []  # see the docstring: the specials are never read from text
    if not spec["model"]["merges"]:
        raise BpeError("the corpus is too small to learn merges: no pair of symbols occurs "
                       "twice; give more sentences")
    return tk.Tokenizer.from_str(json.dumps(spec))


@dataclass(frozen=True)
class Merge:
    """One merge as the tokenizer applies it: in word ``word`` at symbol ``position``, the pair
    (``left``, ``right``) of rank ``rank`` (its place in the merge list, 0 first) becomes
    ``result``; ``after`` is every word's symbols once it is done."""

    word: int
    position: int
    left: str
    right: str
    rank: int
    result: str
    after: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Replay:
    """A text tokenized step by step (byte-level symbols, as the tokenizer writes them; show
    them with :func:`display`)."""

    text: str  # after the normalizer
    words: tuple[str, ...]  # the pre-tokenizer's pieces; a special token is a piece of its own
    initial: tuple[tuple[str, ...], ...]  # each word's first symbols: its bytes
    merges: tuple[Merge, ...]  # in the order applied
    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    whole: tuple[int, ...] = ()  # words taken whole from the vocabulary (ignore_merges, specials)

    def sequence(self, k: int) -> tuple[tuple[str, ...], ...]:
        """Every word's symbols after the first ``k`` merges."""
        return self.initial if k == 0 else self.merges[k - 1].after


@functools.lru_cache(maxsize=8)
def _bpe_tables(spec_json: str) -> tuple[dict, dict, bool, dict]:
    """(rank of each pair, vocabulary, ignore_merges, added tokens) of a tokenizer's JSON."""
    spec = json.loads(spec_json)
    model = spec["model"]
    if model.get("type") != "BPE":
        raise BpeError(f"the tokenizer is not a BPE ({model.get('type')})")
    ranks = {}
    for rank, merge in enumerate(model["merges"]):
        pair = tuple(merge) if isinstance(merge, list) else tuple(merge.split(" ", 1))
        ranks.setdefault(pair, rank)
    added = {t["content"]: t["id"] for t in spec.get("added_tokens") or []}
    return ranks, model["vocab"], bool(model.get("ignore_merges")), added


def replay(tokenizer, text: str) -> Replay:
    """Tokenize ``text`` the way ``tokenizer`` (a byte-level BPE ``tokenizers.Tokenizer``)
    does, one merge at a time: added tokens split out, the normalizer, the pre-tokenizer,
    then in every word the pair of lowest rank, leftmost first, until no pair is in the merge
    list. Words are independent, so the merges of the whole text are taken in that order too
    (the lowest rank over every word, then the leftmost): each word sees its own merges in its
    own order. The result's tokens and ids are the tokenizer's own (the tests check)."""
    ranks, vocab, ignore_merges, added = _bpe_tables(tokenizer.to_str())
    pieces: list[tuple[str, bool]] = []  # (text, is an added token)
    if added:
        pattern = re.compile("|".join(re.escape(a) for a in sorted(added, key=len, reverse=True)))
        at = 0
        for m in pattern.finditer(text):
            pieces += [(text[at:m.start()], False), (m.group(), True)]
            at = m.end()
        pieces.append((text[at:], False))
    else:
        pieces = [(text, False)]
    normal_text, words, whole = [], [], []
    for piece, special in pieces:
        if special:
            whole.append(len(words))
            words.append(piece)
            normal_text.append(piece)
            continue
        if not piece:
            continue
        if tokenizer.normalizer is not None:
            piece = tokenizer.normalizer.normalize_str(piece)
        normal_text.append(piece)
        if tokenizer.pre_tokenizer is not None:
            found = [w for w, _ in tokenizer.pre_tokenizer.pre_tokenize_str(piece)]
        else:
            found = [piece]
        for w in found:
            if ignore_merges and w in vocab:
                whole.append(len(words))
            words.append(w)
    seq = [[w] if i in whole else list(w) for i, w in enumerate(words)]
    initial = tuple(tuple(s) for s in seq)
    merges = []
    while True:
        best = None  # (rank, word, position)
        for w, symbols in enumerate(seq):
            for p in range(len(symbols) - 1):
                rank = ranks.get((symbols[p], symbols[p + 1]))
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, w, p)
        if best is None:
            break
        rank, w, p = best
        left, right = seq[w][p], seq[w][p + 1]
        seq[w][p:p + 2] = [left + right]
        merges.append(Merge(w, p, left, right, rank, left + right, tuple(tuple(s) for s in seq)))
    tokens = tuple(t for s in seq for t in s)
    ids = tuple(added[t] if t in added else vocab[t] for t in tokens)
    return Replay("".join(normal_text), tuple(words), initial, tuple(merges), tokens, ids,
                  tuple(whole))


def _letter(symbol: str) -> str:
    """A first symbol as the byte alphabet writes it: a byte's letter, else (a word taken
    whole) as :func:`display` shows it."""
    raw = to_bytes(symbol)
    return byte_letter(raw[0]) if raw is not None and len(raw) == 1 else display(symbol)


def bpe_story(tokenizer, text: str, itos) -> dict:
    """:meth:`Vocab.story` of a byte-level BPE ``tokenizer`` whose tokens are shown as ``itos``
    (every symbol as :func:`display` writes it; ``letters``: each byte as :func:`byte_letter`)."""
    if not text.strip():
        raise EmptySentenceError("the sentence is empty: give at least one word")
    r = replay(tokenizer, text)
    return {
        "rule": "bpe", "text": r.text,
        "words": [display(w) for w in r.words],
        "bytes": [[display(s) for s in w] for w in r.initial],
        "letters": [[_letter(s) for s in w] for w in r.initial],
        "hex": [[" ".join(f"{b:02X}" for b in (to_bytes(s) or s.encode())) for s in w]
                for w in r.initial],
        "merge_left": [display(m.left) for m in r.merges],
        "merge_right": [display(m.right) for m in r.merges],
        "merge_rank": [m.rank for m in r.merges],
        "merge_result": [display(m.result) for m in r.merges],
        "merge_word": [m.word for m in r.merges],
        "merge_position": [m.position for m in r.merges],
        "after": [[[display(s) for s in w] for w in m.after] for m in r.merges],
        "tokens": [itos[i] for i in r.ids], "ids": list(r.ids),
        "whole": list(r.whole),
        "n_merges": len(_bpe_tables(tokenizer.to_str())[0]),
        "vocab_size": len(itos),
    }


# ---- the vocabulary -----------------------------------------------------------------------------

class Vocab:
    """A fixed list of tokens; the four special tokens come first. ``rule`` splits the text.

    A ``bpe`` vocabulary is made with :meth:`from_tokenizer`: its list is the tokenizer's, in
    id order, each token as :func:`display` shows it.
    """

    def __init__(self, words: list[str] | tuple[str, ...], rule: str = "words"):
        if rule not in TOKEN_RULES:
            raise ValueError(f"unknown tokenization rule {rule!r}; choose from {', '.join(TOKEN_RULES)}")
        if rule == "bpe":
            raise ValueError("a bpe vocabulary is made from its tokenizer: Vocab.from_tokenizer")
        self.rule = rule
        self.tokenizer = None
        self.specials = dict(zip(("pad", "bos", "eos", "unk"), SPECIALS, strict=True))
        words = [w for w in words if w not in SPECIALS]
        self.itos: tuple[str, ...] = SPECIALS + tuple(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("duplicate words in vocabulary")

    @classmethod
    def from_tokenizer(cls, tokenizer, specials: dict[str, str] | None = None) -> Vocab:
        """A ``bpe`` vocabulary holding ``tokenizer`` (a ``tokenizers.Tokenizer``, or its JSON).

        ``specials`` names the tokens of the roles ``pad``, ``bos``, ``eos`` (and ``unk``),
        e.g. ``{"bos": "<|im_start|>", "eos": "<|im_end|>"}`` for a model with its own; by
        default ``<pad> <bos> <eos> <unk>`` where the vocabulary has them.
        """
        if isinstance(tokenizer, str):
            try:
                tokenizer = _tokenizers().Tokenizer.from_str(tokenizer)
            except Exception as exc:
                raise BpeError(f"the tokenizer cannot be read ({type(exc).__name__})") from None
        self = cls.__new__(cls)
        self.rule = "bpe"
        self.tokenizer = tokenizer
        by_id = {i: t for t, i in tokenizer.get_vocab(with_added_tokens=True).items()}
        if sorted(by_id) != list(range(len(by_id))):
            raise BpeError("the tokenizer's ids are not 0..n-1")
        raw = tuple(by_id[i] for i in range(len(by_id)))
        shown, seen = [], set()
        for token in raw:
            label = display(token)
            shown.append(label if label not in seen else token)  # never two alike
            seen.add(shown[-1])
        if len(seen) != len(raw):
            raise BpeError("the tokenizer's tokens cannot be shown apart")
        self.raw = raw
        self.itos = tuple(shown)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        defaults = dict(zip(("pad", "bos", "eos", "unk"), SPECIALS, strict=True))
        chosen = specials if specials is not None else defaults
        self.specials = {role: tok for role, tok in chosen.items() if tok in self.stoi}
        return self

    def to_json(self) -> str:
        """The tokenizer as JSON (what a checkpoint keeps); ``bpe`` only."""
        return self.tokenizer.to_str()

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def _special(self, role: str) -> int:
        try:
            return self.stoi[self.specials[role]]
        except KeyError:
            raise KeyError(f"this vocabulary has no {role} token") from None

    @property
    def pad_id(self) -> int:
        return self._special("pad")

    @property
    def bos_id(self) -> int:
        return self._special("bos")

    @property
    def eos_id(self) -> int:
        return self._special("eos")

    @property
    def unk_id(self) -> int:
        return self._special("unk")

    @property
    def joiner(self) -> str:
        """What goes between tokens when they are written as text: a space, or nothing (chars,
        bpe: a bpe token carries its own leading space)."""
        return " " if self.rule == "words" else ""

    def split(self, text: str) -> list[str]:
        """The pieces of ``text`` under this vocabulary's rule (``bpe``: its tokens)."""
        if self.rule == "bpe":
            return list(self.encode(text).tokens) if text.strip() else []
        return split(text, self.rule)

    def encode(self, text: str) -> Tokenized:
        if self.rule == "bpe":
            if not text.strip():
                raise EmptySentenceError("the sentence is empty: give at least one word")
            ids = tuple(self.tokenizer.encode(text, add_special_tokens=False).ids)
            return Tokenized(tuple(self.itos[i] for i in ids), ids, ())
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

    def text(self, ids) -> str:
        """The text of ``ids`` (bpe: its bytes decoded; else the tokens joined)."""
        if self.rule == "bpe":
            return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)
        return self.joiner.join(self.decode(ids))

    def words(self) -> list[str]:
        """The vocabulary without the special tokens."""
        specials = set(self.specials.values())
        return [w for w in self.itos if w not in specials]

    def story(self, text: str) -> dict:
        """How ``text`` became tokens, as plain JSON-able lists (what the ``tokens`` scene and
        ``trace`` show; every string as :func:`display` writes it).

        ``words``/``chars``: ``text`` (after lower-casing and dropping punctuation), ``pieces``,
        ``known`` (whether each piece is in the vocabulary), ``tokens``, ``ids``,
        ``vocab_size``, and ``example`` (the first unknown piece, else the longest) with its
        UTF-8 bytes (``example_bytes`` as byte-level symbols, ``example_hex``).
        ``bpe``: ``text`` (normalized), ``words`` (the pre-tokenizer's pieces), ``bytes`` (each
        word's first symbols: its bytes, or a special token whole), ``hex`` (their values) and
        ``letters`` (each byte as GPT-2's byte-level letter), then one entry per merge in the
        order applied: ``merge_left``, ``merge_right``, ``merge_rank``, ``merge_result``,
        ``merge_word``, ``merge_position`` and ``after`` (every word's symbols once it is
        done); ``tokens``, ``ids``, ``whole`` (words taken whole), ``n_merges`` (the
        tokenizer's merge list) and ``vocab_size``.
        """
        if self.rule != "bpe":
            pieces = self.split(text)
            t = self.encode(text)
            known = [p in self.stoi and p not in SPECIALS for p in pieces]
            # the piece a byte-level BPE would start from bytes: an unknown one, else the longest
            example = next((p for p, k in zip(pieces, known, strict=True) if not k),
                           max(pieces, key=len))
            letters = _byte_letters()[0]
            raw = example.encode("utf-8")
            return {"rule": self.rule, "text": " ".join(pieces) if self.rule == "words"
                    else "".join(pieces), "pieces": pieces, "known": known,
                    "tokens": list(t.tokens), "ids": list(t.ids), "vocab_size": len(self),
                    "example": example, "example_bytes": [display(letters[b]) for b in raw],
                    "example_hex": [f"{b:02X}" for b in raw]}
        return bpe_story(self.tokenizer, text, self.itos)

    def replay(self, text: str) -> Replay:
        """``text`` tokenized merge by merge (``bpe`` only): see :func:`replay`."""
        if self.rule != "bpe":
            raise ValueError(f"a {self.rule} vocabulary has no merges")
        if not text.strip():
            raise EmptySentenceError("the sentence is empty: give at least one word")
        return replay(self.tokenizer, text)
