"""``python -m transformer_explained``: the command line (also run as a file by the commands
that start children of their own, :func:`transformer_explained.command`)."""

import sys
from pathlib import Path

if not __package__:  # run as a file: the packages are in the folder above this one
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from transformer_explained.cli import run  # noqa: E402

run()
