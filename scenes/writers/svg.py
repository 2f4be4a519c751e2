"""Vector SVG diagrams: the end state of each storyboard step, drawn by Manim's own camera code.

A :class:`SvgCamera` is Manim's ``Camera`` pointed at a ``cairo.SVGSurface``: ``capture_mobjects``
walks the mobject family (z-index order included) and ``display_vectorized`` emits each
VMobject's Bézier path, fill and stroke exactly as it would for a video frame, so the SVG and
the video agree by construction. Text comes out as glyph outlines (no fonts needed to view it).

The raw cairo output is then normalised so that the same inputs give the same bytes in every
process: cairo's per-process ``<g id="surfaceN">`` counter is dropped and its other ids are
renumbered per file; points are snapped to a ``1/100`` px grid (finer inside a ``transform``)
and written as short relative commands, straight cubics as lines; colours become ``#rrggbb``;
the root element, ``<title>``, ``<desc>`` and the background ``<rect>`` are written here.

:func:`export_svgs` plays a scene's storyboard with animations skipped (nothing is encoded)
and writes each step's end state, captured by a step listener, to ``NN-step.svg``.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import cairo
import numpy as np
from manim import Camera, ManimColor, Mobject

__all__ = [
    "SVG_WIDTH",
    "SvgCamera",
    "UnsupportedMobjectError",
    "Figure",
    "UnknownStepError",
    "WRITTEN",
    "UNCHANGED",
    "REMOVED",
    "colour_hex",
    "default_out_dir",
    "display_list",
    "export_svgs",
    "mobjects_to_svg",
    "run_storyboard",
    "step_figure",
    "svg_filename",
    "write_if_changed",
]

SVG_WIDTH = 960  # px; the height follows the frame's aspect ratio (540 for 16:9)
_DECIMALS = 2  # 1/100 px: invisible at any zoom a blog uses, and stable against float noise


class UnsupportedMobjectError(TypeError):
    """A mobject that Manim draws into the pixel buffer only (images, point clouds)."""


class SvgCamera(Camera):
    """Manim's Camera drawing onto a given cairo context (an SVG surface) instead of its pixels."""

    def __init__(self, ctx: cairo.Context, **kwargs) -> None:
        super().__init__(**kwargs)
        self._svg_ctx = ctx

    def get_cairo_context(self, pixel_array) -> cairo.Context:
        return self._svg_ctx

    def set_cairo_context_color(self, ctx: cairo.Context, rgbas, vmobject) -> SvgCamera:
        # The base class swaps red and blue because its surface wraps an RGBA numpy buffer read
        # as cairo's BGRA; an SVG surface takes colours as they are.
        if len(rgbas) == 1:
            ctx.set_source_rgba(*rgbas[0][:3], rgbas[0][3])
            return self
        start, end = self.transform_points_pre_display(
            vmobject, vmobject.get_gradient_start_and_end_points()
        )
        gradient = cairo.LinearGradient(start[0], start[1], end[0], end[1])
        for offset, rgba in zip(np.linspace(0, 1, len(rgbas)), rgbas, strict=True):
            gradient.add_color_stop_rgba(offset, *rgba[:3], rgba[3])
        ctx.set_source(gradient)
        return self

    def _unsupported(self, mobjects, pixel_array) -> None:
        names = sorted({type(m).__name__ for m in mobjects})
        raise UnsupportedMobjectError(
            f"cannot draw {', '.join(names)} as vectors (only VMobjects export to SVG)"
        )

    display_multiple_point_cloud_mobjects = _unsupported
    display_multiple_image_mobjects = _unsupported
    display_multiple_background_colored_vmobjects = _unsupported


@dataclass(frozen=True)
class Figure:
    """What one SVG shows: its accessible title and description, and its frame."""

    title: str
    desc: str
    frame_width: float
    frame_height: float
    frame_center: tuple[float, float] = (0.0, 0.0)
    background: str | None = None  # "#rrggbb", or None for a transparent figure
    width: int = SVG_WIDTH

    @property
    def height(self) -> int:
        return round(self.width * self.frame_height / self.frame_width)


