"""Train the shipped models, or a model on your own corpus, reproducibly (fixed seed,
deterministic kernels)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import data
from .checkpoint import LoadedModel, build, modern_config
from .config import Config
from .corpus import HOLDOUT_FRACTION, HOLDOUT_MIN_SENTENCES, MAX_POSITIONS, Corpus
from .model import Transformer
from .tokenizer import EOS, SPECIALS, Vocab

__all__ = [
    "SETTINGS", "TrainResult", "build_for_corpus", "ceiling", "evaluate_lm", "evaluate_translate",
    "initial_corpus_model", "initial_model", "plan_config", "split_corpus", "train", "train_corpus",
]

# steps, learning rate, batch size; measured to converge on 2 cores well inside 2 minutes
SETTINGS = {"translate": (1500, 1e-2, 64), "lm": (1200, 1e-2, 32), "modern": (1200, 1e-2, 32)}
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
    curve: list[float] = []  # every step's batch loss, kept in the checkpoint's meta
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
        curve.append(loss_value)
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
    detail.update({"steps": n_steps, "seed": seed, "final_loss": loss_value,
                   "loss_curve": curve})
    lm.meta = detail
    return TrainResult(lm, loss_value, acc, detail)


# ---- your own corpus ---------------------------------------------------------------------------

CORPUS_LR = 1e-2
CORPUS_BATCH = 128  # examples per step (the whole corpus when it is smaller)
CORPUS_MAX_STEPS = 3000
CORPUS_EVAL_EVERY = 20  # steps between checks of the training accuracy (early stop)


def plan_config(corpus: Corpus, name: str = "lm") -> Config:
    """Sizes for a corpus: d_model 8 and 2 heads always; layers and positions from the corpus
    (``name`` "modern": the same sizes with the modern block, :func:`modern_config`).

    ``max_len`` is what the longest sentence needs (``<eos>`` and, for a target, ``<bos>``
    included; at most 12). Layers: an lm gets 1 layer up to 40 sentences and 2 above; a
    translation model 1 encoder + 1 decoder layer up to 100 pairs and 2 + 2 above.
    """
    n = len(corpus)
    if corpus.rule == "bpe":
        # One vocabulary, the tokenizer's; every position, since a sentence of new words
        # takes more tokens than the corpus's sentences.
        size = len(Vocab.from_tokenizer(corpus.tokenizer))
        src_size = tgt_size = size
        max_len = MAX_POSITIONS
    else:
        src_size = len(corpus.words("source")) + len(SPECIALS)
        tgt_size = (len(corpus.words("target")) + len(SPECIALS) if corpus.kind == "translate"
                    else src_size)
        max_len = corpus.longest
    if corpus.kind == "lm":
        cfg = Config(mode="decoder", tgt_vocab_size=src_size,
                     n_dec_layers=1 if n <= 40 else 2, max_len=max_len)
        if name == "modern":  # the same sizes with today's block
            cfg = replace(modern_config(cfg.tgt_vocab_size), n_dec_layers=cfg.n_dec_layers,
                          max_len=cfg.max_len)
        return cfg
    layers = 1 if n <= 100 else 2
    return Config(mode="encdec", src_vocab_size=src_size, tgt_vocab_size=tgt_size,
                  n_enc_layers=layers, n_dec_layers=layers, max_len=max_len)


def _examples(lm: LoadedModel, corpus: Corpus, index: list[int]):
    """(decoder input, decoder target, encoder input or None) id lists of the chosen examples."""
    out = []
    for i in index:
        if corpus.kind == "lm":
            ids = [lm.tgt_vocab.stoi[t] for t in corpus.sources[i]] + [lm.tgt_vocab.eos_id]
            out.append((ids[:-1], ids[1:], None))
        else:
            src = [lm.src_vocab.stoi[t] for t in corpus.sources[i]]
            tgt = [lm.tgt_vocab.bos_id, *(lm.tgt_vocab.stoi[t] for t in corpus.targets[i]),
                   lm.tgt_vocab.eos_id]
            out.append((tgt[:-1], tgt[1:], src))
    return out


def _batch(examples, pad: int):
    """Padded tensors: decoder input [B, T], target [B, T], encoder input [B, S] or None."""
    x = _pad([e[0] for e in examples], pad)
    y = _pad([e[1] for e in examples], pad)
    src = _pad([e[2] for e in examples], pad) if examples[0][2] is not None else None
    return x, y, src


def _src_padding(src: torch.Tensor | None, pad: int):
    return None if src is None else src == pad


@torch.no_grad()
def _scores(lm: LoadedModel, examples, pad: int) -> tuple[float, float]:
    """(next-token accuracy, fraction of examples right at every position), teacher-forced.

    For a translation every position right means the greedy translation is exactly right.
    """
    if not examples:
        return float("nan"), float("nan")
    lm.model.eval()
    x, y, src = _batch(examples, pad)
    pred = lm.model(x, src, src_pad=_src_padding(src, pad)).argmax(-1)  # [B, T]
    real = y != pad
    hit = (pred == y) & real
    # exact integer counts: a float32 ratio (0.96666664) never reaches the float64 ceiling
    # (0.9666666666) within the stopping tolerance
    token_acc = int(hit.sum()) / int(real.sum())
    exact = float(((hit | ~real).all(dim=1)).float().mean())
    return token_acc, exact


def ceiling(corpus: Corpus, index: list[int]) -> float:
    """The best next-token accuracy any model can reach on these examples.

    Where the same context (an lm's prefix; a translation's source and target prefix) is
    followed by different tokens, only the most frequent one can be predicted.
    """
    counts: dict[tuple, dict[str, int]] = {}
    for i in index:
        src = () if corpus.kind == "lm" else corpus.sources[i]
        seq = (corpus.sources[i] if corpus.kind == "lm" else corpus.targets[i]) + (EOS,)
        start = 1 if corpus.kind == "lm" else 0
        for t in range(start, len(seq)):
            nxt = counts.setdefault((src, seq[:t]), {})
            nxt[seq[t]] = nxt.get(seq[t], 0) + 1
    total = sum(sum(c.values()) for c in counts.values())
    return sum(max(c.values()) for c in counts.values()) / max(total, 1)


def split_corpus(corpus: Corpus, holdout: float | None, seed: int) -> tuple[list[int], list[int]]:
    """Indices of the training and held-out examples; the first sentence always trains.

    ``holdout=None`` holds out 10% when the corpus has at least 50 sentences, else none.
    """
    n = len(corpus)
    if holdout is None:
        holdout = HOLDOUT_FRACTION if n >= HOLDOUT_MIN_SENTENCES else 0.0
    if not 0.0 <= holdout < 1.0:
        raise ValueError("the held-out fraction must be at least 0 and below 1")
    n_held = min(int(n * holdout), n - 2)
    rest = list(range(1, n))
    random.Random(seed).shuffle(rest)
    held = sorted(rest[:max(n_held, 0)])
    return [i for i in range(n) if i not in set(held)], held


def initial_corpus_model(cfg: Config, seed: int = SEED) -> Transformer:
    """The model :func:`train_corpus` with ``seed`` starts from (it seeds, then builds)."""
    with torch.random.fork_rng(devices=[]):  # leaves the caller's random state alone
        torch.manual_seed(seed)
        return Transformer(cfg)


def build_for_corpus(corpus: Corpus, name: str | None = None) -> LoadedModel:
    """An untrained model sized for ``corpus``, its vocabularies in order of first appearance
    (``name`` "modern" for a sentence corpus: today's block)."""
    name = name or corpus.kind
    cfg = plan_config(corpus, name)
    if corpus.rule == "bpe":
        vocab = Vocab.from_tokenizer(corpus.tokenizer)
        src, tgt = (None if corpus.kind == "lm" else vocab), vocab
    elif corpus.kind == "lm":
        src, tgt = None, Vocab(corpus.words(), corpus.rule)
    else:
        src, tgt = Vocab(corpus.words("source"), corpus.rule), Vocab(corpus.words("target"), corpus.rule)
    return LoadedModel(name, Transformer(cfg), src, tgt, corpus.default_sentence, {})


def train_corpus(
    corpus: Corpus,
    seed: int = SEED,
    holdout: float | None = None,
    max_steps: int = CORPUS_MAX_STEPS,
    progress: Callable[[int, float], None] | None = None,
    name: str | None = None,
) -> TrainResult:
    """Train a model on your corpus until it has learned it (or ``max_steps``), reproducibly.

    Early stop: every 20 steps the teacher-forced next-token accuracy on the training part is
    measured; training stops when it reaches :func:`ceiling` (the best any model can do on
    these sentences). ``progress(step, loss)`` is called every step.
    """
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    # Matrices this small gain nothing from threads; on a busy machine they cost 5x the time.
    torch.set_num_threads(1)
    try:
        lm = build_for_corpus(corpus, name)
        model = lm.model
        pad = lm.tgt_vocab.pad_id
        train_idx, held_idx = split_corpus(corpus, holdout, seed)
        train_ex = _examples(lm, corpus, train_idx)
        held_ex = _examples(lm, corpus, held_idx)
        best = ceiling(corpus, train_idx)
        opt = torch.optim.Adam(model.parameters(), lr=CORPUS_LR)
        rng = random.Random(seed)
        batch = min(CORPUS_BATCH, len(train_ex))
        order: list[int] = []
        loss_value, stopped_early, step = float("nan"), False, 0
        curve: list[float] = []
        for step in range(1, max_steps + 1):
            model.train()
            if len(order) < batch:
                fresh = list(range(len(train_ex)))
                rng.shuffle(fresh)
                order += fresh
            chosen, order = order[:batch], order[batch:]
            x, y, src = _batch([train_ex[i] for i in chosen], pad)
            logits = model(x, src, src_pad=_src_padding(src, pad))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                   ignore_index=pad)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_value = loss.item()
            curve.append(loss_value)
            if progress is not None:
                progress(step, loss_value)
            if step % CORPUS_EVAL_EVERY == 0 and _scores(lm, train_ex, pad)[0] >= best - 1e-9:
                stopped_early = True
                break
        model.eval()
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)
    train_acc, train_exact = _scores(lm, train_ex, pad)
    held_acc, held_exact = _scores(lm, held_ex, pad)
    detail = {
        "kind": corpus.kind,
        "tokens": corpus.rule,
        "data_file": Path(corpus.path).name,
        "data_sha256": corpus.sha256,
        "sentences": len(corpus),
        "train_sentences": len(train_idx),
        "heldout_sentences": len(held_idx),
        "skipped_lines": len(corpus.skipped),
        "train_token_accuracy": train_acc,
        "train_exact": train_exact,
        "best_possible_token_accuracy": best,
        "heldout_token_accuracy": held_acc if held_idx else None,
        "heldout_exact": held_exact if held_idx else None,
        "steps": step,
        "stopped_early": stopped_early,
        "seed": seed,
        "final_loss": loss_value,
        "loss_curve": curve,  # every step's batch loss
    }
    lm.meta = detail
    return TrainResult(lm, loss_value, train_acc, detail)
