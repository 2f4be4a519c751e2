"""MkDocs plugin ``transformer-explained``: the ``embed`` snippet works pasted into a page.

MkDocs rewrites the links Markdown makes (``![..](figures/x.svg)``) for the page's URL, but not
those of raw HTML: with ``use_directory_urls`` (the default) ``posts/attention.md`` becomes
``posts/attention/``, and a pasted ``<video>`` whose ``src`` is relative to the Markdown file
points one folder too deep and loads nothing. This plugin rewrites, before the Markdown is
converted, the relative ``src``, ``poster`` and ``href`` of raw ``<video>``, ``<source>``,
``<track>``, ``<img>`` and ``<a>`` tags exactly as MkDocs rewrites its own links: the file
named relative to the Markdown file, linked relative to the page's URL. Fenced code blocks are
left alone (a page may show a snippet as text); a file the site does not have is left as
written, with a warning. Enable it in ``mkdocs.yml``::

    plugins:
      - transformer-explained
"""

from __future__ import annotations

import html
import logging
import posixpath
import re

from mkdocs.plugins import BasePlugin

__all__ = ["FiguresPlugin", "rewrite"]

log = logging.getLogger("mkdocs.plugins.transformer-explained")

_TAG = re.compile(r"<(video|source|track|img|a|audio)\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""(\s(?:src|poster|href)\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
_ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|/|#|\?)", re.IGNORECASE)


def rewrite(markdown: str, resolve) -> str:
    """``markdown`` with each relative URL of a raw media tag replaced by ``resolve(url)``
    (``None``: left as written); fenced code blocks untouched."""

    def attr(m: re.Match) -> str:
        url = html.unescape(m.group(3))
        if not url or _ABSOLUTE.match(url):
            return m.group(0)
        new = resolve(url)
        return m.group(0) if new is None else f"{m.group(1)}{m.group(2)}{html.escape(new)}{m.group(2)}"

    def tag(m: re.Match) -> str:
        return _ATTR.sub(attr, m.group(0))

    out, last = [], 0
    for fence in _FENCE.finditer(markdown):
        out.append(_TAG.sub(tag, markdown[last:fence.start()]))
        out.append(fence.group(0))
        last = fence.end()
    out.append(_TAG.sub(tag, markdown[last:]))
    return "".join(out)


class FiguresPlugin(BasePlugin):
    """Rewrites the pasted ``embed`` snippets' paths for the page's URL (see the module)."""

    def on_page_markdown(self, markdown, page, config, files):
        here = posixpath.dirname(page.file.src_uri)

        def resolve(url: str) -> str | None:
            path, sep, fragment = url.partition("#")
            target = posixpath.normpath(posixpath.join(here, path))
            found = files.get_file_from_path(target)
            if found is None:
                log.warning("%s: %s is not a file of the site (left as written)",
                            page.file.src_uri, url)
                return None
            return found.url_relative_to(page.file) + (sep + fragment if sep else "")

        return rewrite(markdown, resolve)
