"""What makes a video render fast, measured on the ``attention`` scene (see ``scripts/bench_all.py``).

* :class:`FastPathCamera`: Manim builds every drawn VMobject's cairo path again on every
  frame, one ``curve_to`` per Bézier curve from Python: at 1080p60 a third of the drawing time.
  Here the path is built from a plain list of floats instead of NumPy scalars (a third faster
  in a micro-benchmark of 64 numbers and a caption). Same calls to cairo, same pixels.
* :class:`HeldFrameFileWriter`: a ``wait`` holds one frame for many frame times; Manim converts
  it from RGBA to the codec's YUV once per frame time, this converts it once.
* :data:`ENCODER_OPTIONS`: libx264's ``veryfast`` preset instead of ``medium``: on the
  attention video at 480p it encodes in a fraction of the time for the same file size (3.44 MB
  against 3.47 MB at the same CRF 23, which sets the quality).

The camera and the frame conversion are switched off with the caches (``--no-cache``): a
cached and an uncached render are compared frame by frame in the tests.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from manim.camera.camera import Camera
from manim.scene.scene_file_writer import SceneFileWriter
from manim.scene.video_segment_encoder import VideoSegmentEncoder

__all__ = ["ENCODER_OPTIONS", "MAX_INFLIGHT_ENCODERS", "FastPathCamera",
           "HeldFrameFileWriter"]

ENCODER_OPTIONS = {"libx264": {"preset": "veryfast"}}  # by codec; CRF stays Manim's 23
# One segment encoder at a time. With two (one segment finishing its encoding while the next is
# drawn) the decoded frames at the start of a segment differed by a few pixels from run to run
# (tests/test_caches.py failed about one run in two): a render must give the same frames.
MAX_INFLIGHT_ENCODERS = 1


class FastPathCamera(Camera):
    """Manim's camera, building each VMobject's cairo path from Python floats (the same calls
    to cairo as Manim makes, a third faster). Replaying a kept ``cairo.Path`` while the points
    are unchanged was faster still, but in rare cases differed from a fresh path by a few
    antialiased pixels, so it is not done: a render must not depend on what was drawn before."""

    def set_cairo_context_path(self, ctx, vmobject):
        points = self.transform_points_pre_display(vmobject, vmobject.points)
        if len(points) == 0:
            return super().set_cairo_context_path(ctx, vmobject)
        self._build_path(ctx, vmobject, points)
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


class HeldFrameEncoder(VideoSegmentEncoder):
    """Converts a frame held for several frame times to the codec's pixel format once."""

    def write_frame(self, pixels, *, repeat: int = 1) -> None:
        if repeat == 1:
            return super().write_frame(pixels, repeat=1)
        self._validate_frame(pixels, repeat)
        time_base = Fraction(self.spec.frame_rate.denominator, self.spec.frame_rate.numerator)
        try:
            frame = av.VideoFrame.from_ndarray(pixels, format="rgba")
            frame = frame.reformat(width=self.spec.width, height=self.spec.height,
                                   format=self.spec.pixel_format)
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
