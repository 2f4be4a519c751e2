"""A command process's start: NumPy's OpenBLAS on one thread, and what importing Manim loads
and never uses left out. Only for a process that runs one command (``python cli.py``, the
installed script); Python code that imports :mod:`cli` is not affected. Imports nothing heavy."""

from __future__ import annotations

import os
import sys

__all__ = ["one_blas_thread", "skip_unused_imports"]

def one_blas_thread() -> None:
    """NumPy's OpenBLAS (and SciPy's) on one thread in a command process, unless the user's
    environment says otherwise; set before NumPy is first imported, which reads it then.

    Our NumPy works on small arrays (a scene's points, 8-wide matrices); OpenBLAS's helper
    threads gain nothing there, but once woken they spin waiting for more work, on a core
    that the render's encoder, or the other scene of ``render all``, needs (0.1-0.7 CPU
    seconds of a 15 s render). PyTorch keeps its threads, but its OpenMP threads wait
    passively (sleep, not spin) between operations: on a machine busy with other work, a run
    of SmolLM2 on a sentence took 8.6 CPU seconds (25 s) spinning and 0.8 (2.5 s) passive."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def skip_unused_imports() -> None:
    """Spare a command process what importing Manim loads and never uses (about a third of a
    second of every render's start). Only for a process that runs one command (``python
    cli.py``, the installed script), before Manim is imported; Python code that imports
    :mod:`cli` (a notebook, the tests) is not affected.

    * IPython, which Manim imports only to offer its Jupyter magic, is marked missing: Manim
      then goes on without the magic.
    * ``scipy.spatial``'s own body (k-d trees, convex hulls, distances, and ``scipy.special``
      with them) runs only if something uses it: Manim needs only its ``transform``
      subpackage (rotations), which imports as usual. Until then the package is an empty
      module that finds its submodules; the first other name asked of it runs its body. This
      is set up by a finder that acts when scipy.spatial is first imported, so that setting
      it up imports nothing (``--help`` loads neither numpy nor scipy).
    """
    if "manim" in sys.modules:
        return
    sys.modules.setdefault("IPython", None)  # type: ignore[assignment]
    if not any(isinstance(f, _FirstUseFinder) for f in sys.meta_path):
        # Nothing is imported now (numpy and scipy are not needed by `--help` or a skipped
        # render): the finder acts when something first imports scipy.spatial.
        sys.meta_path.insert(0, _FirstUseFinder({"scipy.spatial"}))


class _FirstUseFinder:
    """Finds the packages ``names`` as Python would, with a loader that leaves each body to
    its first use: the package starts as a module with its ``__path__`` (its submodules import
    as usual) and a module ``__getattr__``; any other name asked of it runs the body first.
    Each package is handled once; anything unexpected imports it as usual."""

    def __init__(self, names: set[str]) -> None:
        self.names = set(names)

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in self.names:
            return None
        self.names.discard(fullname)
        import importlib.machinery

        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        except Exception:  # noqa: BLE001 (an unexpected layout: the usual import)
            return None
        if spec is None or spec.loader is None or spec.submodule_search_locations is None \
                or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _FirstUseLoader(spec.loader)
        return spec


class _FirstUseLoader:
    """The loader of a package whose body runs on first use (see :class:`_FirstUseFinder`)."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        name, loader = module.__name__, self.loader

        def __getattr__(attr: str):
            loaded = sys.modules.get(f"{name}.{attr}")
            if loaded is not None:  # a submodule being imported (``import a.b.c as d``)
                return loaded
            module.__dict__.pop("__getattr__", None)
            module.__loader__ = loader
            module.__spec__.loader = loader
            loader.exec_module(module)
            return getattr(module, attr)

        module.__getattr__ = __getattr__  # type: ignore[attr-defined]
