"""What the engine (``scenes/engine/``) relies on in Manim's internals, one test per patch and
internal: the pin ``manim==0.22.0`` in pyproject.toml exists because of these. At the first sign
of an upgrade each failure names the patch to re-check and the internal that changed.

* parameters: the names of a method's parameters (a patch is called as Manim's method is);
* source: a digest of the method's code, where the patch does what that code does, faster, or
  replays its steps (its results are Manim's only while the code is this code);
* the attributes and return values a patch reads.
"""

import hashlib
import importlib
import inspect

import pytest

# (patch, Manim internal, its parameters, digest of its source or None)
CONTRACTS = [
    ("fastpaths reduce_across_dimension", "manim.Mobject.reduce_across_dimension",
     ("self", "reduce_func", "dim"), "ab90aae167a0"),
    ("fastpaths length_over_dim", "manim.Mobject.length_over_dim", ("self", "dim"),
     "027128f7a32a"),
    ("fastpaths get_extremum_along_dim", "manim.Mobject.get_extremum_along_dim",
     ("self", "points", "dim", "key"), "a23835c56ae1"),
    ("fastpaths __deepcopy__", "manim.Mobject.__deepcopy__", ("self", "clone_from_id"),
     "8a1349b6fc8a"),
    ("fastpaths get_family", "manim.Mobject.get_family", ("self", "recurse"), "d0b2953532b4"),
    ("fastpaths get_family", "manim.Mobject._iter_family", ("self", "active_path"),
     "50a525fb52d5"),
    ("fastpaths exact still points", "manim.Mobject.interpolate",
     ("self", "mobject1", "mobject2", "alpha", "path_func"), "398eaf3ece84"),
    ("fastpaths get_points_defining_boundary", "manim.VMobject.get_points_defining_boundary",
     ("self",), "13057979b204"),
    ("fastpaths get_points_defining_boundary", "manim.VMobject.get_anchors", ("self",),
     "570aac67257a"),
    ("fastpaths get_subpaths_from_points", "manim.VMobject.get_subpaths_from_points",
     ("self", "points"), "b92d6ab26905"),
    ("fastpaths get_subpaths_from_points", "manim.VMobject._gen_subpaths_from_points",
     ("self", "points", "filter_func"), "821b9ba01350"),
    ("fastpaths consider_points_equals", "manim.VMobject.consider_points_equals",
     ("self", "p0", "p1"), "8bc045c557a7"),
    ("fastpaths generate_rgbas_array", "manim.VMobject.generate_rgbas_array",
     ("self", "color", "opacity"), "1d83acf3c389"),
    ("fastpaths interpolate_color", "manim.VMobject.interpolate_color",
     ("self", "mobject1", "mobject2", "alpha"), "1f9f95a1383f"),
    ("fastpaths end states (FadeIn, Create, Grow*)", "manim.animation.animation.Animation.begin",
     ("self",), "fbc294d3275d"),
    ("fastpaths snapshot start (Transform, FadeOut)", "manim.Transform.begin", ("self",),
     "b9563496ce8c"),
    ("fastpaths restoring FadeOut", "manim.FadeOut.clean_up_from_scene", ("self", "scene"),
     "f4e88d8794e8"),
    ("deferred ReplacementTransform", "manim.Scene.replace",
     ("self", "old_mobject", "new_mobject"), "91fc5b501e1b"),
    ("deferred ReplacementTransform", "manim.Mobject.align_data",
     ("self", "mobject", "skip_point_alignment"), "2cd75be4af93"),
    ("deferred ReplacementTransform", "manim.VMobject.align_points", ("self", "vmobject"),
     "a89a89c59162"),
    ("frames FastPathCamera path", "manim.Camera.set_cairo_context_path", ("self", "ctx", "vmobject"),
     "0e53e5837e78"),
    ("frames FastPathCamera", "manim.Camera.display_vectorized", ("self", "vmobject", "ctx"),
     "4d9d158f2a42"),
    ("frames FastPathCamera", "manim.Camera.get_mobjects_to_display",
     ("self", "mobjects", "include_submobjects", "excluded_mobjects"), "ef93088d70b3"),
    ("frames FastPathCamera", "manim.Camera.get_cairo_context", ("self", "pixel_array"),
     "52cd4d27b913"),
    ("frames FastPathCamera frames given away", "manim.Camera.set_pixel_array",
     ("self", "pixel_array", "convert_from_floats"), "5bcba816d6ab"),
    ("frames FastPathCamera frames given away", "manim.Camera.capture_mobjects",
     ("self", "mobjects", "kwargs"), "958b8f23af48"),
    ("frames FrameGivingRenderer", "manim.renderer.cairo_renderer.CairoRenderer.get_frame",
     ("self",), "9d5ffa0b9ee9"),
    ("frames HeldFrameFileWriter",
     "manim.scene.scene_file_writer.SceneFileWriter._create_segment_encoder",
     ("self", "target"), "02e02b1de217"),
    ("frames HeldFrameEncoder",
     "manim.scene.video_segment_encoder.VideoSegmentEncoder.write_frame",
     ("self", "pixels", "repeat"), "0e576cf7abbe"),
    ("frames HeldFrameEncoder",
     "manim.scene.video_segment_encoder.VideoSegmentEncoder.__init__",
     ("self", "target", "spec"), "12d46f28b82a"),
    ("shards ShardRenderer", "manim.renderer.cairo_renderer.CairoRenderer.play",
     ("self", "scene", "args", "kwargs"), "5affbe0f311d"),
    ("dry_run no_pixels", "manim.renderer.cairo_renderer.CairoRenderer.update_frame",
     ("self", "scene", "mobjects", "include_submobjects", "ignore_skipping", "kwargs"),
     "8f79c10a4826"),
    ("dry_run no_pixels", "manim.renderer.cairo_renderer.CairoRenderer.render",
     ("self", "scene", "time", "moving_mobjects"), "924e3bd668b2"),
    ("dry_run no_pixels", "manim.Scene._get_animation_time_progression",
     ("self", "animations", "duration"), "7b029606dafa"),
    ("dry_run no_pixels", "manim.Scene.get_time_progression",
     ("self", "run_time", "description", "n_iterations", "override_skip_animations"), None),
    ("dry_run no_pixels", "manim.Scene.get_moving_and_static_mobjects",
     ("self", "animations"), None),
    ("dry_run DryRunCamera", "manim.Camera.init_background", ("self",), "fd1161dedfbf"),
]


