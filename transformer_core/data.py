"""The two toy tasks: an English→French grammar and a small English corpus.

Both are generated, so training needs no download and the held-out split is reproducible.
"""

from __future__ import annotations

import itertools
import random

__all__ = ["LM_DEFAULT", "LM_PREFIX", "TRANSLATE_DEFAULT", "lm_sentences", "split_holdout", "translate_pairs",
           "familiar"]

TRANSLATE_DEFAULT = "jane visits africa in september"
LM_DEFAULT = "the early bird eats the worm"
LM_PREFIX = "the early bird"  # what generation continues by default: "eats the worm"

NAMES = {n: n for n in ("jane", "paul", "marie", "tom", "anna")}
VERBS = {"visits": "visite", "loves": "aime", "sees": "voit", "leaves": "quitte"}
PLACES = {
    "africa": "l'afrique",
    "paris": "paris",
    "spain": "l'espagne",
    "rome": "rome",
    "china": "la chine",
}
MONTHS = {"september": "septembre", "may": "mai", "june": "juin", "january": "janvier"}


def translate_pairs() -> list[tuple[str, str]]:
    """Every sentence of the grammar in both word orders, with its French translation."""
    pairs = []
    for name, verb, place, month in itertools.product(NAMES, VERBS, PLACES, MONTHS):
        fr = (NAMES[name], VERBS[verb], PLACES[place], MONTHS[month])
        pairs.append(
            (f"{name} {verb} {place} in {month}", f"{fr[0]} {fr[1]} {fr[2]} en {fr[3]}")
        )
        pairs.append(
            (f"in {month} {name} {verb} {place}", f"en {fr[3]} {fr[0]} {fr[1]} {fr[2]}")
        )
    return pairs


# Each animal has its own food, so the last word is predictable from the subject.
ANIMALS = {
    "bird": "worm",
    "cat": "fish",
    "dog": "bone",
    "cow": "grass",
    "mouse": "cheese",
    "bear": "honey",
    "fox": "egg",
    "goat": "hay",
}
# The adjective chooses the verb, so predicting the verb means looking two words back.
ADJECTIVES = {
    "early": "eats",
    "hungry": "eats",
    "lazy": "wants",
    "old": "wants",
    "small": "finds",
    "big": "finds",
    "quick": "eats",
    "sleepy": "wants",
    "clever": "finds",
}
VERBS_LM = ("eats", "wants", "finds")


def lm_sentences() -> list[str]:
    """``the ADJ ANIMAL VERB the FOOD``: 9 adjectives x 8 animals = 72 sentences."""
    return [
        f"the {adj} {animal} {verb} the {food}"
        for (adj, verb), (animal, food) in itertools.product(ADJECTIVES.items(), ANIMALS.items())
    ]


def split_holdout(items: list, fraction: float, seed: int, keep: tuple = ()) -> tuple[list, list]:
    """Shuffle with ``seed`` and hold out ``fraction``; items whose text is in ``keep`` train."""
    rng = random.Random(seed)
    items = list(items)
    rng.shuffle(items)
    n_hold = int(len(items) * fraction)
    held, train = [], []
    for item in items:
        text = item[0] if isinstance(item, tuple) else item
        if len(held) < n_hold and text not in keep:
            held.append(item)
        else:
            train.append(item)
    return train, held


def source_words() -> list[str]:
    words = ["in", *NAMES, *VERBS, *PLACES, *MONTHS]
    return list(dict.fromkeys(words))


def target_words() -> list[str]:
    words = ["en", *NAMES.values(), *VERBS.values(), *MONTHS.values()]
    for fr in PLACES.values():
        words.extend(fr.split())
    return list(dict.fromkeys(words))


def lm_words() -> list[str]:
    return list(dict.fromkeys(["the", *ADJECTIVES, *ANIMALS, *VERBS_LM, *ANIMALS.values()]))


def familiar(model: str, tokens) -> bool:
    """Whether a shipped model saw input like ``tokens`` in training: for ``translate`` a
    sentence of its grammar, for ``lm`` the start of one of its sentences. Outside that, its
    output can be wrong however confident it looks."""
    words = " ".join(str(t) for t in tokens)
    if model == "translate":
        return words in {src for src, _ in translate_pairs()}
    return any(s == words or s.startswith(words + " ") for s in lm_sentences())
