"""The project as a user installs it: a wheel built from the sources, installed in a fresh
virtual environment outside the repository, gives the ``transformer-explained`` command, which
does what ``python cli.py`` does, with the shipped checkpoints, from any folder.

Offline and fast: the wheel is built with this environment's setuptools (no build isolation) and
installed without its dependencies; the fresh environment sees this one's packages (manim, torch)
through a ``.pth`` line, which adds the folder to ``sys.path`` without running the ``.pth`` files
inside it (so this environment's editable install of the project stays invisible).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", "renders", "media", "build", "dist", "*.egg-info",
                              "__pycache__", ".pytest_cache", ".ruff_cache", "test-artifacts")


def run(args, **kwargs) -> subprocess.CompletedProcess:
    """The command, in an environment without PYTHONPATH: the installed command must find the
    wheel's modules, not the repository's that a PYTHONPATH naming it would put first."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600,
                          env=env, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the build leaves nothing in the repository)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    done = run([sys.executable, "-m", "pip", "wheel", src, "--no-deps", "--no-build-isolation",
                "--no-index", "-q", "-w", tmp / "dist"])
    assert done.returncode == 0, done.stderr
    (path,) = (tmp / "dist").glob("transformer_explained-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment (outside the repository) with the wheel installed."""
    env = tmp_path_factory.mktemp("venv") / "env"
    assert run([sys.executable, "-m", "venv", "--without-pip", env]).returncode == 0
    python = env / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site.stdout.strip()) / "project-deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    done = run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
                "--no-index", "-q", wheel])
    assert done.returncode == 0, done.stderr
    return env


def test_the_wheel_holds_every_module_and_the_checkpoints(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(ROOT).as_posix()
               for package in ("scenes", "transformer_core", "transformer_explained")
               for p in (ROOT / package).rglob("*.py")}
    assert sources, "no sources found"
    assert sorted(sources - names) == []  # every subpackage (scenes.toolkit, ...) is in
    assert {"transformer_core/checkpoints/translate.pt", "transformer_core/checkpoints/lm.pt",
            "transformer_explained/__main__.py"} <= names
    # no top-level module named `cli` (a name many projects use): the checkout's shim stays out
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"scenes", "transformer_core", "transformer_explained"}, top
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert re.search(r"^transformer-explained = transformer_explained.cli:run$", text, re.M), text
    assert re.search(r"^transformer-explained = scenes.sites.mkdocs_plugin:FiguresPlugin$",
                     text, re.M), text


def test_the_installed_modules_are_the_wheels(venv, tmp_path):
    where = run([venv / "bin" / "python", "-c",
                 "import importlib.util as u, transformer_explained.cli as cli, scenes, "
                 "transformer_core.checkpoint as c; assert u.find_spec('cli') is None; "
                 "print(cli.__file__); print(scenes.__file__); print(c.default_path('translate'))"],
                cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    paths = [Path(line) for line in where.stdout.split()]
    assert len(paths) == 3 and all(p.is_relative_to(venv) for p in paths), paths
    assert paths[2].read_bytes() == (ROOT / "transformer_core/checkpoints/translate.pt").read_bytes()


def test_the_command_does_what_cli_py_does(venv, tmp_path):
    command = venv / "bin" / "transformer-explained"
    for args in (["list"], ["trace", "--model", "lm"], ["--help"]):
        installed = run([command, *args], cwd=tmp_path)
        repo = run([sys.executable, ROOT / "cli.py", *args], cwd=tmp_path)
        assert installed.returncode == repo.returncode == 0, installed.stderr + repo.stderr
        assert installed.stdout.replace("transformer-explained", "cli.py") == repo.stdout
    python_m = run([venv / "bin" / "python", "-m", "transformer_explained", "list"], cwd=tmp_path)
    assert python_m.returncode == 0 and python_m.stdout == run([command, "list"]).stdout
    version = run([command, "--version"], cwd=tmp_path)
    assert version.returncode == 0 and re.fullmatch(r"transformer-explained \d+\.\d+\.\d+\n",
                                                    version.stdout), version.stdout
    wrong = run([command, "render", "atention"], cwd=tmp_path)
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines()[-1].endswith("did you mean 'attention'?")


def test_the_command_renders_a_still_from_another_folder(venv, tmp_path):
    folder = tmp_path / "lecture"
    folder.mkdir()
    done = run([venv / "bin" / "transformer-explained", "svg", "attention", "--step", "query",
                "--sentence", "paul sees rome in may", "--out", "figures"], cwd=folder)
    assert done.returncode == 0, done.stderr
    svg = (folder / "figures" / "03-query.svg").read_text(encoding="utf-8")
    from scenes.registry import get_scene_class
    from scenes.toolkit.storyboard import SceneOptions

    caption = {s.name: s.caption for s in get_scene_class("attention").storyboard(SceneOptions())}
    assert f"<desc id=\"desc\">{escape(caption['query'])}</desc>" in svg
    assert svg.count("<path") > 100  # glyph outlines: the words and numbers are drawn
    assert sorted(p.name for p in folder.rglob("*")) == ["03-query.svg", "figures"]


def test_the_installed_commands_hints_name_it(venv, tmp_path):
    """A hint names the command that was run, not the checkout's `python cli.py`."""
    done = run([venv / "bin" / "transformer-explained", "gallery", "--renders", "nothing"],
               cwd=tmp_path)
    assert done.returncode == 1
    assert "run `transformer-explained render SCENE`" in done.stderr and "cli.py" not in done.stderr
