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
    dim                     a dimension number      "dim" (the index is the number)
    REF[h]                  leading indices         "encoder.blocks.0.attn.q[0]"
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
    "matmul_products", "matmul", "scale", "sqrt", "row_max", "softmax_exp", "row_sum",
    "softmax", "column", "FUNCTIONS", "lookup", "resolve", "format_value", "parse_value", "matches",
    "decimals_for",
    "attention_prefix", "n_attention_layers", "worked_example",
    "pe_angle", "concat_heads", "stack_heads", "fold", "standardise", "top_k_ids",
    "block_example", "neg_log", "next_word_targets",
    "target_probs", "onehot", "p_minus_y", "count", "logit_grad", "mean", "norm", "rms",
    "sgd_step", "sgd_update", "VOCAB_COLUMNS", "vocab_window", "take_columns",
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


FUNCTIONS = {f.__name__: f for f in (
    matmul_products, matmul, sqrt, scale, row_max, softmax_exp, row_sum, softmax, column,
    vocab_window, take_columns)}


# ---- sources ------------------------------------------------------------------------------

_CALL = re.compile(r"^explain\.(\w+)\((.*)\)$")
_INDEX = re.compile(r"^(.*)\[([-\d, ]+)\]$")


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
    if source.startswith("config:"):
        return np.asarray(getattr(trace.config, source[len("config:"):]))
    if source in ("tokens", "target_tokens", "output_tokens", "vocab"):
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
    eos = list(trace.vocab).index("<eos>")
    return np.array([*trace.target_ids[1:], eos], dtype=np.int64)


FUNCTIONS.update({f.__name__: f for f in (pe_angle, concat_heads, stack_heads, fold,
                                         standardise, neg_log)})


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
