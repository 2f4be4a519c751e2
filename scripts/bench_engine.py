"""What each piece of the engine (``scenes/engine/``) earns: the same commands with one piece
switched off at a time, interleaved (every configuration once per round), CPU time (user +
system of the command's processes) and wall time, best of the rounds.

    python scripts/bench_engine.py [--rounds 2] [--pieces a,b] [--benches svg,warm]
    python scripts/bench_engine.py --trees OLD,NEW [--benches cold,warm,svg]   # before/after

Benches: ``cold``: ``render attention --quality low`` with an empty cache folder; ``warm``: the
same on another sentence with the caches filled; ``svg``: ``svg all --force`` with warm caches.
A piece is switched off inside the command's own process (``--child``) without changing the
code: its methods not installed, its cache never hit, its step skipped. A piece earns its keep
if it saves at least 3 % of the CPU time of ``svg all`` or of the cold ``attention`` render.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OTHER = "paul sees rome in may"

# Patched Manim attributes, by piece: the name of the function the engine puts in place.
SITES = {
    "methods": {"reduce_across_dimension", "length_over_dim", "get_extremum_along_dim",
                "get_points_defining_boundary", "interpolate_color", "get_subpaths_from_points",
                "consider_points_equals", "generate_rgbas_array", "deepcopy", "get_family",
                "colour_deepcopy"},
    "still-points": {"interpolate"},
    "end-states": {"fast_begin", "fast_interpolate", "fast_finish", "fast_update",
                   "fast_clean_up", "snapshot_begin"},
    "deferred": {"deferred_begin", "deferred_interpolate", "deferred_finish",
                 "owed_aware_replace"},
}
# Each piece, and the benches it acts on (the others would measure noise). A piece's saving in
# CPU seconds is the same with cold or warm caches (but for the caches' own): the warm render,
# half the cold one's CPU time, measures it for half the machine's time.
PIECES = {
    "methods": ("svg", "warm"), "still-points": ("warm",), "end-states": ("svg",),
    "deferred": ("svg",), "objectstate": ("svg", "warm"),
    "text-cache": ("svg",), "blas": ("warm",),
    "camera": ("warm",), "freed-memory": ("warm",), "dry-run": ("svg",), "shards": ("warm",),
    "svg-jobs": ("svg",),
}
ARGS = {"shards": {"warm": ["--jobs", "1"]},
        "svg-jobs": {"svg": ["--jobs", "1"]}}


# ---- in the command's process -------------------------------------------------------------

def _after_import(name: str, then) -> None:
    """Run ``then(module)`` once module ``name`` has been imported (now, if it is)."""
    if name in sys.modules:
        then(sys.modules[name])
        return
    import importlib.abc
    import importlib.util

    class Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname != name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                then(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, Hook())


def child(piece: str, argv: list[str]) -> None:
    """Run ``cli.py argv`` in this process with ``piece`` switched off."""
    sys.path.insert(0, str(ROOT))
    import cli

    if piece in SITES:
        def skip_sites(patching) -> None:
            original = patching.Patches.set

            def set_unless_off(self, owner, name, value):
                if getattr(value, "__name__", name) in SITES[piece]:
                    return None
                return original(self, owner, name, value)

            patching.Patches.set = set_unless_off

        _after_import("scenes.engine.patching", skip_sites)
    elif piece == "objectstate":
        def no_state(objectstate) -> None:
            def refuse(*args, **kwargs):
                raise objectstate.Unsupported("switched off")

            objectstate.encode = objectstate.decode = refuse

        _after_import("scenes.engine.objectstate", no_state)
    elif piece == "text-cache":
        _after_import("scenes.engine.textcache",
                      lambda textcache: setattr(textcache._TEXT, "get", lambda key: None))
    elif piece == "blas":
        cli.one_blas_thread = lambda: None
    elif piece == "camera":
        def plain_renderer(video) -> None:
            from manim.renderer.cairo_renderer import CairoRenderer

            video._renderer = lambda skip_animations: CairoRenderer(skip_animations=skip_animations)

        _after_import("scenes.writers.video", plain_renderer)
        _after_import("scenes.engine.shards", lambda shards: setattr(shards, "_renderer_kwargs",
                                                                     lambda: {}))
    elif piece == "freed-memory":
        _after_import("scenes.writers.video",
                      lambda video: setattr(video, "keep_freed_memory", lambda: False))
    elif piece == "dry-run":
        def plain_dry_run(dry_run) -> None:
            from manim import Camera

            dry_run.no_pixels = lambda scene: None
            dry_run.dry_run_camera = lambda: Camera

        _after_import("scenes.engine.dry_run", plain_dry_run)
    sys.argv = ["cli.py", *argv]
    cli.run()


# ---- the benchmark -------------------------------------------------------------------------

def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], env: dict) -> tuple[float, float]:
    cpu, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return _children_cpu() - cpu, wall


def command(root: Path, bench: str, out: Path, piece: str | None) -> list[str]:
    start = ([sys.executable, str(Path(__file__).resolve()), "--child", piece or "none", "--"]
             if piece else [sys.executable, str(root / "cli.py")])
    extra = ARGS.get(piece or "", {}).get(bench, [])
    if bench == "svg":
        return [*start, "svg", "all", "--force", "--out", str(out / "svg"), *extra]
    sentence = ["--sentence", OTHER] if bench == "warm" else []
    return [*start, "render", "attention", "--quality", "low", "--no-web", "--force",
            "--out", str(out / "video"), *sentence, *extra]


def env_for(cache: Path) -> dict:
    env = dict(os.environ, XDG_CACHE_HOME=str(cache))
    for name in ("TRANSFORMER_NO_CACHE", "TRANSFORMER_EXPLAINED_CACHE", "OPENBLAS_NUM_THREADS"):
        env.pop(name, None)
    return env


def warm_cache(root: Path, cache: Path, out: Path, benches: list[str]) -> None:
    """Fill ``cache`` as the warm benches expect: attention rendered once on each sentence (the
    other sentence's trace kept, as a repeated render finds it) and every SVG exported once."""
    env = env_for(cache)
    if "warm" in benches:
        for sentence in ([], ["--sentence", OTHER]):
            subprocess.run([sys.executable, str(root / "cli.py"), "render", "attention",
                            "--quality", "low", "--no-web", "--force", "--out", str(out / "fill"),
                            *sentence], env=env, cwd=root, check=True, capture_output=True)
    if "svg" in benches:
        subprocess.run([sys.executable, str(root / "cli.py"), "svg", "all", "--force", "--out",
                        str(out / "fill-svg")], env=env, cwd=root, check=True,
                       capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pieces", default=",".join(PIECES))
    parser.add_argument("--benches", default=None,
                        help="comma-separated (default: svg,warm; with --trees cold,warm,svg)")
    parser.add_argument("--trees", default=None,
                        help="comma-separated project folders to compare (no piece switched off)")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, [a for a in args.rest if a != "--"])
        return
    benches = (args.benches or ("cold,warm,svg" if args.trees else "svg,warm")).split(",")
    if args.trees:
        configs = [(Path(t).resolve(), None) for t in args.trees.split(",")]
    else:
        configs = [(ROOT, None)] + [(ROOT, p) for p in args.pieces.split(",")]
    results: dict[tuple, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        tmp = Path(tmp)
        warm = {}
        for root, _ in configs:
            if root not in warm and ("warm" in benches or "svg" in benches):
                warm[root] = tmp / f"warm-{len(warm)}"
                warm_cache(root, warm[root], tmp / "out", benches)
        for round_ in range(args.rounds):
            for bench in benches:
                for root, piece in configs:
                    if piece is not None and bench not in PIECES[piece]:
                        continue
                    if bench == "cold":
                        cache = tmp / "cold"
                        shutil.rmtree(cache, ignore_errors=True)
                    else:
                        cache = warm[root]
                    cpu, wall = timed(command(root, bench, tmp / "out", piece), env_for(cache))
                    results.setdefault((bench, str(root), piece), []).append((cpu, wall))
                    print(f"round {round_ + 1} {bench:5s} {piece or root.name:14s} "
                          f"CPU {cpu:6.2f} s  wall {wall:6.2f} s", flush=True)
    print("\n| bench | configuration | CPU s (best) | wall s (best) | CPU vs all on |")
    print("|---|---|---|---|---|")
    for bench in benches:
        base = None
        for root, piece in configs:
            runs = results.get((bench, str(root), piece))
            if not runs:
                continue
            cpu, wall = min(r[0] for r in runs), min(r[1] for r in runs)
            if base is None:
                base = cpu
            name = f"{piece} off" if piece else Path(root).name
            print(f"| {bench} | {name} | {cpu:.2f} | {wall:.2f} | {100 * (cpu / base - 1):+.1f} % |")


if __name__ == "__main__":
    main()
