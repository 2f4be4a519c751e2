"""A built formula's whole state as bytes, and the same objects made again from them.

Manim builds a ``MathTex`` by parsing LaTeX's SVG (svgelements, then one mobject per path):
about 40 ms per formula in every process, although the SVG itself is cached; made again from
its written-down state, about 9 ms.
:func:`encode` writes down everything the built object holds (every object it reaches: its
class, its attributes in their order, which objects are shared), and :func:`decode` makes the
same objects again without parsing anything: same classes, same attributes, arrays bit for bit,
the same objects shared. Nothing is pickled: the structure is JSON and the arrays raw bytes of
a plain numeric dtype (compressed together), so an entry can only ever make objects of the
classes listed here.

What ``encode`` meets must be one of: ``None``, a bool, int, float or string; a list, tuple or
dict of those; a numeric numpy array or scalar; an enum member, a ``ManimColor``, a mobject or
an svgelements path part of a class listed in :func:`_classes`; the configured
``TexTemplate``; or the path of a file in Manim's ``tex_dir`` (made again in the current
``tex_dir``, as Manim would name it now). Anything else raises :class:`Unsupported`, and the
caller keeps building the formula the usual way.
"""

from __future__ import annotations

import enum
import functools
import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["Unsupported", "encode", "decode"]

_MAGIC = b"MOBSTATE2"  # then, compressed: the JSON's length, the JSON, the arrays' bytes
_LENGTH = struct.Struct("<Q")
_ATOMIC = (type(None), bool, int, float, str)
_MAKING = object()  # a tuple being made


class Unsupported(TypeError):
    """A value :func:`encode` does not know how to write down exactly."""


@functools.cache
def _classes() -> dict[str, type]:
    """Every class whose instances may be written down and made again, by qualified name."""
    import svgelements as se
    from manim import (
        Circle, Line, ManimColor, MathTex, Polygon, Rectangle, RoundedRectangle, VGroup, VMobject,
    )
    from manim.constants import CapStyleType, LineJointType
    from manim.mobject.svg.svg_mobject import VMobjectFromSVGPath
    from manim.mobject.text.tex_mobject import MathTexPart

    listed = [MathTex, MathTexPart, VGroup, VMobject, VMobjectFromSVGPath, ManimColor,
              CapStyleType, LineJointType,  # and the shapes an SVG's elements become:
              Rectangle, RoundedRectangle, Line, Circle, Polygon,
              se.Path, se.Move, se.Line, se.QuadraticBezier, se.CubicBezier, se.Close, se.Point,
              se.Color, se.Matrix]
    return {f"{c.__module__}.{c.__qualname__}": c for c in listed}


def _name(cls: type) -> str:
    name = f"{cls.__module__}.{cls.__qualname__}"
    if _classes().get(name) is not cls:
        raise Unsupported(f"cannot write down a {name}")
    return name


def _slotted(cls: type) -> bool:
    """True if instances of ``cls`` keep attributes in slots (which ``vars`` does not show)."""
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if any(s not in ("__dict__", "__weakref__") for s in ((slots,) if isinstance(slots, str)
                                                               else slots)):
            return True
    return False


def _tex_dir() -> Path:
    from manim import config

    return config.get_dir("tex_dir")


def _tex_template():
    from manim import config

    return config["tex_template"]


class _Writer:
    """Turns an object graph into JSON-able nodes, a table of the kinds of objects met (class
    and attribute names, written once for all objects of that kind) and a list of arrays.

    A node is a value of ``None``, a bool, int, float or string as it is, or a list whose first
    item says what follows: ``l``/``t``/``d`` a list, tuple or dict (keys and values in turn),
    ``o`` an object (its kind, then its attributes' values), ``e`` an enum member (its kind),
    ``a``/``s`` an array or numpy scalar (its index), ``T`` the configured TexTemplate, ``F`` a
    file in ``tex_dir`` (its name), ``r`` an object met before (its number: every node but an
    atomic value, an enum member or a reference is numbered in the order written)."""

    def __init__(self) -> None:
        self.numbers: dict[int, int] = {}  # id of an object seen -> its number
        self.alive: list = []  # what was numbered, so that no id is reused meanwhile
        self.kinds: dict[tuple, int] = {}  # (class name, attribute names or member) -> index
        self.arrays: list[np.ndarray] = []

    def node(self, value):
        if type(value) in _ATOMIC:
            return value
        if isinstance(value, enum.Enum):
            return ["e", self._kind(_name(type(value)), value.name)]
        if id(value) in self.numbers:
            return ["r", self.numbers[id(value)]]
        self.numbers[id(value)] = len(self.numbers)
        self.alive.append(value)
        return self._new(value)

    def _kind(self, *kind) -> int:
        return self.kinds.setdefault(kind, len(self.kinds))

    def _new(self, value) -> list:
        kind = type(value)
        if kind is list or kind is tuple:
            return ["l" if kind is list else "t", *map(self.node, value)]
        if kind is dict:
            return ["d", *(self.node(x) for item in value.items() for x in item)]
        if kind is np.ndarray or isinstance(value, np.generic):
            return ["a" if kind is np.ndarray else "s", self._array(value)]
        if value is _tex_template():
            return ["T"]
        if isinstance(value, Path):
            if value.parent != _tex_dir():
                raise Unsupported(f"a path outside Manim's tex_dir: {value}")
            return ["F", value.name]
        name = _name(kind)
        if not hasattr(value, "__dict__") or _slotted(kind):
            raise Unsupported(f"{name} keeps attributes outside its __dict__")
        state = vars(value)
        return ["o", self._kind(name, *state), *map(self.node, state.values())]

    def _array(self, value) -> int:
        array = np.asarray(value)
        if array.dtype.kind not in "biuf" or array.dtype.hasobject:
            raise Unsupported(f"an array of {array.dtype}")
        self.arrays.append(array)
        return len(self.arrays) - 1


