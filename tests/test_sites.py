"""A post's figures in a real static site: MkDocs 1.6 builds a small site offline from a figures
file (`build`), with the `embed` snippet pasted into the page and the SVGs as Markdown images,
through the ``transformer-explained`` plugin; headless Chromium (Debian's, network blocked)
loads the page over HTTP from 127.0.0.1: the video plays, its captions load, the SVGs show.
Without the plugin the pasted video's paths are wrong (the bug the plugin fixes).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scenes.sites.mkdocs_plugin import rewrite
from tests.test_gallery_browser import ARGS, CHROMIUM, RangeHandler

ROOT = Path(__file__).resolve().parents[1]

PAGE = """# Attention, one step

{snippet}

![The softmax step](figures/attention/svg/07-softmax.svg)

<img src="figures/attention/attention-softmax.png" alt="softmax still">

```html
<video src="figures/attention/attention-softmax.mp4"></video>
```
"""


def test_rewrite_leaves_absolute_urls_and_code_alone():
    md = ('<video poster="a.png"><source src="https://x.org/a.webm"><track src="#t">'
          '</video>\n```\n<img src="b.png">\n```\n<img src=\'c d.png\'> [md](e.png)')
    out = rewrite(md, lambda url: "../" + url)
    assert out == ('<video poster="../a.png"><source src="https://x.org/a.webm"><track src="#t">'
                   '</video>\n```\n<img src="b.png">\n```\n<img src=\'../c d.png\'> [md](e.png)')


def plugin_path(tmp: Path) -> Path:
    """A folder whose distribution metadata registers the plugin's entry point, as `pip install`
    would (the shared venv's install is not rebuilt by a test)."""
    meta = tmp / "plugin-path" / "transformer_explained_test-0.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: transformer-explained-test\n"
                                   "Version: 0\n")
    (meta / "entry_points.txt").write_text(
        "[mkdocs.plugins]\ntransformer-explained = scenes.sites.mkdocs_plugin:FiguresPlugin\n")
    return meta.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory, render_cache):
    tmp = tmp_path_factory.mktemp("mkdocs")
    docs = tmp / "docs"
    post = docs / "posts"
    post.mkdir(parents=True)
    (docs / "index.md").write_text("# Home\n\n[The post](posts/attention.md)\n")
    (post / "figures.toml").write_text(
        'out = "figures"\n[[figure]]\nscene = "attention"\ntheme = "light"\n'
        'clip = "softmax"\nsvg = ["softmax"]\nstill = "softmax"\n')
    env = dict(os.environ, PYTHONPATH=f"{plugin_path(tmp)}{os.pathsep}{ROOT}")
    cli = [sys.executable, str(ROOT / "cli.py")]
    made = subprocess.run([*cli, "build"], cwd=post, capture_output=True, text=True, env=env,
                          timeout=900)
    assert made.returncode == 0, made.stdout + made.stderr
    snippet = subprocess.run([*cli, "embed", "attention-softmax", "--renders",
                              "figures/attention", "--base-url", "figures/attention/"],
                             cwd=post, capture_output=True, text=True, env=env, check=True).stdout
    (post / "attention.md").write_text(PAGE.format(snippet=snippet))
    sites = {}
    for name, plugins in (("with", "plugins:\n  - transformer-explained\n"), ("without", "")):
        (tmp / "mkdocs.yml").write_text(
            f"site_name: Post\ntheme:\n  name: mkdocs\n  highlightjs: false\n{plugins}")
        out = tmp / f"site-{name}"
        built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--site-dir", str(out)],
                               cwd=tmp, capture_output=True, text=True, env=env, timeout=300)
        assert built.returncode == 0, built.stderr
        sites[name] = out
    return sites


