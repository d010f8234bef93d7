"""What models do through Effects, seen in the trace of a real stream."""

from __future__ import annotations

import pickle

from torchvet.budget import RESOURCE_FLOOR
from torchvet.pickle.machine import Machine
from torchvet.pickle.naming import Naming
from torchvet.pickle.trace import CallEvent, IssueKind
from torchvet.pickle.values import Call, GlobalName


def _machine(data: bytes = b"N.") -> Machine:
    return Machine(data, "", Naming({}, {}))


def _bytearrays(*sizes: int) -> bytes:
    """``[bytearray(n) for n in sizes]``, by hand (protocol 2 with a protocol 3 name)."""
    body = b"".join(b"cbuiltins\nbytearray\nJ" + n.to_bytes(4, "little") + b"\x85R" for n in sizes)
    return b"\x80\x02(" + body + b"l."


def test_allocations_add_up_to_one_resource_issue() -> None:
    half = RESOURCE_FLOOR // 2 + 1
    trace = _machine(_bytearrays(half, half, half)).run()
    resource = [i for i in trace.issues() if i.kind is IssueKind.RESOURCE]
    assert len(resource) == 1  # the second call crosses the bound; the third adds nothing
    assert "with the calls before it" in resource[0].message
    assert pickle.loads(_bytearrays(3, 4)) == [bytearray(3), bytearray(4)]


def test_unverified_names_the_call() -> None:
    m = _machine()
    call = Call(7, "REDUCE", GlobalName(7, "torch", "device", ("torch", "device")), (), None, "x.y")
    m.effects.unverified(call, "why")
    m.effects.record_call(call)
    issue = m.trace.issues()[-1]
    assert (issue.kind, issue.message) == (IssueKind.UNVERIFIED, "x.y called at offset 7: why")
    assert isinstance(m.trace.events[-1], CallEvent)


def test_deferred_checks_reach_the_trace() -> None:
    m = _machine()
    m.effects.defer(3, "nested", "payload")
    assert m.trace.deferred == [(3, "nested", "payload")]
