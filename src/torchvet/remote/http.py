"""Range reads over http(s) with urllib3.

Why not fsspec's HTTP file system: when a server ignores ``Range`` it returns the whole
body as if it were the range (silently downloading a 10 GB file, and handing the scanner
the wrong bytes). Here every answer is checked: 206 with the ``Content-Range`` asked
for, or a clear refusal; 5xx, 429 and time-outs are retried with backoff (urllib3's
``Retry`` before the body, our loop while reading it); 404, 401 and 403 become errors
that say what to do.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from torchvet.remote.errors import (
    AccessDenied,
    NoRangeSupport,
    NotFound,
    RemoteError,
    Unavailable,
    hint_for,
    require,
)
from torchvet.remote.options import RemoteOptions
from torchvet.remote.rangesource import RangeSource

T = TypeVar("T")
HEAD_BYTES = 4096  # the first request: the magic bytes and most small headers
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")
_DOWNLOAD_CHUNK = 1 << 20
_lock = threading.Lock()
_pool: Any = None


def _urllib3() -> Any:
    return require("urllib3", "reading http(s) URLs")


def pool() -> Any:
    """One connection pool per process (thread-safe; keeps connections alive)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = _urllib3().PoolManager(num_pools=32, maxsize=16, block=False)
        return _pool


def open_http(
    url: str,
    options: RemoteOptions,
    *,
    name: str | None = None,
    headers: dict[str, str] | None = None,
    scheme: str = "http",
) -> RangeSource:
    """Open ``url`` with one request for its first bytes, which also gives its size."""
    fetcher = HttpFetcher(url, options, headers or {}, scheme)
    size, head, downloaded = fetcher.open()
    return RangeSource(name or url, size, fetcher, head, downloaded)


class HttpFetcher:
    def __init__(
        self,
        url: str,
        options: RemoteOptions,
        headers: dict[str, str],
        scheme: str,
    ) -> None:
        urllib3 = _urllib3()
        self.url = url
        self.options = options
        self.scheme = scheme
        self.headers = {"Accept-Encoding": "identity", **headers}
        self._retry = urllib3.Retry(
            total=options.retries,
            redirect=10,
            status_forcelist=RETRY_STATUS,
            allowed_methods=frozenset({"GET"}),
            backoff_factor=options.backoff,
            backoff_max=30,
            raise_on_status=False,
        )
        self._timeout = urllib3.Timeout(connect=options.timeout, read=options.timeout)
        self._copy: Any = None  # a temporary file holding the whole object (no Range support)

    # ------------------------------------------------------------------ requests
    def open(self) -> tuple[int, bytes, bool]:
        """(size, first bytes, whether the whole file was downloaded)."""
        return self._exchange(0, HEAD_BYTES, self._opening)

    def fetch(self, start: int, end: int) -> bytes:
        if self._copy is not None:
            return os.pread(self._copy.fileno(), end - start, start)
        return self._exchange(start, end, lambda resp: self._partial(resp, start, end))

    def _exchange(self, start: int, end: int, read: Callable[[Any], T]) -> T:
        """Ask for ``[start, end)`` and ``read`` the answer; a body cut short or stalled
        is asked for again, with backoff."""
        errors = _urllib3().exceptions
        for attempt in range(self.options.retries + 1):
            resp = self._send(start, end)
            try:
                return read(resp)
            except (errors.ProtocolError, errors.ReadTimeoutError) as exc:
                if attempt == self.options.retries:
                    raise Unavailable(f"{exc}") from None
                time.sleep(self.options.backoff * 2**attempt)
            finally:
                resp.release_conn()
        raise AssertionError("unreachable")  # pragma: no cover

    def _opening(self, resp: Any) -> tuple[int, bytes, bool]:
        if resp.status == 206:
            total = self._total(resp)
            return total, self._partial(resp, 0, min(HEAD_BYTES, total)), False
        if resp.status == 416:  # an empty object has no byte 0
            if self._total(resp) == 0:
                return 0, b"", False
            raise RemoteError("the server refused the range bytes=0-")
        if resp.status == 200:
            return self._whole_body(resp)
        raise self._status_error(resp)

    def _partial(self, resp: Any, start: int, end: int) -> bytes:
        if resp.status != 206:
            raise self._status_error(resp)
        return self._body(resp, start, end)

    def _whole_body(self, resp: Any) -> tuple[int, bytes, bool]:
        """A 200 answer to a range request: the server sends the whole file."""
        length = resp.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
        if size is not None and size <= HEAD_BYTES:
            return size, self._body(resp, 0, size), False  # small: the head is everything
        if not self.options.allow_download:
            resp.close()  # drop the connection rather than read the body
            raise NoRangeSupport(
                "the server ignores range requests, so scanning means downloading the "
                f"whole file ({size if size is not None else 'unknown'} bytes)",
                "rerun with --allow-download to download it",
            )
        self.close()
        self._copy = tempfile.TemporaryFile(prefix="torchvet-")  # noqa: SIM115 (see close)
        received = 0
        for chunk in resp.stream(_DOWNLOAD_CHUNK):
            self._copy.write(chunk)
            received += len(chunk)
        if size is not None and received != size:
            raise _urllib3().exceptions.ProtocolError(f"got {received} of {size} bytes")
        self._copy.flush()
        return received, b"", True

    def _send(self, start: int, end: int) -> Any:
        errors = _urllib3().exceptions
        headers = {**self.headers, "Range": f"bytes={start}-{end - 1}"}
        try:
            resp = pool().request(
                "GET",
                self.url,
                headers=headers,
                preload_content=False,
                retries=self._retry,
                timeout=self._timeout,
            )
        except errors.MaxRetryError as exc:
            raise Unavailable(f"{exc.reason}") from None
        except (errors.HTTPError, errors.LocationValueError) as exc:
            raise RemoteError(f"{exc}") from None
        self._follow(resp)
        return resp

    def _follow(self, resp: Any) -> None:
        """After a redirect, read from where it led (one round trip less per read);
        credentials stay with the host they were meant for."""
        final = self.url
        for step in getattr(resp.retries, "history", None) or ():
            if step.redirect_location:
                final = urljoin(final, step.redirect_location)
        if final == self.url:
            return
        if urlsplit(final).netloc != urlsplit(self.url).netloc:
            self.headers = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        self.url = final

    def _body(self, resp: Any, start: int, end: int) -> bytes:
        if resp.status == 206:
            match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", "").strip())
            if match is None or match.group(1) is None or int(match.group(1)) != start:
                raise RemoteError(
                    f"asked for bytes {start}-{end - 1}, the server answered "
                    f"Content-Range {resp.headers.get('Content-Range')!r}"
                )
        data = resp.read()
        if len(data) != end - start:
            raise _urllib3().exceptions.ProtocolError(
                f"got {len(data)} bytes for the range {start}-{end - 1}"
            )
        return data

    def _total(self, resp: Any) -> int:
        match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", "").strip())
        if match is None or match.group(3) == "*":
            raise RemoteError("the server does not say how large the file is")
        return int(match.group(3))

    def _status_error(self, resp: Any) -> RemoteError:
        code = resp.status
        said = f"HTTP {code} {resp.reason or ''}".rstrip()
        if code in (404, 410):
            return NotFound(said)
        if code in (401, 403):
            return AccessDenied(said, hint_for(self.scheme))
        if code in RETRY_STATUS:
            return Unavailable(f"{said} (still, after {self.options.retries} retries)")
        if code == 200:
            return NoRangeSupport("the server stopped answering range requests")
        return RemoteError(said)

    def close(self) -> None:
        if self._copy is not None:
            self._copy.close()
            self._copy = None