def mobjects_to_svg(mobjects: Iterable[Mobject], figure: Figure) -> bytes:
    """Draw ``mobjects`` (a scene's display list, back to front) as one deterministic SVG file."""
    pw, ph = figure.width, figure.height
    buffer = io.BytesIO()
    surface = cairo.SVGSurface(buffer, pw, ph)
    surface.set_document_unit(cairo.SVGUnit.PX)
    ctx = cairo.Context(surface)
    cx, cy = figure.frame_center
    sx, sy = pw / figure.frame_width, ph / figure.frame_height
    # Scene units -> pixels, y up -> y down: the same matrix Camera.get_cairo_context uses.
    ctx.set_matrix(cairo.Matrix(sx, 0, 0, -sy, pw / 2 - cx * sx, ph / 2 + cy * sy))
    camera = SvgCamera(
        ctx,
        pixel_width=pw,
        pixel_height=ph,
        frame_width=figure.frame_width,
        frame_height=figure.frame_height,
        frame_center=np.array([cx, cy, 0.0]),
    )
    camera.capture_mobjects(list(mobjects))
    surface.finish()
    return _normalise(buffer.getvalue().decode("utf-8"), figure).encode("utf-8")


_TAG = re.compile(r"<[^<>]+>")
_ATTR = re.compile(r'\b([a-zA-Z][\w:-]*)="([^"]*)"')
_MATRIX = re.compile(r"matrix\(([^)]*)\)")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_PATH_COMMAND = re.compile(r"[A-Za-z]")
_PERCENT_RGB = re.compile(r"rgb\(([\d.]+)%,([\d.]+)%,([\d.]+)%\)")
_STYLE_NUMBER = re.compile(r"(stroke-width|opacity|stop-opacity|fill-opacity|stroke-opacity"
                           r"|stroke-miterlimit|offset):([-\d.eE+]+)")
_ROOT = re.compile(r"<svg\b[^>]*>(.*)</svg>\s*$", re.S)
_COORDINATES = {"x", "y", "x1", "y1", "x2", "y2", "width", "height", "cx", "cy", "r", "fx", "fy"}


def _fmt(value: float, decimals: int) -> str:
    """Shortest fixed-point text of ``value`` at ``decimals`` places ("-0" and "0.50" avoided)."""
    text = f"{round(value, decimals):.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@functools.lru_cache(maxsize=1 << 16)
def _grid_text(n: int, decimals: int) -> str:
    """An integer count of 10**-decimals units as SVG number text: 12345, 2 -> "123.45"."""
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10**decimals)
    frac_text = f"{frac:0{decimals}d}".rstrip("0") if decimals else ""
    if not frac_text:
        return f"{sign}{whole}"
    return f"{sign}{whole if whole else ''}.{frac_text}"


def _decimals_for(matrix: str | None) -> int:
    """Places to keep so that rounding moves no point by more than 1/200 px after ``matrix``."""
    if matrix is None:
        return _DECIMALS
    a, b, c, d = (float(v) for v in matrix.split(",")[:4])
    scale = max(abs(a * d - b * c) ** 0.5, 1e-9)
    return max(_DECIMALS, _DECIMALS + int(np.ceil(np.log10(scale))))


_NOT_PLAIN = re.compile(r"[^MLCZ0-9. -]")  # what cairo's path data never holds
_NO_COMMANDS = str.maketrans({c: " " for c in "MLCZ"})
_CODE_OF = np.zeros(256, dtype=np.int64)
_CODE_OF[[ord("M"), ord("L"), ord("C"), ord("Z")]] = [0, 1, 2, 3]
_COUNTS = np.array([2, 2, 6, 0])  # numbers after M, L, C, Z
_SHORT_PATH = 2000  # characters: below this the loop is quicker than numpy's set-up
_GRID_LIMIT = 1 << 25  # larger coordinates take the plain loop (exact integer products below)


