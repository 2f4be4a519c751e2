"""Print training time and accuracies for each example corpus in examples/ (one process each).

    PYTHONPATH=. python scripts/bench_train.py [FILE ...]

For ``animal-il-elle.tsv`` it also prints how often the greedy translation says the right
pronoun ("qu'il" / "qu'elle") on the held-out pairs and on the two classic sentences.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transformer_core.corpus import read_corpus  # noqa: E402
from transformer_core.train import split_corpus, train_corpus  # noqa: E402

__all__ = ["main"]

EXAMPLES = {"student.tsv": ("translate", "words"), "animal-il-elle.tsv": ("translate", "words"),
            "russian-animals.txt": ("lm", "words")}


def _pct(x) -> str:
    return "-" if x is None else f"{x:.1%}"


def pronouns(result, corpus, index) -> str:
    """Right pronoun in the greedy translations of the examples ``index``."""
    from transformer_core.trace import run_with_trace

    right = 0
    for i in index:
        expected = next(t for t in corpus.targets[i] if t in ("qu'il", "qu'elle"))
        right += expected in run_with_trace(result.model, corpus.texts[i]).output_tokens
    return f"{right}/{len(index)}"


def main(paths: list[str]) -> None:
    """Train each corpus with seed 0 and print one line of figures."""
    for path in paths or [str(ROOT / "examples" / name) for name in EXAMPLES]:
        kind, rule = EXAMPLES.get(Path(path).name, ("lm", "words"))
        corpus = read_corpus(path, kind, rule)
        start = time.perf_counter()
        result = train_corpus(corpus, seed=0)
        seconds = time.perf_counter() - start
        d = result.detail
        cfg = result.model.cfg
        layers = cfg.n_dec_layers if kind == "lm" else f"{cfg.n_enc_layers}+{cfg.n_dec_layers}"
        line = (f"{Path(path).name}: {len(corpus)} sentences, {layers} layers, max_len {cfg.max_len}, "
                f"{d['steps']} steps{' (early stop)' if d['stopped_early'] else ''}, {seconds:.1f} s; "
                f"train: next token {_pct(d['train_token_accuracy'])} (best possible "
                f"{_pct(d['best_possible_token_accuracy'])}), exact {_pct(d['train_exact'])}; "
                f"held out ({d['heldout_sentences']}): next token {_pct(d['heldout_token_accuracy'])}, "
                f"exact {_pct(d['heldout_exact'])}")
        if Path(path).name == "animal-il-elle.tsv":
            _, held = split_corpus(corpus, None, 0)
            line += (f"; pronoun right on held-out pairs {pronouns(result, corpus, held)}, "
                     f"on the two classic sentences {pronouns(result, corpus, [0, 1])}")
        print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
