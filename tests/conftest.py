"""Fixtures shared by the test modules: the default traces of both shipped models, an empty
cache folder."""

import pytest

from transformer_core import cache
from transformer_core.trace import run_with_trace


@pytest.fixture(scope="session")
def tr():
    """translate on its default sentence, "jane visits africa in september"."""
    return run_with_trace("translate")


@pytest.fixture(scope="session")
def lm():
    """lm on its default sentence, "the early bird eats the worm"."""
    return run_with_trace("lm")


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """An empty cache folder for this test (and caching on)."""
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv(cache.NO_CACHE_ENV, raising=False)
    monkeypatch.delenv("TRANSFORMER_EXPLAINED_CACHE", raising=False)
    return home / cache.APP


@pytest.fixture(scope="session")
def render_cache(tmp_path_factory):
    """A render cache of the session's own (``$TRANSFORMER_EXPLAINED_CACHE``): the slides and
    notebook tests share one low-quality render of the attention scene."""
    folder = tmp_path_factory.mktemp("render-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRANSFORMER_EXPLAINED_CACHE", str(folder))
        yield folder


@pytest.fixture
def engine():
    """Manim with the engine's patches, as inside our renders and exports (Manim's own methods
    are back after the test)."""
    from scenes.engine.patching import rendering

    with rendering() as patches:
        yield patches
