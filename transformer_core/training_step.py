"""One step of training on one sentence, recorded: forward, loss, backward, update, forward again.

The step is the one ``train.py`` repeats, on a batch of one sentence and with plain gradient
descent instead of Adam::

    targets   the next word at every position (explain.next_word_targets): for ``lm`` the
              sentence shifted left by one, then <eos>; for ``translate`` the decoder reads
              <bos> + French and is trained on French + <eos> (teacher forcing)
    L         = mean over positions of −log p(target)   (F.cross_entropy, as train.py)
    ∇W        = ∂L/∂W by autograd, for every parameter W
    W'        = W − lr·∇W                                 (one step of gradient descent)
    L'        the same loss with W' (``loss_after``)

For ``translate`` the decoder reads the reference translation when the sentence is one of the
grammar's pairs (as in training) and the model's greedy translation otherwise.

:func:`training_step` returns a :class:`TrainingTrace`: a :class:`~transformer_core.trace.Trace`
of the forward pass (the same records as ``run_with_trace``) that also holds the backward pass
and the update. The names a scene or :func:`transformer_core.explain.lookup` can use::

    grad.NAME        ∂L/∂(record NAME), same shape as NAME, for every record on the path
                     from the weights to the loss: grad.logits [pos, vocab],
                     grad.decoder.blocks.0.attn.pattern [head, q, k] ... (records off that
                     path, e.g. probs, LayerNorm mean/var, masks, pos_embed, have none)
    grad:PARAM       ∂L/∂PARAM, same name and shape as param:PARAM
    step:targets     [pos]  target word ids
    step:loss        0-d    L, as PyTorch computed it
    step:loss_after  0-d    L' with the updated weights
    step:lr          0-d    the learning rate
    after:SOURCE     any source on the forward pass after the update, e.g. after:probs,
                     after:param:W_U (the updated parameter, W')
    init:SOURCE      any source on the model the shipped training run started from (its
                     seeded initialisation, :func:`transformer_core.train.initial_model` with
                     the seed in the checkpoint's meta), run on the same words, e.g.
                     init:decoder.blocks.0.attn.pattern

``step.loss_went_up`` is True when the learning rate is so large that the step made the loss
worse; that is reported, never hidden.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from types import MappingProxyType

import numpy as np
import torch
import torch.nn.functional as F

from . import data
from .checkpoint import LoadedModel, load_model
from .explain import next_word_targets
from .records import TrainingTrace, final_hidden, training_example
from .trace import Trace, _frozen, _params, run_with_trace

__all__ = [
    "ADAM_BETAS", "ADAM_EPS", "DEFAULT_LR", "PretrainedStepError", "TrainingTrace", "adam_update",
    "check_lr", "final_hidden", "training_example", "training_step",
]

# Plain gradient descent on one sentence, a learning rate per model. Measured on the shipped
# models and default sentences: lm 0.665 → 0.311 at lr 0.2 (its loss is mostly the free choices
# "early" and "bird"; lr 1 already makes it worse); translate's loss is near 0 on its pair and
# its gradients tiny: 0.00138 → 0.00102 at lr 1 (lr 3 makes it worse); modern 0.662 → 0.287 at
# lr 0.2 (lr 1 makes it worse: 1.48).
DEFAULT_LR = {"lm": 0.2, "translate": 1.0, "modern": 0.2}


class PretrainedStepError(ValueError):
    """One training step of a pretrained model is not recorded (yet): its gradients and updated
    weights, 135 million numbers each, would be kept whole in every trace."""


def check_lr(lr) -> float:
    """``lr`` as a float; ValueError unless it is a positive finite number."""
    try:
        value = float(lr)
    except (TypeError, ValueError):
        raise ValueError(f"the learning rate must be a positive number, not {lr!r}") from None
    if isinstance(lr, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"the learning rate must be a positive finite number, not {lr!r}")
    return value


# ---- running the model with a recorder that keeps the graph ------------------------------

def _decoder_input(lm: LoadedModel, base: Trace) -> list[int]:
    """The decoder's input ids: the sentence (lm); <bos> + the reference translation when the
    sentence is one of the grammar's pairs, else + the greedy translation (translate)."""
    if lm.cfg.mode != "encdec":
        return list(base.target_ids)
    reference = dict(data.translate_pairs()).get(" ".join(base.tokens))
    if reference is None:
        return list(base.target_ids)
    return [lm.tgt_vocab.bos_id, *lm.tgt_vocab.encode(reference).ids]


def _forward(model: torch.nn.Module, src: list[int] | None, dec: list[int], keep: bool):
    """Logits [1, pos, vocab] and every record as a tensor (graph kept when ``keep``)."""
    records: dict[str, torch.Tensor] = {}

    def rec(name: str, x: torch.Tensor) -> None:
        if name in records:
            raise RuntimeError(f"trace name {name!r} recorded twice")
        if keep and x.requires_grad:
            x.retain_grad()  # so grad.NAME can be read after backward
        records[name] = x

    src_t = torch.tensor([src]) if src is not None else None
    with torch.set_grad_enabled(keep):
        logits = model(torch.tensor([dec]), src_t, rec)  # [1, pos, vocab]
    return logits, records


def _numpy(x: torch.Tensor) -> np.ndarray:
    """A recorded tensor as the trace stores it: float32 (or bool), batch dim dropped."""
    arr = x.detach().cpu().numpy()
    arr = arr[0] if arr.ndim >= 1 and arr.shape[0] == 1 else arr
    return _frozen(arr.astype(np.bool_ if arr.dtype == np.bool_ else np.float32))


