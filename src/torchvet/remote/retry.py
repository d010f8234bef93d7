"""Retry with exponential backoff, for failures that may pass (``Unavailable``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

from torchvet.remote.errors import Unavailable
from torchvet.remote.options import RemoteOptions

T = TypeVar("T")


def retrying(
    fn: Callable[[], T],
    options: RemoteOptions,
    errors: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> T:
    """``fn()``, called again after a failure that may pass; ``errors`` turns a backend's
    exceptions into ``RemoteError``s (only ``Unavailable`` is retried)."""
    for attempt in range(options.retries + 1):
        try:
            with errors():
                return fn()
        except Unavailable:
            if attempt == options.retries:
                raise
            time.sleep(options.backoff * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover
