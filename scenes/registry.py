"""Scene names, their classes and one-line descriptions, without importing Manim."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["SceneInfo", "SCENES", "get_scene_class", "default_model"]


@dataclass(frozen=True)
class SceneInfo:
    module: str  # importable module path
    cls: str  # class name inside the module
    description: str  # one line, shown by ``cli.py list``
    default_model: str = "translate"  # the model it shows when none is given


SCENES: dict[str, SceneInfo] = {
    "attention": SceneInfo(
        module="scenes.attention",
        cls="AttentionScene",
        description="One attention head on a real sentence: Q, K, V, QKᵀ/√d_k, softmax, ·V.",
    ),
    "multihead": SceneInfo(
        module="scenes.multihead",
        cls="MultiHeadScene",
        description="The rest of a block: heads concatenated, ·W_O, Add & Norm, feed-forward, "
                    "Add & Norm.",
    ),
    "decoder": SceneInfo(
        module="scenes.decoder",
        cls="DecoderScene",
        description="The decoder: masked self-attention, cross-attention, logits, softmax over "
                    "the vocabulary, every position's next word in one run and the loss.",
    ),
    "training": SceneInfo(
        module="scenes.training",
        cls="TrainingScene",
        description="One training step with its real gradients: loss, ∂L/∂logits, ∂L/∂W, "
                    "W − lr·∇W, and the loss going down.",
        default_model="lm",
    ),
    "generate": SceneInfo("scenes.generate", "GenerateScene",
                          "The decoder writes word by word with a KV cache, until <eos>: the "
                          "cache grows a row a turn, and the logits match a full recompute."),
    "sampling": SceneInfo(
        module="scenes.sampling",
        cls="SamplingScene",
        description="How the next word is chosen: temperature, top-k, top-p and a seeded draw "
                    "on one position's real logits, beside greedy's choice.",
    ),
    "heads": SceneInfo("scenes.heads", "HeadsScene", "What every head looks at: head views, model view."),
    "embedding": SceneInfo(
        module="scenes.embedding",
        cls="EmbeddingScene",
        description="Words → tokens → ids → rows of W_E → × √d_model, + positional encoding = X.",
    ),
    "tokens": SceneInfo(
        module="scenes.tokens",
        cls="TokensScene",
        description="Text → tokens → ids: the word split and <unk>, or a byte-level BPE's bytes "
                    "and merges one by one.",
    ),
    "compare": SceneInfo(
        module="scenes.compare",
        cls="CompareScene",
        description="The paper's block and today's LLM block side by side on the same "
                    "sentence: positions, norm, K/V heads, feed-forward, output.",
        default_model="modern",
    ),
    "why": SceneInfo(
        module="scenes.why",
        cls="WhyScene",
        description="The why behind the steps with real numbers: √d_k, the dot product, softmax, "
                    "layer norm, multi-head cost, real sizes, the residual stream.",
    ),
    "overview": SceneInfo(
        module="scenes.overview",
        cls="OverviewScene",
        description="The paper's architecture figure with the sentence flowing through it: "
                    "the catalogue's table of contents.",
    ),
}


def default_model(name: str) -> str:
    """The model scene ``name`` shows when none is given."""
    return SCENES[name].default_model


def get_scene_class(name: str) -> type:
    """Import and return the scene class registered as ``name`` (imports Manim)."""
    try:
        info = SCENES[name]
    except KeyError:
        raise KeyError(f"unknown scene {name!r}; choose from {', '.join(SCENES)}") from None
    return getattr(importlib.import_module(info.module), info.cls)