def _trace_of(base: Trace, records: dict[str, torch.Tensor], model: torch.nn.Module,
              dec: list[int], vocab, extra: dict | None = None) -> dict:
    """Fields of a Trace of ``records`` with ``model``'s parameters, on decoder input ``dec``."""
    arrays = {name: _numpy(x) for name, x in records.items()}
    arrays.update(extra or {})
    fields = {"_arrays": MappingProxyType(arrays), "params": MappingProxyType(_params(model))}
    if base.config.mode == "encdec":
        fields.update(target_ids=tuple(int(i) for i in dec), target_tokens=tuple(vocab.decode(dec)))
    return fields


def _loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over positions, as train.py computes it.  0-d"""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def training_step(model: str | LoadedModel = "lm", sentence: str | None = None,
                  lr: float | None = None, with_init: bool = True) -> TrainingTrace:
    """Forward, loss, backward, one gradient-descent update with ``lr`` (default
    :data:`DEFAULT_LR` of the model) and the forward pass again, recorded.

    The loaded model is not changed: the update is applied to a copy. ``with_init`` also traces
    the seeded initial model of the shipped training run on the same words (``init:``).
    """
    lm = load_model(model) if isinstance(model, str) else model
    if lm.name not in DEFAULT_LR and lm.max_tokens is not None:
        raise PretrainedStepError(f"one training step is shown for the shipped models, not yet for "
                                  f"the pretrained {lm.name} (its gradients are 135 million numbers)")
    lr = check_lr(DEFAULT_LR[lm.name] if lr is None else lr)
    base = run_with_trace(lm, sentence)  # tokens, vocab, the greedy output; checks the length
    cfg = lm.cfg
    src = list(base.token_ids) if cfg.mode == "encdec" else None
    dec = _decoder_input(lm, base)
    probe = replace(base, target_ids=tuple(dec))
    targets = torch.as_tensor(next_word_targets(probe))  # [pos]
    net = copy.deepcopy(lm.model)
    net.eval()  # no dropout in this model; eval only for clarity

    logits, records = _forward(net, src, dec, keep=True)
    loss = _loss(logits, targets[None])
    net.zero_grad()
    loss.backward()
    grad_records = {f"grad.{name}": _numpy(x.grad) for name, x in records.items()
                    if x.requires_grad and x.grad is not None}
    before = _trace_of(base, records, net, dec, lm.tgt_vocab, grad_records)
    named = dict(zip(_params(net), net.parameters(), strict=True))  # trace names -> parameters
    grads = {name: _frozen(p.grad.detach().numpy().astype(np.float32)) for name, p in named.items()}

    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p - lr * p.grad)  # W ← W − lr·∇W
    logits_after, records_after = _forward(net, src, dec, keep=False)
    loss_after = float(_loss(logits_after, targets[None]))
    after = replace(base, **_trace_of(base, records_after, net, dec, lm.tgt_vocab))

    init = None
    if with_init:
        from .train import SEED, initial_model

        seed = int(lm.meta.get("seed", SEED))  # the seed it was trained with
        if "data_sha256" in lm.meta:  # trained on your own corpus (train_corpus)
            from .train import initial_corpus_model

            start = initial_corpus_model(lm.cfg, seed)
        else:
            fresh = initial_model(lm.name, seed)
            if fresh.tgt_vocab.itos != lm.tgt_vocab.itos:
                raise RuntimeError(f"the {lm.name} checkpoint's vocabulary is not the training data's")
            start = fresh.model
        start.eval()
        _, records_init = _forward(start, src, dec, keep=False)
        init = replace(base, **_trace_of(base, records_init, start, dec, lm.tgt_vocab))

    fields = {f: getattr(base, f) for f in Trace.__dataclass_fields__}
    fields.update(before)
    return TrainingTrace(
        **fields,
        grads=MappingProxyType(grads),
        targets=tuple(int(t) for t in targets),
        lr=lr,
        loss=float(loss.detach()),
        loss_after=loss_after,
        after=after,
        init=init,
    )


ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults, which train.py uses
ADAM_EPS = 1e-8


def adam_update(w: np.ndarray, g: np.ndarray, lr: float, step: int = 1,
                m: np.ndarray | None = None, v: np.ndarray | None = None,
                betas: tuple[float, float] = ADAM_BETAS, eps: float = ADAM_EPS) -> dict:
    """One Adam update of weight ``w`` with gradient ``g``, every quantity kept (float64)::

        m  = β1·m + (1 − β1)·g          the moment estimates (zero before the first step)
        v  = β2·v + (1 − β2)·g²
        m̂  = m / (1 − β1^step)          bias correction: m and v start at 0
        v̂  = v / (1 − β2^step)
        W' = W − lr·m̂ / (√v̂ + ε)

    as ``torch.optim.Adam`` computes it (tested). On the first step m̂ = g and v̂ = g², so each
    weight moves by about lr, whatever the size of its gradient."""
    w, g = np.asarray(w, dtype=np.float64), np.asarray(g, dtype=np.float64)
    b1, b2 = betas
    m = (b1 * (np.zeros_like(g) if m is None else m) + (1 - b1) * g)
    v = (b2 * (np.zeros_like(g) if v is None else v) + (1 - b2) * g * g)
    m_hat = m / (1 - b1 ** step)
    v_hat = v / (1 - b2 ** step)
    update = lr * m_hat / (np.sqrt(v_hat) + eps)
    return {"m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat, "update": update,
            "after": w - update}
