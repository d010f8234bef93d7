"""Fixtures shared by the container tests."""

from __future__ import annotations

import io

import pytest


@pytest.fixture(scope="session")
def torch_file() -> bytes:
    """A small checkpoint written by torch.save (the test is skipped without torch)."""
    torch = pytest.importorskip("torch")

    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    return buf.getvalue()
