"""The paper's block and today's block on the same sentence: one trace holding both runs.

``lm`` (post-LayerNorm, sinusoidal positions, ReLU, a K/V per head, biases) and ``modern``
(pre-RMSNorm, rotary positions, SwiGLU, grouped-query, no biases) were trained on the same
sentences with the same vocabulary, so a sentence reads the same ids in both. The ``compare``
scene shows them side by side; every number it shows comes from this trace: the modern run's
records as usual, and the paper run's under ``paper.`` (its records ``paper.NAME``, its
parameters ``paper.param.NAME``).
"""

from __future__ import annotations

import numpy as np

from .checkpoint import LoadedModel, load_model
from .records import Trace
from .trace import run_with_trace, trace_run, tokenize_checked

__all__ = ["PAPER", "compare_run"]

PAPER = "paper."


def compare_run(modern: LoadedModel | None = None, sentence: str | None = None,
                paper: LoadedModel | None = None) -> Trace:
    """The ``modern`` model's trace of ``sentence`` with the ``paper`` (lm) model's records
    and parameters added under ``paper.``; both models must share their vocabulary."""
    modern = modern or load_model("modern")
    paper = paper or load_model("lm")
    if paper.tgt_vocab.itos != modern.tgt_vocab.itos:
        raise ValueError("the two models read different vocabularies")
    theirs = run_with_trace(paper, sentence if sentence is not None else modern.default_sentence)
    ours = run_with_trace(modern, theirs.sentence)
    extra = {PAPER + name: np.asarray(theirs[name]) for name in theirs}
    extra.update({f"{PAPER}param.{name}": np.asarray(v) for name, v in theirs.params.items()})
    tok = tokenize_checked(modern, theirs.sentence)
    output = [modern.tgt_vocab.stoi[w] for w in ours.output_tokens]
    return trace_run(modern, theirs.sentence, tok, list(ours.target_ids), output, extra)
