"""Export every SVG of every scene, in both themes and with every model, and compare the files
byte for byte with an earlier export of the same kind (the guard of any change that must not
change a picture, such as a faster path).

    python scripts/check_svgs_identical.py --baseline DIR   # export into DIR (before the change)
    python scripts/check_svgs_identical.py DIR              # export afresh, compare with DIR

Each combination is one ``python cli.py svg all --force`` into ``DIR/THEME-MODEL``, with
``MODEL`` ``default`` for each scene's own model. A scene that refuses a model (``training``
shows only ``lm``) is exported on its own for the other scenes. Prints every file that differs,
is missing or is new, and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THEMES = ("dark", "light")
MODELS = ("default", "translate", "lm")


def scenes_for(model: str) -> list[str]:
    """The scenes that show ``model`` (every scene for ``default``)."""
    sys.path.insert(0, str(ROOT))
    from scenes.cli_support import MODELS as KINDS
    from scenes.registry import SCENES, get_scene_class

    if model == "default":
        return list(SCENES)
    return [name for name in SCENES
            if model in getattr(get_scene_class(name), "model_kinds", KINDS)]


def export(out: Path) -> None:
    for theme in THEMES:
        for model in MODELS:
            folder = out / f"{theme}-{model}"
            names = scenes_for(model)
            every = names == scenes_for("default")
            targets = ["all"] if every else names
            for target in targets:
                args = [sys.executable, str(ROOT / "cli.py"), "svg", target, "--force",
                        "--theme", theme,
                        "--out", str(folder if target == "all" else folder / target)]
                if model != "default":
                    args += ["--model", model]
                done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(f"failed: {' '.join(args[1:])}\n{done.stdout}{done.stderr}")
            count = sum(1 for _ in folder.rglob("*.svg"))
            print(f"{theme}-{model}: {count} SVG files", flush=True)


def compare(old: Path, new: Path) -> list[str]:
    problems = []
    old_files = {p.relative_to(old) for p in old.rglob("*.svg")}
    new_files = {p.relative_to(new) for p in new.rglob("*.svg")}
    for rel in sorted(old_files - new_files):
        problems.append(f"missing: {rel}")
    for rel in sorted(new_files - old_files):
        problems.append(f"new: {rel}")
    for rel in sorted(old_files & new_files):
        if not filecmp.cmp(old / rel, new / rel, shallow=False):
            problems.append(f"differs: {rel}")
    print(f"{len(old_files & new_files)} files compared")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the earlier export (or, with --baseline, "
                                                  "where to write it)")
    parser.add_argument("--baseline", action="store_true", help="export into FOLDER only")
    parser.add_argument("--keep", type=Path, default=None,
                        help="export the new files here (kept) instead of a temporary folder")
    args = parser.parse_args()
    if args.baseline:
        export(args.folder)
        return
    with tempfile.TemporaryDirectory(prefix="svg-check-") as tmp:
        new = args.keep or Path(tmp)
        export(new)
        problems = compare(args.folder, new)
    for line in problems:
        print(line)
    print("identical" if not problems else f"{len(problems)} differences")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
