"""How the C unpickler reads across the end of a FRAME it buffered (protocol 4+).

A FRAME only tells the unpickler how much to buffer, and most readings ignore it:
``pickle.loads`` reads an in-memory copy and the pure-Python unpickler fails on any
read that crosses a frame's end. But the C unpickler reading a *file object* that
``read(n)``-buffers a frame (``_pickle.c`` ``load_frame``) keeps only that buffer: a read
that does not fit in what is left of it throws the rest away and takes its bytes from
the file, which is already past the frame (``_Unpickler_ReadImpl``,
``_Unpickler_Readline``). Such a file reads *other bytes* than the linear reading: a
string's payload, a GLOBAL's name line or a nested FRAME's contents come from after
the frame, and everything in between is skipped. (Payloads of the bytes opcodes go
through ``_Unpickler_ReadInto``, which uses the buffered rest first: no skip there.)

Whether a frame is ``read(n)``-buffered depends on the file object: always without
``peek()`` (``io.BytesIO``: ``torch.load(weights_only=False)`` reads a zip's data.pkl so,
and so does ``pickle.load(BytesIO(...))``); above 512 bytes for ``zipfile``'s members
(``numpy.load`` of an .npz with ``allow_pickle=True``); when the frame does not fit in
what a ``BufferedReader`` holds (``open(path, "rb")``: 4 or 8 KiB blocks, so it depends
on where the frame falls). ``READINGS`` lists these policies; the machine records when
a read crosses a frame's end and C would read other bytes (``StreamTrace.straddles``),
so that the stream is read again under each of them.
"""

from __future__ import annotations

from collections.abc import Callable

from torchvet.pickle.readers import READERS, DecodeError

# (frame data offset, frame length) -> whether this frame is read(n)-buffered.
FramePolicy = Callable[[int, int], bool]

_LENGTH_PREFIX = {
    "string1": 1,
    "bytes1": 1,
    "long1": 1,
    "unicodestring1": 1,
    "string4": 4,
    "bytes4": 4,
    "long4": 4,
    "unicodestring4": 4,
    "bytes8": 8,
    "unicodestring8": 8,
    "bytearray8": 8,
}
# Payload read with _Unpickler_ReadInto: the buffered rest first, then the file.
_READ_INTO = frozenset({"bytes1", "bytes4", "bytes8", "bytearray8"})
_LINES = frozenset(
    {
        "decimalnl_short",
        "decimalnl_long",
        "decimalnl_index",
        "floatnl",
        "stringnl",
        "stringnl_noescape",
        "unicodestringnl",
    }
)
_PAIR = "stringnl_noescape_pair"


def splice_all(start: int, length: int) -> bool:
    return True


def splice_over(limit: int) -> FramePolicy:
    def policy(start: int, length: int) -> bool:
        return length > limit

    return policy


def splice_across(block: int) -> FramePolicy:
    def policy(start: int, length: int) -> bool:
        return start % block + length > block

    return policy


# The readings other than the linear one, with the loaders that take them.
READINGS: tuple[tuple[str, FramePolicy], ...] = (
    ("pickle.load(BytesIO), torch.load(weights_only=False)", splice_all),
    ("numpy.load of an .npz", splice_over(512)),
    ("pickle.load(open(...)), 4 KiB buffer", splice_across(4096)),
    ("pickle.load(open(...)), 8 KiB buffer", splice_across(8192)),
)


