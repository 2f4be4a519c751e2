"""SVG diagrams: real vectors, byte-reproducible, and the same picture as Manim's own renderer.

The machinery is tested on small mobjects built here; the attention scene's storyboard is
exported once per module (animations skipped) and checked step by step.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"

# Built identically in this process and in a subprocess: the reproducibility test runs it twice.
SAMPLE = r'''
import numpy as np
from manim import BLUE, DOWN, LEFT, RED, RIGHT, UP, Arrow, Square, Text, VGroup, config

def sample_mobjects():
    values = np.array([[0.53, -1.2, 3.0], [-0.07, 2.25, 0.0], [1.5, -0.33, 0.91]])
    matrix = VGroup(*[Text(f"{v:.2f}", font="DejaVu Sans Mono", font_size=30)
                      for v in values.flat]).arrange_in_grid(3, 3, buff=0.4)
    square = Square(side_length=1.5, color=RED, fill_color=BLUE, fill_opacity=0.6)
    square.shift(LEFT * 5)
    arrow = Arrow(LEFT * 2, LEFT * 0.5, color="#ffcc00").shift(DOWN * 2.5)
    title = Text("Q·Kᵀ < & >", font_size=40).to_edge(UP)
    gradient = Square(side_length=1.2).set_fill([RED, BLUE], opacity=1).set_stroke(width=0)
    gradient.shift(RIGHT * 5 + DOWN * 2)
    return [square, matrix, arrow, title, gradient]

def sample_figure(**kw):
    from scenes.writers.svg import Figure
    args = dict(title="sample — step 1: <scores> & more", desc="Caption with < & > \"quotes\".",
                frame_width=config.frame_width, frame_height=config.frame_height,
                background="#101820")
    args.update(kw)
    return Figure(**args)
'''
_namespace: dict = {}
exec(SAMPLE, _namespace)
sample_mobjects, sample_figure = _namespace["sample_mobjects"], _namespace["sample_figure"]


def parse(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def rasterise(data: bytes) -> np.ndarray:
    """Render an SVG with cairosvg (a renderer independent of Manim) to an RGB array."""
    import cairosvg
    from PIL import Image

    png = cairosvg.svg2png(bytestring=data)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)


def manim_png(mobjects, figure) -> np.ndarray:
    """Manim's own pixel renderer, the same mobjects at the same pixel size."""
    from manim import Camera

    camera = Camera(pixel_width=figure.width, pixel_height=figure.height,
                    frame_width=figure.frame_width, frame_height=figure.frame_height,
                    background_color=figure.background or "#000000")
    camera.capture_mobjects(mobjects)
    return np.asarray(camera.get_image().convert("RGB")).astype(np.int16)


