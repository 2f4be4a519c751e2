"""Your own text as training data: read a corpus file, check it, and size a model for it.

Two kinds of file, both UTF-8 text (a byte-order mark is allowed):

- ``lm``: one sentence per line; the model learns to continue them.
- ``translate``: ``SOURCE<TAB>TARGET`` per line; the model learns to translate.

Blank lines and lines starting with ``#`` are ignored. Each line is tokenized with the rule of
:mod:`transformer_core.tokenizer` (``words``, ``chars``, or ``bpe``: a byte-level BPE learned on
the corpus itself, on both sides of a translation together). The first sentence is the model's
default sentence and always stays in the training part.

Limits (the model stays small enough that every matrix fits on screen):

- at most :data:`MAX_WORDS` different tokens per vocabulary (the special tokens not counted);
  a corpus with more is refused, the message says the limit;
- at most :data:`MAX_TOKENS` tokens in a sentence (and in a translation's source;
  a translation's target has at most ``MAX_TOKENS - 1``: it also needs ``<bos>``/``<eos>``
  within the :data:`MAX_POSITIONS` positions). A longer line is **skipped**, and the result says
  how many lines were skipped and which (the first few line numbers);
- at least 2 sentences, at most :data:`MAX_LINES` lines.

Anything else wrong with the file raises :class:`CorpusError` with a one-line message: a missing
file, a folder, an empty file, a binary file, text that is not UTF-8 (line number given), a TSV
line without a tab (line number given), a line with no words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .tokenizer import SPECIALS, TOKEN_RULES, BpeError, Vocab, split, train_bpe

__all__ = [
    "BPE_VOCAB", "HOLDOUT_FRACTION", "HOLDOUT_MIN_SENTENCES", "KINDS", "MAX_BPE_VOCAB", "MAX_LINES",
    "MAX_POSITIONS", "MAX_TOKENS", "MAX_WORDS", "Corpus", "CorpusError", "read_corpus",
]

KINDS = ("lm", "translate")
MAX_POSITIONS = 12  # the positional table's length: the scenes show a matrix row per position
MAX_TOKENS = MAX_POSITIONS - 1  # an lm sentence needs one more position for <eos>
MAX_WORDS = 1000  # per vocabulary; d_model = 8 numbers cannot keep many more words apart
BPE_VOCAB = 500  # --tokens bpe: the 256 bytes, 4 special tokens and up to 240 merges
MAX_BPE_VOCAB = MAX_WORDS + 260  # at most 1000 tokens beyond the bytes and specials
MAX_LINES = 5000  # training time grows with the corpus; 200 sentences train in well under a minute
HOLDOUT_MIN_SENTENCES = 50  # below this every sentence trains and no held-out accuracy is measured
HOLDOUT_FRACTION = 0.1


class CorpusError(ValueError):
    """The corpus file cannot be used; the message is one line that says why and what to do."""


@dataclass(frozen=True)
class Corpus:
    """A checked corpus: tokenized examples with their line numbers."""

    kind: str  # "lm" or "translate"
    rule: str  # tokenization rule: "words" or "chars"
    path: str
    sha256: str  # of the file's bytes, as `sha256sum FILE` prints it
    sources: tuple[tuple[str, ...], ...]  # lm: the sentences' tokens; translate: the sources'
    targets: tuple[tuple[str, ...], ...] | None  # translate: the targets' tokens; lm: None
    texts: tuple[str, ...]  # each example's line as written (the source side for translate)
    line_numbers: tuple[int, ...]
    skipped: tuple[int, ...] = field(default=())  # line numbers of the lines that were too long
    tokenizer: str | None = None  # bpe: the tokenizer learned on the corpus, as JSON

    def __len__(self) -> int:
        return len(self.sources)

    @property
    def default_sentence(self) -> str:
        """The first sentence: the model's default, always trained on."""
        return self.texts[0]

    def words(self, side: str = "source") -> list[str]:
        """The distinct tokens of one side, in order of first appearance."""
        seqs = self.sources if side == "source" else self.targets
        return list(dict.fromkeys(t for seq in seqs for t in seq))

    @property
    def longest(self) -> int:
        """Positions the longest example needs (with ``<eos>``, and ``<bos>`` for a target)."""
        if self.kind == "lm":
            return max(len(s) for s in self.sources) + 1
        return max(max(len(s) for s in self.sources), max(len(t) for t in self.targets) + 1)

    def skipped_note(self) -> str:
        """One line about the skipped lines, or ``""``."""
        if not self.skipped:
            return ""
        shown = ", ".join(map(str, self.skipped[:5])) + (", ..." if len(self.skipped) > 5 else "")
        return (f"skipped {len(self.skipped)} line{'s' * (len(self.skipped) > 1)} longer than "
                f"{MAX_TOKENS} tokens (line {shown})")


