"""The engine patches Manim only while we render: after each of our renders and exports in one
process (a video, an SVG export, slides, a notebook's ``show()`` of a step and of a video)
every attribute of every Manim class and module is the very object it was when imported, and
a plain Manim scene of the user's draws the same pixels as in a process that never imported
our package. Each check runs in a fresh process (what was imported, and patched, is its own)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A user's own scene, drawn mid-animation by Manim's camera: the methods the engine replaces
# (copies, families, boundaries, colour and point interpolation, Transform, FadeOut, Create,
# ReplacementTransform and the scene's replace) all take part in its pixels and numbers.
PLAIN_FRAME = r'''
import hashlib, tempfile
import numpy as np
from manim import (BLUE, DOWN, LEFT, RED, RIGHT, UP, Camera, Circle, Create, FadeIn, FadeOut,
                   MathTex, ReplacementTransform, Scene, Square, Transform, VGroup, tempconfig)

def plain_frame():
    with tempfile.TemporaryDirectory() as media, tempconfig({
            "pixel_width": 320, "pixel_height": 180, "media_dir": media,
            "disable_caching": True, "verbosity": "ERROR"}):
        scene = Scene()
        a = VGroup(Circle(color=RED, fill_opacity=0.5), Square().shift(RIGHT),
                   MathTex(r"x^2").shift(2 * LEFT))
        b = a.copy().scale(0.5).shift(UP).set_color(BLUE)
        c, d, e = Square().shift(DOWN), Circle().shift(3 * RIGHT), Square(fill_opacity=1).shift(3 * LEFT)
        f = Circle(radius=0.3).shift(2 * UP)
        scene.add(a, c, d, f)
        anims = [Transform(a, b), FadeOut(c), ReplacementTransform(d, e), Create(f), FadeIn(b.copy())]
        numbers = []
        for anim in anims:
            anim.begin()
            anim.interpolate(0.37)
            numbers += [anim.mobject.width, anim.mobject.height, *anim.mobject.get_center()]
        anims[2].finish(); anims[2].clean_up_from_scene(scene)
        cam = Camera()
        cam.capture_mobjects(scene.mobjects + [anims[4].mobject])
        copied = a.copy()
        numbers += [*copied.get_critical_point(UP + LEFT), len(copied.get_family())]
        h = hashlib.sha256(cam.pixel_array.tobytes())
        h.update(np.array(numbers, dtype=float).tobytes())
        return h.hexdigest()
'''

SESSION = PLAIN_FRAME + r'''
import json, os, sys, tempfile
from pathlib import Path
import manim

def snapshot():
    """Every attribute of every class and module of Manim (the objects themselves)."""
    seen = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "manim" or name.startswith("manim.")):
            continue
        for key, value in list(vars(module).items()):
            seen[(name, key)] = value
            if isinstance(value, type) and value.__module__ == name:
                seen[(name, key, "__dict__ keys")] = frozenset(vars(value))
                for attr, member in list(vars(value).items()):
                    seen[(name, key, attr)] = member
    return seen

def changed(before):
    after = snapshot()
    return sorted(".".join(k) for k, v in before.items()
                  if k in after and (after[k] != v if isinstance(v, frozenset) else after[k] is not v))

before_frame = plain_frame()
before = snapshot()
sys.path.insert(0, sys.argv[1])
out = Path(sys.argv[2])
from scenes import registry
registry.SCENES["tiny"] = registry.SceneInfo(module="tests.tiny_scene", cls="TinyScene",
                                             description="test scene")
from scenes.toolkit.storyboard import SceneOptions
options = SceneOptions()
report = {"before": before_frame}

from scenes.writers.svg import export_svgs
export_svgs("tiny", options, out / "svg")
report["svg"] = changed(before)

from scenes.writers.video import render_scene
render_scene("tiny", options, quality="low", out_dir=out / "video")
report["render"] = changed(before)

from scenes.writers.slides import write_slides
write_slides(["tiny"], options, "low", out / "slides", "deck")
report["slides"] = changed(before)

from scenes import show
show("tiny", "title")
report["show step"] = changed(before)
show("tiny")
report["show video"] = changed(before)

report["after"] = plain_frame()
print(json.dumps(report))
'''


def _run(code: str, *args: str, env: dict | None = None) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_manim_is_as_imported_after_each_of_our_renders(tmp_path, cache_home, monkeypatch):
    import os

    monkeypatch.setenv("TRANSFORMER_EXPLAINED_CACHE", str(tmp_path / "clips"))
    report = json.loads(_run(SESSION, str(ROOT), str(tmp_path / "out"), env=dict(os.environ)))
    for what in ("svg", "render", "slides", "show step", "show video"):
        assert report[what] == [], f"after {what}, Manim's attributes differ: {report[what]}"
    fresh = _run(PLAIN_FRAME + "\nprint(plain_frame())")  # a process without our package
    assert report["before"] == fresh
    assert report["after"] == fresh, "a plain Manim scene draws differently after our renders"


def test_inside_rendering_manim_is_patched_and_restored_on_error():
    """The check above can fail: inside ``rendering()`` the attributes are ours (the snapshot
    sees them), and an exception inside still puts Manim's back."""
    code = r'''
import sys
from manim import Mobject, Scene, Transform, VMobject
sys.path.insert(0, sys.argv[1])
from scenes.engine.patching import rendering
own = (Mobject.__deepcopy__, VMobject.interpolate_color, Scene.replace, Transform.begin)
try:
    with rendering() as patches:
        inside = (Mobject.__deepcopy__, VMobject.interpolate_color, Scene.replace,
                  Transform.begin)
        sites = len(patches.sites())
        raise KeyError("boom")
except KeyError:
    pass
after = (Mobject.__deepcopy__, VMobject.interpolate_color, Scene.replace, Transform.begin)
print(sites, sum(a is b for a, b in zip(own, inside)), sum(a is b for a, b in zip(own, after)))
'''
    sites, same_inside, same_after = map(int, _run(code, str(ROOT)).split())
    assert sites >= 20 and same_inside == 0 and same_after == 4
