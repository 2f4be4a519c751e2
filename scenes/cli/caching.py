"""The options of the commands that skip unchanged work (``--force``, ``--no-cache``) and
their skip record (:mod:`scenes.engine.skip`)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["cache_options", "skip_check", "apply_no_cache"]

def cache_options(f):
    """``--force`` and ``--no-cache``, for the commands that skip unchanged work."""
    f = click.option("--no-cache", "no_cache", is_flag=True,
                     help="Use no cache: lay out text and compile formulas afresh, draw with "
                          "Manim's own camera and encoder, and render even if nothing "
                          "changed.")(f)
    return click.option("--force", is_flag=True,
                        help="Render even if nothing changed since the last run into this "
                             "folder.")(f)


def skip_check(ctx: click.Context, command: str, target: str, folder: Path, manifest_name: str,
               model: str):
    """``(manifest, key, current)`` of this command's skip record for ``target`` drawn by
    ``model``; ``current`` is True when the last run into ``folder`` had the same code,
    checkpoint, options and tools and its files are as it left them (then there is nothing to
    do). ``--no-cache`` and ``--force`` never skip."""
    from scenes.engine.skip import Manifest, checkpoint_path, make_key

    params = ctx.params
    checkpoint = checkpoint_path(model, params.get("checkpoint"))
    key = make_key(command, target, params, [checkpoint])
    manifest = Manifest(folder, manifest_name)
    current = not params.get("force") and not params.get("no_cache") and manifest.current(key)
    return manifest, key, current


def apply_no_cache(no_cache: bool) -> None:
    """``--no-cache``: every cache off for this process and the ones it starts."""
    if no_cache:
        from transformer_core.cache import set_enabled

        set_enabled(False)