def pixel_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean absolute difference (0-255) and the share of pixels off by more than 48 in a channel."""
    assert a.shape == b.shape
    diff = np.abs(a - b)
    return float(diff.mean()), float((diff.max(axis=-1) > 48).mean())


# --- the machinery, on mobjects built here ---------------------------------------------------

@pytest.fixture(scope="module")
def sample_svg() -> bytes:
    from scenes.writers.svg import mobjects_to_svg

    return mobjects_to_svg(sample_mobjects(), sample_figure())


def test_sample_is_real_vectors_with_pixel_units(sample_svg):
    root = parse(sample_svg)
    assert root.tag == f"{SVG}svg"
    assert (root.get("width"), root.get("height")) == ("960px", "540px")
    assert root.get("viewBox") == "0 0 960 540"
    paths = root.findall(f".//{SVG}path")
    # One outline per glyph (39 in the numbers, 7 in the title), the square, the arrow's shaft
    # and tip, the gradient square.
    assert len(paths) == 39 + 7 + 1 + 2 + 1
    assert all(p.get("d") for p in paths)
    assert root.find(f".//{SVG}image") is None and b"base64" not in sample_svg
    assert b"<text" not in sample_svg  # text is outlines: no font needed to view it


def test_title_desc_escaped_and_background(sample_svg):
    root = parse(sample_svg)
    assert root.find(f"{SVG}title").text == "sample — step 1: <scores> & more"
    assert root.find(f"{SVG}desc").text == 'Caption with < & > "quotes".'
    rect = root.find(f"{SVG}rect")
    assert (rect.get("width"), rect.get("height"), rect.get("fill")) == ("960", "540", "#101820")
    # The background is drawn first, under everything else.
    assert list(root)[2] is rect


def test_transparent_has_no_background():
    from scenes.writers.svg import mobjects_to_svg

    data = mobjects_to_svg(sample_mobjects(), sample_figure(background=None))
    root = parse(data)
    assert root.find(f"{SVG}rect") is None
    assert rasterise_alpha(data)[0, 0] == 0  # a corner is see-through


def rasterise_alpha(data: bytes) -> np.ndarray:
    import cairosvg
    from PIL import Image

    png = cairosvg.svg2png(bytestring=data)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[..., 3]


def test_colours_are_not_swapped(sample_svg):
    """Manim's pixel path swaps red and blue for its buffer; the SVG must not."""
    from manim import BLUE, RED, ManimColor

    text = sample_svg.decode()
    assert f'fill="{ManimColor(BLUE).to_hex().lower()}"' in text
    assert f'stroke="{ManimColor(RED).to_hex().lower()}"' in text
    assert 'stroke="#ffcc00"' in text


def test_sample_matches_manim_pixels(sample_svg):
    mean, share = pixel_difference(rasterise(sample_svg), manim_png(sample_mobjects(),
                                                                     sample_figure()))
    assert mean < 0.5 and share < 0.002, (mean, share)


def test_difference_measure_detects_a_wrong_picture(sample_svg):
    """The tolerance above is tight enough to catch a shift of one scene unit."""
    from manim import RIGHT

    moved = sample_mobjects()
    moved[0].shift(RIGHT * 1)
    mean, share = pixel_difference(rasterise(sample_svg), manim_png(moved, sample_figure()))
    assert mean > 0.5 or share > 0.002


def test_same_bytes_twice_and_in_another_process(sample_svg, tmp_path):
    from scenes.writers.svg import mobjects_to_svg

    assert mobjects_to_svg(sample_mobjects(), sample_figure()) == sample_svg
    script = tmp_path / "make_sample.py"
    script.write_text(
        SAMPLE + "\nimport hashlib, sys\nfrom scenes.writers.svg import mobjects_to_svg\n"
        "sys.stdout.write(hashlib.sha256(mobjects_to_svg(sample_mobjects(), "
        "sample_figure())).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123"}
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == hashlib.sha256(sample_svg).hexdigest()


def test_no_process_dependent_ids(sample_svg):
    assert b"surface" not in sample_svg
    ids = [el.get("id") for el in parse(sample_svg).iter() if el.get("id")]
    assert ids == ["title", "desc", "background", "linear0"]
    assert b'fill="url(#linear0)"' in sample_svg  # the gradient square still finds its gradient


def path_text(*point_lists, tolerance=1e-6) -> list[str]:
    """Path data of VMobjects with the given points (x, y pairs, four per cubic curve), in
    pixel units (a view with y up as y down taken out)."""
    from manim import VMobject

    from scenes.writers.svg import _path_texts, _View

    items = []
    for points in point_lists:
        vm = VMobject()
        vm.tolerance_for_point_equality = tolerance
        xy = np.asarray(points, dtype=float).reshape(-1, 2)
        vm.points = np.column_stack([xy, np.zeros(len(xy))])
        items.append((vm, vm.points))
    return _path_texts(items, _View(1.0, -1.0, 0.0, 0.0))