def test_without_the_plugin_the_pasted_video_points_nowhere(site):
    page = (site["without"] / "posts" / "attention" / "index.html").read_text()
    assert 'src="figures/attention/attention-softmax.webm"' in page
    assert not (site["without"] / "posts" / "attention" / "figures").exists()
    fixed = (site["with"] / "posts" / "attention" / "index.html").read_text()
    assert 'src="../figures/attention/attention-softmax.webm"' in fixed
    assert '<video src="figures/attention/attention-softmax.mp4">' in fixed.replace("&lt;", "<") \
        .replace("&gt;", ">").replace("&quot;", '"')  # the code block as written


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(RangeHandler, directory=str(site["with"]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_page_plays_its_video_and_shows_its_svgs(server):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make setup` (apt package chromium)")
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        tab = browser.new_page()
        # the network is blocked: only the local server answers
        tab.route("**/*", lambda route: route.continue_() if route.request.url.startswith(server)
                  else (problems.append(route.request.url), route.abort()))
        tab.on("response", lambda r: r.status >= 400 and problems.append(f"{r.url}: {r.status}"))
        tab.goto(f"{server}/posts/attention/", wait_until="load")
        video = tab.locator("video").first
        tab.wait_for_function("v => v.readyState >= 2", arg=video.element_handle(), timeout=20000)
        state = video.evaluate("""async v => { await v.play();
            await new Promise(r => setTimeout(r, 600));
            return {t: v.currentTime, src: v.currentSrc, d: v.duration, err: v.error,
                    track: v.querySelector('track') ? v.querySelector('track').src : null}; }""")
        images = tab.evaluate("""() => Array.from(document.querySelectorAll('article img, .col-md-9 img, img'))
            .map(i => ({src: i.currentSrc, w: i.naturalWidth, ok: i.complete}))""")
        browser.close()
    assert state["err"] is None and state["t"] > 0.2 and state["d"] > 1
    assert state["src"].endswith("/posts/figures/attention/attention-softmax.webm")
    svgs = [i for i in images if i["src"].endswith(".svg")]
    pngs = [i for i in images if i["src"].endswith("attention-softmax.png")]
    assert len(svgs) == 1 and svgs[0]["w"] > 100, images
    assert len(pngs) == 1 and pngs[0]["w"] > 100, images
    assert [p for p in problems if "favicon" not in p] == []


RST = """Attention, one step
===================

.. transformer-explained-video:: figures/attention/attention-softmax.mp4

.. image:: figures/attention/svg/07-softmax.svg
   :alt: The softmax step
"""


@pytest.fixture(scope="module")
def sphinx_site(site):
    """The same post in Sphinx (html builder), with the extension's directive."""
    tmp = site["with"].parent
    src = tmp / "sphinx"
    shutil.copytree(tmp / "docs" / "posts" / "figures", src / "posts" / "figures")
    (src / "conf.py").write_text('project = "Post"\nextensions = ["scenes.sites.sphinx_ext"]\n'
                                 'html_theme = "alabaster"\n')
    (src / "index.rst").write_text("Home\n====\n\n.. toctree::\n\n   posts/attention\n")
    (src / "posts" / "attention.rst").write_text(RST)
    out = tmp / "sphinx-out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    built = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", str(src),
                            str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert built.returncode == 0, built.stderr
    return out


def check_page(root: Path, url_path: str, webm_suffix: str, svg_count: int = 1):
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make setup` (apt package chromium)")
    from playwright.sync_api import sync_playwright

    handler = functools.partial(RangeHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = f"http://127.0.0.1:{httpd.server_address[1]}"
    problems: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            tab = browser.new_page()
            tab.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith(server)
                      else (problems.append(route.request.url), route.abort()))
            tab.on("response", lambda r: r.status >= 400 and problems.append(f"{r.url}: {r.status}"))
            tab.goto(f"{server}/{url_path}", wait_until="load")
            video = tab.locator("video").first
            tab.wait_for_function("v => v.readyState >= 2", arg=video.element_handle(),
                                  timeout=20000)
            state = video.evaluate("""async v => { await v.play();
                await new Promise(r => setTimeout(r, 600));
                return {t: v.currentTime, src: v.currentSrc, d: v.duration, err: v.error}; }""")
            images = tab.evaluate("""() => Array.from(document.querySelectorAll('img'))
                .map(i => ({src: i.currentSrc, w: i.naturalWidth}))""")
            browser.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert state["err"] is None and state["t"] > 0.2 and state["d"] > 1, state
    assert state["src"].endswith(webm_suffix), state
    svgs = [i for i in images if i["src"].endswith(".svg")]
    assert len(svgs) == svg_count and all(i["w"] > 100 for i in svgs), images
    assert [p for p in problems if "favicon" not in p] == []


def test_the_sphinx_page_plays_its_video_and_shows_its_svg(sphinx_site):
    page = (sphinx_site / "posts" / "attention.html").read_text()
    assert 'src="../_videos/posts-figures-attention/attention-softmax.webm"' in page
    check_page(sphinx_site, "posts/attention.html",
               "/_videos/posts-figures-attention/attention-softmax.webm")
