"""A skip for tests that need torch only in a child process. Tests that use torch in
this process call ``pytest.importorskip("torch")``; the corpus fixture and the oracle
skip by themselves. Either way, without torch such a test is skipped, never failed."""

from __future__ import annotations

import importlib.util

import pytest

needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="needs torch (in a child process)"
)
