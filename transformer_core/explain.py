"""The arithmetic a scene shows, derived from a trace, and the names that say where a number
came from.

A scene never computes maths. When it shows the element-wise products of a worked dot product,
the exponentials of a softmax or a row sum, it asks this module for them; the tests check that
these derived numbers reproduce the trace (the products of ``X · W_Q`` sum to ``Q``, exp / sum
gives the pattern).

Every number on screen is named by a *source* string and an index into the array it names::

    NAME                    a trace record          "encoder.blocks.0.attn.q"
    param:NAME              a parameter             "param:encoder.blocks.0.attn.W_Q"
    config:FIELD            a config field (0-d)    "config:d_head"
    tokens, target_tokens   token labels (str)      "tokens"
    token_ids, target_ids   their vocabulary ids    "token_ids"
    output_tokens, vocab    words (str)             "vocab" (index: a word id)
    input_vocab             words of the first W_E  "input_vocab" (the encoder's for translate)
    dim                     a dimension number      "dim" (the index is the number)
    tok:KEY[.i[.j]]         how the sentence became tokens (``trace.tokenizing``, see
                            ``tokenizer.Vocab.story``)  "tok:merge_rank", "tok:after.3.1"
    N                       an integer literal      "2" (an argument, e.g. a PE column)
    REF[h]                  leading indices         "encoder.blocks.0.attn.q[0]"
    REF[a:b]                rows a to b − 1         "param:encoder.W_E[0:12]"
    REF.T                   a 2-D transpose         "encoder.blocks.0.attn.k[0].T"
    explain.FN(REF, ...)    a function below        "explain.softmax_exp(...masked[0])"

A training step (:mod:`transformer_core.training_step`) adds the backward pass and the update::

    grad.NAME               ∂L/∂ a trace record     "grad.logits"
    grad:NAME               ∂L/∂ a parameter        "grad:W_U"
    step:FIELD              targets, loss, lr, loss_after   "step:loss"
    after:REF               REF after the update    "after:probs", "after:param:W_U"
    init:REF                REF at initialisation   "init:decoder.blocks.0.attn.pattern"

``resolve(trace, source, index)`` returns the value a number claims to show; ``format_value``
writes it the way the screen does and ``parse_value`` reads it back.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

__all__ = [
    "matmul_products", "matmul", "printed_units", "worked_products", "worked_sum", "worked_times",
    "printed_row_sum", "printed_mean", "worked_update", "scale", "sqrt", "row_max", "softmax_exp", "row_sum",
    "softmax", "column", "FUNCTIONS", "lookup", "resolve", "format_value", "parse_value", "matches",
    "decimals_for",
    "attention_prefix", "n_attention_layers", "worked_example",
    "pe_angle", "concat_heads", "stack_heads", "fold", "standardise", "top_k_ids",
    "block_example", "neg_log", "next_word_targets",
    "target_probs", "onehot", "p_minus_y", "count", "logit_grad", "mean", "norm", "rms",
    "sgd_step", "sgd_update", "VOCAB_COLUMNS", "vocab_window", "take_columns",
    "gather_rows", "times", "pe_table", "pe_wave", "embedding_table", "max_positions",
    "cos", "sin", "kv_numbers", "largest_unit", "size", "variance", "rope_distance",
    "rope_freq", "rope_rotate", "rope_shift_scores", "ROPE_SHIFTS", "rms_standardise",
    "silu", "sigmoid",
]

MINUS = "\u2212"  # the typographic minus sign the screen uses
NEG_INF = MINUS + "\u221e"


# ---- derived quantities (float64, from float32 trace arrays) ------------------------------

def matmul_products(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Every term of every dot product of ``a · b``: ``[n, m, k]`` with a[i, k] · b[k, j]."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a[:, None, :] * b.T[None, :, :]  # [n, m, k]


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a · b`` as the sum of its products.  [n, m]"""
    return matmul_products(a, b).sum(axis=-1)


def sqrt(x: np.ndarray) -> np.ndarray:
    """√x, e.g. √d_k."""
    return np.sqrt(np.asarray(x, np.float64))


def scale(scores: np.ndarray, d_k: np.ndarray) -> np.ndarray:
    """scores / √d_k."""
    return np.asarray(scores, np.float64) / sqrt(d_k)


def row_max(x: np.ndarray) -> np.ndarray:
    """The largest finite entry of each row (subtracted before exp; it cancels out).  [n]"""
    x = np.asarray(x, np.float64)
    return np.where(np.isfinite(x), x, -np.inf).max(axis=-1)


def softmax_exp(x: np.ndarray) -> np.ndarray:
    """exp(x − row max): the softmax numerators, in (0, 1]; exp(−∞) = 0.  [n, m]"""
    x = np.asarray(x, np.float64)
    return np.exp(x - row_max(x)[..., None])


def row_sum(x: np.ndarray) -> np.ndarray:
    """Sum of each row.  [n]"""
    return np.asarray(x, np.float64).sum(axis=-1)


def softmax(x: np.ndarray) -> np.ndarray:
    """exp(x − max) divided by its row sum: each row sums to 1.  [n, m]"""
    e = softmax_exp(x)
    return e / row_sum(e)[..., None]


def column(x: np.ndarray) -> np.ndarray:
    """A vector as a one-column matrix, to show it beside a matrix.  [n, 1]"""
    return np.asarray(x, np.float64)[:, None]


