"""The shipped checkpoints are trained to the issue's bar, and training is reproducible."""

import torch

from transformer_core import data
from transformer_core.checkpoint import load_model
from transformer_core.train import HOLDOUT, SEED, evaluate_lm, evaluate_translate, train


def test_shipped_translate_model_translates_held_out_sentences():
    lm = load_model("translate")
    _, held = data.split_holdout(data.translate_pairs(), HOLDOUT, SEED, keep=(data.TRANSLATE_DEFAULT,))
    assert len(held) >= 100
    # held-out sentences were never trained on: none is in the training split
    train_split, _ = data.split_holdout(data.translate_pairs(), HOLDOUT, SEED, keep=(data.TRANSLATE_DEFAULT,))
    assert not {en for en, _ in held} & {en for en, _ in train_split}
    assert evaluate_translate(lm, held) >= 0.98
    # both word orders appear among the held-out sentences
    assert any(en.startswith("in ") for en, _ in held) and any(" in " in en for en, _ in held)


def test_shipped_lm_predicts_the_determined_words():
    lm = load_model("lm")
    _, held = data.split_holdout(data.lm_sentences(), HOLDOUT, SEED, keep=(data.LM_DEFAULT,))
    scores = evaluate_lm(lm, held)
    assert scores["determined_accuracy"] >= 0.9
    assert data.LM_DEFAULT not in held


def test_training_is_reproducible():
    a = train("translate", steps=15, seed=3)
    b = train("translate", steps=15, seed=3)
    sa, sb = a.model.model.state_dict(), b.model.model.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.final_loss == b.final_loss
    c = train("translate", steps=15, seed=4)
    assert not torch.equal(sa["W_U"], c.model.model.state_dict()["W_U"])
