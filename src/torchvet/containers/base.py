"""What every container reader shares: the scan context and what it observed."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from torchvet.containers.zipreader import ZipArchive
from torchvet.observations import (
    AlternateStream,
    Item,
    Observation,
    Reading,
    Seen,
    Stream,
    TorchFails,
    Vouched,
)
from torchvet.pickle.frames import READINGS
from torchvet.pickle.machine import AfterBuild, Limits, Naming, PersistentLoader, run_stream
from torchvet.pickle.models import Knowledge
from torchvet.pickle.trace import StreamTrace
from torchvet.pickle.values import Value
from torchvet.policy.judge import Policy


@dataclass
class ScanContext:
    """Policy and bounds for one scan; shared by all files of a run."""

    policy: Policy
    limits: Limits = field(default_factory=Limits)
    path: str = ""  # the file's path (torch.load's .safetensors rule looks at it)
    max_pickle_bytes: int = 1 << 30  # largest pickle record read into memory
    knowledge: Knowledge | None = None
    # Largest decompressed member (zip member read by Python's zipfile) kept for a scan.
    max_decompressed: int = 256 << 20

    def __post_init__(self) -> None:
        facts = self.policy.facts
        self.naming = Naming(facts.name_mapping, facts.import_mapping)
        if self.knowledge is None:
            self.knowledge = Knowledge(facts)

    def for_path(self, path: str) -> ScanContext:
        return ScanContext(
            self.policy,
            self.limits,
            path,
            self.max_pickle_bytes,
            self.knowledge,
            self.max_decompressed,
        )


# The scans opened while one reading runs, so that a reading that raises keeps what
# its scans had already found (see dispatch.guarded).
_OPENED: contextvars.ContextVar[list[ContainerScan] | None] = contextvars.ContextVar(
    "torchvet_opened_scans", default=None
)


@contextmanager
def collecting_scans() -> Iterator[list[ContainerScan]]:
    """Collect every ContainerScan created inside the block, in creation order."""
    opened: list[ContainerScan] = []
    token = _OPENED.set(opened)
    try:
        yield opened
    finally:
        _OPENED.reset(token)


@dataclass
class ContainerScan:
    """What a container reader observed in one file, in order (``torchvet.observations``),
    and what the converter needs from it; ``policy.verdict`` judges the observations."""

    format: str
    observations: list[Item] = field(default_factory=list)
    streams: list[StreamTrace] = field(default_factory=list)  # the streams run, in order
    root: Value | None = None  # the object torch.load would return (symbolically)
    # The converter's: the zip whose records hold the storages, and their byte order.
    archive: ZipArchive | None = None
    byteorder: str = "little"
    inner: ContainerScan | None = None  # a compressed file's: the decompressed file's scan
    # BUILD hook used for every stream this scan runs unless one is passed
    # (joblib: arrays written inline after their wrappers).
    after_build: AfterBuild | None = field(default=None, repr=False)
    # The same streams as C's unpickler reads them over some file objects, where that
    # differs (reads across a FRAME's end, pickle/frames.py); judged, never torch's view.
    alternates: list[StreamTrace] = field(default_factory=list)
    # The reading already was pickle.load's: every concatenated pickle from byte 0 with
    # no hook, so the dispatcher need not read the file that way again.
    read_as_plain_pickles: bool = False

    def __post_init__(self) -> None:
        opened = _OPENED.get()
        if opened is not None:
            opened.append(self)

    def observe(
        self,
        kind: Seen,
        message: str,
        entry: str = "",
        offset: int | None = None,
        global_name: str | None = None,
    ) -> None:
        self.observations.append(Observation(kind, message, entry, offset, global_name))

    def observed_beyond_notes(self) -> bool:
        """Whether this reader itself observed anything but notes."""
        return any(
            isinstance(o, Observation) and o.kind is not Seen.NOTE for o in self.observations
        )

    def torch_fails(self, message: str, replaces: bool = False) -> None:
        """torch.load(weights_only=True) fails here (the first failure counts, unless
        ``replaces``: torch never reads as far as the earlier one)."""
        self.observations.append(TorchFails(message, replaces))

    def record(self, item: Item) -> None:
        """Record any other item (an ``Included`` reading, a ``TorchProbe``, ...)."""
        self.observations.append(item)

    def absorb(self, other: ContainerScan, view: str) -> None:
        """Merge another loader's reading of the same bytes (``policy.readings``)."""
        self.observations.append(Reading(other.observations, view))

    def vouch(self, names: frozenset[str], reason: str, as_keys: bool = False) -> None:
        self.observations.append(Vouched(names, reason, as_keys))

    def run_pickle(
        self,
        ctx: ScanContext,
        buf: bytes,
        entry: str,
        persistent_load: PersistentLoader | None = None,
        start: int = 0,
        torch_reads: bool = True,
        after_build: AfterBuild | None = None,
    ) -> StreamTrace:
        """Run the machine over one stream and record it.

        ``torch_reads``: whether torch.load(weights_only=True) reads this stream, so that
        its first failure becomes torch's error for the file. ``after_build``: see
        ``machine.AfterBuild`` (joblib's inline arrays); defaults to ``self.after_build``.
        """
        hook = after_build or self.after_build
        trace = run_stream(
            buf, entry, ctx.naming, persistent_load, start, ctx.limits, ctx.knowledge, hook
        )
        self.observations.append(Stream(trace, torch_reads))
        self.streams.append(trace)
        if trace.straddles:
            self._read_frames_as_c(ctx, buf, entry, persistent_load, start)
        return trace

    def _read_frames_as_c(
        self,
        ctx: ScanContext,
        buf: bytes,
        entry: str,
        persistent_load: PersistentLoader | None,
        start: int,
    ) -> None:
        for view, policy in READINGS:
            trace = run_stream(
                buf, entry, ctx.naming, persistent_load, start, ctx.limits, ctx.knowledge,
                splice=policy,
            )  # fmt: skip
            self.observations.append(AlternateStream(trace, view))
            self.alternates.append(trace)
