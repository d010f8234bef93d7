"""One entry point per job, whatever the store: open a file, list a folder or repo."""

from __future__ import annotations

from dataclasses import dataclass

from torchvet.remote.options import RemoteOptions
from torchvet.remote.rangesource import RangeSource
from torchvet.remote.urls import scheme_of

HTTP = ("http", "https")


@dataclass(frozen=True)
class RemoteFile:
    url: str  # what a worker opens; for hf://, pinned to the commit the listing saw
    size: int | None
    listed: bool  # found by listing a folder or repo (so scanned only if it is a model file)


def open_source(url: str, options: RemoteOptions | None = None) -> RangeSource:
    """A range-reading source for one remote file. Raises RemoteError or MissingExtra."""
    options = options or RemoteOptions()
    scheme = scheme_of(url)
    if scheme in HTTP:
        from torchvet.remote.http import open_http

        return open_http(url, options, scheme=scheme)
    if scheme == "hf":
        from torchvet.remote.hub import open_hf

        return open_hf(url, options)
    from torchvet.remote.objstore import open_fsspec

    return open_fsspec(url, options)


def list_files(url: str, options: RemoteOptions | None = None) -> list[RemoteFile]:
    """The file ``url`` names, or every file under the folder, prefix or repo it names."""
    options = options or RemoteOptions()
    scheme = scheme_of(url)
    if scheme in HTTP:
        return [RemoteFile(url, None, listed=False)]  # http has no listing
    if scheme == "hf":
        from torchvet.remote.hub import list_hf

        found, single = list_hf(url, options)
    else:
        from torchvet.remote.objstore import list_fsspec

        found, single = list_fsspec(url, options)
    return [RemoteFile(u, size, listed=not single) for u, size in found]


def require_backend(url: str) -> None:
    """Raise MissingExtra now, rather than once per file, if ``url``'s backend is missing."""
    scheme = scheme_of(url)
    if scheme in HTTP or scheme == "hf":
        from torchvet.remote.http import pool

        pool()
    if scheme == "hf":
        from torchvet.remote.hub import endpoint

        endpoint()
    elif scheme not in HTTP:
        from torchvet.remote.objstore import filesystem

        filesystem(url)
