"""The autoregressive loop, recorded turn by turn: the decoder writes one word per run.

``translate``: the encoder reads the English sentence once; the decoder input starts as
``<bos>``; each turn runs the real decoder on the input so far, reads the probabilities over
the whole French vocabulary at the newest position, picks a word (the most probable, or a
sample at a temperature) and appends it; until ``<eos>`` or ``max_new`` words. ``lm``: the
same loop continues a prefix (default ``"the early bird"``).

:func:`generate` returns a :class:`~transformer_core.trace.Trace` of one full run of the
decoder on the last turn's input (every usual record name), plus the turns, so every number
is reachable by ``explain.resolve``/``lookup``. Turn ``t`` (0, 1, ...)::

    gen.choice            [turn]               the word id picked at each turn
    gen.position          [turn]               the newest position of each turn's input
    gen.temperature       []                   0 for greedy, else the sampling temperature
    gen.T.logits          [vocab]              logits at the newest position of turn T
    gen.T.probs           [vocab]              softmax of them: what the model predicts
    gen.T.sample_probs    [vocab]              softmax(logits / temperature) (sampling only)
    gen.T.self_attn       [layer, head, T']    masked self-attention row of the newest position
    gen.T.cross_attn      [layer, head, src]   cross-attention row of the newest position
                                               (translate only)

Turn T's input is the first ``gen.position[T] + 1`` entries of ``target_tokens`` (``tokens`` for
``lm``, which start with the prefix); ``T'`` is that length. Because the decoder's
self-attention is causal, turn T's numbers equal row ``gen.position[T]`` of the full run
(``probs``, ``decoder.blocks.L.cross_attn.pattern``, ...): the tests check it.
"""

from __future__ import annotations

import numpy as np
import torch

from .checkpoint import LoadedModel
from .data import LM_DEFAULT, LM_PREFIX
from .records import n_turns, turn_input
from .trace import Trace, resolve_model, tokenize_checked, trace_run

__all__ = ["GenerationError", "default_prefix", "generate", "n_turns", "turn_input"]


class GenerationError(ValueError):
    """Generation options that cannot work (no room for a new word, a negative temperature)."""


def default_prefix(model: str | LoadedModel) -> str:
    """What the loop starts from by default: the sentence to translate, or for a language
    model a prefix to continue: the shipped lm's "the early bird", a model of your own the
    first half of its own default sentence (the shipped prefix would be <unk> to it)."""
    lm = resolve_model(model)
    if lm.cfg.mode == "encdec":
        return lm.default_sentence
    if lm.default_sentence == LM_DEFAULT:
        return LM_PREFIX
    if getattr(lm.tgt_vocab, "rule", "words") == "chars":  # a text of characters
        text = lm.default_sentence
        return text[:max(1, (len(text) + 1) // 2)]
    words = lm.default_sentence.split()
    return " ".join(words[:max(1, (len(words) + 1) // 2)])


def _newest_rows(records: dict[str, torch.Tensor], part: str, n_layers: int) -> np.ndarray:
    """The newest position's attention row of every layer and head.  [layer, head, key]"""
    rows = [records[f"decoder.blocks.{i}.{part}.pattern"][0, :, -1, :] for i in range(n_layers)]
    return torch.stack(rows).numpy().astype(np.float32)


@torch.no_grad()
def generate(model: str | LoadedModel = "translate", sentence: str | None = None, *,
             max_new: int | None = None, temperature: float = 0.0, seed: int = 0) -> Trace:
    """Run the decoder turn by turn from ``<bos>`` (translate) or the prefix (lm), recording
    each turn (see the module docstring); greedy unless ``temperature`` > 0, then sampled
    from softmax(logits / temperature) with ``seed``."""
    lm = resolve_model(model)
    sentence = default_prefix(lm) if sentence is None else sentence
    if temperature < 0 or not np.isfinite(temperature):
        raise GenerationError(f"the temperature must be 0 (greedy) or positive, not {temperature}")
    tok = tokenize_checked(lm, sentence)
    cfg, v = lm.cfg, lm.tgt_vocab
    if cfg.mode == "encdec":
        memory = lm.model.encode(torch.tensor([list(tok.ids)]))  # [1, src, d_model]
        ids = [v.bos_id]
    else:
        memory, ids = None, list(tok.ids)
    room = cfg.max_len - len(ids)  # as model.greedy: the input never outgrows the positions
    if max_new is None:
        max_new = room
    if max_new < 1:
        raise GenerationError(f"max_new must be at least 1, not {max_new}")
    max_new = min(max_new, room)
    rng = np.random.default_rng(seed)
    extra: dict[str, np.ndarray] = {}
    choices, positions = [], []
    for turn in range(max_new):
        records: dict[str, torch.Tensor] = {}  # this turn's decoder run, by trace name
        logits = lm.model.decode(torch.tensor([ids]), memory, records.__setitem__)[0, -1]  # [vocab]
        g = f"gen.{turn}"
        extra[f"{g}.logits"] = logits.numpy().astype(np.float32)
        extra[f"{g}.probs"] = records["probs"][0, -1].numpy().astype(np.float32)
        extra[f"{g}.self_attn"] = _newest_rows(records, "attn", cfg.n_dec_layers)
        if cfg.mode == "encdec":
            extra[f"{g}.cross_attn"] = _newest_rows(records, "cross_attn", cfg.n_dec_layers)
        if temperature > 0:
            p = torch.softmax(logits / temperature, dim=-1).numpy().astype(np.float32)  # [vocab]
            extra[f"{g}.sample_probs"] = p
            p64 = p.astype(np.float64)
            nxt = int(rng.choice(len(p64), p=p64 / p64.sum()))
        else:
            nxt = int(logits.argmax())
        positions.append(len(ids) - 1)
        choices.append(nxt)
        ids.append(nxt)
        if nxt == v.eos_id:
            break
    extra["gen.choice"] = np.array(choices, dtype=np.int64)
    extra["gen.position"] = np.array(positions, dtype=np.int64)
    extra["gen.temperature"] = np.array(float(temperature), dtype=np.float32)
    start = 1 if cfg.mode == "encdec" else len(tok.ids)
    return trace_run(lm, sentence, tok, ids[:-1], ids[start:], extra)
