"""A pretrained model's own byte-level BPE tokenizer, behind the same interface as ``Vocab``.

SmolLM2's vocabulary (49,152 tokens) and merges are stored inside its GGUF file; a Hugging Face
folder has them in ``tokenizer.json``. Either way they become a ``tokenizers.Tokenizer`` (the
GPT-2 byte-level scheme: every byte of the UTF-8 text has a token of its own, so no text is
ever ``<unk>``), split first the way the file says its merges were learned (``smollm``: every
digit alone, then GPT-2's pattern). :class:`BPEVocab` answers what the rest of the code asks a
``Vocab`` (``encode``, ``decode``, ``itos``, ``eos_id``...), with each token written as text:
its bytes decoded, a leading space shown as ``·`` (``·fox``), a newline as ``↵``, a byte that
is only part of a character as ``<0xE2>``.
"""

from __future__ import annotations

import functools

from .tokenizer import EmptySentenceError, Tokenized

__all__ = ["BPEVocab", "bytes_to_unicode", "from_gguf_fields", "show_token"]

# llama.cpp's "smollm" pre-tokenizer: each \p{N} alone, then GPT-2's pattern (which the
# ByteLevel pre-tokenizer applies with use_regex=True).
_SPLITS = {
    "smollm": r"\p{N}",
    "gpt2": None,
    "default": None,
}


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte (bytes that print as themselves keep their
    character; the others are shifted past 255)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@functools.cache
def _unicode_to_bytes() -> dict[str, int]:
    return {c: b for b, c in bytes_to_unicode().items()}


def show_token(piece: str) -> str:
    """A byte-level token as readable text: ``Ġfox`` → ``·fox``, ``Ċ`` → ``↵``; bytes that do
    not form whole UTF-8 characters as ``<0xNN>``; special tokens (``<|im_end|>``) as they are."""
    back = _unicode_to_bytes()
    if not piece or any(c not in back for c in piece):
        return piece
    raw = bytes(back[c] for c in piece)
    out, i = [], 0
    while i < len(raw):  # whole characters as text, a lone byte of a character as <0xNN>
        for width in (1, 2, 3, 4):
            try:
                out.append(raw[i:i + width].decode("utf-8"))
                i += width
                break
            except UnicodeDecodeError:
                continue
        else:
            out.append(f"<0x{raw[i]:02X}>")
            i += 1
    return "".join(out).replace(" ", "·").replace("\n", "↵").replace("\t", "→")


def from_gguf_fields(tokens: list[str], merges: list[str], token_types: list[int],
                     pre: str, special_ids: dict[str, int]):
    """A ``tokenizers.Tokenizer`` from a GGUF file's ``tokenizer.ggml.*`` fields (model
    ``gpt2``). ``special_ids``: bos/eos/unk/padding ids named by the file."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    if pre not in _SPLITS:
        raise ValueError(f"unknown pre-tokenizer {pre!r}")
    vocab = {tok: i for i, tok in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    split = _SPLITS[pre]
    tok.pre_tokenizer = (pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split), behavior="isolated"), byte_level])
        if split else byte_level)
    tok.decoder = decoders.ByteLevel()
    # Control tokens (<|im_start|>, <|endoftext|>...) stay whole wherever they are typed, as
    # in llama.cpp and transformers (which, like us, take only those spelled in the byte
    # alphabet: any other is mislabelled in the file).
    alphabet = set(bytes_to_unicode().values())
    control = [AddedToken(t, special=True, normalized=False)
               for t, kind in zip(tokens, token_types, strict=True)
               if kind == 3 and set(t) <= alphabet]
    tok.add_special_tokens(control)
    return tok


class BPEVocab:
    """A byte-level BPE tokenizer with ``Vocab``'s interface (``rule`` is ``"bpe"``)."""

    rule = "bpe"
    joiner = ""  # tokens written as text follow one another; their spaces are in them

    def __init__(self, tokenizer, eos_id: int, bos_id: int | None = None,
                 pad_id: int | None = None):
        self.tokenizer = tokenizer
        size = tokenizer.get_vocab_size(with_added_tokens=True)
        by_id = tokenizer.get_vocab(with_added_tokens=True)
        pieces = [""] * size
        for piece, i in by_id.items():
            pieces[i] = piece
        self.pieces: tuple[str, ...] = tuple(pieces)  # the tokens as the file spells them
        self.itos: tuple[str, ...] = tuple(show_token(p) for p in pieces)
        self.stoi = {}
        for i, shown in enumerate(self.itos):
            self.stoi.setdefault(shown, i)
        self._eos, self._bos = eos_id, bos_id
        self._pad = eos_id if pad_id is None else pad_id

    @classmethod
    def from_json(cls, text: str, eos_id: int, bos_id: int | None = None,
                  pad_id: int | None = None) -> BPEVocab:
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(text), eos_id, bos_id, pad_id)

    def to_json(self) -> str:
        return self.tokenizer.to_str()

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    @property
    def eos_id(self) -> int:
        return self._eos

    @property
    def bos_id(self) -> int:
        return self._eos if self._bos is None else self._bos

    @property
    def pad_id(self) -> int:
        return self._pad

    @property
    def unk_id(self) -> int:
        raise AttributeError("a byte-level BPE vocabulary has no unknown token")

    def split(self, text: str) -> list[str]:
        return list(self.encode(text).tokens)

    def encode(self, text: str) -> Tokenized:
        """The text's tokens exactly as the model reads them (no BOS added: SmolLM2 adds
        none); never an unknown token."""
        if not text.strip():
            raise EmptySentenceError("the sentence is empty: give at least one word")
        ids = tuple(self.tokenizer.encode(text, add_special_tokens=False).ids)
        return Tokenized(tuple(self.itos[i] for i in ids), ids, ())

    def decode(self, ids) -> list[str]:
        return [self.itos[int(i)] for i in ids]

    def text(self, ids) -> str:
        """The text the ids spell (spaces as spaces)."""
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=False)

    def words(self) -> list[str]:
        return list(self.itos)
