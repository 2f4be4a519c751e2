"""A video render's drawing and encoding, faster with the same frames: a camera that replays the
cairo path of a VMobject whose points did not change and skips fills and strokes of alpha 0, a
renderer that hands each frame on without a copy, a frame writer that converts each frame to YUV
where it lies (a held frame once), libx264 settings, and glibc memory settings. Switched off
with the caches (``--no-cache``); the tests compare a cached and an uncached render frame by
frame. What each saves: docs/engine.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import weakref
from fractions import Fraction

import av
import cairo
import numpy as np
from av.video.reformatter import VideoReformatter
from manim.camera.camera import CAP_STYLE_MAP, LINE_JOIN_MAP, Camera
from manim.renderer.cairo_renderer import CairoRenderer
from manim.scene.scene_file_writer import SceneFileWriter
from manim.scene.video_segment_encoder import VideoSegmentEncoder

__all__ = ["ENCODER_OPTIONS", "ENCODER_QUEUE_SIZE", "MAX_INFLIGHT_ENCODERS", "FastPathCamera",
           "FrameGivingRenderer", "HeldFrameFileWriter", "keep_freed_memory"]

# libx264 by codec; CRF stays Manim's 23, which sets the quality. On one thread: a render already
# keeps both cores busy (drawing beside encoding, and --jobs processes), x264's own threads cost
# CPU time to coordinate, and their output depends on the machine's core count. subme/me/trellis
# lighter than veryfast's: a third less encoding time for files 2-5 % larger.
ENCODER_OPTIONS = {"libx264": {"preset": "veryfast", "threads": "1",
                               "x264-params": "subme=0:me=dia:trellis=0"}}
# glibc's mallopt parameters (malloc.h) and the values keep_freed_memory sets: blocks up to
# 32 MB (a 1080p frame is 8 MB) from the heap, freed memory kept up to 128 MB, the heap grown
# 16 MB at a time, and one arena for every thread (the encoder's buffers then reuse what the last one freed).
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -2, -3, -8
_MALLOC_SETTINGS = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 128 << 20),
                    (_M_TOP_PAD, 16 << 20), (_M_ARENA_MAX, 1))
# One segment encoder at a time. With two (one segment finishing its encoding while the next is
# drawn) the decoded frames at the start of a segment differed by a few pixels from run to run
# (tests/test_caches.py failed about one run in two): a render must give the same frames.
MAX_INFLIGHT_ENCODERS = 1
# Frames drawn ahead of the encoder: Manim's default is 8, 66 MB at 1080p in each render process;
# with the encoder on one thread beside the drawing, 3 keep both as busy.
ENCODER_QUEUE_SIZE = 3


class FastPathCamera(Camera):
    """Manim's camera, building each VMobject's cairo path from Python floats (the same calls
    to cairo as Manim makes, a third faster), and replaying the path it built for a VMobject
    on an earlier frame while that VMobject's points are unchanged (a fade, a colour change:
    most of an animation's VMobjects at most frames).

    A kept path is copied and replayed in device space (pixels, identity matrix): cairo keeps
    a path as fixed-point device coordinates, which a double holds exactly, so the replayed
    path is the very path that building it again would give. (Kept in user space, as
    ``copy_path`` gives it under Manim's matrix, the round trip through the inverse matrix moved
    a point by 1/256 px now and then: a few antialiased pixels differed.)"""

    _IDENTITY = cairo.Matrix()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # id(vmobject) -> [weakref, bytes of its points, their shape and type, matrix, path | None]
        self._kept: dict[int, list] = {}
        self._plain_classes: dict[type, bool] = {}

    # ---- frames given away instead of copied ---------------------------------------------------

    _given = None  # the pixel array take_frame gave away: never drawn into again
    _context: tuple | None = None  # (pixel array, its cairo context)

    def take_frame(self):
        """The frame as drawn, given away (for :class:`FrameGivingRenderer`): this camera never
        writes into that array again, the next frame is drawn into a new one, so it needs no
        copy. Manim copies the frame out of its one pixel array at every frame time and copies
        the background into that array for the next one: now one copy a frame, not two."""
        self._given = self.pixel_array
        return self._given

    def set_pixel_array(self, pixel_array, convert_from_floats: bool = False) -> None:
        current = self.__dict__.get("pixel_array")
        if current is None or current is not self._given:
            return super().set_pixel_array(pixel_array, convert_from_floats)
        self._given = None
        new = np.asarray(pixel_array)
        if convert_from_floats or new.shape != current.shape or new.dtype != current.dtype:
            self.pixel_array = current.copy()  # Manim's own conversion, into an array of ours
            return super().set_pixel_array(pixel_array, convert_from_floats)
        self.pixel_array = new.copy()  # what np.copyto into the old array would hold
        return None

    def capture_mobjects(self, mobjects, **kwargs) -> None:
        if self._given is not None and self.pixel_array is self._given:
            self.pixel_array = self.pixel_array.copy()  # drawn on again without a new start
            self._given = None
        return super().capture_mobjects(mobjects, **kwargs)

    # ---- the list of mobjects to draw, kept while their families are as they were ---------------

    _drawn: tuple | None = None  # (mobjects, family, submobjects, has points, z, use_z, drawn)

    def get_mobjects_to_display(self, mobjects, include_submobjects: bool = True,
                                excluded_mobjects=None) -> list:
        """Manim's list, kept from the last frame while nothing it depends on has changed: the
        mobjects asked for, and for each member of their families its submobjects, whether it
        has points and its z-index. Manim walks every family at every frame (a tenth of the
        drawing time of a play in which a few hundred mobjects move); checking the members one
        by one costs a fraction of that."""
        if not include_submobjects or excluded_mobjects:
            return super().get_mobjects_to_display(mobjects, include_submobjects,
                                                   excluded_mobjects)
        mobjects = list(mobjects)
        kept = self._drawn
        if kept is not None and self._still_drawn(kept, mobjects):
            return list(kept[6])
        drawn = super().get_mobjects_to_display(mobjects, include_submobjects)
        family = self._family(mobjects)
        self._drawn = None if family is None else (
            mobjects, family, [list(m.submobjects) for m in family],
            [len(m.points) > 0 for m in family],
            [m.z_index for m in family] if self.use_z_index else None, self.use_z_index,
            list(drawn))
        return drawn

    def _still_drawn(self, kept: tuple, mobjects: list) -> bool:
        old, family, subs, has_points, z, use_z, _ = kept
        if (len(old) != len(mobjects) or use_z != self.use_z_index
                or not all(a is b for a, b in zip(old, mobjects, strict=True))):
            return False
        for m, m_subs, m_has in zip(family, subs, has_points, strict=True):
            if m.submobjects != m_subs or (len(m.points) > 0) is not m_has:
                return False
        return z is None or all(m.z_index == mz for m, mz in zip(family, z, strict=True))

    @staticmethod
    def _family(mobjects: list) -> list | None:
        """Every member of the mobjects' families, once; None if a class finds its family or
        its points in a way of its own."""
        from manim import Mobject

        own = (Mobject.get_family, Mobject._iter_family, Mobject.family_members_with_points,
               Mobject.get_num_points)
        seen: set[int] = set()
        family = []
        stack = list(reversed(mobjects))
        while stack:
            m = stack.pop()
            if id(m) in seen:
                continue
            cls = type(m)
            if (cls.get_family, cls._iter_family, cls.family_members_with_points,
                    cls.get_num_points) != own:
                return None
            seen.add(id(m))
            family.append(m)
            stack.extend(reversed(m.submobjects))
        return family

    def get_cairo_context(self, pixel_array):
        """Manim's context for ``pixel_array``, kept for that array only: Manim keeps one per
        ``id`` of an array, which a new array (one a frame here) could reuse after the old one
        is freed. The kept reference holds the array, so its id stays its own meanwhile."""
        kept = self._context
        if kept is not None and kept[0] is pixel_array:
            return kept[1]
        cache = self.pixel_array_to_cairo_context
        cache.pop(id(pixel_array), None)
        ctx = super().get_cairo_context(pixel_array)
        cache.pop(id(pixel_array), None)
        self._context = (pixel_array, ctx)
        return ctx

    def display_vectorized(self, vmobject, ctx):
        """Manim's ``display_vectorized`` (path, background stroke, fill, stroke) with the same
        calls to cairo, less the ones that cannot change a pixel: a fill or stroke of one colour
        with alpha 0 (cairo's OVER leaves every pixel as it is), and the path itself when all
        three are such. In a fade or a lagged start many drawn mobjects are wholly transparent
        for a while (a FadeIn starts from alpha 0), and every matrix drawn without colours has
        transparent cells."""
        cls = type(vmobject)
        plain = self._plain_classes.get(cls)
        if plain is None:
            plain = self._plain_classes[cls] = self._is_plain(cls)
        state = vmobject.__dict__
        fill, stroke, back = (state.get("fill_rgbas"), state.get("stroke_rgbas"),
                              state.get("background_stroke_rgbas"))
        width, back_width = state.get("stroke_width"), state.get("background_stroke_width")
        if (not plain or type(fill) is not np.ndarray or type(stroke) is not np.ndarray
                or type(back) is not np.ndarray or fill.ndim != 2 or stroke.ndim != 2
                or back.ndim != 2 or width is None or back_width is None
                or isinstance(width, str) or isinstance(back_width, str)):
            return super().display_vectorized(vmobject, ctx)
        width, back_width = max(0.0, width), max(0.0, back_width)
        show_back = back_width != 0 and not self._clear(back)
        show_fill = not self._clear(fill)
        show_stroke = width != 0 and not self._clear(stroke)
        if not (show_back or show_fill or show_stroke):
            ctx.new_path()
            return self
        self.set_cairo_context_path(ctx, vmobject)
        if show_back:
            self._stroke(ctx, vmobject, back, back_width)
        if show_fill:
            self._set_colour(ctx, fill, vmobject)
            ctx.fill_preserve()
        if show_stroke:
            self._stroke(ctx, vmobject, stroke, width)
        return self

    @staticmethod
    def _is_plain(cls) -> bool:
        """True if ``cls`` reads its colours and widths with VMobject's own getters (the
        attributes ``display_vectorized`` then reads directly)."""
        from manim import VMobject

        return (issubclass(cls, VMobject)
                and cls.get_fill_rgbas is VMobject.get_fill_rgbas
                and cls.get_stroke_rgbas is VMobject.get_stroke_rgbas
                and cls.get_stroke_width is VMobject.get_stroke_width)

    @staticmethod
    def _clear(rgbas) -> bool:
        """One colour with alpha exactly 0."""
        return len(rgbas) == 1 and rgbas[0, 3] == 0

    def _set_colour(self, ctx, rgbas, vmobject) -> None:
        """Manim's ``set_cairo_context_color`` (red and blue swapped for the pixel buffer),
        with Python floats for one colour (the same values)."""
        if len(rgbas) != 1:
            self.set_cairo_context_color(ctx, rgbas, vmobject)
            return
        red, green, blue, alpha = rgbas[0].tolist()
        ctx.set_source_rgba(blue, green, red, alpha)

    def _stroke(self, ctx, vmobject, rgbas, width) -> None:
        """Manim's ``apply_stroke`` once its width is known not to be 0."""
        self._set_colour(ctx, rgbas, vmobject)
        ctx.set_line_width(width * self.cairo_line_width_multiple
                           * (self.frame_width / self.frame_width))
        ctx.set_line_join(LINE_JOIN_MAP[vmobject.joint_type])
        ctx.set_line_cap(CAP_STYLE_MAP[vmobject.cap_style])
        ctx.stroke_preserve()

    def set_cairo_context_path(self, ctx, vmobject):
        raw = vmobject.points
        if len(raw) == 0:
            return super().set_cairo_context_path(ctx, vmobject)
        matrix = ctx.get_matrix()
        # The points as they are (not as transform_points_pre_display gives them): the same
        # bytes give the same path, and comparing bytes is quicker than checking them first.
        data, form = raw.tobytes(), (raw.shape, raw.dtype)
        entry = self._kept.get(id(vmobject))
        if (entry is not None and entry[0]() is vmobject and entry[1] == data
                and entry[2] == form and entry[3] == matrix):
            ctx.new_path()
            ctx.set_matrix(self._IDENTITY)
            if entry[4] is None:  # the second frame with these points: build once more, keep
                ctx.set_matrix(matrix)
                self._build_path(ctx, vmobject, self.transform_points_pre_display(vmobject, raw))
                ctx.set_matrix(self._IDENTITY)
                entry[4] = ctx.copy_path()
            else:
                ctx.append_path(entry[4])
            ctx.set_matrix(matrix)
            return self
        points = self.transform_points_pre_display(vmobject, raw)
        if len(points) == 0:
            return super().set_cairo_context_path(ctx, vmobject)
        self._build_path(ctx, vmobject, points)
        if len(self._kept) > 50_000:
            self._kept = {k: e for k, e in self._kept.items() if e[0]() is not None}
        self._kept[id(vmobject)] = [weakref.ref(vmobject), data, form, matrix, None]
        return self

    @staticmethod
    def _build_path(ctx, vmobject, points: np.ndarray) -> None:
        """Manim's ``Camera.set_cairo_context_path`` (0.22) with Python floats: the same calls."""
        ctx.new_path()
        nppcc = vmobject.n_points_per_cubic_curve
        split = vmobject.get_subpath_split_indices_from_points(points, n_dims=2)
        if len(split) == 0:
            return
        flat = points[:, :2].ravel().tolist()
        move_to, curve_to, new_sub_path = ctx.move_to, ctx.curve_to, ctx.new_sub_path
        equal = vmobject.consider_points_equals_2d
        for start, end in split.tolist():
            if end - start < nppcc:
                continue
            new_sub_path()
            move_to(flat[2 * start], flat[2 * start + 1])
            for i in range(start, end - nppcc + 1, nppcc):
                b = 2 * (i + 1)
                curve_to(flat[b], flat[b + 1], flat[b + 2], flat[b + 3], flat[b + 4], flat[b + 5])
            if equal(flat[2 * start:2 * start + 2], flat[2 * end - 2:2 * end]):
                ctx.close_path()


