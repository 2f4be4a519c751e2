"""Vector SVG diagrams: the end state of each storyboard step, drawn as Manim's camera draws it.

:func:`mobjects_to_svg` writes the SVG straight from the mobjects, following what Manim's camera
does for a video frame (``Camera.capture_mobjects`` and ``display_vectorized``): every family
member with points in ``z_index`` order; for each VMobject the subpaths its points split into
(closed where the camera closes them), painted with its background stroke, its fill and its
stroke, in its colours (a linear gradient across it for several), widths, joins and caps. Text
comes out as glyph outlines (no fonts needed to view it). The tests rasterise the figures and
compare them with Manim's own pixels of the same mobjects.

Written this way rather than through cairo's SVG surface, which printed
about 650 KB of path text per figure that had to be parsed again to make it deterministic and
compact, a third of an export's time. Here points are snapped to a 1/100 px grid and written
once as short relative commands (straight cubics as lines); the same inputs give the same
bytes in every process, and the path of a shape that stays on screen is written once for all
the figures of a scene. Colours are ``#rrggbb``; the root element, ``<title>``, ``<desc>`` and
the background ``<rect>`` are written here.

:func:`export_svgs` plays a scene's storyboard with animations skipped (nothing is encoded)
and writes each step's end state, captured by a step listener, to ``NN-step.svg``.
:class:`SvgCamera` (Manim's camera on any cairo surface) draws the handout's PDF pages.
"""

from __future__ import annotations

