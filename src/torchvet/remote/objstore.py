"""Object stores and every other fsspec protocol (s3://, gs://, az://, file://, ...).

Reads are ``cat_file(path, start, end)``: one ranged GET per miss of the range source,
never fsspec's block-cached file objects (they fetch megabytes around every read).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from torchvet.remote.errors import MissingExtra, RemoteError, fsspec_errors, require
from torchvet.remote.options import RemoteOptions
from torchvet.remote.rangesource import RangeSource
from torchvet.remote.retry import retrying
from torchvet.remote.urls import scheme_of

T = TypeVar("T")
# The package behind each well-known protocol, for the missing-extra message.
BACKENDS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs"}


def filesystem(url: str) -> tuple[Any, str]:
    scheme = scheme_of(url)
    fsspec = require("fsspec", f"reading {scheme}:// URLs")
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        module = BACKENDS.get(scheme) or exc.name or str(exc)
        raise MissingExtra(f"reading {scheme}:// URLs", module) from None
    except ValueError as exc:
        raise RemoteError(f"no fsspec backend reads {scheme}:// URLs ({exc})") from None


def _call(url: str, options: RemoteOptions, fn: Callable[[], T]) -> T:
    return retrying(fn, options, partial(fsspec_errors, scheme_of(url)))


class FsspecFetcher:
    def __init__(self, fs: Any, path: str, url: str, options: RemoteOptions) -> None:
        self.fs, self.path, self.url, self.options = fs, path, url, options

    def fetch(self, start: int, end: int) -> bytes:
        return _call(
            self.url, self.options, lambda: self.fs.cat_file(self.path, start=start, end=end)
        )

    def close(self) -> None:
        pass


def open_fsspec(url: str, options: RemoteOptions) -> RangeSource:
    fs, path = filesystem(url)
    info = _call(url, options, lambda: fs.info(path))
    if info.get("type") != "file":
        raise RemoteError(f"{url} is a folder, not a file")
    return RangeSource(url, int(info["size"]), FsspecFetcher(fs, path, url, options))


def list_fsspec(url: str, options: RemoteOptions) -> tuple[list[tuple[str, int | None]], bool]:
    """(``[(URL, size)]`` of the file or of every file under the folder, one file?)."""
    fs, path = filesystem(url)
    info = _call(url, options, lambda: fs.info(path))
    if info.get("type") == "file":
        return [(url, int(info["size"]))], True
    found = _call(url, options, lambda: fs.find(path, detail=True))
    files = sorted((name, d.get("size")) for name, d in found.items() if d.get("type") == "file")
    return [(fs.unstrip_protocol(name), size) for name, size in files], False