def _compact_path(d: str, decimals: int) -> str:
    """Cairo's absolute M/L/C/Z path as short relative commands on a 10**-decimals grid.

    Points are snapped to the grid first and the relative steps taken between snapped points, so
    rounding never accumulates along a path. A cubic whose control points lie on its chord (how
    Manim stores straight segments) becomes a line: the same shape, a third of the text.

    Computed for all commands at once with numpy; the text is that of :func:`_compact_path_loop`
    (the same rules, one command at a time), which takes any input this is not written for.
    """
    values = _plain_numbers(d) if len(d) >= _SHORT_PATH else None
    if values is None:
        return _compact_path_loop(d, decimals)
    raw = np.frombuffer(d.encode("ascii"), dtype=np.uint8)
    grid = np.rint(values * 10**decimals).astype(np.int64)
    letters = raw[(raw >= ord("A")) & (raw <= ord("Z"))]
    code = _CODE_OF[letters]  # M 0, L 1, C 2, Z 3
    count = _COUNTS[code]
    n = len(code)
    if n == 0 or int(count.sum()) != len(grid) or (
            len(grid) and int(np.abs(grid).max()) >= _GRID_LIMIT):
        return _compact_path_loop(d, decimals)
    offset = np.cumsum(count) - count
    last = offset + count - 2  # where a command's end point is (M, L, C)
    has_point = code != 3
    ex = np.zeros(n, dtype=np.int64)
    ey = np.zeros(n, dtype=np.int64)
    ex[has_point] = grid[last[has_point]]
    ey[has_point] = grid[last[has_point] + 1]
    # Z goes back to the start of its subpath: the last M (or the origin before any)
    moves = np.where(code == 0, np.arange(n), -1)
    latest = np.maximum.accumulate(moves)
    closes = code == 3
    from_move = closes & (latest >= 0)
    ex[closes] = 0
    ey[closes] = 0
    ex[from_move] = ex[latest[from_move]]
    ey[from_move] = ey[latest[from_move]]
    px = np.concatenate(([0], ex[:-1]))  # the current point before each command
    py = np.concatenate(([0], ey[:-1]))
    dx, dy = ex - px, ey - py
    numbers = np.zeros((n, 6), dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    letters = np.full(n, "", dtype=object)
    # M: absolute for the first command, else relative; a last M (cairo's return to the start
    # of a closed subpath) is left out.
    move = code == 0
    first = np.zeros(n, dtype=bool)
    first[0] = True
    absolute = move & first
    numbers[absolute, 0], numbers[absolute, 1] = ex[absolute], ey[absolute]
    relative = move & ~first
    numbers[relative, 0], numbers[relative, 1] = dx[relative], dy[relative]
    counts[move] = 2
    letters[absolute] = "M"
    letters[relative] = "m"
    # C whose control points lie on the chord: a line, like L
    curve = code == 2
    straight = code == 1
    if curve.any():
        on = _on_chord_all(px[curve], py[curve], grid, offset[curve], dx[curve], dy[curve])
        index = np.flatnonzero(curve)
        straight[index[on]] = True
        bent = index[~on]
        base = offset[bent]
        for k in range(4):
            numbers[bent, k] = grid[base + k] - (px[bent] if k % 2 == 0 else py[bent])
        numbers[bent, 4], numbers[bent, 5] = dx[bent], dy[bent]
        counts[bent] = 6
        letters[bent] = "c"
    horizontal = straight & (dy == 0) & (dx != 0)
    vertical = straight & (dx == 0) & (dy != 0)
    both = straight & ~horizontal & ~vertical  # also a zero-length step: kept, for round caps
    numbers[horizontal, 0] = dx[horizontal]
    numbers[vertical, 0] = dy[vertical]
    numbers[both, 0], numbers[both, 1] = dx[both], dy[both]
    counts[horizontal] = counts[vertical] = 1
    counts[both] = 2
    letters[horizontal], letters[vertical], letters[both] = "h", "v", "l"
    letters[closes] = "z"
    if code[-1] == 0:  # the last M
        letters[-1] = ""
        counts[-1] = 0
    keep = letters != ""
    letters, numbers, counts = letters[keep], numbers[keep], counts[keep]
    if not len(letters):
        return ""
    column = np.arange(6)
    mask = column < counts[:, None]
    flat = numbers[mask]
    lead = np.broadcast_to(column == 0, numbers.shape)[mask]
    unique, inverse = np.unique(flat, return_inverse=True)
    plain = [_grid_text(v, decimals) for v in unique.tolist()]
    spaced = np.array([t if t[0] == "-" else " " + t for t in plain], dtype=object)
    texts = np.where(lead, np.array(plain, dtype=object)[inverse], spaced[inverse])
    pieces = np.empty(len(letters) + len(flat), dtype=object)
    starts = np.cumsum(counts + 1) - (counts + 1)
    pieces[starts] = letters
    is_number = np.ones(len(pieces), dtype=bool)
    is_number[starts] = False
    pieces[is_number] = texts
    return "".join(pieces.tolist())


def _on_chord_all(px, py, grid, base, vx, vy) -> np.ndarray:
    """:func:`_on_chord` for many cubics at once (integer grid units, magnitudes < 2**25)."""
    length2 = vx * vx + vy * vy
    # |cross| > floor(sqrt(length2)) is cross**2 > length2 without overflowing int64
    root = np.floor(np.sqrt(length2.astype(np.float64))).astype(np.int64)
    root -= root * root > length2
    root += (root + 1) * (root + 1) <= length2
    ok = np.ones(len(px), dtype=bool)
    zero = length2 == 0
    for k in (0, 2):
        wx = grid[base + k] - px
        wy = grid[base + k + 1] - py
        cross = vx * wy - vy * wx
        dot = vx * wx + vy * wy
        with np.errstate(divide="ignore", invalid="ignore"):
            t = dot / np.where(zero, 1, length2)
        bad = np.where(zero, (wx != 0) | (wy != 0), (np.abs(cross) > root) | (t < 0) | (t > 1))
        ok &= ~bad
    return ok


def _plain_numbers(d: str) -> np.ndarray | None:
    """The numbers of path data made only of M, L, C, Z, spaces and plain decimals, split at
    the spaces: the same numbers as ``_NUMBER`` finds, sooner. None for anything else."""
    if _NOT_PLAIN.search(d):
        return None
    try:
        return np.array(d.translate(_NO_COMMANDS).split(), dtype=np.float64)
    except ValueError:  # "1.2.3", "1-2": left to the regular expressions
        return None


def _compact_path_loop(d: str, decimals: int) -> str:
    """:func:`_compact_path` one command at a time (the reference; any input it takes)."""
    commands = _PATH_COMMAND.findall(d)
    values = _plain_numbers(d)
    if values is None:
        values = np.array(_NUMBER.findall(d), dtype=float)
    grid = np.rint(values * 10**decimals).astype(np.int64).tolist()
    out: list[str] = []
    x = y = start_x = start_y = 0  # current point and subpath start, in grid units
    k = 0  # next unread number

    def emit(cmd: str, *deltas: int) -> None:
        parts = [cmd]
        for n, v in enumerate(deltas):
            t = _grid_text(v, decimals)
            parts.append(t if n == 0 or t[0] == "-" else " " + t)
        out.append("".join(parts))

    for index, cmd in enumerate(commands):
        if cmd == "M":
            nx, ny = grid[k], grid[k + 1]
            k += 2
            # cairo ends each closed subpath with a bare "M" back to its start: drop it at the end.
            if index == len(commands) - 1:
                break
            if out:
                emit("m", nx - x, ny - y)
            else:
                emit("M", nx, ny)
            x = start_x = nx
            y = start_y = ny
        elif cmd == "L":
            nx, ny = grid[k], grid[k + 1]
            k += 2
            _emit_line(emit, nx - x, ny - y)
            x, y = nx, ny
        elif cmd == "C":
            x1, y1, x2, y2, nx, ny = grid[k:k + 6]
            k += 6
            if _on_chord((x, y), (x1, y1), (x2, y2), (nx, ny)):
                _emit_line(emit, nx - x, ny - y)
            else:
                emit("c", x1 - x, y1 - y, x2 - x, y2 - y, nx - x, ny - y)
            x, y = nx, ny
        elif cmd == "Z":
            out.append("z")
            x, y = start_x, start_y
        else:
            raise ValueError(f"unexpected path command {cmd!r} in cairo output")
    if k != len(grid):
        raise ValueError("cairo path data with an unexpected number of coordinates")
    return "".join(out)


def _emit_line(emit, dx: int, dy: int) -> None:
    if dx == 0 and dy == 0:
        emit("l", 0, 0)  # keep it: a zero-length segment still gets round caps
    elif dy == 0:
        emit("h", dx)
    elif dx == 0:
        emit("v", dy)
    else:
        emit("l", dx, dy)


def _on_chord(p0, p1, p2, p3) -> bool:
    """True if both control points lie on the segment p0-p3 (within one grid unit)."""
    vx, vy = p3[0] - p0[0], p3[1] - p0[1]
    length2 = vx * vx + vy * vy
    for px, py in (p1, p2):
        wx, wy = px - p0[0], py - p0[1]
        if length2 == 0:
            if wx or wy:
                return False
            continue
        cross = vx * wy - vy * wx
        if cross * cross > length2:  # distance from the line > 1 unit
            return False
        t = (vx * wx + vy * wy) / length2
        if t < 0 or t > 1:
            return False
    return True


def _normalise_tag(tag: str) -> str:
    if tag.startswith(("</", "<?", "<!")):
        return tag
    attrs = dict(_ATTR.findall(tag))
    if attrs.get("id", "").startswith("surface"):  # cairo's per-process surface counter
        tag = tag.replace(f' id="{attrs["id"]}"', "")
    matrix = _MATRIX.search(attrs.get("transform", "") or attrs.get("gradientTransform", ""))
    decimals = _decimals_for(matrix.group(1) if matrix else None)
    if tag[1:].startswith(("linearGradient", "radialGradient")):
        # Gradient ends are in the user space of the shape that uses them: scene units, where
        # 1/100 would be 0.7 px; 1/10000 keeps them exact to 1/100 px.
        decimals = max(decimals, _DECIMALS + 2)

    def attr(m: re.Match) -> str:
        name, value = m.groups()
        if name == "d":
            value = _compact_path(value, decimals)
        elif name in ("transform", "gradientTransform"):
            value = _NUMBER.sub(lambda n: _fmt(float(n.group()), 6), value)
        elif name in _COORDINATES:
            value = _NUMBER.sub(lambda n: _fmt(float(n.group()), decimals), value)
        elif name == "style":
            value = _STYLE_NUMBER.sub(lambda n: f"{n.group(1)}:{_fmt(float(n.group(2)), 4)}",
                                      value.strip())
            value = _PERCENT_RGB.sub(_hex, value)
        return f'{name}="{value}"'

    return _ATTR.sub(attr, tag)


_ID = re.compile(r'\bid="([^"]+)"')
_ID_USE = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def _renumber_ids(content: str) -> str:
    """Number cairo's ids (``linear3``, ``clip7``...) per prefix in order of appearance, so they
    do not depend on what else the process has drawn."""
    mapping: dict[str, str] = {}
    counters: dict[str, int] = {}
    for old in _ID.findall(content):
        prefix = old.rstrip("0123456789") or "id"
        mapping[old] = f"{prefix}{counters.get(prefix, 0)}"
        counters[prefix] = counters.get(prefix, 0) + 1
    return _ID_USE.sub(lambda m: m.group(1) + mapping.get(m.group(2), m.group(2)), content)


def _hex(match: re.Match) -> str:
    r, g, b = (round(float(p) * 255 / 100) for p in match.groups())
    return f"#{r:02x}{g:02x}{b:02x}"


def _normalise(raw: str, figure: Figure) -> str:
    body = _ROOT.search(raw)
    if body is None:
        raise ValueError("cairo produced no <svg> element")
    content = _renumber_ids(_TAG.sub(lambda m: _normalise_tag(m.group()), body.group(1)))
    pw, ph = figure.width, figure.height
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{pw}px" height="{ph}px" viewBox="0 0 {pw} {ph}" version="1.1" '
        f'role="img" aria-labelledby="title desc">',
        f"<title id=\"title\">{escape(figure.title)}</title>",
        f"<desc id=\"desc\">{escape(figure.desc)}</desc>",
    ]
    if figure.background is not None:
        head.append(f'<rect id="background" width="{pw}" height="{ph}" '
                    f'fill="{figure.background}"/>')
    return "\n".join(head) + "\n" + content.strip("\n") + "\n</svg>\n"


