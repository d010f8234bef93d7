"""The per-torch-version table: its unpickler facts are torch's, and every one of them
reaches the machine and the judge (another table, another prediction)."""

from __future__ import annotations

import dataclasses
import json
import pickle
import pickletools
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.corpus import Asm
from tests.support.markers import needs_torch
from tests.support.worktree import REPO as ROOT
from torchvet.containers.base import ScanContext
from torchvet.pickle.machine import run_stream
from torchvet.pickle.torchfacts import (
    TorchFacts,
    installed_torch_version,
    load_facts,
    pick_version,
)
from torchvet.pickle.trace import TypeUse
from torchvet.policy.judge import Policy, judge, unsupported_global_message

FACTS = load_facts("2.13.0")

# Pickles torch's weights-only unpickler refuses, each with the message key and fields
# the table must rebuild torch's message from (types as torch prints them).
REFUSED = {
    "setitem on a list": (
        Asm().empty_list().none().none().setitem().stop(),
        ("SETITEM", {"opcode": "SETITEM", "type": str(list)}),
    ),
    "setitems on a set": (
        Asm().empty_set().mark().none().none().setitems().stop(),
        ("SETITEM", {"opcode": "SETITEMS", "type": str(set)}),
    ),
    "append to a dict": (
        Asm().empty_dict().none().append().stop(),
        ("APPEND", {"type": str(dict)}),
    ),
    "extend a tuple": (
        Asm().empty_tuple().mark().none().appends().stop(),
        ("APPENDS", {"type": str(tuple)}),
    ),
    "build a list": (
        Asm().empty_list().empty_dict().build().stop(),
        ("BUILD", {"type": str(list)}),
    ),
    "newobj of a list": (
        Asm().empty_list().empty_tuple().newobj().stop(),
        ("NEWOBJ", {"value": str([])}),
    ),
    "reduce a list": (
        Asm().empty_list().empty_tuple().reduce().stop(),
        ("REDUCE", {"value": str([])}),
    ),
    "reduce an int": (
        Asm().int_(7).empty_tuple().reduce().stop(),
        ("REDUCE", {"value": str(7)}),
    ),
    "newobj of a dict": (
        Asm().empty_dict().empty_tuple().newobj().stop(),
        ("NEWOBJ", {"value": str({})}),
    ),
    "blocked module": (
        Asm().global_("os", "system").stop(),
        ("blocked_module", {"name": "os.system", "module": "os"}),
    ),
    "persistent id": (Asm().int_(0).binpersid().stop(), ("persistent_load", {})),
    "frame": (Asm(4).frame(1).none().stop(), ("unsupported_operand", {"code": 0x95})),
}

_ORACLE = """
import io, json, sys, warnings
import torch._weights_only_unpickler as wo
warnings.simplefilter("ignore")
out = {}
for key, data in json.loads(sys.stdin.read()).items():
    try:
        wo.Unpickler(io.BytesIO(bytes.fromhex(data)), encoding="utf-8").load()
        out[key] = None
    except Exception as exc:
        out[key] = str(exc)
print(json.dumps(out))
"""