VOCAB_COLUMNS = 40  # the most vocabulary columns a picture shows with readable labels


def vocab_window(probs: np.ndarray) -> np.ndarray:
    """The vocabulary ids a picture of all the logits shows: all of them up to
    :data:`VOCAB_COLUMNS`; for a larger vocabulary every position's most probable word, then the
    words most probable at any position, in vocabulary order.  [k]"""
    probs = np.asarray(probs, np.float64)
    n_vocab = probs.shape[-1]
    if n_vocab <= VOCAB_COLUMNS:
        return np.arange(n_vocab)
    chosen = list(dict.fromkeys(int(i) for i in probs.argmax(-1)))
    for i in np.argsort(-probs.max(axis=0), kind="stable"):
        if len(chosen) >= VOCAB_COLUMNS:
            break
        if int(i) not in chosen:
            chosen.append(int(i))
    return np.array(sorted(chosen[:VOCAB_COLUMNS]))


def take_columns(x: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The entries ``ids`` of the last axis of ``x`` (columns of a matrix, words of a list)."""
    return np.take(np.asarray(x), np.asarray(ids, dtype=np.int64), axis=-1)


def printed_units(x: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """Each entry as the screen prints it, in units of the last printed place (an exact
    integer): 2.7134 at 2 decimals is 271.  [same as x]"""
    d = int(decimals)
    x = np.asarray(x, np.float64)
    out = np.vectorize(lambda v: int(round(float(f"{v:.{d}f}") * 10 ** d)), otypes=[np.int64])
    return out(x) if x.size else x.astype(np.int64)


def _half_away(units: np.ndarray, divisor: int) -> np.ndarray:
    """``units / divisor`` rounded to an integer, halves away from zero (as by hand)."""
    units = np.asarray(units, np.int64)
    return np.sign(units) * ((np.abs(units) + divisor // 2) // divisor)


def worked_products(a: np.ndarray, b: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """The terms of ``a · b`` as a worked example writes them: each factor as printed (at
    ``decimals``), multiplied exactly, rounded half away from zero to ``decimals``; so
    "2.71 × 0.20 = 0.54" checks by hand.  [n, m, k]"""
    d = int(decimals)
    pa, pb = printed_units(a, d), printed_units(b, d)
    exact = pa[:, None, :] * pb.T[None, :, :]  # [n, m, k] in units of 10^(-2d)
    return _half_away(exact, 10 ** d) / 10.0 ** d


def worked_sum(a: np.ndarray, b: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """The sum of :func:`worked_products`: what the worked example's sum line adds up to
    (the model's own ``a · b``, from unrounded numbers, can differ in the last place).  [n, m]"""
    d = int(decimals)
    units = np.rint(worked_products(a, b, d) * 10 ** d).astype(np.int64).sum(axis=-1)
    return units / 10.0 ** d


def _exact_fits(a: np.ndarray, da: int, b: np.ndarray, db: int) -> bool:
    """Whether the printed units of a and b, and their products, are exact int64 integers:
    not so for a diverged run (inf, 1e300), whose worked lines are then the model's floats."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    top_a = float(np.abs(a).max(initial=0.0)) * 10.0 ** da + 1
    top_b = float(np.abs(b).max(initial=0.0)) * 10.0 ** db + 1
    return top_a * top_b < 1e18


def worked_times(a: np.ndarray, b: np.ndarray, da: np.ndarray, db: np.ndarray,
                 dp: np.ndarray) -> np.ndarray:
    """a × b element by element as a worked line writes it: a printed at ``da`` decimals, b
    at ``db``, the exact product rounded half away from zero to ``dp`` decimals.  [broadcast]"""
    da, db, dp = int(da), int(db), int(dp)
    if not _exact_fits(a, da, b, db):
        with np.errstate(all="ignore"):
            return np.asarray(a, np.float64) * np.asarray(b, np.float64)
    exact = printed_units(a, da) * printed_units(b, db)  # units of 10^-(da+db)
    if dp >= da + db:
        return exact / 10.0 ** (da + db)
    return _half_away(exact, 10 ** (da + db - dp)) / 10.0 ** dp


def printed_row_sum(x: np.ndarray, decimals: np.ndarray) -> np.ndarray:
    """The sum of each row as printed at ``decimals``: what adding the printed numbers gives
    (rounded softmax weights add to 0.99 or 1.01 as often as to 1.00).  [n]"""
    d = int(decimals)
    return printed_units(x, d).sum(axis=-1) / 10.0 ** d


def printed_mean(x: np.ndarray, decimals: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The mean of all entries as printed at ``decimals``, rounded half away from zero to
    ``out`` decimals (at least ``decimals``).  0-d"""
    d, o = int(decimals), int(out)
    units = printed_units(np.ravel(x), d) * 10 ** (o - d)
    n = len(units)
    return np.asarray(float(_half_away(np.asarray(2 * units.sum()), 2 * n)) / 10.0 ** o)


def worked_update(param: np.ndarray, grad: np.ndarray, lr: np.ndarray, d: np.ndarray,
                  dg: np.ndarray, dlr: np.ndarray) -> np.ndarray:
    """W + (−lr·∇W) as a worked line writes it: the step from the printed lr (``dlr``
    decimals) and gradient (``dg``) rounded to ``d`` decimals, added to W printed at ``d``.
    [same as param]"""
    step = worked_times(-np.asarray(lr, np.float64), grad, dlr, dg, d)
    if not (_exact_fits(param, int(d), 1.0, 0) and _exact_fits(step, int(d), 1.0, 0)):
        with np.errstate(all="ignore"):
            return np.asarray(param, np.float64) + step
    return (printed_units(param, d) + np.rint(step * 10 ** int(d)).astype(np.int64)) / 10.0 ** int(d)


FUNCTIONS = {f.__name__: f for f in (
    matmul_products, matmul, sqrt, scale, row_max, softmax_exp, row_sum, softmax, column,
    vocab_window, take_columns, printed_units, worked_products, worked_sum,
    worked_times, printed_row_sum, printed_mean, worked_update)}


# ---- sources ------------------------------------------------------------------------------

_CALL = re.compile(r"^explain\.(\w+)\((.*)\)$")
_INDEX = re.compile(r"^(.*)\[([-\d, ]+)\]$")
_SLICE = re.compile(r"^(.*)\[(\d+):(\d+)\]$")
_INTEGER = re.compile(r"^-?\d+$")


def _split_args(text: str) -> list[str]:
    """Split on the commas that are not inside brackets or parentheses."""
    args, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
    args.append(text[start:].strip())
    return [a for a in args if a]


def lookup(trace: Any, source: str) -> np.ndarray:
    """The whole array a source string names (see the module docstring)."""
    source = source.strip()
    call = _CALL.match(source)
    if call:
        name, inner = call.groups()
        if name not in FUNCTIONS:
            raise KeyError(f"unknown explain function {name!r}; valid: {', '.join(FUNCTIONS)}")
        return FUNCTIONS[name](*(lookup(trace, a) for a in _split_args(inner)))
    if source.endswith(".T"):
        return lookup(trace, source[:-2]).T
    if _INTEGER.match(source):
        return np.asarray(int(source))
    sliced = _SLICE.match(source)
    if sliced:
        base, start, stop = sliced.groups()
        return lookup(trace, base)[int(start):int(stop)]
    indexed = _INDEX.match(source)
    if indexed:
        base, idx = indexed.groups()
        return lookup(trace, base)[tuple(int(i) for i in idx.split(","))]
    if source.startswith("param:"):
        return trace.param(source[len("param:"):])
    prefix, sep, rest = source.partition(":")
    if sep and prefix in ("grad", "step", "after", "init"):
        if not hasattr(trace, "sub_trace"):
            raise KeyError(f"{source!r} needs a training step (transformer_core.training_step)")
        if prefix == "grad":
            return trace.grad(rest)
        if prefix == "step":
            return trace.step_value(rest)
        return lookup(trace.sub_trace(prefix), rest)
    if source.startswith("tok:"):  # trace.tokenizing: "tok:merge_rank", "tok:after.3.1"
        value = trace.tokenizing
        if value is None:
            raise KeyError("this trace has no tokenization story")
        for part in source[len("tok:"):].split("."):
            value = value[int(part)] if part.isdigit() else value[part]
        if isinstance(value, list) and value and isinstance(value[0], str):
            return np.asarray(value, dtype=object)
        return np.asarray(value)
    if source.startswith("config:"):
        return np.asarray(getattr(trace.config, source[len("config:"):]))
    if source in ("tokens", "target_tokens", "output_tokens", "vocab", "input_vocab"):
        return np.asarray(getattr(trace, source), dtype=object)
    if source in ("token_ids", "target_ids"):
        return np.asarray(getattr(trace, source), dtype=np.int64)
    return trace[source]


def resolve(trace: Any, source: str, index: tuple = ()) -> Any:
    """The value (a float, or a token string) that a number or label on screen claims to show."""
    if source == "dim":
        return float(index[0])
    value = lookup(trace, source)[tuple(index)]
    return value if isinstance(value, str) else float(value)


# ---- writing numbers as the screen does, and reading them back ----------------------------

def format_value(value: float, decimals: int = 2) -> str:
    """Fixed decimals, a real minus sign, −∞ for minus infinity, never "−0.00"."""
    if math.isinf(value):
        return NEG_INF if value < 0 else "\u221e"
    text = f"{abs(value):.{decimals}f}"
    negative = value < 0 and any(c not in "0." for c in text)
    return (MINUS if negative else "") + text


def decimals_for(x: np.ndarray, significant: int = 2, least: int = 2, most: int = 6) -> int:
    """Decimals (between ``least`` and ``most``) that show the largest |x| with ``significant``
    significant digits, e.g. 2 for 0.12 and 4 for 0.0012: tiny gradients stay readable."""
    top = float(np.max(np.abs(np.asarray(x, np.float64)), initial=0.0))
    if not math.isfinite(top) or top == 0.0:
        return least
    return int(min(most, max(least, significant - 1 - math.floor(math.log10(top)))))


def parse_value(text: str) -> float:
    """Read back a number written by :func:`format_value`."""
    text = text.strip().replace(MINUS, "-").replace("\u221e", "inf")
    return float(text)


def matches(text: str, value: float, decimals: int = 2) -> bool:
    """Whether ``text`` shows ``value`` at ``decimals`` places (half a unit in the last place,
    plus float32 slack)."""
    shown = parse_value(text)
    if math.isnan(value) or math.isnan(shown):  # a diverged step is shown as it is: "nan"
        return math.isnan(value) and math.isnan(shown)
    if math.isinf(value) or math.isinf(shown):
        return shown == value
    return abs(shown - value) <= 0.5 * 10.0 ** -decimals + 1e-6 * max(1.0, abs(value))


# ---- where attention lives in a trace -----------------------------------------------------

def n_attention_layers(config: Any) -> int:
    """Self-attention layers of the first stack (the encoder's, or the decoder-only stack)."""
    return config.n_enc_layers if config.mode == "encdec" else config.n_dec_layers


def attention_prefix(config: Any, layer: int) -> str:
    """Trace prefix of the self-attention of ``layer`` in the stack that reads the sentence."""
    n = n_attention_layers(config)
    if not 0 <= layer < n:
        raise IndexError(f"layer {layer} is out of range: this model has {n} (0..{n - 1})")
    stack = "encoder" if config.mode == "encdec" else "decoder"
    return f"{stack}.blocks.{layer}.attn"


def worked_example(trace: Any, prefix: str, head: int) -> dict[str, int]:
    """Which cells a scene works through in full, chosen from the trace.

    ``query``: the query row whose attention is most spread out (largest entropy, so its
    weighted sum mixes several values); ``q_col``: that row's largest-magnitude entry of Q;
    ``key``: the key it attends to most; ``z_col``: the largest-magnitude entry of its Z row.
    """
    pattern = np.asarray(trace[f"{prefix}.pattern"][head], dtype=np.float64)  # [q, k]
    entropy = -(pattern * np.log(np.where(pattern > 0, pattern, 1.0))).sum(axis=1)  # [q]
    qi = int(np.argmax(entropy))
    return {
        "query": qi,
        "q_col": int(np.argmax(np.abs(trace[f"{prefix}.q"][head, qi]))),
        "key": int(np.argmax(pattern[qi])),
        "z_col": int(np.argmax(np.abs(trace[f"{prefix}.z"][head, qi]))),
    }


# ---- the rest of the Transformer: positional encoding, heads, LayerNorm, output ------------

def pe_angle(pos_embed: np.ndarray, d_model: np.ndarray) -> np.ndarray:
    """The angle pos / 10000^(2i/d_model) behind each entry of the positional encoding
    (``pos_embed`` gives the number of positions): PE(pos, 2i) = sin of it, PE(pos, 2i+1) =
    cos of it.  [pos, d_model]"""
    n, d = np.asarray(pos_embed).shape[0], int(d_model)
    pos = np.arange(n, dtype=np.float64)[:, None]  # [pos, 1]
    two_i = (np.arange(d) // 2 * 2).astype(np.float64)[None, :]  # [1, d_model]: 0 0 2 2 4 4 ..
    return pos / np.power(10000.0, two_i / d)


def concat_heads(z: np.ndarray) -> np.ndarray:
    """The heads' outputs side by side: row p is z[0, p] then z[1, p] ...  [pos, head*d_head]"""
    z = np.asarray(z, np.float64)
    return np.concatenate(list(z), axis=-1)


def stack_heads(w: np.ndarray) -> np.ndarray:
    """W_O stored per head [head, d_head, d_model] as the one matrix that multiplies the
    concatenated heads: head 0's rows first.  [head*d_head, d_model]"""
    w = np.asarray(w, np.float64)
    return w.reshape(-1, w.shape[-1])


def fold(x: np.ndarray, width: np.ndarray) -> np.ndarray:
    """A long vector as rows of ``width`` entries, to fit it on screen.  [n/width, width]"""
    return np.asarray(x, np.float64).reshape(-1, int(width))


def standardise(x: np.ndarray, mean: np.ndarray, var: np.ndarray,
                eps: np.ndarray) -> np.ndarray:
    """(x − mean) / √(var + ε), row by row: LayerNorm before its learned γ and β.  [pos, d]"""
    x = np.asarray(x, np.float64)
    mean, var = np.asarray(mean, np.float64), np.asarray(var, np.float64)
    return (x - mean[..., None]) / np.sqrt(var[..., None] + float(eps))


def top_k_ids(probs: np.ndarray, k: int) -> np.ndarray:
    """The ids of the ``k`` most probable words at each position, most probable first
    (ties: the lower id first).  [pos, k]"""
    probs = np.asarray(probs, np.float64)
    return np.argsort(-probs, axis=-1, kind="stable")[..., :k]


def block_example(trace: Any, prefix: str, head: int) -> dict[str, int]:
    """Which cells the block scene works through: ``row`` is the word of the attention
    scene's worked example (:func:`worked_example`); ``out_col`` its largest-magnitude entry
    of the attention output (concat · W_O)."""
    row = worked_example(trace, prefix, head)["query"]
    return {"row": row, "out_col": int(np.argmax(np.abs(trace[f"{prefix}.out"][row])))}


def neg_log(p: np.ndarray) -> np.ndarray:
    """−log p: the cross-entropy loss of a position whose target word has probability p."""
    with np.errstate(divide="ignore"):
        return -np.log(np.asarray(p, np.float64))


def next_word_targets(trace: Any) -> np.ndarray:
    """The word id each decoder position is trained to predict: the decoder's input shifted
    left by one, then <eos> (teacher forcing: ``<bos> jane ...`` is trained on
    ``jane ... <eos>``).  [pos]"""
    vocab = list(trace.vocab)
    # a pretrained BPE vocabulary ends a text with its own token (GPT-2 style)
    eos = vocab.index("<eos>" if "<eos>" in vocab else "<|endoftext|>")
    return np.array([*trace.target_ids[1:], eos], dtype=np.int64)


# ---- words → ids → rows of W_E, and the positional encoding as a picture ----------------

def gather_rows(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The rows of ``table`` (W_E) at ``ids``, in order: the sentence's embeddings before the
    √d_model scaling.  [pos, d_model]"""
    return np.asarray(table, np.float64)[np.asarray(ids, np.int64).reshape(-1)]


def times(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a × b element by element (a scalar ``b`` scales every entry), e.g. rows × √d_model."""
    return np.asarray(a, np.float64) * np.asarray(b, np.float64)


def pe_table(max_len: np.ndarray, d_model: np.ndarray) -> np.ndarray:
    """The sinusoidal positional encoding of every position the model reads:
    PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(same).  [max_len, d_model]"""
    angle = pe_angle(np.zeros((int(max_len), 1)), d_model)  # [max_len, d_model]
    even = (np.arange(int(d_model)) % 2 == 0)[None, :]  # [1, d_model]
    return np.where(even, np.sin(angle), np.cos(angle))


WAVE_SAMPLES = 16  # curve samples per position step: smooth at any frame size


def pe_wave(max_len: np.ndarray, d_model: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Column ``column`` of the positional encoding as a continuous wave over positions
    0 … max_len − 1, sampled WAVE_SAMPLES times per position: rows are (pos, PE(pos, column))
    with pos real, so at whole positions it equals :func:`pe_table`.  [samples, 2]"""
    d, col = int(d_model), int(column)
    pos = np.linspace(0.0, int(max_len) - 1, (int(max_len) - 1) * WAVE_SAMPLES + 1)  # [samples]
    angle = pos / np.power(10000.0, (col // 2 * 2) / d)
    return np.stack([pos, np.sin(angle) if col % 2 == 0 else np.cos(angle)], axis=1)


def embedding_table(trace: Any, stack: str) -> tuple[str, str, str]:
    """Sources of ``stack``'s embedding: (its W_E, the vocabulary naming W_E's rows, the ids of
    the tokens it reads)."""
    if stack == "encoder" or trace.config.mode == "decoder":
        return f"param:{stack}.W_E", "input_vocab", "token_ids"
    return "param:decoder.W_E", "vocab", "target_ids"


def max_positions(config: Any) -> int:
    """The longest sentence the model reads, in tokens (a decoder-only model keeps one of its
    positions for the word it predicts)."""
    return config.max_len - (1 if config.mode == "decoder" else 0)


FUNCTIONS.update({f.__name__: f for f in (pe_angle, concat_heads, stack_heads, fold,
                                         standardise, neg_log, gather_rows, times, pe_table,
                                         pe_wave)})


# ---- today's block: rotary positions, RMSNorm, SwiGLU ---------------------------------------

def cos(x: np.ndarray) -> np.ndarray:
    """cos x (radians)."""
    return np.cos(np.asarray(x, np.float64))


def sin(x: np.ndarray) -> np.ndarray:
    """sin x (radians)."""
    return np.sin(np.asarray(x, np.float64))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^(−x))."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU(x) = x · sigmoid(x), the gate's activation in SwiGLU."""
    x = np.asarray(x, np.float64)
    return x * sigmoid(x)


def rms_standardise(x: np.ndarray, rms: np.ndarray) -> np.ndarray:
    """x / rms, row by row: RMSNorm before its learned γ.  [pos, d]"""
    return np.asarray(x, np.float64) / np.asarray(rms, np.float64)[..., None]


def rope_rotate(x: np.ndarray, pos: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """One row ``x`` [d_head] rotated as at position ``pos``: each pair (x_i, x_{i+d/2}) turned
    by pos · theta^(−2i/d) (Hugging Face Llama's pairing).  [d_head]"""
    x = np.asarray(x, np.float64)
    half = x.shape[-1] // 2
    angle = float(pos) * np.power(float(theta), -np.arange(0, 2 * half, 2) / (2 * half))
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * np.cos(angle) - b * np.sin(angle),
                           a * np.sin(angle) + b * np.cos(angle)], axis=-1)


def rope_freq(theta: np.ndarray, d_head: np.ndarray) -> np.ndarray:
    """θ_i = theta^(−2i/d_head): the angle each pair i turns per position.  [d_head/2]"""
    d = int(d_head)
    return np.power(float(theta), -np.arange(0, d, 2, dtype=np.float64) / d)


ROPE_SHIFTS = (0, 1, 3, 5)  # how far the pair of words is moved along the sentence


def rope_shift_scores(q: np.ndarray, k: np.ndarray, m: np.ndarray, n: np.ndarray,
                      theta: np.ndarray) -> np.ndarray:
    """The score of query row ``q`` at position m + s with key row ``k`` at n + s, for each
    shift s of ROPE_SHIFTS (the same words moved along the sentence: the same score, since
    only the distance m − n enters), then once with the query one place further (distance
    changed: another score). Rows: (query position, key position, score).  [len + 1, 3]"""
    m, n = int(m), int(n)
    pairs = [(m + s, n + s) for s in ROPE_SHIFTS] + [(m + 1, n)]
    return np.array([(a, b, float(rope_rotate(q, a, theta) @ rope_rotate(k, b, theta)))
                     for a, b in pairs])


def largest_unit(x: np.ndarray) -> int:
    """The index of the largest-magnitude entry of a vector: the unit a scene works through."""
    return int(np.argmax(np.abs(np.asarray(x, np.float64))))


def size(x: np.ndarray) -> np.ndarray:
    """The number of entries of an array, e.g. the weights of a matrix.  0-d"""
    return np.asarray(float(np.asarray(x).size))


def variance(x: np.ndarray) -> np.ndarray:
    """The (biased) variance of all entries, as LayerNorm computes it per row.  0-d"""
    return np.asarray(np.asarray(x, np.float64).var())


def kv_numbers(kv_heads: np.ndarray, d_head: np.ndarray) -> np.ndarray:
    """Numbers one word keeps in one layer's KV cache: a key and a value of d_head for each
    K/V head, 2 · kv_heads · d_head.  0-d"""
    return np.asarray(2.0 * float(kv_heads) * float(d_head))


def rope_distance(table: np.ndarray) -> np.ndarray:
    """Query position − key position of each row of a :func:`rope_shift_scores` table.  [rows]"""
    table = np.asarray(table, np.float64)
    return table[:, 0] - table[:, 1]


FUNCTIONS.update({f.__name__: f for f in (cos, sin, sigmoid, silu, rms_standardise, rope_distance,
                                         kv_numbers, size, variance,
                                         rope_rotate, rope_shift_scores, rope_freq)})


# ---- one training step: the loss, its gradient at the logits, the update -----------------

def target_probs(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The probability each position gives its target word: probs[i, targets[i]].  [pos]"""
    probs = np.asarray(probs, np.float64)
    targets = np.asarray(targets).astype(np.int64)
    return probs[np.arange(len(targets)), targets]


def onehot(targets: np.ndarray, width: np.ndarray) -> np.ndarray:
    """y: 1 in each position's target column, 0 elsewhere.  [pos, width]"""
    targets = np.asarray(targets).astype(np.int64)
    y = np.zeros((len(targets), int(width)))
    y[np.arange(len(targets)), targets] = 1.0
    return y


def p_minus_y(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """p − y: the probabilities minus the one-hot targets (p − 1 in each target's column).
    [pos, vocab]"""
    probs = np.asarray(probs, np.float64)
    return probs - onehot(targets, probs.shape[-1])


def count(x: np.ndarray) -> np.ndarray:
    """The number of rows, e.g. T, the number of positions the loss averages over.  0-d"""
    return np.asarray(float(len(x)))


def logit_grad(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """∂L/∂logits of the mean cross-entropy over T positions: (p − y) / T.  [pos, vocab]"""
    return p_minus_y(probs, targets) / float(count(probs))


def mean(x: np.ndarray) -> np.ndarray:
    """The mean of all entries, e.g. of −log p: the loss.  0-d"""
    return np.asarray(np.asarray(x, np.float64).mean())


def norm(x: np.ndarray) -> np.ndarray:
    """‖x‖: the square root of the sum of squares of all entries.  0-d"""
    x = np.asarray(x, np.float64)
    return np.asarray(np.sqrt((x * x).sum()))


def rms(x: np.ndarray) -> np.ndarray:
    """The typical size of one entry: ‖x‖ / √(number of entries).  0-d"""
    x = np.asarray(x, np.float64)
    return np.asarray(np.sqrt((x * x).mean()))


def sgd_step(grad: np.ndarray, lr: np.ndarray) -> np.ndarray:
    """−lr·∇W: how far one step of gradient descent moves each weight.  [same as grad]"""
    return -float(lr) * np.asarray(grad, np.float64)


def sgd_update(param: np.ndarray, grad: np.ndarray, lr: np.ndarray) -> np.ndarray:
    """W − lr·∇W: the weight after one step of gradient descent.  [same as param]"""
    return np.asarray(param, np.float64) + sgd_step(grad, lr)


FUNCTIONS.update({f.__name__: f for f in (target_probs, onehot, p_minus_y, count, logit_grad,
                                         mean, norm, rms, sgd_step, sgd_update)})
# ---- what a head does: read from its attention pattern --------------------------------------

def strongest_keys(pattern: np.ndarray) -> np.ndarray:
    """The key each query attends to most (ties: the lower key).  [..., q]"""
    return np.argmax(np.asarray(pattern, np.float64), axis=-1)


FUNCTIONS["strongest_keys"] = strongest_keys

# A rule must hold for at least this share of the words that can choose to describe a head.
HEAD_RULE_SHARE = 0.6
# Below this average largest weight a head spreads its attention rather than picking a word.
HEAD_SPREAD_MAX = 0.4


def _longest_increasing(keys: list[int]) -> int:
    """Length of the longest strictly increasing subsequence of ``keys``."""
    best: list[int] = []
    for k in keys:
        i = int(np.searchsorted(best, k, side="left"))
        best[i:i + 1] = [k]
    return len(best)


def head_summary(pattern: np.ndarray, mask: np.ndarray | None = None,
                 cross: bool = False) -> dict[str, Any]:
    """What one head does with this sentence, from its pattern ``[q, k]``.

    Only queries that can choose count (a causal first word can see only itself). For each
    rule, ``count`` of ``of`` queries follow it: ``self`` (its own position), ``previous``,
    ``next``, ``first`` (key 0), ``fixed`` (one key, the most common strongest one) or, for
    cross-attention, ``in_order`` (the longest run of queries whose strongest keys move
    right). The rule followed by the largest share wins if that share reaches
    ``HEAD_RULE_SHARE``; ``spread`` when the largest weight averages under ``HEAD_SPREAD_MAX``;
    else ``mixed``. ``key``: the key of ``first``/``fixed``; ``query`` → ``link_key`` with
    ``weight``: the strongest link of all (for ``mixed``); ``mean_max``: the average largest
    weight.
    """
    p = np.asarray(pattern, np.float64)  # [q, k]
    allowed = np.ones(p.shape, bool) if mask is None else np.asarray(mask, bool)
    queries = [q for q in range(p.shape[0]) if allowed[q].sum() > 1]
    strongest = strongest_keys(p)  # [q]
    rows = queries or list(range(p.shape[0]))
    links = np.full(p.shape, -1.0)
    links[rows] = np.where(allowed, p, -1.0)[rows]  # [q, k]: the weights that count
    top_query, link_key = (int(i) for i in np.unravel_index(int(np.argmax(links)), p.shape))
    out: dict[str, Any] = {
        "kind": "forced", "count": 0, "of": 0, "key": None, "query": top_query,
        "link_key": link_key, "weight": float(p[top_query, link_key]),
        "mean_max": float(p[rows].max(axis=1).mean()),
    }
    if not queries:
        return out
    rules: list[tuple[str, int, int, int | None]] = []  # kind, count, of, key
    if cross:
        ordered = _longest_increasing([int(strongest[q]) for q in queries])
        rules.append(("in_order", ordered, len(queries), None))
    else:
        rules.append(("previous", sum(strongest[q] == q - 1 for q in queries if q >= 1),
                      sum(q >= 1 for q in queries), None))
        rules.append(("self", sum(strongest[q] == q for q in queries), len(queries), None))
        nxt = [q for q in queries if allowed[q, q + 1:].any()]
        rules.append(("next", sum(strongest[q] == q + 1 for q in nxt), len(nxt), None))
    rules.append(("first", sum(strongest[q] == 0 for q in queries), len(queries), 0))
    values, counts = np.unique([int(strongest[q]) for q in queries], return_counts=True)
    common = int(values[np.argmax(counts)])
    if common != 0:
        rules.append(("fixed", int(counts.max()), len(queries), common))
    kind, count, of, key = max(rules, key=lambda r: r[1] / r[2] if r[2] else 0.0)  # first wins ties
    if out["mean_max"] < HEAD_SPREAD_MAX:
        out.update(kind="spread", count=0, of=len(queries))
    elif of and count / of >= HEAD_RULE_SHARE:
        out.update(kind=kind, count=int(count), of=int(of), key=key)
    else:
        out.update(kind="mixed", count=0, of=len(queries))
    return out


def _quoted(token: str) -> str:
    return f"\u201c{token}\u201d"


# A named behaviour is named when its keys get more than half the weight of at least a third
# of the queries it applies to and of at least two (sink, previous word), or of at least half
# of them (same word, copying: few queries repeat a word).
HEAD_NAME_WEIGHT = 0.5
HEAD_NAME_SHARE = 1 / 3


def head_behaviours(pattern: np.ndarray, tokens, mask: np.ndarray | None = None
                    ) -> list[tuple[str, int, int]]:
    """The behaviours of a self-attention head that interpretability names, each as
    ``(name, count, of)``: ``count`` of the ``of`` queries it applies to give its keys more
    than :data:`HEAD_NAME_WEIGHT` of their weight (see the thresholds above). ``sink``: the
    first token (queries after it); ``previous``: the word just before; ``same``: other
    positions of the same word (queries whose word appears there); ``copy``: the word that
    followed an earlier occurrence of the query's word (an induction or copying head). Only
    queries that can choose count."""
    p = np.asarray(pattern, np.float64)  # [q, k]
    allowed = np.ones(p.shape, bool) if mask is None else np.asarray(mask, bool)
    queries = [q for q in range(p.shape[0]) if allowed[q].sum() > 1]
    tokens = [str(t) for t in tokens]
    found = []

    def count(name, weights):
        hits = sum(w > HEAD_NAME_WEIGHT for w in weights)
        few = name in ("same", "copy")
        if hits >= (1 if few else 2) and hits >= (0.5 if few else HEAD_NAME_SHARE) * len(weights):
            found.append((name, int(hits), len(weights)))

    count("sink", [p[q, 0] for q in queries if q >= 1 and allowed[q, 0]])
    count("previous", [p[q, q - 1] for q in queries if q >= 2 and allowed[q, q - 1]])
    sink = bool(found and found[0][0] == "sink")
    same, copy = [], []
    for q in queries:
        # with a sink, weight on the first token is the sink's, not a same-word or copy link
        keys = [k for k in range(p.shape[1]) if allowed[q, k] and k != q and not (sink and k == 0)]
        twins = [k for k in keys if tokens[k] == tokens[q]]
        if twins:
            same.append(p[q, twins].sum())
        after = [k for k in keys if k >= 1 and k - 1 != q and tokens[k - 1] == tokens[q]]
        if after:
            copy.append(p[q, after].sum())
    count("same", same)
    count("copy", copy)
    return found


def _behaviour_words(found, tokens, noun: str) -> str:
    def says(name, c, n):
        half = "give over half their weight to"
        return {"sink": f"{c} of the {n} later {noun}s {half} the first, "
                        f"{_quoted(str(tokens[0]))} (a sink)",
                "previous": f"{c} of {n} {noun}s {half} the previous {noun}",
                "same": f"{c} of the {n} repeated {noun}s {half} the same {noun} elsewhere",
                "copy": f"{c} of the {n} {noun}s seen before {half} what followed them "
                        "then (copying)"}[name]

    return "; ".join(says(*b) for b in found)


def _twins_are_first(tokens) -> bool:
    """Whether every repeated word of ``tokens`` repeats the first one (so looking at "the
    same word" is looking at the first word, already said)."""
    tokens = [str(t) for t in tokens]
    repeated = {t for t in tokens if tokens.count(t) > 1}
    return repeated <= {tokens[0]}


def describe_head(pattern: np.ndarray, query_tokens, key_tokens, mask: np.ndarray | None = None,
                  cross: bool = False, query_noun: str = "word", key_noun: str = "word") -> str:
    """One line that says what a head does in this sentence, from :func:`head_summary`, e.g.
    "4 of 5 words attend most to the previous word"."""
    s = head_summary(pattern, mask, cross)
    kind, count, of = s["kind"], s["count"], s["of"]
    n_rows = np.asarray(pattern).shape[0]
    # a causal first query sees only itself: the count leaves it out, and says so
    words = (f"{count} of {of} {query_noun}s" if of == n_rows else
             f"{count} of the {of} {query_noun}s that can choose")
    found = [] if cross else head_behaviours(pattern, key_tokens, mask)
    named = {n for n, *_ in found}
    line = _describe(s, kind, words, query_tokens, key_tokens, query_noun, key_noun)
    extra = [b for b in found if not (b[0] == "previous" and kind == "previous")
             and not (b[0] == "sink" and kind == "first")
             and not (b[0] == "same" and kind == "first" and _twins_are_first(key_tokens))]
    if kind == "mixed" and named:
        return _behaviour_words(found, key_tokens, key_noun)
    return f"{line}; {_behaviour_words(extra, key_tokens, key_noun)}" if extra else line


def _describe(s, kind, words, query_tokens, key_tokens, query_noun, key_noun) -> str:
    count, of = s["count"], s["of"]
    if kind == "forced":
        return f"each {query_noun} can only attend to itself"
    if kind == "self":
        return f"{words} attend most to themselves"
    if kind in ("previous", "next"):
        return f"{words} attend most to the {kind} {key_noun}"
    if kind == "first":
        return f"{words} attend most to the first {key_noun}, {_quoted(key_tokens[0])}"
    if kind == "fixed":
        return f"{words} attend most to {_quoted(key_tokens[s['key']])}"
    if kind == "in_order":
        return f"aligns {query_noun}s with {key_noun}s in order ({count} of {of} on one left-to-right path)"
    if kind == "spread":
        return (f"spreads its attention over several {key_noun}s "
                f"(the largest weight averages {format_value(s['mean_max'])})")
    return (f"no single rule; its strongest link is {_quoted(query_tokens[s['query']])} \u2192 "
            f"{_quoted(key_tokens[s['link_key']])}")


def attention_views(config: Any) -> list[dict[str, Any]]:
    """Every attention of a model, in reading order: ``prefix`` (trace name), ``kind``
    (``encoder`` self-attention, ``masked`` decoder self-attention, ``cross``-attention, or the
    decoder-only model's ``causal`` self-attention) and ``layer``."""
    views = []
    if config.mode == "encdec":
        views += [{"prefix": f"encoder.blocks.{i}.attn", "kind": "encoder", "layer": i}
                  for i in range(config.n_enc_layers)]
        views += [{"prefix": f"decoder.blocks.{i}.attn", "kind": "masked", "layer": i}
                  for i in range(config.n_dec_layers)]
        views += [{"prefix": f"decoder.blocks.{i}.cross_attn", "kind": "cross", "layer": i}
                  for i in range(config.n_dec_layers)]
    else:
        views += [{"prefix": f"decoder.blocks.{i}.attn", "kind": "causal", "layer": i}
                  for i in range(config.n_dec_layers)]
    return views


def links_above(pattern: np.ndarray, floor: float) -> list[tuple[int, int]]:
    """The (query, key) pairs whose weight is at least ``floor``: the lines a head view
    draws (fainter ones would be invisible).  [(q, k), ...]"""
    q, k = np.nonzero(np.asarray(pattern, np.float64) >= floor)
    return [(int(a), int(b)) for a, b in zip(q, k, strict=True)]


__all__ += ["strongest_keys", "head_summary", "describe_head", "HEAD_RULE_SHARE", "HEAD_SPREAD_MAX",
            "HEAD_NAME_WEIGHT", "HEAD_NAME_SHARE", "head_behaviours",
            "attention_views", "links_above"]


def rest_mass(probs: np.ndarray, k: np.ndarray) -> np.ndarray:
    """At each position, the probability of every word but the ``k`` most probable: the rest
    of the vocabulary's total mass, 1 − (sum of the top k).  [pos, 1]"""
    probs = np.asarray(probs, np.float64)
    top = np.take_along_axis(probs, top_k_ids(probs, int(k)), axis=-1)
    return (probs.sum(-1) - top.sum(-1))[..., None]


FUNCTIONS["rest_mass"] = rest_mass
