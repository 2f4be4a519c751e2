"""Sphinx extension: ``.. transformer-explained-video:: figures/attention/attention.mp4``.

Add ``"scenes.sites.sphinx_ext"`` to ``extensions`` in ``conf.py``. The directive takes a
rendered mp4 (from ``render`` or ``build``), named relative to the document as ``image`` does,
and puts the same ``<video>`` as ``embed`` into the HTML page: the webm and mp4, the poster, the
captions track, the gif as fallback, the transcript as its label. Its files are copied into the
output's ``_videos/`` folder when the build finishes and linked relative to each page (the
``html`` and ``dirhtml`` builders alike); a rebuild is triggered when the mp4 changes. SVG
figures need nothing of ours: Sphinx's own ``.. image:: figures/attention/svg/07-softmax.svg``.
Other builders (LaTeX, text) show the transcript instead of the video.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx.util import logging
from sphinx.util.osutil import relative_uri

__all__ = ["setup"]

log = logging.getLogger(__name__)
FOLDER = "_videos"


class video_node(nodes.General, nodes.Element):
    """A rendered video: ``files`` (VideoSet), ``folder`` (its name under ``_videos``)."""


class VideoDirective(Directive):
    required_arguments = 1
    has_content = False

    def run(self):
        from scenes.writers.publish import find_video

        env = self.state.document.settings.env
        rel, path = env.relfn2path(self.arguments[0], env.docname)
        path = Path(path)
        found = find_video(path.parent, path.name.removesuffix(".mp4")) if path.suffix == ".mp4" \
            else None
        if found is None:
            return [self.state.document.reporter.error(
                f"transformer-explained-video: no rendered mp4 at {rel} (make it with "
                "`render` or `build`)", line=self.lineno)]
        env.note_dependency(str(path))
        node = video_node()
        node["video"] = found
        node["folder"] = Path(rel).parent.as_posix().strip("/").replace("/", "-") or "root"
        media = getattr(env, "transformer_explained_media", None)
        if media is None:
            media = env.transformer_explained_media = {}
        for part in ("mp4", "webm", "gif", "poster", "vtt"):
            file = getattr(found, part)
            if file is not None:
                media[f"{node['folder']}/{file.name}"] = str(file)
        return [node]


def visit_html(self, node) -> None:
    from scenes.writers.publish import embed_snippet

    base = relative_uri(self.builder.get_target_uri(self.builder.current_docname),
                        f"{FOLDER}/{node['folder']}/")
    self.body.append(f'<div class="transformer-explained-video">'
                     f'{embed_snippet(node["video"], "html", base or "./")}</div>')
    raise nodes.SkipNode


def visit_other(self, node) -> None:
    self.body.append(node["video"].alt_text) if hasattr(self, "body") else None
    raise nodes.SkipNode


def copy_media(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    media = getattr(app.env, "transformer_explained_media", {})
    for rel, source in media.items():
        target = Path(app.outdir) / FOLDER / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def setup(app):
    app.add_node(video_node, html=(visit_html, None), latex=(visit_other, None),
                 text=(visit_other, None), man=(visit_other, None), texinfo=(visit_other, None))
    app.add_directive("transformer-explained-video", VideoDirective)
    app.connect("build-finished", copy_media)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
