"""What scanning one file may cost, whatever its layout.

A hostile file can make a scanner's work grow much faster than its size: a 1 MB zip
inflates to a gigabyte, a thousand central-directory entries share one member,
concatenated and nested pickles are each read, a joblib object array nests another
pickle. Per-stream bounds cannot see that, so one ``Budget`` is shared by every
stream, member, nested file and interpretation of one scanned file: the work of the
symbolic machine (opcodes plus what its models copy), the bytes produced by any
decompressor, and the size of any single decompressed buffer or value held in memory.

The allowances grow with the file (a big checkpoint with a big pickle must scan) but
have floors sized so that any file of 1 MB or less scans within about 2 s of machine
work and 256 MiB of memory: see ``benchmarks/bombs.py`` for the measurements.

The budget of the scan in progress is a context variable: ``scan`` sets it around one
file, and readers deep in a container ask for it without threading it through every
call. Outside a scan there is none and only the per-stream ``Limits`` apply.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

MiB = 1 << 20
# Measured on the reference machine (benchmarks/bombs.py): about 1.2 us and at most
# ~80 bytes retained per unit of machine work.
WORK_FLOOR = 1_500_000  # units of machine work for any file (1 unit ~ one opcode)
WORK_PER_BYTE = 1  # ... and per byte of the file beyond that
DATA_FLOOR = 256 * MiB  # decompressed bytes for any file
DATA_PER_BYTE = 16
BUFFER_FLOOR = 32 * MiB  # largest decompressed buffer held in memory
BUFFER_PER_BYTE = 16
VALUE_FLOOR = 16 * MiB  # largest single value copied out of a buffer (copied ~3 times)
VALUE_PER_BYTE = 4
# A load that allocates more than this, and more than RESOURCE_RATIO times the file's
# size, is reported as a denial of service on the loader.
RESOURCE_FLOOR = 64 * MiB
RESOURCE_RATIO = 32
# Key comparisons a load may make inserting keys that hash alike (~15 ns each in CPython).
COMPARISONS_FLOOR = 100_000_000
COMPARISONS_PER_BYTE = 100


_MAX_NOTES = 20


def human(n: int) -> str:
    """A byte count for messages: 1536 -> '1.5 KiB', 2**40 -> '1 TiB'."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            if unit == "bytes":
                return f"{int(value)} bytes"
            return f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


@dataclass
class Budget:
    """Allowances for one scanned file; spent by everything that reads it."""

    input_size: int = 0
    work: int = WORK_FLOOR  # machine work left
    data: int = DATA_FLOOR  # decompressed bytes left
    buffer: int = BUFFER_FLOOR  # largest single buffer (not spent)
    value: int = VALUE_FLOOR  # largest single pickle value (not spent)
    work_total: int = WORK_FLOOR
    data_total: int = DATA_FLOOR
    # Limits hit outside a pickle stream (decompression, zip members): each becomes a
    # LIMIT finding of the file.
    notes: list[str] = field(default_factory=list)
    work_spent_at: str | None = None  # where the work budget ran out (reported there once)
    more_notes: int = 0

    @classmethod
    def for_input(cls, size: int) -> Budget:
        work = max(WORK_FLOOR, WORK_PER_BYTE * size)
        data = max(DATA_FLOOR, DATA_PER_BYTE * size)
        buffer = max(BUFFER_FLOOR, BUFFER_PER_BYTE * size)
        value = max(VALUE_FLOOR, VALUE_PER_BYTE * size)
        return cls(size, work, data, buffer, value, work, data)

    def note(self, message: str) -> None:
        if message in self.notes:
            return
        if len(self.notes) < _MAX_NOTES:
            self.notes.append(message)
            return
        self.more_notes += 1  # ten thousand members cut short make one line, not 10k
        summary = f"... and {self.more_notes} more parts of the file were cut short the same way"
        self.notes[_MAX_NOTES:] = [summary]

    def take_data(self, wanted: int) -> int:
        """Grant up to ``wanted`` decompressed bytes; 0 when the budget is spent."""
        granted = max(0, min(wanted, self.data))
        self.data -= granted
        return granted

    def disproportionate(self, nbytes: int) -> bool:
        """Would allocating ``nbytes`` be far out of proportion to this file?"""
        return nbytes > max(RESOURCE_FLOOR, RESOURCE_RATIO * self.input_size)


_current: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "torchvet_budget", default=None
)


def current() -> Budget | None:
    """The budget of the file being scanned, None outside a scan."""
    return _current.get()


@contextmanager
def spending(budget: Budget) -> Iterator[Budget]:
    """Make ``budget`` the current one for the duration of one file's scan."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def disproportionate(nbytes: int) -> bool:
    """``Budget.disproportionate`` for the current file (floor only outside a scan)."""
    budget = current()
    return budget.disproportionate(nbytes) if budget else nbytes > RESOURCE_FLOOR


def note_cut(what: str, read: int, size: int, bound: str) -> None:
    """Record, for the current file, that ``what`` was read only up to ``read`` bytes."""
    budget = current()
    if budget is not None:
        budget.note(
            f"{what}: read {human(read)} of its {human(size)} ({bound}); the rest was not scanned"
        )


def disproportionate_comparisons(n: int) -> bool:
    """Would ``n`` key comparisons be far out of proportion to the current file?"""
    budget = current()
    size = budget.input_size if budget else 0
    return n > max(COMPARISONS_FLOOR, COMPARISONS_PER_BYTE * size)


def buffer_cap(default: int) -> int:
    """The largest decompressed buffer the current file may hold in memory."""
    budget = current()
    return min(default, budget.buffer) if budget else default