def test_path_relative_lines_and_curves():
    # A straight cubic (controls on the chord) becomes h; a real curve stays c; the straight
    # way back to the start is l, and the subpath is closed since it ends where it began.
    square_ish = [(10, 20), (11, 20), (12, 20), (13, 20),
                  (13, 20), (13, 21.5), (14, 22), (15.255, 23),
                  (15.255, 23), (13.5033, 22), (11.7517, 21), (10, 20)]
    assert path_text(square_ish) == ["M10 20h3c0 1.5 1 2 2.26 3l-5.26-3z"]
    # Snapping happens on absolute points, so relative steps never drift; an open subpath has
    # no z.
    line = [(0.004, 0), (0.005, 0), (0.005, 0), (0.006, 0),
            (0.006, 0), (0.01, 0), (0.012, 0), (0.016, 0)]
    assert path_text(line) == ["M0 0h.01h.01"]


def test_path_subpaths_moves_and_degenerate_points():
    """A second subpath starts with a move relative to where the first closed; fewer points
    than a curve, or points that are not finite, draw nothing (as in Manim's camera)."""
    first = [(0, 0), (1, 0), (2, 0), (3, 0), (3, 0), (3, 1), (3, 2), (3, 3),
             (3, 3), (2, 2), (1, 1), (0, 0)]
    second = [(10, 10), (11, 10), (12, 10), (13, 10)]
    assert path_text(first + second) == ["M0 0h3v3l-3-3zm10 10h3"]
    assert path_text([(0, 0), (1, 1)], [(0, 0), (np.nan, 1), (2, 2), (3, 3)]) == ["", ""]


def test_paths_of_many_mobjects_at_once_equal_each_alone():
    """Paths are written for all of a figure's shapes at once: each the same as alone."""
    rng = np.random.default_rng(1)
    shapes = [rng.uniform(-300, 300, size=(4 * k, 2)).round(3) for k in (1, 3, 2, 5)]
    shapes.insert(2, np.zeros((2, 2)))  # draws nothing: the others keep their own text
    together = path_text(*shapes)
    assert together == [path_text(s)[0] for s in shapes]
    assert together[2] == "" and all(t.startswith("M") for i, t in enumerate(together) if i != 2)


def test_path_keeps_the_shape():
    """Absolute points recovered from the relative text equal the input, rounded."""
    import re

    rng = np.random.default_rng(0)
    pts = rng.uniform(-300, 300, size=(10, 2))
    points = [pts[0]]
    for i in (1, 4, 7):  # three curves, each starting where the last ended
        points.extend([points[-1] if len(points) > 1 else pts[0], pts[i], pts[i + 1],
                       pts[i + 2]][1 if len(points) == 1 else 0:])
    text = path_text(points)[0]
    numbers = [float(n) for n in re.findall(r"-?(?:\d+\.?\d*|\.\d+)", text)]
    got = [np.array(numbers[:2])]
    for k in range(3):
        rel = np.array(numbers[2 + 6 * k: 8 + 6 * k]).reshape(3, 2)
        got.extend(list(got[-1] + rel))
    np.testing.assert_allclose(np.array(got), pts, atol=0.0051)


def absolute_segments(text: str) -> list[tuple[str, tuple[float, ...]]]:
    """Path text as ("M", end) / ("S", end) / ("Z", ()) in absolute pixels: each drawn
    segment (a line or a curve) by where it ends."""
    import re

    out, x, y, sx, sy = [], 0.0, 0.0, 0.0, 0.0
    for cmd, args in re.findall(r"([MmcChvlz])([^MmcChvlz]*)", text):
        v = [float(n) for n in re.findall(r"-?(?:\d+\.?\d*|\.\d+)", args)]
        if cmd in "Mm":
            x, y = (v[0], v[1]) if cmd == "M" else (x + v[0], y + v[1])
            sx, sy = x, y
            out.append(("M", (x, y)))
        elif cmd == "z":
            x, y = sx, sy
            out.append(("Z", ()))
        else:
            dx, dy = (v[0], 0) if cmd == "h" else (0, v[0]) if cmd == "v" else v[-2:]
            x, y = x + dx, y + dy
            out.append(("S", (x, y)))
    return out


