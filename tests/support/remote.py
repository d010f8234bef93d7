"""The loopback server fixture (started once per session, on loopback only) and the helpers
of the tests that read files over a network: remote/, many/, commands/test_urls.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as s:
        yield s


def same_verdict(remote: dict, local: dict) -> bool:
    """Equal scan results, apart from where the file was and what reading it cost."""
    skip = ("path", "bytes_read")
    return {k: v for k, v in remote.items() if k not in skip} == {
        k: v for k, v in local.items() if k not in skip
    }
