"""Fixtures shared by the convert tests."""

from __future__ import annotations

import pytest

from tests.converter.real_files import Made, all_files


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> list[Made]:
    """Files written by the real libraries (generated once per session)."""
    pytest.importorskip("torch")
    pytest.importorskip("joblib")
    return all_files(tmp_path_factory.mktemp("real"))