def colour_hex(colour) -> str:
    """A Manim colour (or anything ``ManimColor.parse`` takes) as ``#rrggbb``."""
    return ManimColor.parse(colour).to_hex().lower()[:7]


def svg_filename(index: int, step_name: str) -> str:
    """``<NN>-<step>.svg``, numbered from 01 in storyboard order."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", step_name).strip("-") or "step"
    return f"{index + 1:02d}-{safe}.svg"


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless ``path`` already holds exactly it; True if written.

    An unchanged file keeps its mtime, so regenerating figures after an unrelated change leaves
    them untouched for git, make and rsync.
    """
    from transformer_core.files import atomic_write

    path = Path(path)
    try:
        if path.read_bytes() == data:
            return False
    except (FileNotFoundError, IsADirectoryError):
        pass
    atomic_write(path, data)  # with the usual file mode: a figure is meant to be published
    return True


def display_list(scene) -> list[Mobject]:
    """What the scene's camera draws now, back to front (foreground mobjects last)."""
    foreground = list(scene.foreground_mobjects)
    return [m for m in scene.mobjects if m not in foreground] + foreground


def step_figure(scene, scene_name: str, index: int, step, total: int,
                transparent: bool = False) -> Figure:
    """The figure for ``step`` (number ``index`` of ``total``) as ``scene``'s camera sees it now."""
    camera = scene.camera
    center = np.asarray(camera.frame_center, dtype=float)
    return Figure(
        title=f"{scene_name}, step {index + 1} of {total}: {step.name.replace('_', ' ')}",
        desc=step.caption,
        frame_width=float(camera.frame_width),
        frame_height=float(camera.frame_height),
        frame_center=(float(center[0]), float(center[1])),
        background=None if transparent else colour_hex(camera.background_color),
    )


