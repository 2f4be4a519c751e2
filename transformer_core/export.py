"""Write a Trace out (JSON, npz, or a readable summary) so every number can be redone by hand.

A :class:`~transformer_core.training_step.TrainingTrace` (``trace --grad``) adds, beside
``records`` (which then include the ``grad.NAME`` records) and ``params``: ``grads`` (∂L/∂ every
parameter, same names and shapes as ``params``) and ``step`` (``targets``, ``target_words``,
``loss``, ``lr``, ``loss_after``, ``loss_went_up``, ``params_after``). In an npz the gradients
are ``grad:NAME``, the updated parameters ``after:param:NAME``, the targets ``step:targets``
and the rest of ``step`` is in ``meta``. A plain trace is written exactly as before.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .files import atomic_write
from .records import Trace

__all__ = ["BIG_PARAMS", "custom_checkpoint", "exports_params", "printable", "summary", "to_dict", "to_json",
           "write_npz"]


def printable(text: str) -> str:
    """``text`` as it is, or escaped like a Python string if it holds control characters
    (a newline, an escape sequence) that a terminal would act on."""
    return text if text.isprintable() else repr(text)[1:-1]


def custom_checkpoint(trace: Trace) -> str | None:
    """The checkpoint file of a model that is not a shipped one (nor the installed smollm2
    file), else None."""
    from .runs import checkpoint_file

    if trace.checkpoint is None or Path(trace.checkpoint) == checkpoint_file(trace.model_name):
        return None
    return trace.checkpoint


def _plain(x: np.ndarray):
    """Nested lists; -inf/inf/nan become the strings "-inf"/"inf"/"nan" (JSON has no infinity)."""
    if x.dtype == np.bool_:
        return x.tolist()

    def conv(v):
        if isinstance(v, list):
            return [conv(i) for i in v]
        return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))

    return conv(x.astype(np.float64).tolist())


def _meta(trace: Trace) -> dict:
    return {
        "model": trace.model_name,
        "sentence": trace.sentence,
        "tokens": list(trace.tokens),
        "token_ids": list(trace.token_ids),
        "target_tokens": list(trace.target_tokens),
        "target_ids": list(trace.target_ids),
        "output": trace.output_text,
        "unknown_words": list(trace.unknown),
        "config": trace.config.to_dict(),
        "vocab": list(trace.vocab),
        "input_vocab": list(trace.input_vocab),
        "tokenization": trace.tokenization,
        "tokenizing": trace.tokenizing,
        "checkpoint": custom_checkpoint(trace),
    }


def _step_meta(trace) -> dict:
    """The scalars of a training step (JSON-ready)."""
    return {
        "targets": list(trace.targets),
        "target_words": [trace.vocab[i] for i in trace.targets],
        "loss": trace.loss,
        "lr": trace.lr,
        "loss_after": trace.loss_after,
        "loss_went_up": trace.loss_went_up,
    }


def _arrays(mapping) -> dict:
    return {name: {"shape": list(arr.shape), "data": _plain(arr)} for name, arr in mapping.items()}


BIG_PARAMS = 10_000_000  # numbers; more are exported only when asked for (--params)


def exports_params(trace: Trace, asked: bool | None) -> bool:
    """Whether an export holds the parameters: as asked, else only a small model's (SmolLM2's
    135 million would be 538 MB of npz or several GB of JSON, for every sentence)."""
    return asked if asked is not None else _n_params(trace) <= BIG_PARAMS


def _n_params(trace: Trace) -> int:
    shapes = getattr(trace.params, "shapes", None)
    if shapes is not None:  # stored in the weights file: counted without reading it
        return sum(int(np.prod(s)) for s in shapes.values())
    return sum(int(np.size(a)) for a in trace.params.values())


def to_dict(trace: Trace, params: bool | None = None) -> dict:
    """Metadata, ``records`` and ``params`` (and ``grads``, ``step`` for a training step);
    ``params`` None: a big model's parameters are left out (their names and shapes stay)."""
    out = _meta(trace)
    out["records"] = _arrays(trace)
    if exports_params(trace, params):
        out["params"] = _arrays(trace.params)
    else:
        out["params_left_out"] = _left_out(trace)
    if hasattr(trace, "grads"):
        out["grads"] = _arrays(trace.grads)
        out["step"] = {**_step_meta(trace), "params_after": _arrays(trace.params_after)}
    return out


def _left_out(trace: Trace) -> dict:
    shapes = getattr(trace.params, "shapes", None)
    shapes = shapes or {k: np.shape(v) for k, v in trace.params.items()}
    return {"why": f"{_n_params(trace):,} numbers: export them with --params",
            "shapes": {k: list(v) for k, v in shapes.items()}}