import functools
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
    "xml_chars",
    "xml_text",
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
_GRID_LIMIT = 1 << 29
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


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_chars(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (control characters, lone
    surrogates; each becomes U+FFFD): the checks at training and loading keep them out of
    words, this keeps any that got through from making a file unreadable."""
    return _NOT_XML.sub("\ufffd", text)


def xml_text(text: str) -> str:
    """``text`` for an XML element: :func:`xml_chars`, escaped."""
    return escape(xml_chars(text))


def mobjects_to_svg(mobjects: Iterable[Mobject], figure: Figure) -> bytes:
    """Draw ``mobjects`` (a scene's display list, back to front) as one deterministic SVG file.

    Each VMobject is drawn as Manim's camera draws it on a video frame (see the module
    docstring): the same family order, paths, colours, widths, joins and caps.
    """
    view = _View.of(figure)
    members = drawn_members(mobjects)
    paths = _path_data(members, view)
    gradients: list[str] = []
    body: list[str] = []
    for vmobject, d in zip(members, paths, strict=True):
        if d:
            body.extend(_elements(vmobject, d, view, gradients))
    pw, ph = figure.width, figure.height
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{pw}px" height="{ph}px" '
        f'viewBox="0 0 {pw} {ph}" version="1.1" role="img" aria-labelledby="title desc">',
        f"<title id=\"title\">{xml_text(figure.title)}</title>",
        f"<desc id=\"desc\">{xml_text(figure.desc)}</desc>",
    ]
    if figure.background is not None:
        head.append(f'<rect id="background" width="{pw}" height="{ph}" '
                    f'fill="{figure.background}"/>')
    return ("\n".join(head + body) + "\n</svg>\n").encode("utf-8")


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


def drawn_members(mobjects: Iterable[Mobject]) -> list:
    """The VMobjects Manim's camera would draw for ``mobjects``, in its order: every family
    member with points, sorted by ``z_index`` (a stable sort, as the camera's). Raises
    :class:`UnsupportedMobjectError` for what the camera draws into its pixels only."""
    from manim import VMobject
    from manim.mobject.types.image_mobject import AbstractImageMobject
    from manim.mobject.types.point_cloud_mobject import PMobject
    from manim.utils.family import extract_mobject_family_members

    members = extract_mobject_family_members(list(mobjects), use_z_index=True,
                                             only_those_with_points=True)
    unsupported = sorted({type(m).__name__ for m in members
                          if isinstance(m, (PMobject, AbstractImageMobject))
                          or (isinstance(m, VMobject) and m.get_background_image())})
    if unsupported:
        raise UnsupportedMobjectError(
            f"cannot draw {', '.join(unsupported)} as vectors (only VMobjects export to SVG)")
    return [m for m in members if isinstance(m, VMobject)]


@dataclass(frozen=True)
class _View:
    """Scene units to SVG pixels, y up to y down: the matrix Manim's camera draws with."""

    sx: float
    sy: float
    tx: float
    ty: float

    @classmethod
    def of(cls, figure: Figure) -> _View:
        sx = figure.width / figure.frame_width
        sy = figure.height / figure.frame_height
        cx, cy = figure.frame_center
        return cls(sx, sy, figure.width / 2 - cx * sx, figure.height / 2 + cy * sy)

    def grid(self, points: np.ndarray) -> np.ndarray:
        """``points`` (n, 3) in pixels, as whole units of the grid (n, 2)."""
        unit = 10**_DECIMALS
        grid = np.empty((len(points), 2))
        np.rint((points[:, 0] * self.sx + self.tx) * unit, out=grid[:, 0])
        np.rint((points[:, 1] * -self.sy + self.ty) * unit, out=grid[:, 1])
        # Within 2**29 units (5 million px), so that the products in _on_chord_all fit in
        # int64; points not finite are never drawn (their shapes have no subpaths).
        np.clip(grid, -_GRID_LIMIT, _GRID_LIMIT, out=grid)
        with np.errstate(invalid="ignore"):
            return grid.astype(np.int64)

    def pixels(self, point) -> tuple[float, float]:
        return float(point[0]) * self.sx + self.tx, float(point[1]) * -self.sy + self.ty

    @property
    def line_scale(self) -> float:
        """Pixels per scene unit for line widths (the frames are drawn at one scale both ways)."""
        return self.sx if self.sx == self.sy else float(np.sqrt(self.sx * self.sy))


# Path data by everything that decides it: consecutive figures of a scene share most of their
# shapes (a matrix stays on screen for several steps), and each is written once per process.
def _path_data(members: Sequence, view: _View) -> list[str]:
    """The ``d`` of each VMobject's path ("" for one Manim would not draw), all written at
    once. (Most shapes of a figure are new to it: a memo of earlier paths, keyed by their
    points, cost more in copying and hashing points than it saved.)"""
    items = []
    for vmobject in members:
        points = vmobject.points
        if not (isinstance(points, np.ndarray) and points.dtype == np.float64):
            points = np.asarray(points, dtype=np.float64)
        items.append((vmobject, points))
    return _path_texts(items, view)


_RTOL = 1.0e-5  # numpy.isclose's, which Manim's point comparisons follow


def _subpaths(vmobject, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where Manim's camera starts each subpath of ``points``, how many curves it draws, and
    whether it closes it: the subpaths VMobject splits the points into, less those too short
    for a curve, closed when their first and last points are equal (as the camera decides).
    For any VMobject; :func:`_all_subpaths` does the same for many at once."""
    nppcc = vmobject.n_points_per_cubic_curve
    if len(points) < nppcc or nppcc != 4 or not np.isfinite(points).all():
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=bool)
    split = np.asarray(vmobject.get_subpath_split_indices_from_points(points, n_dims=2),
                       dtype=np.int64).reshape(-1, 2)
    split = split[split[:, 1] - split[:, 0] >= nppcc]
    starts, ends = split[:, 0], split[:, 1]
    curves = (ends - starts - nppcc) // nppcc + 1
    closed = _equal_2d(points[starts, :2], points[ends - 1, :2],
                       vmobject.tolerance_for_point_equality)
    return starts, curves, closed


def _equal_2d(first: np.ndarray, last: np.ndarray, atol) -> np.ndarray:
    """``consider_points_equals_2d`` for rows of finite points: numpy.isclose's test, each
    coordinate alone (``atol`` a number or one per row)."""
    atol = np.reshape(atol, (-1, 1))
    return ((first == last) | (np.abs(first - last) <= atol + _RTOL * np.abs(last))).all(axis=1)


def _all_subpaths(items: Sequence[tuple[object, np.ndarray]]):
    """The subpaths of many VMobjects (see :func:`_subpaths`) found at once: all their points
    in one array, and for each subpath its first point's index there, its number of curves,
    whether it is closed, and the item it belongs to (in order). None if nothing is drawn.

    VMobjects whose points are whole cubic curves (Manim's usual case) are taken together: a
    subpath starts at each VMobject's first curve and wherever a curve's start is not its
    predecessor's end, compared as ``get_subpath_split_indices_from_points`` compares them.
    Any other VMobject (one with a way of its own to split its points, say) is split by
    :func:`_subpaths`, one at a time."""
    from manim import VMobject

    manims_split = VMobject.get_subpath_split_indices_from_points
    regular, odd = [], []
    for number, (vmobject, points) in enumerate(items):
        n = len(points)
        if (vmobject.n_points_per_cubic_curve == 4 and n >= 4 and n % 4 == 0
                and type(vmobject).get_subpath_split_indices_from_points is manims_split):
            regular.append(number)
        else:
            odd.append(number)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    offset = 0
    if regular:
        points = np.concatenate([items[i][1] for i in regular])
        sizes = np.array([len(items[i][1]) for i in regular])
        first_point = np.cumsum(sizes) - sizes
        finite = np.logical_and.reduceat(np.isfinite(points).all(axis=1), first_point)
        owner = np.repeat(np.array(regular), sizes // 4)  # the item of each curve
        atol = np.repeat(np.array([items[i][0].tolerance_for_point_equality for i in regular],
                                  dtype=np.float64), sizes // 4)
        ends, starts = points[3:-1:4, :2], points[4::4, :2]  # each curve's end, the next start
        opens = np.ones(len(owner), dtype=bool)
        with np.errstate(invalid="ignore"):
            opens[1:] = (owner[1:] != owner[:-1]) | ~(
                np.abs(ends - starts) <= atol[1:, None] + _RTOL * np.abs(starts)).all(axis=1)
        head = np.flatnonzero(opens)  # the first curve of each subpath
        curve = np.diff(np.append(head, len(owner)))
        start = 4 * head
        with np.errstate(invalid="ignore"):
            close = _equal_2d(points[start, :2], points[start + 4 * curve - 1, :2], atol[head])
        keep = np.repeat(finite, sizes // 4)[head]  # points not all finite: nothing drawn
        parts.append((start[keep], curve[keep], close[keep], owner[head][keep], points))
        offset = len(points)
    for number in odd:
        vmobject, points = items[number]
        s, c, z = _subpaths(vmobject, points)
        if len(s):
            parts.append((s + offset, c, z, np.full(len(s), number), points))
            offset += len(points)
    if not any(len(part[0]) for part in parts):
        return None
    start, curve, close, owner = (np.concatenate([part[k] for part in parts]) for k in range(4))
    points = np.concatenate([part[4] for part in parts])
    order = np.argsort(owner, kind="stable")  # subpaths in item order, each item's in order
    return points, start[order], curve[order], close[order], owner[order]


def _path_texts(items: Sequence[tuple[object, np.ndarray]], view: _View) -> list[str]:
    """Path data for several VMobjects' points at once.

    Each subpath is a move to its first point, its cubic curves, and a close if Manim's camera
    closes it. Points are snapped to the 1/100 px grid first and written as relative commands
    between snapped points, so rounding never accumulates along a path. A cubic whose control
    points lie on its chord (how Manim stores straight segments) becomes a line: the same
    shape, a third of the text.
    """
    texts = [""] * len(items)
    found = _all_subpaths(items)
    if found is None:
        return texts
    points, start, curve, close, owner_of_subpath = found
    grid = view.grid(points)
    # The commands of every subpath: a move, its curves, a close if closed.
    count = 1 + curve + close
    first_command = np.cumsum(count) - count
    n = int(count.sum())
    subpath = np.repeat(np.arange(len(start)), count)
    rank = np.arange(n) - first_command[subpath]  # 0: the move, 1..curves: curves, then close
    code = np.where(rank == 0, 0, np.where(rank <= curve[subpath], 2, 3))
    base = start[subpath] + 4 * (rank - 1)  # a curve's first point (its start anchor)
    end_index = np.where(code == 2, base + 3, start[subpath])  # a close ends at the start
    ex, ey = grid[end_index, 0], grid[end_index, 1]
    owner_of_command = owner_of_subpath[subpath]
    opens = np.ones(n, dtype=bool)  # the first command of each VMobject's path: absolute
    opens[1:] = owner_of_command[1:] != owner_of_command[:-1]
    px = np.concatenate(([0], ex[:-1]))  # the current point before each command
    py = np.concatenate(([0], ey[:-1]))
    dx, dy = ex - px, ey - py
    numbers = np.zeros((n, 6), dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    letters = np.full(n, "", dtype=object)
    move = code == 0
    absolute, relative = move & opens, move & ~opens
    numbers[absolute, 0], numbers[absolute, 1] = ex[absolute], ey[absolute]
    numbers[relative, 0], numbers[relative, 1] = dx[relative], dy[relative]
    counts[move] = 2
    letters[absolute], letters[relative] = "M", "m"
    is_curve = code == 2
    straight = np.zeros(n, dtype=bool)
    if is_curve.any():
        index = np.flatnonzero(is_curve)
        b = base[index]
        c1, c2 = grid[b + 1], grid[b + 2]
        on = _on_chord_all(px[index], py[index], c1, c2, dx[index], dy[index])
        straight[index[on]] = True
        bent = ~on
        i = index[bent]
        numbers[i, 0], numbers[i, 1] = c1[bent, 0] - px[i], c1[bent, 1] - py[i]
        numbers[i, 2], numbers[i, 3] = c2[bent, 0] - px[i], c2[bent, 1] - py[i]
        numbers[i, 4], numbers[i, 5] = dx[i], dy[i]
        counts[i] = 6
        letters[i] = "c"
    horizontal = straight & (dy == 0) & (dx != 0)
    vertical = straight & (dx == 0) & (dy != 0)
    # A step that goes nowhere is left out, as cairo leaves it out of a path, unless it is the
    # first of its subpath (a dot still gets round caps).
    nowhere = straight & (dx == 0) & (dy == 0)
    straight &= ~nowhere | (rank == 1)
    both = straight & ~horizontal & ~vertical
    numbers[horizontal, 0] = dx[horizontal]
    numbers[vertical, 0] = dy[vertical]
    numbers[both, 0], numbers[both, 1] = dx[both], dy[both]
    counts[horizontal] = counts[vertical] = 1
    counts[both] = 2
    letters[horizontal], letters[vertical], letters[both] = "h", "v", "l"
    letters[code == 3] = "z"
    column = np.arange(6)
    mask = column < counts[:, None]
    flat = numbers[mask]
    lead = np.broadcast_to(column == 0, numbers.shape)[mask]
    unique, inverse = np.unique(flat, return_inverse=True)
    plain = [_grid_text(v, _DECIMALS) for v in unique.tolist()]
    # a number after another is separated by a space unless its minus sign does that
    spaced = np.array([t if t[0] == "-" else " " + t for t in plain], dtype=object)
    words = np.where(lead, np.array(plain, dtype=object)[inverse], spaced[inverse])
    pieces = np.empty(n + len(flat), dtype=object)
    piece_start = np.cumsum(counts + 1) - (counts + 1)
    pieces[piece_start] = letters
    is_number = np.ones(len(pieces), dtype=bool)
    is_number[piece_start] = False
    pieces[is_number] = words
    everything = pieces.tolist()
    firsts = np.flatnonzero(opens)
    bounds = np.append(piece_start[firsts], len(everything)).tolist()
    for k, who in enumerate(owner_of_command[firsts].tolist()):
        texts[who] = "".join(everything[bounds[k]:bounds[k + 1]])
    return texts


def _on_chord_all(px, py, c1, c2, vx, vy) -> np.ndarray:
    """For cubics from (px, py) by (vx, vy) with control points ``c1``, ``c2`` (grid units,
    magnitudes below 2**29): True where both control points lie on the chord, within one grid
    unit of its line and between its ends."""
    length2 = vx * vx + vy * vy
    # |cross| > floor(sqrt(length2)) is cross**2 > length2 without overflowing int64
    root = np.floor(np.sqrt(length2.astype(np.float64))).astype(np.int64)
    root -= root * root > length2
    root += (root + 1) * (root + 1) <= length2
    ok = np.ones(len(px), dtype=bool)
    zero = length2 == 0
    for control in (c1, c2):
        wx = control[:, 0] - px
        wy = control[:, 1] - py
        cross = vx * wy - vy * wx
        dot = vx * wx + vy * wy
        with np.errstate(divide="ignore", invalid="ignore"):
            t = dot / np.where(zero, 1, length2)
        bad = np.where(zero, (wx != 0) | (wy != 0), (np.abs(cross) > root) | (t < 0) | (t > 1))
        ok &= ~bad
    return ok


_JOINS = {cairo.LineJoin.MITER: "miter", cairo.LineJoin.ROUND: "round",
          cairo.LineJoin.BEVEL: "bevel"}
_CAPS = {cairo.LineCap.BUTT: "butt", cairo.LineCap.ROUND: "round",
         cairo.LineCap.SQUARE: "square"}
_CAIRO_MITER_LIMIT = 10  # cairo's default; SVG's is 4
_NO_FILL = ' fill="none"'  # SVG's default fill is black


_STYLES: dict[tuple, tuple[str, str, str]] = {}  # a VMobject's paint, by what decides it


def _elements(vmobject, d: str, view: _View, gradients: list[str]) -> list[str]:
    """The ``<path>`` elements of one VMobject, painted as Manim's camera paints it: its
    background stroke, then its fill, then its stroke (fill and stroke share one element)."""
    out: list[str] = []
    fills = vmobject.get_fill_rgbas()
    strokes = vmobject.get_stroke_rgbas()
    backs = vmobject.get_stroke_rgbas(True)
    key = None
    if all(type(a) is np.ndarray and a.shape == (1, 4) for a in (fills, strokes, backs)):
        # one colour each: the attributes depend on nothing else (a gradient, on the shape)
        key = (view.line_scale, fills.tobytes(), strokes.tobytes(), backs.tobytes(),
               vmobject.get_stroke_width(), vmobject.get_stroke_width(True),
               vmobject.joint_type, vmobject.cap_style)
    styles = _STYLES.get(key) if key is not None else None
    if styles is None:
        styles = (_stroke(vmobject, True, view, gradients, out),
                  _paint(fills, vmobject, view, gradients, out, "fill"),
                  _stroke(vmobject, False, view, gradients, out))
        if key is not None:
            if len(_STYLES) > 10_000:
                _STYLES.clear()
            _STYLES[key] = styles
    background, fill, stroke = styles
    if background:
        out.append(f'<path{_NO_FILL}{background} d="{d}"/>')
    if fill or stroke:
        out.append(f'<path{fill or _NO_FILL}{stroke} d="{d}"/>')
    return out


def _stroke(vmobject, background: bool, view: _View, gradients: list[str],
            out: list[str]) -> str:
    """The stroke attributes of ``vmobject`` ("" when Manim's camera would not stroke it)."""
    from manim.camera.camera import CAP_STYLE_MAP, LINE_JOIN_MAP

    width = vmobject.get_stroke_width(background)
    if width == 0:
        return ""
    paint = _paint(vmobject.get_stroke_rgbas(background), vmobject, view, gradients, out,
                   "stroke")
    if not paint:
        return ""
    # The camera's line width: 1/100 of a scene unit per unit of stroke width
    attrs = [paint, f' stroke-width="{_fmt(width * 0.01 * view.line_scale, 3)}"']
    join = _JOINS[LINE_JOIN_MAP[vmobject.joint_type]]
    if join == "miter":
        attrs.append(f' stroke-miterlimit="{_CAIRO_MITER_LIMIT}"')
    else:
        attrs.append(f' stroke-linejoin="{join}"')
    cap = _CAPS[CAP_STYLE_MAP[vmobject.cap_style]]
    if cap != "butt":
        attrs.append(f' stroke-linecap="{cap}"')
    return "".join(attrs)


def _clear(alpha: float) -> bool:
    """True for an alpha that cairo holds as 0 (it then draws nothing at all)."""
    return alpha * 65535.0 + 0.5 < 1.0


def _paint(rgbas, vmobject, view: _View, gradients: list[str], out: list[str],
           what: str) -> str:
    """``fill``/``stroke`` attributes for ``rgbas`` ("" if clear): one colour, or the camera's
    linear gradient across the VMobject for several."""
    rgbas = np.asarray(rgbas, dtype=np.float64).reshape(-1, 4)
    if len(rgbas) == 0 or all(_clear(a) for a in rgbas[:, 3].tolist()):
        return ""
    if len(rgbas) == 1:
        alpha = _fmt(float(rgbas[0, 3]), 4)
        opacity = "" if alpha == "1" else f' {what}-opacity="{alpha}"'
        return f' {what}="{_rgb_hex(rgbas[0])}"{opacity}'
    start, end = (view.pixels(p) for p in vmobject.get_gradient_start_and_end_points())
    name = f"linear{len(gradients)}"
    stops = "".join(
        f'<stop offset="{_fmt(offset, 4)}" stop-color="{_rgb_hex(rgba)}"'
        f' stop-opacity="{_fmt(float(rgba[3]), 4)}"/>'
        for offset, rgba in zip(np.linspace(0, 1, len(rgbas)).tolist(), rgbas, strict=True))
    gradient = (f'<linearGradient id="{name}" gradientUnits="userSpaceOnUse" '
                f'x1="{_fmt(start[0], 2)}" y1="{_fmt(start[1], 2)}" '
                f'x2="{_fmt(end[0], 2)}" y2="{_fmt(end[1], 2)}">{stops}</linearGradient>')
    gradients.append(name)
    out.append(gradient)
    return f' {what}="url(#{name})"'


def _rgb_hex(rgba) -> str:
    r, g, b = (min(255, max(0, round(float(v) * 255))) for v in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


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

    from scenes.engine.dry_run import dry_run_camera, no_pixels
    from scenes.engine.fastpaths import end_states_only
    from scenes.toolkit.storyboard import using_options

    def on_step(scene, index, step):
        listener(scene, index, step)
        if step.name == stop_after:
            raise EndSceneEarlyException()  # Manim's "end here" signal: ends the render cleanly

    import tempfile

    # Manim writes the LaTeX and text it typesets into media_dir: a private temporary folder,
    # not ./media wherever the command runs. What is worth keeping between runs (text outlines,
    # compiled formulas) is kept by scenes.engine.textcache, safely shared and bounded.
    with tempfile.TemporaryDirectory(prefix="manim-media-") as media:
        settings = {"dry_run": True, "disable_caching": True, "progress_bar": "none",
                    "verbosity": "WARNING", "preview": False, "media_dir": media}
        # end_states_only: exact, faster versions of a few of Manim's methods, and animations
        # that jump to their end without the copies made for the frames in between.
        with tempconfig(settings), using_options(options), end_states_only():
            scene = scene_cls(skip_animations=True, camera_class=dry_run_camera())
            no_pixels(scene)
            scene.step_listeners.append(on_step)
            scene.render()


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

    Files are ``<out_dir>/<NN>-<step>.svg`` (default ``renders/svg/<scene>/``). The set is
    all-or-nothing: the figures are drawn first, then the changed ones are renamed into place
    together (an interruption or a failure before leaves the earlier set as it was); a file
    whose bytes would not change is left untouched. After a full export, figures of this scene left from an older
    storyboard (say ``08-softmax.svg`` once a mask step made it ``09-``) are removed, so the
    folder holds exactly the current steps; other files are never touched.

    ``progress(path, status)`` reports each file as ``"written"``, ``"unchanged"`` or
    ``"removed"``, once the set is in place. The extra ``listeners(scene, index, step)`` run
    after each step is drawn (its file is written with the others at the end), at the same end
    state (the tests compare with Manim's own pixels there). Returns the paths in storyboard
    order. Raises :class:`UnknownStepError` for an unknown ``step``.
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

    figures: dict[Path, bytes] = {}

    def write_step(scene, index, current) -> None:
        if step is None or current.name == step:
            figure = step_figure(scene, scene_name, index, current, len(steps), transparent)
            path = out / svg_filename(index, current.name)
            figures[path] = mobjects_to_svg(display_list(scene), figure)
            paths.append(path)
        for listener in listeners:
            listener(scene, index, current)

    run_storyboard(scene_cls, options, write_step, stop_after=step)
    # The set is written all together once every figure is drawn: an interruption or a failure
    # (a full disk) leaves the earlier set whole, never new figures beside old ones.
    changed = {path: data for path, data in figures.items() if not _holds(path, data)}
    stale = _stale_figures(out, scene_name, paths) if step is None else []
    if changed or stale:
        from transformer_core.files import commit_files

        commit_files(out, {path.name: data for path, data in changed.items()}, stale)
    for path in paths:
        report(path, WRITTEN if path in changed else UNCHANGED)
    for path in stale:
        report(path, REMOVED)
    return paths


def _holds(path: Path, data: bytes) -> bool:
    """True if ``path`` is a file holding exactly ``data`` (it is left untouched)."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


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
