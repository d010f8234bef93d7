"""What every container reader shares: the scan context and the result it fills in."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from torchvet.pickle.frames import READINGS
from torchvet.pickle.machine import AfterBuild, Limits, Naming, PersistentLoader, run_stream
from torchvet.pickle.models import Knowledge
from torchvet.pickle.trace import StreamTrace
from torchvet.pickle.values import Const, Value
from torchvet.policy.judge import Policy, judge
from torchvet.results import Category, Finding


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
    """What a container reader found in one file."""

    format: str
    findings: list[Finding] = field(default_factory=list)
    # torch.load(weights_only=True)'s first error, in torch's words; None if it loads.
    torch_error: str | None = None
    allowlist: list[str] = field(default_factory=list)
    streams: list[StreamTrace] = field(default_factory=list)
    root: Value | None = None  # the object torch.load would return (symbolically)
    # Extra data a converter needs (e.g. the zip archive and its prefix).
    extra: dict[str, object] = field(default_factory=dict)
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

    def add(
        self,
        category: Category,
        message: str,
        entry: str = "",
        offset: int | None = None,
        global_name: str | None = None,
    ) -> None:
        self.findings.append(Finding(category, message, entry, offset, global_name))

    def torch_fails(self, message: str) -> None:
        """Record torch's error unless an earlier one was already recorded."""
        if self.torch_error is None:
            self.torch_error = message

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
        """Run the machine over one stream, judge it and merge the findings.

        ``torch_reads``: whether torch.load(weights_only=True) reads this stream, so that
        its first failure becomes torch's error for the file. ``after_build``: see
        ``machine.AfterBuild`` (joblib's inline arrays); defaults to ``self.after_build``.
        """
        hook = after_build or self.after_build
        trace = run_stream(
            buf, entry, ctx.naming, persistent_load, start, ctx.limits, ctx.knowledge, hook
        )
        verdict = judge(trace, ctx.policy)
        self.findings.extend(verdict.findings)
        for name in verdict.allowlist:
            if name not in self.allowlist:
                self.allowlist.append(name)
        if torch_reads and verdict.torch_error is not None:
            self.torch_fails(verdict.torch_error)
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
            self.findings.extend(replace(f, view=view) for f in judge(trace, ctx.policy).findings)
            self.alternates.append(trace)


def storage_location(v: Value) -> str | None:
    """A persistent id's location as torch reads it (``_maybe_decode_ascii``): bytes must
    be ASCII (UnicodeDecodeError otherwise, as in torch); non-strings are ignored."""
    location = v.value if isinstance(v, Const) else None
    if isinstance(location, bytes):
        location = location.decode("ascii")
    return location if isinstance(location, str) else None


def note_devices(scan: ContainerScan, locations: set[str], entry: str) -> None:
    """Storages saved on another device load only with a map_location there."""
    remote = sorted(loc for loc in locations if loc != "cpu")
    if remote:
        scan.add(
            Category.NOTE,
            f"storages were saved on {', '.join(remote)}; pass map_location "
            "when loading on a machine without that device",
            entry,
        )