class FrameGivingRenderer(CairoRenderer):
    """Manim's cairo renderer taking each frame from a :class:`FastPathCamera` as it is drawn
    (see ``take_frame``) instead of a copy of it; with another camera, Manim's copy."""

    def get_frame(self):
        take = getattr(self.camera, "take_frame", None)
        return super().get_frame() if take is None else take()


class HeldFrameEncoder(VideoSegmentEncoder):
    """Manim's segment encoder, converting each frame to the codec's pixel format without
    copying it first, and a frame held for several frame times once.

    Manim wraps each frame in a new ``VideoFrame`` (``from_ndarray``: about 6 ms at 1080p, as
    long again as the conversion to YUV itself) and converts it again for every frame time a
    ``wait`` holds it. Here the encoder owns the frame it is given (Manim's ``write_frame``
    says so), so a ``VideoFrame`` is laid over its pixels as they are (``from_numpy_buffer``)
    and converted once by the same swscale call the encoder would make: the same YUV bytes.
    A frame of another layout is copied into one kept RGBA frame first."""

    _rgba: av.VideoFrame | None = None
    _reformatter: VideoReformatter | None = None

    def _converted(self, pixels) -> av.VideoFrame:
        spec = self.spec
        if self._reformatter is None:
            self._reformatter = VideoReformatter()
        if (type(pixels) is np.ndarray and pixels.dtype == np.uint8
                and pixels.shape == (spec.height, spec.width, 4)
                and pixels.flags.c_contiguous):
            source = av.VideoFrame.from_numpy_buffer(pixels, format="rgba")
        else:
            if self._rgba is None:
                self._rgba = av.VideoFrame(spec.width, spec.height, "rgba")
            source = self._rgba
            plane = source.planes[0]
            rows = np.frombuffer(plane, dtype=np.uint8).reshape(spec.height, plane.line_size)
            rows[:, :spec.width * 4] = pixels.reshape(spec.height, spec.width * 4)
        # On this thread, as x264: PyAV's default (threads=0) starts two swscale threads for
        # each segment, and a render keeps both cores busy anyway; one thread converted a 1080p
        # frame in a little less CPU time (3.8 against 4.1 ms in a micro-benchmark), and the
        # YUV bytes are the same.
        return self._reformatter.reformat(source, width=spec.width, height=spec.height,
                                          format=spec.pixel_format, threads=1)

    def write_frame(self, pixels, *, repeat: int = 1) -> None:
        self._validate_frame(pixels, repeat)
        time_base = Fraction(self.spec.frame_rate.denominator, self.spec.frame_rate.numerator)
        try:
            frame = self._converted(pixels)
            for _ in range(repeat):
                frame.pts = self._next_pts
                frame.time_base = time_base
                self._next_pts += 1
                for packet in self._stream.encode(frame):
                    self._container.mux(packet)
        except BaseException as error:
            raise self._operation_error("encode", error) from error