class UnknownStepError(ValueError):
    """A step name that is not in the scene's storyboard; the message lists the valid ones."""

    def __init__(self, scene_name: str, step: str, valid: Sequence[str]) -> None:
        super().__init__(f"scene {scene_name!r} has no step {step!r}; "
                         f"choose from {', '.join(valid)}")
        self.valid = list(valid)


def run_storyboard(scene_cls, options, listener, stop_after: str | None = None) -> None:
    """Play ``scene_cls``'s storyboard with animations skipped, calling ``listener`` at each
    step's end state; nothing is encoded or written. Stops after step ``stop_after`` if given."""
    from manim import tempconfig
    from manim.utils.exceptions import EndSceneEarlyException

    from scenes.toolkit.fastpaths import end_states_only
    from scenes.toolkit.storyboard import using_options

    def on_step(scene, index, step):
        listener(scene, index, step)
        if step.name == stop_after:
            raise EndSceneEarlyException()  # Manim's "end here" signal: ends the render cleanly

    import tempfile

    # Manim writes the LaTeX and text it typesets into media_dir: a private temporary folder,
    # not ./media wherever the command runs. What is worth keeping between runs (text outlines,
    # compiled formulas) is kept by scenes.toolkit.textcache, safely shared and bounded.
    with tempfile.TemporaryDirectory(prefix="manim-media-") as media:
        settings = {"dry_run": True, "disable_caching": True, "progress_bar": "none",
                    "verbosity": "WARNING", "preview": False, "media_dir": media}
        # end_states_only: exact, faster versions of a few of Manim's methods, and animations
        # that jump to their end without the copies made for the frames in between.
        with tempconfig(settings), using_options(options), end_states_only():
            scene = scene_cls(skip_animations=True)
            _draw_no_pixels(scene.renderer)
            scene.step_listeners.append(on_step)
            scene.render()