def cairo_segments(vmobject) -> list[tuple[str, tuple[float, ...]]]:
    """The path Manim's own camera gives cairo for ``vmobject`` (at the identity matrix)."""
    import cairo
    from manim import Camera

    surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, 4, 4)
    ctx = cairo.Context(surface)
    Camera(pixel_width=4, pixel_height=4).set_cairo_context_path(ctx, vmobject)
    out = []
    for kind, pts in ctx.copy_path():
        if kind == cairo.PATH_MOVE_TO:
            out.append(("M", tuple(pts)))
        elif kind == cairo.PATH_CLOSE_PATH:
            out.append(("Z", ()))
        else:
            out.append(("S", tuple(pts[-2:])))
    return out[:-1] if out and out[-1][0] == "M" else out  # cairo's move back after a close


def without_steps_to_nowhere(segments):
    """Segments less those ending where they start (cairo drops them at 1/256 px, the SVG at
    1/100 px), but for the first of a subpath."""
    out, here = [], None
    for kind, end in segments:
        if kind == "S" and out and out[-1][0] != "M" and np.allclose(end, here, atol=0.011):
            continue
        out.append((kind, end))
        here = end if end else here
    return out


def test_paths_are_the_ones_manims_camera_draws():
    """Glyphs, round and straight shapes, several subpaths, a partial last curve and a class
    with its own way of splitting: the same moves, segments and closes as Manim's camera
    gives cairo, at the same points (1/100 px)."""
    from manim import Arrow, Circle, Square, Text, VGroup, VMobject

    class Unsplit(VMobject):
        def get_subpath_split_indices_from_points(self, points, n_dims=3):
            return np.array([[0, len(points)]])

    rng = np.random.default_rng(2)
    ragged = VMobject()
    ragged.points = np.column_stack([rng.uniform(-50, 50, (10, 2)), np.zeros(10)])
    gaps = VMobject()
    gaps.points = np.column_stack([rng.uniform(-50, 50, (12, 2)), np.zeros(12)])
    unsplit = Unsplit()
    unsplit.points = gaps.points.copy()
    shapes = [*Text("Q·K 0.5", font_size=200).family_members_with_points(),
              Circle(radius=40), Square(side_length=30), *Arrow([-40, 0, 0], [40, 9, 0])
              .family_members_with_points(), ragged, gaps, unsplit]
    assert len(VGroup(*shapes)) == len(shapes)
    texts = path_text(*[m.points[:, :2] for m in shapes[:-1]])
    texts.append(path_text_of(unsplit))
    for shape, text in zip(shapes, texts, strict=True):
        mine = without_steps_to_nowhere(absolute_segments(text))
        manims = without_steps_to_nowhere(cairo_segments(shape))
        assert [k for k, _ in mine] == [k for k, _ in manims], type(shape).__name__
        for (_, a), (_, b) in zip(mine, manims, strict=True):
            np.testing.assert_allclose(a, b, atol=0.005 + 1 / 512)  # both grids, rounded
    assert [k for k, _ in absolute_segments(texts[-2])].count("M") > 1  # gaps: subpaths
    assert [k for k, _ in absolute_segments(texts[-1])].count("M") == 1  # its own split


def path_text_of(vmobject) -> str:
    from scenes.writers.svg import _path_texts, _View

    return _path_texts([(vmobject, vmobject.points)], _View(1.0, -1.0, 0.0, 0.0))[0]


