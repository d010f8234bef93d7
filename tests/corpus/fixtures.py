"""pytest fixtures; tests/conftest.py imports them."""

from __future__ import annotations

import pytest

from tests.corpus.build import Corpus, build_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The whole corpus, generated once per session, with oracle results (needs torch)."""
    pytest.importorskip("torch")
    return build_corpus(tmp_path_factory.mktemp("corpus"))