class HeldFrameFileWriter(SceneFileWriter):
    """Manim's file writer with :class:`HeldFrameEncoder` segments."""

    def _create_segment_encoder(self, target):
        if self.video_encoder is None:
            raise RuntimeError("Video segment encoding requires resolved settings.")
        return HeldFrameEncoder(target=target, spec=self.video_encoder)


def keep_freed_memory() -> bool:
    """Let this process's allocator keep freed memory for reuse; True if it could (glibc).

    Every segment (one ``play``) gets a new x264 encoder on a new thread, which allocates its
    frame buffers afresh, and every frame is a new pixel array (1.6 MB at 480p, 8 MB at
    1080p). glibc serves blocks that large with a fresh ``mmap`` each, or trims freed memory
    back to the kernel, so the same pages were faulted in and zeroed again and again: half a
    million page faults in the multihead scene at 480p (three in five in x264's buffers, a
    quarter in frame copies), 1.6 of its 17.7 CPU seconds in the kernel. Kept in the heap for
    reuse (at most a few frames and one encoder are alive at once, so the heap stays about
    their size) the same render makes a tenth of the page faults at 480p (sys time 1.6 -> 0.4
    s, peak memory 6 MB higher) and half at 1080p (4.7 -> 1.9 s; 35 MB more for the render's
    two processes). Keeping more (256 MB, grown 64 MB at a time) saved another 0.7 s at 1080p
    but held up to 300 MB more. Nothing drawn or encoded changes; another C library keeps its
    own ways."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in _MALLOC_SETTINGS)