def test_images_are_refused():
    from manim import ImageMobject

    from scenes.writers.svg import UnsupportedMobjectError, mobjects_to_svg

    picture = ImageMobject(np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(UnsupportedMobjectError, match="ImageMobject"):
        mobjects_to_svg([picture], sample_figure())


def test_write_if_changed_keeps_unchanged_files(tmp_path):
    from scenes.writers.svg import write_if_changed

    path = tmp_path / "sub" / "01-x.svg"
    assert write_if_changed(path, b"<svg/>") is True
    os.utime(path, (1_000_000, 1_000_000))
    assert write_if_changed(path, b"<svg/>") is False
    assert path.stat().st_mtime == 1_000_000
    assert write_if_changed(path, b"<svg></svg>") is True
    assert path.read_bytes() == b"<svg></svg>" and path.stat().st_mtime != 1_000_000
    assert sorted(p.name for p in path.parent.iterdir()) == ["01-x.svg"]  # no temp files left
    assert path.stat().st_mode & stat.S_IROTH  # published figures are world-readable


# --- the attention scene's storyboard ---------------------------------------------------------

# The seed diagrams the attention storyboard must cover, by step name:
# T2 Q, K, V from X; T3 the dot products of Q·Kᵀ; T4 scaling by √d_k; T5 softmax.
SEED_STEPS = {"T2": ("query", "keys_values"), "T3": ("scores",), "T4": ("scale",),
              "T5": ("softmax",)}


PIXEL_STEPS = ("query", "scores", "softmax")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every step of `attention` (dark theme), written once, and at three steps the pixel
    difference between the rasterised SVG and Manim's own PNG of the same end state."""
    from scenes.attention import AttentionScene
    from scenes.toolkit.storyboard import SceneOptions
    from scenes.writers.svg import display_list, export_svgs, mobjects_to_svg, step_figure

    out = tmp_path_factory.mktemp("svg") / "attention"
    steps = AttentionScene.storyboard(SceneOptions())
    reported, differences, drawn = [], {}, {}

    def compare(scene, index, step):
        if step.name in PIXEL_STEPS:
            mobjects = display_list(scene)
            figure = step_figure(scene, "attention", index, step, len(steps))
            # the set is written once complete: these bytes are checked against the file below
            data = drawn[f"{index + 1:02d}-{step.name}.svg"] = mobjects_to_svg(mobjects, figure)
            differences[step.name] = pixel_difference(rasterise(data), manim_png(mobjects, figure))

    # A figure from an older storyboard, and a file of the user's that only looks like one.
    out.mkdir()
    (out / "07-old_step.svg").write_text('<svg><title id="title">attention, step 7 of 7: old')
    (out / "08-mine.svg").write_text("<svg><title>my own figure</title></svg>")
    paths = export_svgs("attention", SceneOptions(), out, listeners=[compare],
                        progress=lambda p, status: reported.append((p, status)))
    assert reported == [(p, "written") for p in paths] + [(out / "07-old_step.svg", "removed")]
    assert drawn and all((out / name).read_bytes() == data for name, data in drawn.items())
    (out / "08-mine.svg").unlink()  # still there: only this module's figures are removed
    return paths, steps, out, differences


def test_storyboard_covers_seed_diagrams_t2_to_t5():
    from scenes.attention import AttentionScene
    from scenes.toolkit.storyboard import SceneOptions

    for model in ("translate", "lm"):
        names = [s.name for s in AttentionScene.storyboard(SceneOptions(model=model))]
        for seed, needed in SEED_STEPS.items():
            assert set(needed) <= set(names), (model, seed, names)
        # In the order the maths happens.
        order = [names.index(n) for n in ("query", "keys_values", "scores", "scale", "softmax")]
        assert order == sorted(order)


def test_one_file_per_step_named_and_captioned(exported):
    paths, steps, out, _ = exported
    assert [p.name for p in paths] == [f"{i + 1:02d}-{s.name}.svg" for i, s in enumerate(steps)]
    assert sorted(out.iterdir()) == sorted(paths)  # nothing else, no temporary files
    for i, (path, step) in enumerate(zip(paths, steps, strict=True)):
        data = path.read_bytes()
        root = parse(data)
        assert root.findtext(f"{SVG}desc") == step.caption
        title = root.findtext(f"{SVG}title")
        assert title.startswith(f"attention, step {i + 1} of {len(steps)}")
        assert step.name.replace("_", " ") in title
        assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
            "960px", "540px", "0 0 960 540")
        assert len(root.findall(f".//{SVG}path")) > 30  # outlines of text, numbers, boxes
        assert root.find(f".//{SVG}image") is None and b"base64" not in data
        assert root.find(f"{SVG}rect").get("fill") == "#101218"  # THEMES["dark"].background


