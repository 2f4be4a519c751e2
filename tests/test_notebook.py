"""Notebooks: ``from scenes import show`` and ``examples/notebook.ipynb`` run offline by nbclient.

The video cell plays the attention scene from the session's ``render_cache`` (rendered once for
the slides tests too).
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

import av
import pytest

from scenes.registry import SCENES, get_scene_class
from scenes.toolkit.storyboard import SceneOptions

ROOT = Path(__file__).resolve().parents[1]


def caption(scene: str, step: str, **options) -> str:
    steps = get_scene_class(scene).storyboard(SceneOptions(**options))
    return {s.name: s.caption for s in steps}[step]


@pytest.fixture(scope="module")
def executed(render_cache):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "examples" / "notebook.ipynb", as_version=4)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "examples")}})
    client.execute()
    return notebook


def outputs_of(notebook, source: str) -> list[dict]:
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip() == source]
    return cell.outputs


def svg_of(notebook, source: str) -> str:
    (output,) = outputs_of(notebook, source)
    assert output.output_type == "display_data"
    return output.data["image/svg+xml"]


@pytest.mark.parametrize("source,scene,step,options", [
    ('show("attention", step="softmax")', "attention", "softmax", {}),
    ('show("multihead", step="norm")', "multihead", "norm", {}),
    ('show("decoder", step="cross_attention")', "decoder", "cross_attention", {}),
    ('show("decoder", step="next_word", model="lm")', "decoder", "next_word", {"model": "lm"}),
])
def test_a_step_cell_shows_that_steps_svg(executed, source, scene, step, options):
    svg = svg_of(executed, source)
    assert svg.startswith("<?xml") and 'viewBox="0 0 960 540"' in svg
    assert f"<desc id=\"desc\">{html.escape(caption(scene, step, **options), quote=False)}</desc>" in svg
    assert svg.count("<path") > 40  # the words and numbers, drawn as outlines


def test_the_own_sentence_changes_the_picture(executed):
    default = svg_of(executed, 'show("attention", step="softmax")')
    own = svg_of(executed, 'show("attention", step="softmax", sentence="paul sees rome in may")')
    assert own != default
    assert re.search(r"<title[^>]*>attention, step \d+ of \d+: softmax</title>", own)


def test_the_video_cell_holds_the_video_once_and_its_subtitles(executed):
    (output,) = outputs_of(executed, 'show("attention")')
    page = output.data["text/html"]
    assert page.count("base64,") == 2 and "video/mp4" not in page  # one video, one track
    webm = base64.b64decode(re.search(r'src="data:video/webm;base64,([^"]+)"', page).group(1))
    vtt = base64.b64decode(re.search(r'src="data:text/vtt;base64,([^"]+)"', page).group(1)).decode()
    steps = get_scene_class("attention").storyboard(SceneOptions())
    with av.open(io.BytesIO(webm)) as box:
        seconds = box.duration / av.time_base
        assert box.streams.video[0].codec_context.name == "vp9"
        assert (box.streams.video[0].width, box.streams.video[0].height) == (854, 480)
    cues = re.findall(r"\d{2}:\d{2}:\d{2}\.\d{3} --> (\d{2}):(\d{2}):(\d{2})\.(\d{3})\n(.+)", vtt)
    assert [html.unescape(c[4]) for c in cues] == [s.caption for s in steps]
    h, m, s, ms = (int(x) for x in cues[-1][:4])
    assert seconds == pytest.approx(h * 3600 + m * 60 + s + ms / 1000, abs=0.1)  # last cue ends with it
    assert "<video controls" in page and 'kind="captions"' in page
    text = output.data["text/plain"]
    assert len(text) < 200 and "/" not in text  # no cache path, no data


def test_a_step_output_holds_its_svg_once(executed):
    (output,) = outputs_of(executed, 'show("attention", step="softmax")')
    assert len(output.data["text/plain"]) < 400
    assert "<svg" not in output.data["text/plain"]


def test_a_linked_video_is_copied_beside_the_notebook_and_not_inlined(render_cache, tmp_path,
                                                                       monkeypatch):
    from scenes.notebook import scene_video

    monkeypatch.chdir(tmp_path)
    video = scene_video("attention").linked("media")
    page = video._repr_html_()
    assert 'src="media/attention.webm"' in page and 'src="media/attention.vtt"' in page
    assert "base64" not in page and len(page) < 500
    assert (tmp_path / "media" / "attention.webm").read_bytes() == video.webm.read_bytes()
    assert (tmp_path / "media" / "attention.vtt").read_text().startswith("WEBVTT")


def test_a_misspelt_name_lists_the_scenes(executed):
    (output,) = outputs_of(executed, 'try:\n    show("atention")\nexcept ValueError as error:\n'
                                     '    print(error)')
    assert output.text.strip() == f"unknown scene 'atention'; choose from {', '.join(SCENES)}"


def test_show_errors_name_what_exists():
    from scenes import show

    with pytest.raises(ValueError, match="choose from attention, multihead, decoder"):
        show("nosuch")
    with pytest.raises(ValueError, match=r"has no step 'nope'; choose from title, embed, query"):
        show("attention", step="nope")


def test_a_second_run_comes_from_the_cache(render_cache, monkeypatch):
    from scenes.writers import clips

    first = clips.step_clips("attention")  # the session's render
    monkeypatch.setattr(clips, "_render", lambda *a, **k: pytest.fail("rendered again"))
    again = clips.step_clips("attention")
    assert again == first
    other = SceneOptions(theme="light")
    assert clips.fingerprint("attention", other, "low") != clips.fingerprint("attention", SceneOptions(), "low")
