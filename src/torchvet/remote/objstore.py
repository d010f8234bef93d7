"""Object stores and every other fsspec protocol (s3://, gs://, az://, file://, ...).

Reads are ``cat_file(path, start, end)``: one ranged GET per miss of the range source,
never fsspec's block-cached file objects (they fetch megabytes around every read).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from torchvet.remote.errors import (
    AccessDenied,
    MissingExtra,
    NotFound,
    RemoteError,
    Unavailable,
    hint_for,
)
from torchvet.remote.options import RemoteOptions
from torchvet.remote.rangesource import RangeSource
from torchvet.remote.retry import retrying
from torchvet.remote.urls import scheme_of

T = TypeVar("T")
# The package behind each well-known protocol, for the missing-extra message.
BACKENDS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs"}


def filesystem(url: str) -> tuple[Any, str]:
    scheme = scheme_of(url)
    try:
        import fsspec
    except ImportError:
        raise MissingExtra(f"reading {scheme}:// URLs", "fsspec") from None
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        module = BACKENDS.get(scheme) or exc.name or str(exc)
        raise MissingExtra(f"reading {scheme}:// URLs", module) from None
    except ValueError as exc:
        raise RemoteError(f"no fsspec backend reads {scheme}:// URLs ({exc})") from None


def _call(url: str, options: RemoteOptions, fn: Callable[[], T]) -> T:
    def attempt() -> T:
        try:
            return fn()
        except (RemoteError, MissingExtra):
            raise
        except FileNotFoundError:
            raise NotFound("no such file or folder") from None
        except PermissionError as exc:
            raise AccessDenied(f"access denied: {exc}", hint_for(scheme_of(url))) from None
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from None
        except Exception as exc:
            if "credential" in type(exc).__name__.lower():  # botocore's NoCredentialsError
                raise AccessDenied(str(exc), hint_for(scheme_of(url))) from None
            raise RemoteError(f"{type(exc).__name__}: {exc}") from None

    return retrying(attempt, options)


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
