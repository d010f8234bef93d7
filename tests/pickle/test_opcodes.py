"""The opcode table: CPython's pickletools table, torch's subset, one machine effect each."""

from __future__ import annotations

import pickletools

from torchvet.pickle.machine import Machine
from torchvet.pickle.opcodes import OPCODES
from torchvet.pickle.torchfacts import load_facts


def test_table_is_pickletools() -> None:
    assert len(OPCODES) == len(pickletools.opcodes) == 68
    assert len(load_facts("2.13.0").weights_only_opcodes) == 34
    # one effect method per opcode name
    for op in OPCODES:
        assert callable(getattr(Machine, "op_" + op.name, None)), op.name
