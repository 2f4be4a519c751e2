"""Laid-out text and compiled formulas, kept between runs in the user's cache folder
(:mod:`transformer_core.cache`): a string's outline points (Pango and Manim's SVG parsing
skipped on a hit) and a formula's ``MathTex`` as Manim builds it (LaTeX, dvisvgm and the SVG's
parsing skipped on a hit; written down by :mod:`scenes.engine.objectstate`). Each key covers everything
that decides the value (see each key's function); values are stored exactly, so a cached run
draws the same pixels as an uncached one, and an entry that does not decode into well-formed
arrays is made again. With caching off (``--no-cache``) nothing is read or written.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess

import numpy as np

from transformer_core.cache import Store, digest, enabled, file_identity

from . import objectstate

__all__ = ["persistent_points", "persistent_glyphs", "persistent_formula", "text_versions",
           "tex_tools"]

_TEXT = Store("text")
_FORMULA = Store("formula")


@functools.cache
def text_versions() -> tuple[str, ...]:
    """What else decides a text outline: Manim, ManimPango, Pango and cairo versions."""
    import cairo
    import manim
    import manimpango

    return (manim.__version__, manimpango.__version__, manimpango.pango_version(),
            cairo.cairo_version_string())


# The engine whose format file a LaTeX compiler loads (kpsewhich finds the file by engine).
_ENGINES = {"latex": "pdftex", "pdflatex": "pdftex", "xelatex": "xetex", "lualatex": "luahbtex"}


@functools.cache
def tex_tools(compiler: str) -> tuple:
    """What else decides a formula's SVG: the ``compiler`` program, the format file it loads
    and ``dvisvgm``, as installed (:func:`~transformer_core.cache.file_identity`). Found once
    per process; their stats cost microseconds where asking each its version costs a process."""
    fmt = None
    engine = _ENGINES.get(compiler)
    kpsewhich = shutil.which("kpsewhich")
    if engine and kpsewhich:
        try:
            found = subprocess.run([kpsewhich, f"-engine={engine}", f"{compiler}.fmt"],
                                   capture_output=True, text=True, timeout=30, check=False)
            fmt = found.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            fmt = None
    return (file_identity(shutil.which(compiler)), file_identity(fmt),
            file_identity(shutil.which("dvisvgm")))


def _load_array(blob: bytes) -> np.ndarray | None:
    try:
        value = np.load(io.BytesIO(blob), allow_pickle=False)
    except Exception:  # a foreign or damaged entry: made again
        return None
    return value if isinstance(value, np.ndarray) else None


def persistent_points(fn):
    """Decorate ``fn(*args) -> points array`` so that its results persist between runs."""

    @functools.wraps(fn)
    def wrapper(*args):
        key = digest("text-points", fn.__qualname__, args, text_versions())
        blob = _TEXT.get(key)
        if blob is not None:
            value = _load_array(blob)
            if value is not None and value.ndim == 2 and value.shape[1:] == (3,):
                return value
        value = fn(*args)
        buf = io.BytesIO()
        np.save(buf, np.asarray(value, dtype=np.float64), allow_pickle=False)
        _TEXT.put(key, buf.getvalue())
        return value

    return wrapper


def persistent_glyphs(fn):
    """Decorate ``fn(font_size, chars) -> ({char: points}, advance)`` to persist between runs."""

    @functools.wraps(fn)
    def wrapper(font_size, chars):
        key = digest("text-glyphs", fn.__qualname__, font_size, chars, text_versions())
        blob = _TEXT.get(key)
        if blob is not None:
            try:
                with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                    glyphs = {c: np.array(z[f"g{ord(c)}"]) for c in chars}
                    return glyphs, float(z["advance"])
            except Exception:  # damaged or foreign: made again
                pass
        glyphs, advance = fn(font_size, chars)
        buf = io.BytesIO()
        np.savez(buf, advance=np.float64(advance),
                 **{f"g{ord(c)}": np.asarray(g, dtype=np.float64) for c, g in glyphs.items()})
        _TEXT.put(key, buf.getvalue())
        return glyphs, advance

    return wrapper


def _formula_key(tex: tuple[str, ...], font_size: float) -> str:
    """What decides a built formula: its strings and size, the LaTeX template and compiler, the
    installed TeX tools, the renderer (its mobject classes), and the versions of Manim,
    svgelements (which parses the SVG) and numpy."""
    from manim import config

    template = config["tex_template"]
    return digest("formula", list(tex), font_size, template.body, template.tex_compiler,
                  template.output_format, tex_tools(template.tex_compiler), str(config.renderer),
                  _formula_versions())


@functools.cache
def _formula_versions() -> tuple[str, ...]:
    from importlib import metadata

    return text_versions()[0], metadata.version("svgelements"), np.__version__


def _well_formed(mob) -> bool:
    """A ``MathTex`` whose every part has points of shape (n, 3) and colours of shape (k, 4)."""
    from manim import MathTex

    if type(mob) is not MathTex:
        return False
    for part in mob.get_family():
        arrays = (part.points, part.fill_rgbas, part.stroke_rgbas, part.background_stroke_rgbas)
        if not all(isinstance(a, np.ndarray) and a.dtype == np.float64 and a.ndim == 2
                   for a in arrays):
            return False
        if arrays[0].shape[1] != 3 or any(a.shape[1] != 4 for a in arrays[1:]):
            return False
    return True


def persistent_formula(fn):
    """Decorate ``fn(tex, font_size) -> MathTex`` so that what it builds persists between runs
    (when :mod:`scenes.engine.objectstate` can write all of it down; otherwise it is built
    every time)."""

    @functools.wraps(fn)
    def wrapper(tex, font_size):
        if not enabled():
            return fn(tex, font_size)
        key = _formula_key(tex, font_size)
        blob = _FORMULA.get(key)
        if blob is not None:
            try:
                mob = objectstate.decode(blob)
                if _well_formed(mob):
                    return mob
            except Exception:  # damaged or foreign: made again
                pass
        mob = fn(tex, font_size)
        try:
            _FORMULA.put(key, objectstate.encode(mob))
        except objectstate.Unsupported:  # something it cannot make exactly: built every time
            pass
        return mob

    return wrapper