def to_json(trace: Trace, params: bool | None = None) -> str:
    return json.dumps(to_dict(trace, params), indent=1)


def write_npz(trace: Trace, path: Path, params: bool | None = None) -> None:
    """Records under their names, parameters under ``param:<name>`` (a big model's only with
    ``params``), metadata as JSON text (a training step: also ``grad:<name>``,
    ``after:param:<name>``, ``step:targets``)."""
    arrays = dict(trace.items())
    meta = _meta(trace)
    if exports_params(trace, params):
        arrays.update({f"param:{k}": v for k, v in trace.params.items()})
    else:
        meta["params_left_out"] = _left_out(trace)
    if hasattr(trace, "grads"):
        arrays.update({f"grad:{k}": v for k, v in trace.grads.items()})
        arrays.update({f"after:param:{k}": v for k, v in trace.params_after.items()})
        arrays["step:targets"] = np.asarray(trace.targets, np.int64)
        meta["step"] = _step_meta(trace)
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write(path, writer=lambda fh: np.savez(fh, **arrays))


def merges_summary(story: dict | None, most: int = 60) -> list[str]:
    """A BPE's merges on the sentence, one line each (pair, rank, result), at most ``most``."""
    if not story or story.get("rule") != "bpe":
        return []
    n = len(story["merge_rank"])
    lines = [f"bpe:      {len(story['words'])} words, {sum(map(len, story['bytes']))} bytes, "
             f"{n} merges (of the tokenizer's {story['n_merges']}), {len(story['tokens'])} "
             f"tokens; · is a space"]
    for k in range(min(n, most)):
        lines.append(f"  merge {k + 1:>3}: {printable(story['merge_left'][k])} + "
                     f"{printable(story['merge_right'][k])} -> "
                     f"{printable(story['merge_result'][k])}   (rank {story['merge_rank'][k]})")
    if n > most:
        lines.append(f"  ... and {n - most} more (--json lists them all)")
    return lines


def summary(trace: Trace) -> str:
    """A readable overview: tokens, the model's output, and every record with its shape."""
    lines = [f"model:    {trace.model_name}"]
    if custom_checkpoint(trace):
        lines.append(f"checkpoint: {printable(custom_checkpoint(trace))} "
                     f"(tokenized as {trace.tokenization})")
    lines += [
        f"sentence: {printable(trace.sentence)}",
        f"tokens:   {printable(' '.join(trace.tokens))}",
        f"ids:      {' '.join(map(str, trace.token_ids))}",
    ]
    lines += merges_summary(trace.tokenizing)
    if "gen.choice" in trace:
        how = ("greedy" if float(trace["gen.temperature"]) == 0 else
               f"sampled at temperature {float(trace['gen.temperature']):g}"
               + (f", top-k {int(trace['gen.top_k'])}" if int(trace["gen.top_k"]) else "")
               + (f", top-p {float(trace['gen.top_p']):g}" if float(trace["gen.top_p"]) else ""))
        lines.append(f"output:   {printable(trace.output_text)}   (written turn by turn, {how}, "
                     f"with a KV cache: {int(trace['gen.rows_cached_total'])} q/k/v rows "
                     f"computed, {int(trace['gen.rows_full_total'])} without; cached logits "
                     f"equal a full recompute within {float(trace['gen.max_diff']):.1e})")
    elif trace.config.mode == "encdec":
        lines.append(f"output:   {printable(trace.output_text)}   (greedy translation; decoder "
                     "traced on it)")
    else:
        lines.append(f"output:   {printable(trace.output_text)}   (greedy continuation)")
    lines.append("")
    lines.append(f"{len(trace)} records (name, shape); use --format json|npz for the values:")
    width = max(len(n) for n in trace)
    for name, shape in trace.shapes().items():
        lines.append(f"  {name:<{width}}  {list(shape)}")
    if _n_params(trace) > BIG_PARAMS:
        lines.append(f"{len(trace.params)} parameters ({_n_params(trace):,} numbers; exported "
                     "with --params):")
        shapes = getattr(trace.params, "shapes", None)
        shapes = shapes or {k: np.shape(v) for k, v in trace.params.items()}
        for name in trace.params:
            lines.append(f"  {name:<{width}}  {list(shapes[name])}")
    else:
        lines.append(f"{len(trace.params)} parameters: " + ", ".join(trace.params))
    if hasattr(trace, "grads"):
        step = _step_meta(trace)
        lines.append(f"training step: targets {' '.join(step['target_words'])}; lr {trace.lr:g}; "
                     f"loss {trace.loss:.6f} -> {trace.loss_after:.6f}"
                     + ("  (the loss went UP: the learning rate is too large)"
                        if trace.loss_went_up else ""))
    return "\n".join(lines)
