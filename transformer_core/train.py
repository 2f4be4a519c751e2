"""Train the shipped models from scratch, reproducibly (fixed seed, deterministic kernels)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import data
from .checkpoint import LoadedModel, build

__all__ = ["SETTINGS", "TrainResult", "evaluate_lm", "evaluate_translate", "initial_model", "train"]

# steps, learning rate, batch size; measured to converge on 2 cores well inside 2 minutes
SETTINGS = {"translate": (1500, 1e-2, 64), "lm": (1200, 1e-2, 32)}
SEED = 0
HOLDOUT = 0.2


@dataclass
class TrainResult:
    model: LoadedModel
    final_loss: float
    accuracy: float  # translate: held-out exact match; lm: held-out next-token accuracy
    detail: dict


def _pad(seqs: list[list[int]], pad: int) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    return torch.tensor([s + [pad] * (width - len(s)) for s in seqs])


def _translate_batches(lm: LoadedModel, pairs):
    src = [list(lm.src_vocab.encode(en).ids) for en, _ in pairs]
    tgt = [
        [lm.tgt_vocab.bos_id, *lm.tgt_vocab.encode(fr).ids, lm.tgt_vocab.eos_id] for _, fr in pairs
    ]
    return src, tgt


def _lm_seqs(lm: LoadedModel, sentences):
    return [[*lm.tgt_vocab.encode(s).ids, lm.tgt_vocab.eos_id] for s in sentences]


def translate_one(lm: LoadedModel, src_ids: list[int]) -> list[int]:
    """Greedy translation: target ids without <bos> and <eos>."""
    v = lm.tgt_vocab
    out = lm.model.greedy([v.bos_id], src_ids, v.eos_id, lm.cfg.max_len)[1:]
    return [i for i in out if i != v.eos_id]


def evaluate_translate(lm: LoadedModel, pairs) -> float:
    """Fraction of pairs whose greedy translation matches exactly."""
    lm.model.eval()
    hits = 0
    for en, fr in pairs:
        out = translate_one(lm, list(lm.src_vocab.encode(en).ids))
        hits += lm.tgt_vocab.decode(out) == fr.split()
    return hits / max(len(pairs), 1)


@torch.no_grad()
def evaluate_lm(lm: LoadedModel, sentences) -> dict:
    """Held-out next-token accuracy, overall and on the positions the grammar determines."""
    lm.model.eval()
    seqs = _lm_seqs(lm, sentences)
    x = torch.tensor([s[:-1] for s in seqs])
    y = torch.tensor([s[1:] for s in seqs])
    pred = lm.model(x).argmax(-1)
    correct = (pred == y).float()
    # the adjective and the animal are free choices; the verb, "the", the food and <eos> are not
    determined = torch.ones_like(correct, dtype=torch.bool)
    determined[:, :2] = False
    return {
        "next_token_accuracy": float(correct.mean()),
        "determined_accuracy": float(correct[determined].mean()),
    }


def initial_model(name: str, seed: int = SEED) -> LoadedModel:
    """The model ``train(name, seed=seed)`` starts from: its seeded random initialisation."""
    with torch.random.fork_rng(devices=[]):  # leaves the caller's random state alone
        torch.manual_seed(seed)
        return build(name)


def train(
    name: str,
    steps: int | None = None,
    seed: int = SEED,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train model ``name`` from scratch; ``progress(step, loss)`` is called every step."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)
    n_steps, lr, batch = SETTINGS[name]
    n_steps = steps if steps is not None else n_steps
    lm = initial_model(name, seed)
    model = lm.model
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(n_steps, 1))
    rng = random.Random(seed)

    if name == "translate":
        train_set, held = data.split_holdout(
            data.translate_pairs(), HOLDOUT, seed, keep=(data.TRANSLATE_DEFAULT,)
        )
        src, tgt = _translate_batches(lm, train_set)
        pad = lm.tgt_vocab.pad_id
    else:
        train_set, held = data.split_holdout(
            data.lm_sentences(), HOLDOUT, seed, keep=(data.LM_DEFAULT,)
        )
        seqs = _lm_seqs(lm, train_set)
        pad = lm.tgt_vocab.pad_id

    loss_value = float("nan")
    model.train()
    for step in range(n_steps):
        idx = [rng.randrange(len(train_set)) for _ in range(batch)]
        if name == "translate":
            s = torch.tensor([src[i] for i in idx])  # every source has 5 words
            t = _pad([tgt[i] for i in idx], pad)
            logits = model(t[:, :-1], s)
            target = t[:, 1:]
        else:
            t = torch.tensor([seqs[i] for i in idx])  # every sentence has 6 words + <eos>
            logits = model(t[:, :-1])
            target = t[:, 1:]
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=pad
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        loss_value = loss.item()
        if progress is not None:
            progress(step + 1, loss_value)
    model.eval()
    torch.use_deterministic_algorithms(False)

    if name == "translate":
        acc = evaluate_translate(lm, held)
        detail = {
            "heldout_exact_match": acc,
            "heldout_pairs": len(held),
            "train_exact_match": evaluate_translate(lm, train_set),
        }
    else:
        detail = evaluate_lm(lm, held)
        detail["heldout_sentences"] = len(held)
        acc = detail["next_token_accuracy"]
    detail.update({"steps": n_steps, "seed": seed, "final_loss": loss_value})
    lm.meta = detail
    return TrainResult(lm, loss_value, acc, detail)
