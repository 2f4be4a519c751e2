"""``python cli.py verify``: every number a scene shows, checked against the model, and the
model checked against PyTorch.

The scene is played with animations skipped and no pixels drawn (the storyboard runner of
:mod:`scenes.writers.svg`); at the end of every step each marked number and word label
(:mod:`scenes.toolkit.provenance`) is compared with the value a fresh run of the model computes
for the same sentence (:mod:`transformer_core.verify`), so a scene that drew a stale or altered
value is caught. Then that run is recomputed with PyTorch's fused layers fed the same weights
(:func:`transformer_core.reference.compare_trace`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from transformer_core.reference import Comparison, compare_trace
from transformer_core.verify import PYTORCH_TOLERANCE, Shown, Verdict, check_shown

from .provenance import iter_sourced

__all__ = ["Report", "shown_items", "verify_scene"]


@dataclass(frozen=True)
class Report:
    """What ``verify`` found for one scene."""

    scene: str
    verdict: Verdict
    comparison: Comparison
    steps: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.verdict.mismatch is None and self.comparison.max_diff <= PYTORCH_TOLERANCE

    def line(self) -> str:
        """One line: the counts and the agreement, or the first thing that is wrong."""
        if self.verdict.mismatch is not None:
            return f"scene {self.scene!r}, {self.verdict.mismatch}"
        c = self.comparison
        if c.max_diff > PYTORCH_TOLERANCE:
            return (f"scene {self.scene!r}: the model differs from PyTorch by {c.max_diff:.1e} "
                    f"(relative) at {c.worst} (more than {PYTORCH_TOLERANCE:.0e})")
        v = self.verdict
        return (f"{v.numbers} numbers and {v.labels} word labels on {self.steps} steps of "
                f"{self.scene!r} equal the model's values; the model equals PyTorch within "
                f"{max(c.max_diff, 1e-9):.0e} ({c.checks} tensors compared; {self.seconds:.1f} s)")


def shown_items(scene, step) -> list[Shown]:
    """Every marked number and label on screen at the end of ``step``."""
    return [Shown(step.name, getattr(mob, "kind", None) or "number", text, source, index,
                  getattr(mob, "decimals", None))
            for mob, text, source, index in iter_sourced(scene.mobjects)]


def verify_scene(name: str, options) -> Report:
    """Play scene ``name`` with ``options`` (no pixels) and check every step's end state."""
    from scenes.registry import get_scene_class
    from scenes.writers.svg import run_storyboard
    from transformer_core.checkpoint import load_model
    from transformer_core.trace import run_with_trace

    started = time.perf_counter()
    items: list[Shown] = []
    steps: list[str] = []
    drawn = []

    def listener(scene, index, step) -> None:
        steps.append(step.name)
        items.extend(shown_items(scene, step))
        drawn[:] = [scene.trace]

    run_storyboard(get_scene_class(name), options, listener)
    # A fresh run of the model, not the trace the scene drew from: a training step for a
    # scene that shows one (gradients by autograd), the decoder turn by turn for one that
    # generates, else the forward pass.
    from transformer_core.training_step import TrainingTrace, training_step

    loaded = load_model(options.model, options.checkpoint)
    if drawn and isinstance(drawn[0], TrainingTrace):
        reference = training_step(loaded, options.sentence, getattr(options, "lr", None))
    elif drawn and "gen.choice" in drawn[0]:  # the generate scene: the loop, run again
        from scenes.generate import generation_temperature
        from transformer_core.generate import generate

        reference = generate(loaded, options.sentence, max_new=options.max_new,
                             temperature=generation_temperature(options), seed=options.seed,
                             top_k=options.top_k, top_p=options.top_p)
    elif drawn and "sample.logits" in drawn[0]:  # the sampling scene: the sampler, run again
        from transformer_core.sampling import sample_run

        reference = sample_run(loaded, options.sentence, temperature=options.temperature,
                               top_k=options.top_k, top_p=options.top_p, seed=options.seed)
    elif drawn and "paper.logits" in drawn[0]:  # the compare scene: both models, run again
        from transformer_core.compare import compare_run

        paper = load_model("lm")
        reference = compare_run(loaded, options.sentence, paper)
        verdict = check_shown(reference, items)
        ours = compare_trace(loaded.model, reference)
        theirs = compare_trace(paper.model, run_with_trace(paper, reference.sentence))
        comparison = Comparison(max(ours.max_diff, theirs.max_diff),
                                ours.worst if ours.max_diff >= theirs.max_diff
                                else f"lm: {theirs.worst}", ours.checks + theirs.checks)
        return Report(name, verdict, comparison, len(steps), time.perf_counter() - started)
    elif drawn and "why.scale.row" in drawn[0]:  # the why scene: its numbers, computed again
        from transformer_core.whys import why_run

        reference = why_run(loaded, options.sentence, options.head)
    else:
        reference = run_with_trace(loaded, options.sentence)
    verdict = check_shown(reference, items)
    comparison = compare_trace(loaded.model, reference)
    return Report(name, verdict, comparison, len(steps), time.perf_counter() - started)