def encode(root) -> bytes:
    """Everything ``root`` holds, as bytes for :func:`decode` (raises :class:`Unsupported`)."""
    writer = _Writer()
    tree = writer.node(root)
    header = {"tree": tree, "kinds": [list(k) for k in writer.kinds],
              "arrays": [[a.dtype.str, *a.shape] for a in writer.arrays]}
    text = json.dumps(header, separators=(",", ":")).encode()
    raw = b"".join(np.ascontiguousarray(a).tobytes() for a in writer.arrays)
    return _MAGIC + zlib.compress(_LENGTH.pack(len(text)) + text + raw)


class _Reader:
    """Makes the objects of a tree of nodes again (see :class:`_Writer`)."""

    def __init__(self, kinds: list, arrays: list[np.ndarray]) -> None:
        self.kinds = [(_classes()[_text(k[0])], [_text(n) for n in k[1:]]) for k in kinds]
        self.arrays = arrays
        self.made: list = []

    def value(self, node):
        if type(node) in _ATOMIC:
            return node
        tag = node[0]
        if tag == "e":
            cls, (member,) = self.kinds[node[1]]
            if not issubclass(cls, enum.Enum):
                raise ValueError(f"{cls.__qualname__} is not an enum")
            return cls[member]
        if tag == "r":
            made = self.made[node[1]]
            if made is _MAKING:
                raise ValueError("a tuple that holds itself")
            return made
        return self._new(tag, node)

    def _new(self, tag: str, node: list):
        n, value = len(self.made), self.value
        self.made.append(_MAKING)  # numbered now; lists, dicts and objects are made empty
        if tag == "l":              # first, as what they hold may refer back to them
            made = self.made[n] = []
            made.extend(map(value, node[1:]))
        elif tag == "d":
            made = self.made[n] = {}
            items = node[1:]
            if len(items) % 2:
                raise ValueError("a dict of keys without values")
            for k in range(0, len(items), 2):
                made[value(items[k])] = value(items[k + 1])
        elif tag == "o":
            cls, names = self.kinds[node[1]]
            if issubclass(cls, enum.Enum) or len(names) != len(node) - 2:
                raise ValueError(f"a malformed {cls.__qualname__}")
            made = self.made[n] = cls.__new__(cls)
            made.__dict__.update(zip(names, map(value, node[2:]), strict=True))
        elif tag == "t":
            made = self.made[n] = tuple(map(value, node[1:]))
        elif tag == "a":
            made = self.made[n] = self.arrays[node[1]].copy()
        elif tag == "s":
            made = self.made[n] = self.arrays[node[1]][()]
        elif tag == "T":
            made = self.made[n] = _tex_template()
        elif tag == "F":
            made = self.made[n] = _tex_dir() / Path(_text(node[1])).name
        else:
            raise ValueError(f"unknown node {tag!r}")
        return made


def _text(value) -> str:
    if type(value) is not str:
        raise ValueError("a name that is not a string")
    return value


def decode(blob: bytes):
    """The objects :func:`encode` wrote down, made again (raises on anything malformed)."""
    if not blob.startswith(_MAGIC):
        raise ValueError("not an object state")
    blob = zlib.decompress(blob[len(_MAGIC):])
    start = _LENGTH.size
    (length,) = _LENGTH.unpack_from(blob, 0)
    header = json.loads(blob[start:start + length])
    offset, arrays = start + length, []
    for dtype_text, *shape in header["arrays"]:
        dtype = np.dtype(_text(dtype_text))
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise ValueError(f"an array of {dtype}")
        if not all(type(s) is int and s >= 0 for s in shape):
            raise ValueError(f"an array of shape {shape}")
        count = math.prod(shape)
        arrays.append(np.frombuffer(blob, dtype, count, offset).reshape(shape))
        offset += count * dtype.itemsize
    if offset != len(blob):
        raise ValueError("the arrays do not fill the entry")
    return _Reader(header["kinds"], arrays).value(header["tree"])