def _resolve(path: str):
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def _why(patch: str, internal: str, what: str) -> str:
    import manim

    return (f"patch {patch!r} relies on Manim's {internal}, whose {what} is not what the patch "
            f"was written for (manim {manim.__version__}): check the patch against the new code, "
            "then update this contract and the pin in pyproject.toml")


@pytest.mark.parametrize(("patch", "internal", "parameters", "digest"), CONTRACTS,
                         ids=[f"{p} <- {i.rsplit('.', 2)[-2]}.{i.rsplit('.', 1)[-1]}"
                              for p, i, _, _ in CONTRACTS])
def test_manim_internal_is_what_the_patch_was_written_for(patch, internal, parameters, digest):
    try:
        target = _resolve(internal)
    except (ImportError, AttributeError):
        pytest.fail(_why(patch, internal, "existence"))
    assert tuple(inspect.signature(target).parameters) == parameters, \
        _why(patch, internal, f"parameters {parameters}")
    if digest is not None:
        source = inspect.getsource(target)
        assert hashlib.sha256(source.encode()).hexdigest()[:12] == digest, \
            _why(patch, internal, "code")


def test_colour_copy_reads_one_attribute():
    """fastpaths' ManimColor copy: a ManimColor holds only its RGBA array, as
    ``_ManimColor__value``, and has no copying of its own."""
    import numpy as np
    from manim import ManimColor

    colour = ManimColor("#336699")
    assert set(vars(colour)) == {"_ManimColor__value"}, \
        _why("fastpaths ManimColor copy", "ManimColor.__dict__", "attributes")
    assert isinstance(colour._internal_value, np.ndarray) and colour._internal_value.shape == (4,), \
        _why("fastpaths generate_rgbas_array", "ManimColor._internal_value", "return value")
    assert "__deepcopy__" not in vars(ManimColor) and not hasattr(ManimColor, "__setstate__"), \
        _why("fastpaths ManimColor copy", "ManimColor.__deepcopy__", "existence")


def test_straight_path_is_one_function():
    """fastpaths' end-state shortcuts tell a straight path by identity."""
    from manim.utils.paths import straight_path

    assert straight_path() is straight_path(), \
        _why("fastpaths end states", "manim.utils.paths.straight_path", "return value")


def test_formula_glyphs_keep_their_parsed_path(tmp_path):
    """fastpaths' copy shares a glyph's ``path_obj`` (Manim builds the glyph from it and never
    reads it again): a glyph of a formula is a VMobjectFromSVGPath holding one."""
    from manim import MathTex, tempconfig
    from manim.mobject.svg.svg_mobject import VMobjectFromSVGPath

    with tempconfig({"media_dir": str(tmp_path)}):
        glyphs = [m for m in MathTex("x").get_family() if isinstance(m, VMobjectFromSVGPath)]
    assert glyphs and all("path_obj" in vars(g) for g in glyphs), \
        _why("fastpaths __deepcopy__", "VMobjectFromSVGPath.path_obj", "attributes")


def test_renderer_and_camera_attributes():
    """The attributes the dry run, the shards and the fast camera set or read."""
    from manim import Camera, config
    from manim.renderer.cairo_renderer import CairoRenderer

    renderer = CairoRenderer(skip_animations=True)
    for name in ("_original_skipping_status", "skip_animations", "static_image", "num_plays",
                 "camera", "time"):
        assert hasattr(renderer, name), _why("dry_run / shards", f"CairoRenderer.{name}",
                                             "attributes")
    camera = Camera()
    for name in ("pixel_array", "pixel_array_to_cairo_context", "n_channels",
                 "pixel_array_dtype", "background_image", "use_z_index"):
        assert hasattr(camera, name), _why("frames / dry_run", f"Camera.{name}", "attributes")
    for name in ("max_inflight_encoders", "encoder_queue_size", "video_encoder_options"):
        assert name in config, _why("video settings", f"config.{name}", "existence")
