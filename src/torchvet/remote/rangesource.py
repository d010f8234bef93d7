"""A ``ByteSource`` over range requests: exact ranges, coalesced, with a small read-ahead.

The scanner reads a checkpoint's directory and pickles in many small reads (a zip's
end record, central directory, one local header per record, ``data.pkl``). Over a
network each read is a round trip, so this source keeps what it fetched in a bounded
cache and shapes each miss:

* a miss fetches the bytes asked for plus a read-ahead that starts small (enough for a
  zip local header and its name) and doubles while reads are sequential;
* a miss that starts inside, or a few hundred bytes past, bytes already held fetches
  only from their end (coalescing), so neighbouring reads share one cached span;
* a large read (a whole pickle, converter chunks) is fetched exactly and not cached.

A generic block cache (fsspec's) fetches megabytes around every read, which would make
a 1.5 GB checkpoint cost tens of MB instead of a few hundred KB; hence this one.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import OrderedDict
from typing import Protocol

from torchvet.source import readable

MIN_READ_AHEAD = 512  # a zip local header, its name and torch's alignment padding
MAX_READ_AHEAD = 1 << 20
# Fetch a gap this small rather than start a separate span: the spans stay few and
# contiguous. Not more: a zip's next local header often lies one small tensor (a 4 KiB
# bias) further on, and those bytes are never read.
COALESCE_GAP = MIN_READ_AHEAD
UNCACHED_READ = 1 << 20  # reads at least this large go straight to the store
CACHE_BYTES = 16 << 20


class Fetcher(Protocol):
    """Exact ranges of one remote object."""

    def fetch(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``; raises ``RemoteError`` when they cannot be had."""
        ...

    def close(self) -> None: ...


class _Spans:
    """Non-overlapping cached byte spans, sorted by start, evicted least recently used."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.starts: list[int] = []
        self.data: dict[int, bytes] = {}
        self.recent: OrderedDict[int, None] = OrderedDict()
        self.held = 0

    def around(self, offset: int) -> tuple[int, bytes] | None:
        """The span that starts at or before ``offset`` (it may end before it)."""
        i = bisect_right(self.starts, offset) - 1
        if i < 0:
            return None
        start = self.starts[i]
        self.recent.move_to_end(start)
        return start, self.data[start]

    def next_start(self, offset: int) -> int | None:
        i = bisect_right(self.starts, offset)
        return self.starts[i] if i < len(self.starts) else None

    def put(self, start: int, data: bytes) -> None:
        """Add ``data`` at ``start``, merged with the spans it touches or overlaps."""
        end = start + len(data)
        prev = self.around(start)
        if prev is not None and prev[0] + len(prev[1]) >= start:
            keep = prev[1][: start - prev[0]]
            start, data = prev[0], keep + data
            self._drop(prev[0])
        while (nxt := self.next_start(start)) is not None and nxt <= end:
            tail = self.data[nxt]
            if nxt + len(tail) > end:
                data += tail[end - nxt :]
                end = nxt + len(tail)
            self._drop(nxt)
        insort(self.starts, start)
        self.data[start] = data
        self.recent[start] = None
        self.held += len(data)
        while self.held > self.limit and len(self.starts) > 1:
            oldest = next(iter(self.recent))
            if oldest == start:
                self.recent.move_to_end(start)
                continue
            self._drop(oldest)

    def _drop(self, start: int) -> None:
        self.starts.pop(bisect_right(self.starts, start) - 1)
        self.held -= len(self.data.pop(start))
        del self.recent[start]


class RangeSource:
    """A remote object as a ``ByteSource``; counts the bytes and requests it cost."""

    def __init__(
        self, name: str, size: int, fetcher: Fetcher, head: bytes = b"", downloaded: bool = False
    ) -> None:
        self.name = name
        self.size = size
        self._fetcher = fetcher
        self._spans = _Spans(CACHE_BYTES)
        self._read_ahead = MIN_READ_AHEAD
        self._last_end = -1
        self.bytes_read = len(head) if not downloaded else size
        self.requests = 1 if head or downloaded else 0
        # True when the server could not serve ranges and the whole file was fetched.
        self.downloaded = downloaded
        self.failure: Exception | None = None  # a read error, even if a reader swallowed it
        if head:
            self._spans.put(0, head)

    def read_at(self, offset: int, length: int) -> bytes:
        length = readable(offset, length, self.size)
        if length == 0:
            return b""
        end = offset + length
        self._read_ahead = (
            min(self._read_ahead * 2, MAX_READ_AHEAD)
            if offset == self._last_end
            else MIN_READ_AHEAD
        )
        self._last_end = end
        held = self._spans.around(offset)
        if held is not None and offset + length <= held[0] + len(held[1]):
            return held[1][offset - held[0] : offset - held[0] + length]
        if length >= UNCACHED_READ:
            return self._fetch(offset, end)
        start = offset
        if held is not None and held[0] + len(held[1]) >= offset - COALESCE_GAP:
            start = held[0] + len(held[1])  # continue the span instead of a new one
        stop = min(self.size, end + self._read_ahead)
        nxt = self._spans.next_start(offset)
        if nxt is not None and end <= nxt < stop:
            stop = nxt  # the rest is cached already
        self._spans.put(start, self._fetch(start, stop))
        held = self._spans.around(offset)
        assert held is not None
        return held[1][offset - held[0] : offset - held[0] + length]

    def _fetch(self, start: int, end: int) -> bytes:
        try:
            data = self._fetcher.fetch(start, end)
        except Exception as exc:
            self.failure = self.failure or exc
            raise
        if not self.downloaded:  # a local copy's reads cost no transfer
            self.requests += 1
            self.bytes_read += len(data)
        if len(data) != end - start:
            self.failure = self.failure or EOFError(
                f"{self.name}: asked for bytes {start}-{end - 1}, got {len(data)} bytes"
            )
            raise self.failure
        return data

    def close(self) -> None:
        self._fetcher.close()

    def __enter__(self) -> RangeSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
