"""What the symbolic machine records while it reads one pickle stream.

Events are appended in stream order, so "the first thing torch would reject" is the
first event the policy finds fatal. The machine itself knows nothing about
allowlists: it records names, calls and the runtime types that BUILD / SETITEM /
APPEND act on; ``torchvet.policy`` judges them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from torchvet.pickle.values import Call, Value


class IssueKind(str, enum.Enum):
    # Bytes that no unpickler can read: truncation, bad argument, unknown opcode,
    # stack underflow, missing memo key.
    DECODE = "decode"
    # torchvet's own resource bounds (ops, stack, memo, nesting).
    LIMIT = "limit"
    # An opcode torch's weights-only unpickler does not implement.
    OPCODE = "opcode"
    # A structure torch refuses whatever the allowlist (APPEND on a non-list, ...).
    STRUCTURE = "structure"
    # Torch would raise while rebuilding (storage bounds, record size, bad argument).
    INVALID = "invalid"
    # An allowed callable called with arguments torchvet does not model.
    UNVERIFIED = "unverified"
    # Calls a callable computed at load time (resolved at run time only).
    DYNAMIC = "dynamic"
    # A plain remark (trailing bytes, protocol number, device locations).
    NOTE = "note"
    # Work or memory a load would spend far out of proportion to the file (keys that all
    # hash alike, a tuple that shares itself, a huge declared allocation).
    RESOURCE = "resource"


@dataclass(slots=True)
class GlobalRef:
    """GLOBAL / STACK_GLOBAL / INST naming ``module.name`` (after name mapping)."""

    pos: int
    module: str
    name: str
    opcode: str
    raw: tuple[str, str]

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(slots=True)
class CallEvent:
    """A call the unpickler makes (the callee may be resolved through a chain)."""

    call: Call

    @property
    def pos(self) -> int:
        return self.call.pos


@dataclass(slots=True)
class TypeUse:
    """A runtime type that torch checks against its allowlist (BUILD target, ...)."""

    pos: int
    type_name: str
    role: str  # "build"


@dataclass(slots=True)
class Issue:
    pos: int
    kind: IssueKind
    message: str
    # The error torch would raise here, in torch's words, when it would raise.
    torch_message: str | None = None
    global_name: str | None = None


Event = GlobalRef | CallEvent | TypeUse | Issue


@dataclass
class StreamTrace:
    """Everything read from one pickle stream."""

    entry: str
    start: int  # offset of the first opcode inside the entry
    end: int = 0  # offset just after STOP (or where reading stopped)
    stopped: bool = False  # reached STOP
    # End of the furthest FRAME read (clipped to the data), or None. A loader that
    # buffers whole frames (pickle's pure-Python unpickler; the C one over a file object
    # without peek(), e.g. BytesIO) is there after STOP, not at ``end``: its next
    # pickle.load starts at max(end, frame_end).
    frame_end: int | None = None
    # A read crossed the end of a FRAME (or failed inside one): the C unpickler over
    # some file objects reads other bytes there (pickle/frames.py READINGS).
    straddles: bool = False
    proto: int | None = None
    ops: int = 0
    root: Value | None = None
    events: list[Event] = field(default_factory=list)
    # Checks that need tensor data the pickle only points at (nested tensor views):
    # (pos, kind, payload), settled by the container, which can read storages.
    deferred: list[tuple[int, str, object]] = field(default_factory=list)

    def issues(self) -> list[Issue]:
        return [e for e in self.events if isinstance(e, Issue)]

    def globals(self) -> list[GlobalRef]:
        return [e for e in self.events if isinstance(e, GlobalRef)]

    def calls(self) -> list[Call]:
        return [e.call for e in self.events if isinstance(e, CallEvent)]