def _text(path: Path) -> tuple[str, bytes]:
    """The file's text and bytes; a missing, empty, binary or non-UTF-8 file is refused."""
    if not path.exists():
        raise CorpusError(f"{path}: no such file")
    if path.is_dir():
        raise CorpusError(f"{path} is a folder: give a text file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise CorpusError(f"{path} is empty: write one sentence per line")
    if b"\0" in raw:
        raise CorpusError(f"{path} is a binary file, not text: give a UTF-8 text file, "
                          "one sentence per line")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise CorpusError(f"{path} is not UTF-8 text (line {line}, byte 0x{raw[exc.start]:02x}): "
                          "save it as UTF-8") from None
    return text, raw


def _tokens(text: str, rule: str, path: Path, number: int, what: str = "") -> tuple[str, ...]:
    tokens = tuple(split(text, rule))
    if not tokens:
        raise CorpusError(f"{path} line {number}: the {what or 'line'} has no words")
    special = [t for t in tokens if t in SPECIALS]
    if special:
        raise CorpusError(f"{path} line {number}: {special[0]} is a special token and cannot "
                          "be a word of the corpus")
    return tokens


def _learn_bpe(path: Path, rows, vocab_size: int | None) -> Vocab:
    """A byte-level BPE learned on every sentence of the corpus (both sides of a translation:
    one shared vocabulary, as in the paper)."""
    texts = [r[2] for r in rows] + [r[3] for r in rows if r[3] is not None]
    if len(rows) < 2:
        raise CorpusError(f"{path} has {'only one sentence' if rows else 'no sentence'}: "
                          "a model needs at least 2 to learn from")
    try:
        return Vocab.from_tokenizer(train_bpe(texts, vocab_size or BPE_VOCAB))
    except BpeError as exc:
        raise CorpusError(f"{path}: {exc}") from None


def read_corpus(path: Path | str, kind: str, rule: str = "words",
                vocab_size: int | None = None) -> Corpus:
    """Read and check a corpus file (see the module docstring); raise :class:`CorpusError`.

    ``rule="bpe"`` learns a byte-level BPE of at most ``vocab_size`` tokens (default
    :data:`BPE_VOCAB`) on the corpus first; the corpus's tokens are then the tokenizer's.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if rule not in TOKEN_RULES:
        raise ValueError(f"unknown tokenization rule {rule!r}; choose from {', '.join(TOKEN_RULES)}")
    path = Path(path)
    text, raw = _text(path)
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise CorpusError(f"{path} has {len(lines)} lines; the limit is {MAX_LINES}: "
                          "use a smaller corpus")
    rows = []  # (line number, the text shown, source text, target text or None)
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if kind == "lm":
            rows.append((number, line, line, None))
            continue
        if "\t" not in line:
            raise CorpusError(f"{path} line {number} has no tab: write SOURCE<TAB>TARGET "
                              "on each line")
        parts = line.split("\t")
        if len(parts) != 2:
            raise CorpusError(f"{path} line {number} has {len(parts) - 1} tabs: write "
                              "SOURCE<TAB>TARGET with one tab")
        if not parts[0].strip() or not parts[1].strip():
            what = "source" if not parts[0].strip() else "target"
            raise CorpusError(f"{path} line {number}: the {what} has no words")
        rows.append((number, parts[0].strip(), parts[0], parts[1]))
    tokenizer = None
    if rule == "bpe":
        tokenizer = _learn_bpe(path, rows, vocab_size)

        def tokens_of(text: str, number: int, what: str = "") -> tuple[str, ...]:
            return tokenizer.encode(text).tokens
    else:
        def tokens_of(text: str, number: int, what: str = "") -> tuple[str, ...]:
            return _tokens(text, rule, path, number, what)
    sources, targets, texts, numbers, skipped = [], [], [], [], []
    for number, shown, src_text, tgt_text in rows:
        if kind == "lm":
            src = tokens_of(src_text, number)
            tgt = None
            too_long = len(src) > MAX_TOKENS
        else:
            src = tokens_of(src_text, number, "source")
            tgt = tokens_of(tgt_text, number, "target")
            too_long = len(src) > MAX_TOKENS + 1 or len(tgt) > MAX_TOKENS
        if too_long:
            skipped.append(number)
            continue
        sources.append(src)
        targets.append(tgt)
        texts.append(shown)
        numbers.append(number)
    if not sources and skipped:
        raise CorpusError(f"{path}: every line is longer than {MAX_TOKENS} tokens: "
                          "use shorter sentences")
    if len(sources) < 2:
        raise CorpusError(f"{path} has {'only one sentence' if sources else 'no sentence'}: "
                          "a model needs at least 2 to learn from")
    corpus = Corpus(
        kind=kind, rule=rule, path=str(path), sha256=hashlib.sha256(raw).hexdigest(),
        sources=tuple(sources), targets=tuple(targets) if kind == "translate" else None,
        texts=tuple(texts), line_numbers=tuple(numbers), skipped=tuple(skipped),
        tokenizer=tokenizer.to_json() if tokenizer is not None else None,
    )
    if rule == "bpe":  # the vocabulary is the tokenizer's, of the size asked for
        return corpus
    for side in ("source", "target") if kind == "translate" else ("source",):
        n = len(corpus.words(side))
        if n > MAX_WORDS:
            unit = "characters" if rule == "chars" else "words"
            where = f" in its {side}s" if kind == "translate" else ""
            raise CorpusError(f"{path} has {n} different {unit}{where}; the limit is {MAX_WORDS} (a model with "
                              "d_model 8 cannot keep more apart): use a smaller corpus")
    return corpus
