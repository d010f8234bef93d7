"""scripts/gen_gadgets.py on small source trees: what counts as reaching a sink."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from gadget_sources import read_module  # noqa: E402
from gen_gadgets import World, derive  # noqa: E402

FAKE_OS = "from posix import *\n"
SOURCES = {
    "os": FAKE_OS,
    "shell": """
import os
from os import system as run_it

def direct(cmd):
    os.system(cmd)

def aliased(cmd):
    run_it(cmd)

def indirect(cmd):
    direct(cmd)

def passed_around():
    return map(exec, ["1"])

def reads(path):
    with open(path) as f:
        return f.read()

def reads_binary(path):
    return open(path, "rb").read()

def writes(path, mode):
    return open(path, mode)

def imports_literal():
    import importlib
    return importlib.import_module("json")

def imports_data(name):
    import importlib
    return importlib.import_module(name)

def templated(names):
    import collections
    return collections.namedtuple("T", names)
""",
    "klass": """
import os

class Quiet:
    def __init__(self, x):
        self.x = x

class Loud:
    def __init__(self, cmd):
        self.run(cmd)

    def run(self, cmd):
        os.system(cmd)

class Child(Loud):
    pass

class Late:
    def __setstate__(self, state):
        self._launch(state)

    def _launch(self, state):
        os.system(state)

class Holder:
    def __init__(self, path):
        self._opener = open
        self.f = self._opener(path, self.mode)

class Method:
    def helper(self):
        return Loud("x").run

instance = Loud.__new__(Loud)
""",
}


@pytest.fixture(scope="module")
def reach() -> dict[str, str]:
    modules = {}
    for name, text in SOURCES.items():
        info = read_module(name, False, text.encode())
        assert info is not None
        modules[name] = info
    table, _sinks = derive(World(modules))
    return table


def _path(reach: dict[str, str], name: str) -> list[str]:
    out = [name]
    while out[-1] in reach:
        out.append(reach[out[-1]])
    return out


@pytest.mark.parametrize(
    ("name", "sink"),
    [
        ("shell.direct", "posix.system"),
        ("shell.aliased", "posix.system"),
        ("shell.indirect", "posix.system"),
        ("shell.passed_around", "builtins.exec"),  # a sink passed as a value counts
        ("shell.writes", "builtins.open"),  # a mode computed at run time may write
        ("shell.imports_data", "importlib.import_module"),
        ("klass.Loud", "posix.system"),  # REDUCE runs __init__
        ("klass.Child", "posix.system"),  # inherited __init__, self resolved in Child
        ("klass.Late", "posix.system"),  # BUILD runs __setstate__
        ("klass.Holder", "builtins.open"),  # an instance attribute bound to open
        ("klass.Loud.run", "posix.system"),  # a dotted global reaches methods
    ],
)
def test_reaches(reach: dict[str, str], name: str, sink: str) -> None:
    assert name in reach
    assert _path(reach, name)[-1] == sink


@pytest.mark.parametrize(
    "name",
    [
        "shell.reads",  # open() reads by default
        "shell.reads_binary",  # a literal read mode
        "shell.imports_literal",  # a module named in the code, not by data
        "shell.templated",  # namedtuple execs its own template (a barrier)
        "klass.Quiet",
    ],
)
def test_does_not_reach(reach: dict[str, str], name: str) -> None:
    assert name not in reach, _path(reach, name)
