"""`build FILE`: a post's figures from its figures file; `svg --step` skips when unchanged.

A mistake in the file is one line naming the entry, exit 2, before anything is drawn; one
output made for real (an SVG step) is made, then unchanged on the second build; a failing
output is one line at the end, exit 1, and the others are still made.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parents[1]


def build(path: Path, *args: str):
    return CliRunner().invoke(main, ["build", str(path), *args])


@pytest.mark.parametrize("text, expected", [
    ('[[figure\nscene = "attention"\n', "not valid TOML"),
    ('[[figure]]\nscene = "atention"\nvideo = true\n',
     "figure 1: no scene 'atention'; did you mean 'attention'?"),
    ('[[figure]]\nscene = "attention"\nthem = "light"\nvideo = true\n',
     "figure 1 (attention): no option 'them'; did you mean 'theme'?"),
    ('[[figure]]\nscene = "attention"\ntheme = "pink"\nvideo = true\n',
     "figure 1 (attention): Invalid value for '--theme'"),
    ('[[figure]]\nscene = "attention"\n', "figure 1 (attention): no outputs"),
    ('[[figure]]\nscene = "attention"\nvideo = "yes"\n', "video is true or false"),
    ('[[figure]]\nscene = "attention"\nsvg = [1]\n', "svg is a step name or a list"),
    ('[[figure]]\nscene = "attention"\nname = "../up"\nvideo = true\n', "name is a plain folder name"),
    ('[[figure]]\nscene = "attention"\nvideo = true\n[[figure]]\nscene = "attention"\nsvg = true\n',
     "figure 2 (attention): another figure has this name"),
    ('out = "x"\n', "no figures"),
    ('colour = 1\n[[figure]]\nscene = "attention"\nvideo = true\n', "unknown key 'colour'"),
])
def test_a_mistake_in_the_figures_file_is_one_line_naming_the_entry(tmp_path, text, expected):
    path = tmp_path / "figures.toml"
    path.write_text(text, encoding="utf-8")
    result = build(path)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert expected in lines[0] and "figures.toml" in lines[0]
    assert not (tmp_path / "attention").exists()


def test_a_missing_figures_file(tmp_path):
    result = build(tmp_path / "nope.toml")
    assert result.exit_code == 2 and "no figures file" in result.output


def test_build_makes_then_skips_and_reports_a_failure(tmp_path, cache_home):
    post = tmp_path / "post"
    post.mkdir()
    (post / "figures.toml").write_text(
        'out = "figures"\n'
        '[[figure]]\nscene = "attention"\nname = "attn"\ntheme = "light"\nsvg = ["softmax"]\n'
        '[[figure]]\nscene = "attention"\nname = "bad"\nhead = 9\nsvg = ["softmax"]\n',
        encoding="utf-8")

    def run():
        return subprocess.run([sys.executable, str(ROOT / "cli.py"), "build"], cwd=post,
                              capture_output=True, text=True, timeout=600)

    first = run()
    assert first.returncode == 1, first.stdout + first.stderr
    svg = post / "figures" / "attn" / "svg" / "07-softmax.svg"
    assert svg.is_file() and svg.read_text().startswith("<?xml")
    assert "[1/2] attn: svg softmax: made in" in first.stdout
    assert "[2/2] bad: svg softmax: failed (exit 2)" in first.stdout
    failed = [line for line in first.stderr.splitlines() if line.startswith("failed: ")]
    assert failed == ["failed: bad: svg softmax: Invalid value for --head: head 9 is out of "
                      "range: this model has 2 (0..1)"]
    assert first.stderr.strip().splitlines()[-1] == "Error: 1 of 2 outputs failed"
    mtime = svg.stat().st_mtime_ns
    second = run()
    assert "[1/2] attn: svg softmax: unchanged" in second.stdout
    assert svg.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("args, expected", [
    (["render", "all", "--step", "softmax"], "give a scene name, not `all`"),
    (["render", "attention", "--step", "softmax", "--format", "gif"], "not --format gif"),
])
def test_render_step_usage_mistakes(tmp_path, args, expected):
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and expected in result.output
    assert not (tmp_path / "r").exists()
