"""Write a Trace out (JSON, npz, or a readable summary) so every number can be redone by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .files import atomic_write
from .trace import Trace

__all__ = ["summary", "to_dict", "to_json", "write_npz"]


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
    }


def to_dict(trace: Trace) -> dict:
    out = _meta(trace)
    out["records"] = {
        name: {"shape": list(arr.shape), "data": _plain(arr)} for name, arr in trace.items()
    }
    out["params"] = {
        name: {"shape": list(arr.shape), "data": _plain(arr)} for name, arr in trace.params.items()
    }
    return out


def to_json(trace: Trace) -> str:
    return json.dumps(to_dict(trace), indent=1)


def write_npz(trace: Trace, path: Path) -> None:
    """Records under their names, parameters under ``param:<name>``, metadata as JSON text."""
    arrays = dict(trace.items())
    arrays.update({f"param:{k}": v for k, v in trace.params.items()})
    arrays["meta"] = np.array(json.dumps(_meta(trace)))
    atomic_write(path, writer=lambda fh: np.savez(fh, **arrays))


def summary(trace: Trace) -> str:
    """A readable overview: tokens, the model's output, and every record with its shape."""
    lines = [
        f"model:    {trace.model_name}",
        f"sentence: {trace.sentence}",
        f"tokens:   {' '.join(trace.tokens)}",
    ]
    if trace.config.mode == "encdec":
        lines.append(f"output:   {trace.output_text}   (greedy translation; decoder traced on it)")
    else:
        lines.append(f"output:   {trace.output_text}   (greedy continuation)")
    lines.append("")
    lines.append(f"{len(trace)} records (name, shape); use --format json|npz for the values:")
    width = max(len(n) for n in trace)
    for name, shape in trace.shapes().items():
        lines.append(f"  {name:<{width}}  {list(shape)}")
    lines.append(f"{len(trace.params)} parameters: " + ", ".join(trace.params))
    return "\n".join(lines)
