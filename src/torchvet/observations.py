"""What a container reader saw, in its own terms; the judge alone makes findings of it.

A reader records, in order, what it met while reading one file: remarks and problems
(``Observation``, of a ``Seen`` kind), torch's errors (``TorchFails``), the pickle streams
it ran (``Stream``; the symbolic machine's events are inside), and the other readings it
merged (``Reading``, ``Included``). ``torchvet.policy.verdict`` walks the list once, in
order, and turns it into findings, torch's first error and the allowlist: the reader
never decides a category or a verdict, and never reads back what the judge concluded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from torchvet.pickle.trace import StreamTrace


class Seen(enum.Enum):
    """The kinds of things a reader sees outside the pickle streams it runs."""

    NOTE = enum.auto()  # a plain remark: trailing bytes, devices, tolerated quirks
    WARNING = enum.auto()  # no loader is affected, but the file deserves a look
    BROKEN = enum.auto()  # unreadable, truncated or inconsistent: its loader fails
    NOT_A_MODEL = enum.auto()  # text, an image, an LFS pointer, an empty file
    FORM_REFUSED = enum.auto()  # torch.load refuses the form: tar, npy, joblib, ...
    STRUCTURE_REFUSED = enum.auto()  # refused by torch whatever the allowlist
    UNMODELLED = enum.auto()  # something torchvet does not model, so cannot confirm
    CODE_ARCHIVE = enum.auto()  # an archive whose loader runs the code it holds
    LIMIT = enum.auto()  # one of torchvet's bounds stopped the reading
    RESOURCE = enum.auto()  # a load would spend far more than the file's size
    UNKNOWN_NAME = enum.auto()  # a loader calls something torchvet cannot name
    NAMED_CALL = enum.auto()  # a loader calls the function ``global_name`` names
    FOREIGN_LOAD = enum.auto()  # a loader unpickles a file outside the scanned one


@dataclass(frozen=True)
class Observation:
    kind: Seen
    message: str
    entry: str = ""  # entry inside the container, e.g. "archive/data.pkl"
    offset: int | None = None  # byte offset inside that entry
    global_name: str | None = None  # "module.name" when a name is involved


@dataclass(frozen=True)
class TorchFails:
    """torch.load(weights_only=True) fails here, in torch's words. The first one counts,
    unless ``replaces``: torch never gets as far as the earlier one."""

    message: str
    replaces: bool = False


@dataclass(frozen=True)
class Stream:
    """A pickle stream the reader ran; ``torch_reads``: torch.load(weights_only=True)
    reads it, so its first failure is torch's error for the file."""

    trace: StreamTrace
    torch_reads: bool


@dataclass(frozen=True)
class AlternateStream:
    """The same stream as another unpickler reads it (``view`` names which)."""

    trace: StreamTrace
    view: str


@dataclass(frozen=True)
class TorchProbe:
    """A stream run only to learn torch's first error on it (files torch reads as a
    legacy pickle though they are something else)."""

    trace: StreamTrace


@dataclass(frozen=True)
class Dormant:
    """Bytes no loader reads that hold pickles (after a final STOP): what they name is
    worth a warning, never a verdict."""

    observations: list[Item]
    entry: str
    offset: int
    where: str


@dataclass(frozen=True)
class Vouched:
    """In this file these names are the format's own placeholders, which run no code
    (joblib's array wrapper, DCP's metadata classes); ``reason`` says why.
    ``as_keys``: also when only used as dict keys whose hashing torchvet cannot tell."""

    names: frozenset[str]
    reason: str
    as_keys: bool = False


@dataclass(frozen=True)
class Reading:
    """Another loader's reading of the same bytes (``pickle.load`` from byte 0, Python's
    ``zipfile``, another copy of a duplicated record): it counts for what can run code."""

    observations: list[Item]
    view: str


@dataclass(frozen=True)
class Included:
    """What was observed in a file inside this one (a decompressed file, an archive
    member, a DCP record), or in a reading cut short, merged into this file's."""

    observations: list[Item]
    prefix: str = ""  # its entries are placed under this one ("" = as they are)
    keep_view: bool = True
    allowlist: bool = False  # its inert names join this file's allowlist
    torch_error: bool = False  # its torch error is this file's (when none is known yet)
    findings: bool = True  # False: only its torch error counts
    not_a_model_is_broken: bool = False  # a member that should be a model and is not
    # When torch fails on it: its damage and notes say nothing about this file (it was
    # read as torch.load reads it only to learn whether torch loads it).
    failure_hides_damage: bool = False
    # Observed when torch fails on it ("{error}" stands for torch's error), or loads it.
    if_torch_fails: Observation | None = None
    if_torch_loads: Observation | None = None


Item = (
    Observation
    | TorchFails
    | Stream
    | AlternateStream
    | TorchProbe
    | Dormant
    | Vouched
    | Reading
    | Included
)