class Frames:
    """The frame the C unpickler holds in its buffer while the machine reads linearly
    (``splice`` None: only noting where another reading would differ) or as a file
    object whose frames ``splice`` says are read(n)-buffered."""

    def __init__(self, splice: FramePolicy | None) -> None:
        self.splice = splice
        self.end: int | None = None  # end of the buffered frame
        self.spliced = False  # whether that frame was read(n)-buffered
        # Offset of the first opcode the C unpickler would read differently over a file
        # object that read(n)-buffers frames (linear reading only).
        self.straddle_at: int | None = None
        self.furthest: int | None = None  # furthest frame end (where the file is)

    def read(self, buf: bytes, kind: str, pos: int) -> tuple[object, int]:
        """Read argument ``kind`` at ``pos`` (just after its opcode byte)."""
        end = self.end
        if end is not None and pos > end:
            self.end = end = None
        if end is None:
            return READERS[kind](buf, pos)
        if self.spliced:
            value, new_pos = read_across(buf, kind, pos, end)
        else:
            try:
                value, new_pos = READERS[kind](buf, pos)
            except DecodeError:
                self._compare(buf, kind, pos, end, None)
                raise
            if new_pos > end:
                self._compare(buf, kind, pos, end, (value, new_pos))
        if new_pos >= end:
            self.end = None
        return value, new_pos

    def _compare(
        self, buf: bytes, kind: str, pos: int, end: int, linear: tuple[object, int] | None
    ) -> None:
        if self.straddle_at is not None or self.splice is not None:
            return
        try:
            spliced: tuple[object, int] | None = read_across(buf, kind, pos, end)
        except DecodeError:
            spliced = None
        if spliced != linear:
            self.straddle_at = pos - 1

    def open(self, size: int, start: int, length: int) -> tuple[int, bool]:
        """FRAME of ``length`` bytes whose data starts at ``start`` in data of ``size``
        bytes: (where reading goes on, whether the frame runs past the data)."""
        held = self.end if self.end is not None and start < self.end else None
        if held is not None and start + length <= held:
            return start, False  # C: already buffered; Python: fails (frame in a frame)
        if held is not None:
            if self.straddle_at is None and self.splice is None:
                self.straddle_at = start - 9  # the FRAME opcode
            if self.spliced:  # the new frame is read from the file, past the old one
                start = held
        self.spliced = self.splice is not None and self.splice(start, length)
        oversized = length > size - start
        if oversized and self.spliced:
            raise DecodeError(f"FRAME of {length} bytes exceeds the {size - start} bytes left")
        self.end = min(start + length, size)
        self.furthest = max(self.furthest or 0, self.end)
        return start, oversized


def read_across(buf: bytes, kind: str, pos: int, frame_end: int) -> tuple[object, int]:
    """Read argument ``kind`` at ``pos`` as the C unpickler does when its buffer (a frame)
    ends at ``frame_end`` and the file is there. Raises DecodeError like the readers."""
    reader = READERS[kind]
    prefix = _LENGTH_PREFIX.get(kind)
    if prefix is not None:
        if pos + prefix > frame_end:
            return reader(buf, frame_end)  # the length itself comes from the file
        n = int.from_bytes(buf[pos : pos + prefix], "little")
        if pos + prefix + n <= frame_end or kind in _READ_INTO:
            return reader(buf, pos)
        return _spliced(reader, buf[pos : pos + prefix], buf[frame_end : frame_end + n], frame_end)
    if kind in _LINES or kind == _PAIR:
        nl = buf.find(b"\n", pos, frame_end)
        if nl < 0:
            return reader(buf, frame_end)  # readline() from the file
        if kind != _PAIR or buf.find(b"\n", nl + 1, frame_end) >= 0:
            return reader(buf, pos)
        end = buf.find(b"\n", frame_end)
        rest = buf[frame_end:] if end < 0 else buf[frame_end : end + 1]
        return _spliced(reader, buf[pos : nl + 1], rest, frame_end)
    # Fixed-size arguments: one read.
    value, end = reader(buf, pos)
    if end <= frame_end:
        return value, end
    return reader(buf, frame_end)


def _spliced(
    reader: Callable[[bytes, int], tuple[object, int]], head: bytes, tail: bytes, frame_end: int
) -> tuple[object, int]:
    value, end = reader(head + tail, 0)
    return value, frame_end + end - len(head)
