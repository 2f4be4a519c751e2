"""What a dry run (an SVG export, a notebook's step) needs of Manim and does not draw: a camera
without a screen-sized background, and a renderer that rasterises nothing. Reaches into Manim's
renderer and scene internals (0.22): see tests/test_manim_contract.py."""

from __future__ import annotations

import numpy as np

__all__ = ["dry_run_camera", "no_pixels", "skip_drawing"]


def skip_drawing(renderer) -> None:
    """A scene's set-up in a dry run: nothing is written, so don't draw frames either: jump to
    each play's end state (Manim resets ``skip_animations`` to the original status before every
    play). Even when skipping, Manim rasterises the whole screen at every play and wait (the
    static frame it would reuse): pixels nobody reads. Whoever wants a picture draws it with
    ``draw_frame``."""
    renderer._original_skipping_status = True
    renderer.skip_animations = True

    def no_frame(*args, **kwargs) -> None:
        renderer.static_image = None

    renderer.update_frame = no_frame
    renderer.save_static_frame_data = no_frame


def dry_run_camera():
    """Manim's camera without a screen-sized background: it fills a 1920 × 1080 array with
    the background colour when made and again when the colour is set, for a screen a dry run
    never draws on. The camera keeps its size (what its frame measures is unchanged); only
    the unread background is one pixel."""
    from manim import Camera

    class DryRunCamera(Camera):
        def init_background(self) -> None:
            if self.background_image is not None:
                return super().init_background()
            self.background = np.zeros((1, 1, self.n_channels), dtype=self.pixel_array_dtype)
            return None

    return DryRunCamera


def no_pixels(scene) -> None:
    """Even with animations skipped, Manim's Cairo renderer rasterises the whole screen at
    every ``play`` and ``wait`` (the "static frame" it would reuse for each video frame) and
    copies it for frames it then drops: a sixth of an export's time, for pixels nobody reads.
    Switch that off for this scene's renderer, and with it the sorting of the scene's mobjects
    into moving and static ones at every ``play``, which only that drawing reads, and the
    description of the (switched off) progress bar of every ``play``."""
    renderer = scene.renderer

    def no_frame(*args, **kwargs) -> None:
        renderer.static_image = None

    renderer.update_frame = no_frame
    renderer.save_static_frame_data = no_frame
    # ``render`` and ``freeze_current_frame`` copy the whole screen for a frame that skipping
    # then drops (only a render that does not skip adds frames; this one never stops skipping).
    renderer.render = no_frame
    renderer.freeze_current_frame = no_frame
    scene.get_moving_and_static_mobjects = lambda animations: ([], [])
    # Each play names its first animation for a progress bar that is switched off; naming it
    # reads the whole mobject (and would settle a deferred transform's debt for nothing).
    manims_progression = scene._get_animation_time_progression

    def time_progression(animations, duration):
        from manim import Wait

        if len(animations) == 1 and isinstance(animations[0], Wait):
            return manims_progression(animations, duration)
        return scene.get_time_progression(duration, "")

    scene._get_animation_time_progression = time_progression
