"""iter_ops walks what pickletools.genops walks; STACK_NEEDS is what CPython pops."""

from __future__ import annotations

import collections
import pickle
import pickletools

import pytest

from torchvet.pickle.genops import STACK_NEEDS, iter_ops
from torchvet.pickle.machine import Machine
from torchvet.pickle.naming import Naming
from torchvet.pickle.opcodes import BY_NAME
from torchvet.pickle.readers import DecodeError
from torchvet.pickle.trace import IssueKind

OBJ = {
    "a": [1, 2.5, -(10**30), None, True],
    "b": (b"xy", "héllo", bytearray(b"z")),
    "c": collections.OrderedDict(k={1, 2}),
    "d": frozenset({3}),
}


@pytest.mark.parametrize("proto", range(6))
def test_walks_what_genops_walks(proto: int) -> None:
    data = pickle.dumps([OBJ, OBJ], protocol=proto) + b"trailing"
    ours = [(op.name, pos) for op, _, pos, _ in iter_ops(data)]
    theirs = [(info.name, pos) for info, _, pos in pickletools.genops(data)]
    assert ours == theirs
    assert ours[-1][0] == "STOP"
    ends = [nxt for _, _, _, nxt in iter_ops(data)]
    assert ends[:-1] == [pos for _, pos in ours[1:]]  # each op ends where the next starts


def test_arguments_are_decoded() -> None:
    data = pickle.dumps((7, 300, "s", b"b"), protocol=4)
    args = [arg for op, arg, _, _ in iter_ops(data) if op.arg is not None]
    assert {7, 300, "s", b"b"} <= set(args)


def test_stops_before_a_byte_that_is_no_opcode_and_at_end() -> None:
    assert [op.name for op, *_ in iter_ops(b"NN\xff.")] == ["NONE", "NONE"]
    assert [op.name for op, *_ in iter_ops(b"NN.N.", end=2)] == ["NONE", "NONE"]
    assert [op.name for op, *_ in iter_ops(b"N.N.", past_stop=True)] == ["NONE", "STOP"] * 2


def test_truncated_argument_raises() -> None:
    with pytest.raises(DecodeError):
        list(iter_ops(b"\x80\x04\x95\x10"))  # FRAME with 8-byte length cut short


def _underflow(data: bytes) -> bool:
    trace = Machine(data, "", Naming({}, {}), persistent_load=lambda pid, pos: pid).run()
    return any(i.kind is IssueKind.DECODE and "underflow" in i.message for i in trace.issues())


@pytest.mark.parametrize("name", [n for n in BY_NAME if STACK_NEEDS[BY_NAME[n].code]])
def test_one_item_short_is_an_underflow_in_cpython_and_the_machine(name: str) -> None:
    op = BY_NAME[name]
    info = pickletools.code2op[op.char]
    assert STACK_NEEDS[op.code] == len(info.stack_before)
    # One item fewer than the opcode takes (ints: valid for every argument slot count).
    data = b"K\x01" * (STACK_NEEDS[op.code] - 1) + op.char.encode("latin-1") + b"."
    with pytest.raises((pickle.UnpicklingError, IndexError)):
        pickle.loads(data)
    assert _underflow(data)
