"""A built formula's whole state as bytes, and the same objects made again from them.

Manim builds a ``MathTex`` by parsing LaTeX's SVG (svgelements, then one mobject per path):
about a tenth of a second per formula in every process, although the SVG itself is cached.
:func:`encode` writes down everything the built object holds (every object it reaches: its
class, its attributes in their order, which objects are shared), and :func:`decode` makes the
same objects again without parsing anything: same classes, same attributes, arrays bit for bit,
the same objects shared. Nothing is pickled: the structure is JSON and the arrays raw bytes of
a plain numeric dtype (compressed together), so an entry can only ever make objects of the
classes listed here.

What ``encode`` meets must be one of: ``None``, a bool, int, float or string; a list, tuple or
dict of those; a numeric numpy array or scalar; an enum member, a ``ManimColor``, a mobject or
an svgelements path part of a class listed in :data:`_CLASSES`; the configured
``TexTemplate``; or the path of a file in Manim's ``tex_dir`` (made again in the current
``tex_dir``, as Manim would name it now). Anything else raises :class:`Unsupported`, and the
caller keeps building the formula the usual way.
"""

from __future__ import annotations

import enum
import functools
import json
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["Unsupported", "encode", "decode"]

_MAGIC = b"MOBSTATE1"  # then, compressed: the JSON's length, the JSON, the arrays' bytes
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
    """Turns an object graph into JSON-able nodes and a list of arrays."""

    def __init__(self) -> None:
        self.numbers: dict[int, int] = {}  # id of an object seen -> its number
        self.alive: list = []  # what was numbered, so that no id is reused meanwhile
        self.arrays: list[np.ndarray] = []

    def node(self, value):
        if type(value) in _ATOMIC:
            return value
        if isinstance(value, enum.Enum):
            return {"~": "enum", "c": _name(type(value)), "v": value.name}
        if id(value) in self.numbers:
            return {"~": "ref", "n": self.numbers[id(value)]}
        self.numbers[id(value)] = n = len(self.numbers)
        self.alive.append(value)
        return {"n": n, **self._new(value)}

    def _new(self, value) -> dict:
        kind = type(value)
        if kind is list:
            return {"~": "list", "i": [self.node(v) for v in value]}
        if kind is tuple:
            return {"~": "tuple", "i": [self.node(v) for v in value]}
        if kind is dict:
            return {"~": "dict", "i": [[self.node(k), self.node(v)] for k, v in value.items()]}
        if kind is np.ndarray or isinstance(value, np.generic):
            return {"~": "array" if kind is np.ndarray else "scalar", "a": self._array(value)}
        if value is _tex_template():
            return {"~": "tex_template"}
        if isinstance(value, Path):
            if value.parent != _tex_dir():
                raise Unsupported(f"a path outside Manim's tex_dir: {value}")
            return {"~": "tex_file", "name": value.name}
        name = _name(kind)
        if not hasattr(value, "__dict__") or _slotted(kind):
            raise Unsupported(f"{name} keeps attributes outside its __dict__")
        return {"~": "object", "c": name,
                "s": [[k, self.node(v)] for k, v in vars(value).items()]}

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
    index = []
    for array in writer.arrays:
        index.append([array.dtype.str, list(array.shape)])
    text = json.dumps({"tree": tree, "arrays": index}, separators=(",", ":")).encode()
    raw = b"".join(np.ascontiguousarray(a).tobytes() for a in writer.arrays)
    return _MAGIC + zlib.compress(_LENGTH.pack(len(text)) + text + raw)


class _Reader:
    """Makes the objects of a tree of nodes again (numbers in the order they were written)."""

    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.arrays = arrays
        self.made: dict[int, object] = {}

    def value(self, node):
        if type(node) in _ATOMIC:
            return node
        kind = node["~"]
        if kind == "enum":
            cls = _classes()[node["c"]]
            if not issubclass(cls, enum.Enum):
                raise ValueError(f"{node['c']} is not an enum")
            return cls[_text(node["v"])]
        if kind == "ref":
            made = self.made[node["n"]]
            if made is _MAKING:
                raise ValueError("a tuple that holds itself")
            return made
        if node["n"] != len(self.made):
            raise ValueError("objects out of order")
        return self._new(kind, node)

    def _new(self, kind: str, node: dict):
        n = node["n"]
        if kind in ("list", "dict", "object"):  # made empty first: what it holds may refer back
            if kind == "object":
                cls = _classes()[node["c"]]
                if issubclass(cls, enum.Enum):
                    raise ValueError(f"{node['c']} members are enum members")
                made = self.made[n] = cls.__new__(cls)
                state = made.__dict__
                for key, item in node["s"]:
                    state[_text(key)] = self.value(item)
            elif kind == "list":
                made = self.made[n] = []
                made.extend(self.value(item) for item in node["i"])
            else:
                made = self.made[n] = {}
                for key, item in node["i"]:
                    made[self.value(key)] = self.value(item)
            return made
        if kind == "tuple":
            self.made[n] = _MAKING  # numbered now, made from its items below
            made = self.made[n] = tuple(self.value(item) for item in node["i"])
        elif kind == "array":
            made = self.made[n] = self.arrays[node["a"]].copy()
        elif kind == "scalar":
            made = self.made[n] = self.arrays[node["a"]][()]
        elif kind == "tex_template":
            made = self.made[n] = _tex_template()
        elif kind == "tex_file":
            made = self.made[n] = _tex_dir() / Path(_text(node["name"])).name
        else:
            raise ValueError(f"unknown node {kind!r}")
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
    for dtype_text, shape in header["arrays"]:
        dtype = np.dtype(_text(dtype_text))
        if dtype.kind not in "biuf" or dtype.hasobject:
            raise ValueError(f"an array of {dtype}")
        if not all(type(s) is int and s >= 0 for s in shape):
            raise ValueError(f"an array of shape {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        array = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
        arrays.append(array.reshape(shape))
        offset += count * dtype.itemsize
    if offset != len(blob):
        raise ValueError("the arrays do not fill the entry")
    return _Reader(arrays).value(header["tree"])