def test_steps_match_manim_pixels(exported):
    """Rasterised by cairosvg, three end states equal Manim's own PNG of the same mobjects."""
    differences = exported[3]
    assert sorted(differences) == sorted(PIXEL_STEPS)
    for name, (mean, share) in differences.items():
        assert mean < 0.5 and share < 0.002, (name, mean, share)


def test_another_process_gives_the_same_bytes_and_leaves_files_untouched(exported):
    """`cli.py svg` in a fresh process (other hash seed) over the same folder: every file is
    reported unchanged, keeps its bytes and its modification time."""
    paths, _, out, _ = exported
    before = {p: p.read_bytes() for p in paths}
    for p in paths:
        os.utime(p, ns=(1_000_000_000, 1_000_000_000))
    env = {**os.environ, "PYTHONHASHSEED": "7"}
    run = subprocess.run([sys.executable, str(ROOT / "cli.py"), "svg", "attention", "--out",
                          str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"{p} (unchanged)" for p in paths]
    for p in paths:
        assert p.read_bytes() == before[p], p.name
        assert p.stat().st_mtime_ns == 1_000_000_000, p.name
    assert sorted(out.iterdir()) == sorted(paths)


@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()


def test_cli_svg_one_step_theme_and_transparent(runner, tmp_path):
    import cli
    from scenes.attention import AttentionScene
    from scenes.toolkit.storyboard import SceneOptions
    from scenes.toolkit.theme import THEMES

    args = ["svg", "attention", "--step", "query", "--theme", "light", "--out", str(tmp_path)]
    path = tmp_path / "03-query.svg"
    result = runner.invoke(cli.main, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(path)
    assert sorted(tmp_path.iterdir()) == [path]
    rect = parse(path.read_bytes()).find(f"{SVG}rect")
    assert rect.get("fill") == THEMES["light"].background.lower()

    result = runner.invoke(cli.main, [*args, "--transparent"])
    assert result.output.strip() == str(path)  # rewritten: the background went
    root = parse(path.read_bytes())
    assert root.find(f"{SVG}rect") is None
    [query] = [s for s in AttentionScene.storyboard(SceneOptions()) if s.name == "query"]
    assert root.findtext(f"{SVG}desc") == query.caption

    again = runner.invoke(cli.main, [*args, "--transparent"])
    assert again.output.strip() == (f"attention-query: skipped, nothing changed since the last "
                                    f"export into {tmp_path} (--force exports anyway)")


def test_cli_svg_default_folder_under_renders(runner, tmp_path):
    import cli

    result = runner.invoke(cli.main, ["svg", "attention", "--step", "title", "--model", "lm",
                                      "--renders", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / "svg" / "attention" / "01-title.svg"
    assert result.output.strip() == str(path) and path.is_file()


@pytest.mark.parametrize("args, needle", [
    (["svg", "attention", "--step", "nope"],
     "no step 'nope'; choose from title, embed, query, keys_values, scores"),
    (["svg", "nosuchscene"], "no scene 'nosuchscene' (choose from all, attention"),
    (["svg", "all", "--step", "scores"], "--step names a step of one scene"),
    (["svg", "attention", "--head", "9"], "head 9 is out of range: this model has 2"),
    (["svg", "attention", "--layer", "1"], "layer 1 is out of range: this model has 1"),
    (["svg", "attention", "--theme", "sepia"], "'sepia' is not one of 'dark', 'light'"),
    (["svg", "attention", "--sentence", "  "], "the sentence is empty"),
])
def test_cli_svg_usage_errors(runner, tmp_path, args, needle):
    import cli

    result = runner.invoke(cli.main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir())  # nothing written


def test_cli_svg_help(runner):
    import cli

    result = runner.invoke(cli.main, ["svg", "-h"])
    assert result.exit_code == 0
    for option in ("--out", "--theme", "--transparent", "--sentence", "--model", "--step"):
        assert option in result.output