def _draw_no_pixels(renderer) -> None:
    """Even with animations skipped, Manim's Cairo renderer rasterises the whole screen at
    every ``play`` and ``wait`` (the "static frame" it would reuse for each video frame): a
    sixth of an export's time, for pixels nobody reads. Switch that off for this renderer."""

    def no_frame(*args, **kwargs) -> None:
        renderer.static_image = None

    renderer.update_frame = no_frame
    renderer.save_static_frame_data = no_frame


def default_out_dir(scene_name: str) -> Path:
    return Path("renders") / "svg" / scene_name


WRITTEN, UNCHANGED, REMOVED = "written", "unchanged", "removed"
_STEP_FILE = re.compile(r"\d{2}-[A-Za-z0-9_-]+\.svg")


def export_svgs(
    scene_name: str,
    options=None,
    out_dir: Path | str | None = None,
    step: str | None = None,
    transparent: bool = False,
    progress: Callable[[Path, str], None] | None = None,
    listeners: Sequence[Callable] = (),
) -> list[Path]:
    """Write one SVG per storyboard step of ``scene_name`` (only ``step`` if given).

    Files are ``<out_dir>/<NN>-<step>.svg`` (default ``renders/svg/<scene>/``), each written
    under a temporary name and renamed into place when complete; a file whose bytes would not
    change is left untouched. After a full export, figures of this scene left from an older
    storyboard (say ``08-softmax.svg`` once a mask step made it ``09-``) are removed, so the
    folder holds exactly the current steps; other files are never touched.

    ``progress(path, status)`` reports each file as ``"written"``, ``"unchanged"`` or
    ``"removed"``. The extra ``listeners(scene, index, step)`` run after each step is written,
    at the same end state (the tests compare with Manim's own pixels there). Returns the paths
    in storyboard order. Raises :class:`UnknownStepError` for an unknown ``step``.
    """
    from scenes.registry import get_scene_class
    from scenes.toolkit.storyboard import SceneOptions

    options = options if options is not None else SceneOptions()
    scene_cls = get_scene_class(scene_name)
    steps = scene_cls.storyboard(options)
    names = [s.name for s in steps]
    if step is not None and step not in names:
        raise UnknownStepError(scene_name, step, names)
    out = Path(out_dir) if out_dir is not None else default_out_dir(scene_name)
    paths: list[Path] = []

    def report(path: Path, status: str) -> None:
        if progress is not None:
            progress(path, status)

    def write_step(scene, index, current) -> None:
        if step is None or current.name == step:
            figure = step_figure(scene, scene_name, index, current, len(steps), transparent)
            path = out / svg_filename(index, current.name)
            written = write_if_changed(path, mobjects_to_svg(display_list(scene), figure))
            paths.append(path)
            report(path, WRITTEN if written else UNCHANGED)
        for listener in listeners:
            listener(scene, index, current)

    run_storyboard(scene_cls, options, write_step, stop_after=step)
    if step is None:
        for stale in _stale_figures(out, scene_name, paths):
            stale.unlink()
            report(stale, REMOVED)
    return paths


def _stale_figures(folder: Path, scene_name: str, current: Sequence[Path]) -> list[Path]:
    """``NN-step.svg`` files in ``folder`` that this module wrote for ``scene_name`` (their
    ``<title>`` says so) and that are not among ``current``."""
    keep = {p.name for p in current}
    stale = []
    for path in sorted(folder.glob("*.svg")):
        if path.name in keep or not _STEP_FILE.fullmatch(path.name):
            continue
        try:
            head = path.read_bytes()[:4096].decode("utf-8", "replace")
        except OSError:
            continue
        if f"<title id=\"title\">{escape(scene_name)}, step " in head:
            stale.append(path)
    return stale
