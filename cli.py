"""``python cli.py …`` in a checkout: the command line of :mod:`transformer_explained.cli`
(installed as ``transformer-explained``; this file is not installed). Imported, ``cli`` is that
module itself, so ``from cli import main`` and patches of ``cli.…`` reach the real thing."""

import sys

import transformer_explained.cli as _cli

if __name__ == "__main__":
    _cli.run()
else:
    sys.modules[__name__] = _cli
