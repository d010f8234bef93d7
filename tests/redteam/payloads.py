"""Harmless payloads: each creates the marker file ``redteam.marker`` in the loader's
working directory (a fresh folder per load, so the file says which load ran it).

Three kinds, chosen to exercise different parts of a scanner:

* ``system``: ``os.system("touch redteam.marker")``, a denylisted gadget;
* ``exec``: ``builtins.exec("open('redteam.marker', 'w').close()")``, another one;
* ``helper``: ``tests.redteam.markerlib.touch()``, a function no denylist knows.

``body`` emits opcodes that push one value (the payload's result) for splicing into
other pickles; ``pickle_bytes`` is a complete pickle; ``text_pickle`` is the protocol 0
form, printable ASCII plus newlines, for polyglots that need text.
"""

from __future__ import annotations

from tests.corpus.pickle_asm import Asm
from tests.redteam.markerlib import MARKER

PAYLOADS = ("system", "exec", "helper")
SHELL = f"touch {MARKER}"
SOURCE = f"open({MARKER!r}, 'w').close()"
# (module, name, args) of each payload's call
TARGETS = {
    "system": ("os", "system", (SHELL,)),
    "exec": ("builtins", "exec", (SOURCE,)),
    "helper": ("tests.redteam.markerlib", "touch", ()),
}


def body(asm: Asm, payload: str) -> Asm:
    """Append opcodes that call the payload and push its result. At protocol 4 and
    above the name is a STACK_GLOBAL, so no opcode reads a line (zstandard's reader,
    which pandas uses, has no readline)."""
    module, name, args = TARGETS[payload]
    if asm.protocol >= 4:
        asm.sglobal(module, name)
    else:
        asm.global_(module, name)
    return asm.tuple_of(*args).reduce()


def pickle_bytes(payload: str, protocol: int = 2) -> bytes:
    """A complete pickle whose loading runs the payload."""
    return body(Asm(protocol), payload).stop().bytes()


def text_pickle(payload: str) -> bytes:
    """Protocol 0: ``c<module>\\n<name>\\n(<args>tR.``; printable ASCII and newlines only."""
    module, name, args = TARGETS[payload]
    out = f"c{module}\n{name}\n(".encode()
    for arg in args:
        out += b"V" + arg.encode("ascii") + b"\n"
    return out + b"tR."
