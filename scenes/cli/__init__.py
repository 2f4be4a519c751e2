"""What the commands of ``cli.py`` share, one concern a module: ``errors`` (one line and an exit
code for every error), ``signals`` (SIGTERM and SIGHUP unwind like Ctrl-C), ``checks`` (names,
tools and output folders, checked before any work starts), ``caching`` (``--force``,
``--no-cache``, the skip record), ``progress``, ``jobs`` (several scenes in processes of their
own). The options that choose what a scene shows are in :mod:`scenes.cli_support`. Importing
any of them imports click only (no torch, no Manim), so ``cli.py --help`` stays instant."""
