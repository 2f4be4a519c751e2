"""A path option that must name something: ``--out ''`` is a usage mistake, not the current folder.

``click.Path`` turns ``''`` into ``Path('')``, which is ``.``: ``svg --out ''`` wrote into the
current folder and ``trace --out ''`` failed with "cannot write .". Only click: instant to import.
"""

from __future__ import annotations

import click

__all__ = ["NonEmptyPath"]


class NonEmptyPath(click.Path):
    """``click.Path`` that refuses an empty value (exit 2)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path: give a file or folder name", param, ctx)
        return super().convert(value, param, ctx)
