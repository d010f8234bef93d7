"""How remote files are read: the knobs a user (or a Dask worker) passes along."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteOptions:
    # A server that ignores range requests: download the whole file (True) or refuse.
    allow_download: bool = False
    retries: int = 4  # for 5xx, 429, time-outs and dropped connections
    backoff: float = 0.5  # seconds before the first retry, doubled for each further one
    timeout: float = 60.0  # seconds to connect, and between bytes received
