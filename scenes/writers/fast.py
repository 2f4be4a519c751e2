"""What makes a video render fast, measured on the ``attention`` scene (see ``scripts/bench_all.py``).

* :class:`FastPathCamera`: Manim builds every drawn VMobject's cairo path again on every
  frame, one ``curve_to`` per Bézier curve from Python: at 1080p60 a third of the drawing time.
  Here the path is built from a plain list of floats instead of NumPy scalars (a third faster
  in a micro-benchmark of 64 numbers and a caption). Same calls to cairo, same pixels.
* :class:`HeldFrameFileWriter`: each frame is copied into one reused RGBA frame rather than
  wrapped in a new one (half the conversion time at 1080p), and a frame that a ``wait`` holds
  for many frame times is converted to the codec's YUV once, not once per frame time.
* :data:`ENCODER_OPTIONS`: libx264's ``veryfast`` preset instead of ``medium``, lightened
  further and on one thread: at 1080p60 encoding took more CPU time than drawing (the decoder
  scene: 61 of 107 CPU seconds); now about half as much, for files of about the same size.

The camera and the frame conversion are switched off with the caches (``--no-cache``): a
cached and an uncached render are compared frame by frame in the tests.
"""

from __future__ import annotations

import weakref
from fractions import Fraction

import av
import cairo
import numpy as np
from av.video.reformatter import VideoReformatter
from manim.camera.camera import Camera
from manim.scene.scene_file_writer import SceneFileWriter
from manim.scene.video_segment_encoder import VideoSegmentEncoder

__all__ = ["ENCODER_OPTIONS", "ENCODER_QUEUE_SIZE", "MAX_INFLIGHT_ENCODERS", "FastPathCamera",
           "HeldFrameFileWriter", "exact_still_points"]

# libx264 by codec; CRF stays Manim's 23, which sets the quality. On one thread: a render already
# keeps both cores busy (drawing beside encoding, and --jobs processes), x264's own threads cost
# CPU time to coordinate, and their output depends on the machine's core count. subme/me/trellis
# lighter than veryfast's: a third less encoding time for files 2-5 % larger.
ENCODER_OPTIONS = {"libx264": {"preset": "veryfast", "threads": "1",
                               "x264-params": "subme=0:me=dia:trellis=0"}}
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
        self._kept: dict[int, list] = {}  # id(vmobject) -> [weakref, points, matrix, path | None]

    def set_cairo_context_path(self, ctx, vmobject):
        points = self.transform_points_pre_display(vmobject, vmobject.points)
        if len(points) == 0:
            return super().set_cairo_context_path(ctx, vmobject)
        matrix = ctx.get_matrix()
        entry = self._kept.get(id(vmobject))
        if (entry is not None and entry[0]() is vmobject and entry[2] == matrix
                and entry[1].shape == points.shape and np.array_equal(entry[1], points)):
            ctx.new_path()
            ctx.set_matrix(self._IDENTITY)
            if entry[3] is None:  # the second frame with these points: build once more, keep
                ctx.set_matrix(matrix)
                self._build_path(ctx, vmobject, points)
                ctx.set_matrix(self._IDENTITY)
                entry[3] = ctx.copy_path()
            else:
                ctx.append_path(entry[3])
            ctx.set_matrix(matrix)
            return self
        self._build_path(ctx, vmobject, points)
        if len(self._kept) > 50_000:
            self._kept = {k: e for k, e in self._kept.items() if e[0]() is not None}
        self._kept[id(vmobject)] = [weakref.ref(vmobject), points.copy(), matrix, None]
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


def exact_still_points() -> None:
    """Make Manim's ``Mobject.interpolate`` leave points that do not move exactly as they are.

    A fade interpolates every point between two equal copies of it; ``(1 - a)·p + a·p`` is
    ``p`` give or take a rounding, so a fading glyph's points came out a little different at
    every frame, and :class:`FastPathCamera` built its path again each time. With equal start
    and end points the result is now those points themselves (the value the formula means), so
    the kept path is replayed. Anything that moves is interpolated by Manim as before, and so
    is every animation's start and end (``a`` = 0 or 1): end states are the same as before.
    Installed for every video render, cached or not (idempotent)."""
    from manim import Mobject

    if getattr(Mobject.interpolate, "_exact_still_points", False):
        return
    manim_interpolate = Mobject.interpolate

    def interpolate(self, mobject1, mobject2, alpha, *args, **kwargs):
        start, end = mobject1.points, mobject2.points
        if not 0 < alpha < 1 or type(self).interpolate is not interpolate \
                or start.shape != end.shape or not np.array_equal(start, end):
            return manim_interpolate(self, mobject1, mobject2, alpha, *args, **kwargs)
        self.points = end.copy()
        self.interpolate_color(mobject1, mobject2, alpha)
        return self

    interpolate._exact_still_points = True
    Mobject.interpolate = interpolate


class HeldFrameEncoder(VideoSegmentEncoder):
    """Manim's segment encoder, converting each frame to the codec's pixel format in a reused
    RGBA frame, and a frame held for several frame times once.

    Manim wraps each frame in a new ``VideoFrame`` (``from_ndarray``: about 6 ms at 1080p, as
    long again as the conversion to YUV itself) and converts it again for every frame time a
    ``wait`` holds it. Here the pixels are copied into one kept RGBA frame (a plain copy, 0.3 ms)
    and converted once by the same swscale call the encoder would make: the same YUV bytes."""

    _rgba: av.VideoFrame | None = None

    def _converted(self, pixels) -> av.VideoFrame:
        spec = self.spec
        if self._rgba is None:
            self._rgba = av.VideoFrame(spec.width, spec.height, "rgba")
            self._reformatter = VideoReformatter()
        plane = self._rgba.planes[0]
        rows = np.frombuffer(plane, dtype=np.uint8).reshape(spec.height, plane.line_size)
        rows[:, :spec.width * 4] = pixels.reshape(spec.height, spec.width * 4)
        return self._reformatter.reformat(self._rgba, width=spec.width, height=spec.height,
                                          format=spec.pixel_format)

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