def torch_messages(cases: dict[str, bytes]) -> dict[str, str | None]:
    """torch's own weights-only unpickler on each pickle, in a fresh process (other tests
    import torch modules that add to its allowlist)."""
    pytest.importorskip("torch")
    proc = subprocess.run(
        [sys.executable, "-c", _ORACLE],
        input=json.dumps({k: v.hex() for k, v in cases.items()}),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def installed() -> TorchFacts:
    version = installed_torch_version()
    if version is None:
        pytest.skip("torch is not installed")
    return load_facts(version)


def test_opcode_subset_and_operand_message_are_torchs(installed: TorchFacts) -> None:
    # Each opcode byte, then zeros: an opcode torch lacks fails at once with its message.
    cases = {op.name: op.code.encode("latin-1") + bytes(16) for op in pickletools.opcodes}
    said = torch_messages(cases)
    refused = {
        op.name
        for op in pickletools.opcodes
        if said[op.name] == installed.message("unsupported_operand", code=ord(op.code))
    }
    assert refused == {op.name for op in pickletools.opcodes} - installed.weights_only_opcodes
    assert len(installed.weights_only_opcodes) == 34


def test_message_templates_rebuild_torchs_messages(installed: TorchFacts) -> None:
    cases = {name: asm.bytes() for name, (asm, _) in REFUSED.items()}
    cases["unsupported global"] = Asm().global_("argparse", "Namespace").stop().bytes()
    cases["builtins global"] = Asm().global_("builtins", "print").stop().bytes()
    # `import torch` itself allowlists some of them (the NJT classes, in 2.13).
    must_import = {
        name: message
        for name, message in installed.must_import.items()
        if name not in installed.user_allowed_after_import
    }
    assert must_import
    for name in must_import:
        cases[name] = Asm().global_(*name.rsplit(".", 1)).stop().bytes()
    said = torch_messages(cases)
    for name, (asm, (key, fields)) in REFUSED.items():
        assert said[name] == installed.message(key, **fields), name
        assert _error(asm.bytes(), installed) == said[name], name  # what the scan predicts
    assert said["unsupported global"] == unsupported_global_message("argparse.Namespace")
    assert said["builtins global"] == unsupported_global_message("builtins.print")
    for name, message in must_import.items():
        assert said[name] == message, name


def test_exact_target_types_are_torchs(installed: TorchFacts) -> None:
    targets: dict[str, Callable[[Asm], Asm]] = {
        "builtins.dict": Asm.empty_dict,
        "collections.OrderedDict": lambda a: a.call("collections", "OrderedDict"),
        "collections.Counter": lambda a: a.call("collections", "Counter"),
        "builtins.list": Asm.empty_list,
        "builtins.set": Asm.empty_set,
        "builtins.tuple": Asm.empty_tuple,
    }
    cases = {}
    for name, target in targets.items():
        cases[f"setitem {name}"] = target(Asm()).int_(1).none().setitem().stop().bytes()
        cases[f"append {name}"] = target(Asm()).none().append().stop().bytes()
    said = torch_messages(cases)
    assert {n for n in targets if said[f"setitem {n}"] is None} == installed.setitem_types
    assert {n for n in targets if said[f"append {n}"] is None} == installed.append_types
    assert installed.build_types == {
        "torch.Tensor",
        "torch.nn.parameter.Parameter",
        "collections.OrderedDict",
    }


# ---------------------------------------------------------------- another torch release
OTHER_MESSAGES = {key: f"[other] {text}" for key, text in FACTS.messages.items()}


def _error(data: bytes, facts: TorchFacts) -> str | None:
    """torch's first error for a pickle, as the machine and judge predict it."""
    ctx = ScanContext(Policy(facts))
    trace = run_stream(data, "", ctx.naming, knowledge=ctx.knowledge)
    return judge(trace, ctx.policy).torch_error


def test_another_table_changes_the_opcode_subset() -> None:
    data = pickle.dumps({"a": 1}, protocol=4)  # FRAME, MEMOIZE, SHORT_BINUNICODE
    every = frozenset(op.name for op in pickletools.opcodes)
    assert _error(data, FACTS) == "Unsupported operand 149"
    assert _error(data, dataclasses.replace(FACTS, weights_only_opcodes=every)) is None


def test_another_table_changes_target_types() -> None:
    dict_ = Asm().empty_dict().int_(1).none().setitem().stop().bytes()
    list_ = Asm().empty_list().none().append().stop().bytes()
    assert _error(dict_, FACTS) is None and _error(list_, FACTS) is None
    other = dataclasses.replace(
        FACTS, setitem_types=frozenset({"collections.Counter"}), append_types=frozenset()
    )
    assert _error(dict_, other) == (
        "Can only SETITEM for dict, collections.OrderedDict, collections.Counter, "
        "but got <class 'dict'>"
    )
    assert _error(list_, other) == "Can only append to lists, but got <class 'list'>"


def test_another_table_changes_every_message() -> None:
    other = dataclasses.replace(FACTS, messages=OTHER_MESSAGES)
    cases = {name: asm.bytes() for name, (asm, _) in REFUSED.items()}
    cases["unsupported global"] = Asm().global_("argparse", "Namespace").stop().bytes()
    for name, data in cases.items():
        message = _error(data, other)
        assert message is not None and message.startswith("[other] "), (name, message)
        assert _error(data, FACTS) == message.removeprefix("[other] "), name


def test_another_table_changes_globals_and_build() -> None:
    namespace = Asm().call("argparse", "Namespace").empty_dict().build().stop().bytes()
    other = dataclasses.replace(
        FACTS,
        build_types=FACTS.build_types | {"argparse.Namespace"},
        must_import={"argparse.Namespace": "import argparse to load namespaces"},
    )
    assert _error(namespace, FACTS) == unsupported_global_message("argparse.Namespace", FACTS)
    assert _error(namespace, other) == "import argparse to load namespaces"

    def build_types(facts: TorchFacts) -> list[str]:
        ctx = ScanContext(Policy(facts))
        trace = run_stream(namespace, "", ctx.naming, knowledge=ctx.knowledge)
        return [e.type_name for e in trace.events if isinstance(e, TypeUse)]

    assert build_types(FACTS) == ["argparse.Namespace"]
    assert build_types(other) == []  # BUILD handles it itself in that release


@needs_torch
def test_allowlist_is_torchs_plus_import_time_additions() -> None:
    # A fresh process: other tests import torch submodules that add more user globals.
    code = (
        "import json, torch\n"
        "from torch._weights_only_unpickler import _get_allowed_globals as a, "
        "_get_user_allowed_globals as u\n"
        "print(json.dumps([sorted(a()), sorted(u())]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    allowed, user = json.loads(out.stdout)
    facts = load_facts(installed_torch_version())
    assert set(facts.allowed) == set(allowed)
    assert facts.user_allowed_after_import == frozenset(user)
    reference = ROOT.parent / "shared" / "reference" / "torch-2.13-allowed-globals.txt"
    if reference.exists():
        assert set(reference.read_text().split()[1:]) == set(facts.allowed)


def test_version_selection() -> None:
    assert pick_version("2.13.0") == "2.13.0"
    assert pick_version("2.99.1") == "2.13.0"  # newest table not newer than the request
    with pytest.raises(ValueError):
        pick_version("latest")
