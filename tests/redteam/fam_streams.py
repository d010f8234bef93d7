"""Pickle streams: what comes after a STOP, how arguments are spelled, how names resolve.

* ``concat-pickles`` (class 3): benign pickles, then one carrying the payload;
  ``pickle.load`` until EOF runs it.
* ``legacy-slots`` (class 3): a legacy torch file whose 1st, 2nd, 3rd, 4th or 5th
  pickle carries the payload (torch unpickles each before checking anything).
* ``decode-spellings`` (class 2): argument spellings CPython's unpicklers accept
  (``I07``, ``I0x10``, ``I1_0``, ``p010``/``g010``, escaped names, frames longer than
  the file) in front of or inside the payload.
* ``dotted-names`` (class 1): STACK_GLOBAL/GLOBAL names with dots, which CPython
  resolves attribute by attribute from the module (protocol >= 4).
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Callable, Iterable

from tests.corpus.pickle_asm import Asm
from tests.redteam import builders as B
from tests.redteam.cases import family, rotate
from tests.redteam.markerlib import MARKER
from tests.redteam.payloads import SHELL, SOURCE, TARGETS, body, pickle_bytes, text_pickle


# -- concatenated pickles -------------------------------------------------------------------
def _benign(i: int) -> bytes:
    protocols = (2, 0, 4, 1, 5, 3)
    return pickle.dumps({"step": i, "loss": [0.5, 0.25]}, protocol=protocols[i % len(protocols)])


CONCAT: dict[str, Callable[[str], bytes]] = {
    "second-of-two": lambda p: _benign(0) + pickle_bytes(p),
    "third-after-protocol-0": lambda p: _benign(0) + _benign(1) + text_pickle(p),
    "second-after-framed-protocol-4": lambda p: _benign(2) + pickle_bytes(p, protocol=4),
    "tenth": lambda p: b"".join(_benign(i) for i in range(9)) + pickle_bytes(p),
    "after-stop-inside-bytes": lambda p: pickle.dumps(b"..\x80.", protocol=3) + pickle_bytes(p),
}


@family("concat-pickles", 3, "the payload in a pickle after a valid pickle")
def concat_pickles(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(CONCAT), full):
        yield variant, payload, "history.pkl", (lambda v=variant, p=payload: CONCAT[v](p))


# -- legacy torch files ---------------------------------------------------------------------
SLOTS = {"magic": 0, "protocol-version": 1, "sys-info": 2, "main": 3, "storage-keys": 4}


def _legacy(slot: int, payload: str) -> bytes:
    slots = B.legacy_slots()
    if slot == 3:  # the main pickle: the payload is the value of a second key
        main = B.legacy_main(2)[:-2]  # drop SETITEM and STOP
        slots[3] = (
            main
            + Asm(2, header=False).raw(b"s").string("hook").raw(_splice(payload)).raw(b"s.").bytes()
        )
    else:
        slots[slot] = pickle_bytes(payload)
    return B.legacy_file(slots)


def _splice(payload: str) -> bytes:
    return body(Asm(2, header=False), payload).bytes()


@family("legacy-slots", 3, "a legacy torch file whose Nth pickle carries the payload")
def legacy_slots(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(SLOTS), full):
        yield variant, payload, "legacy.pt", (lambda s=SLOTS[variant], p=payload: _legacy(s, p))


# -- decode spellings ----------------------------------------------------------------------
def _after(prefix: bytes) -> Callable[[str], bytes]:
    """``prefix`` pushes one value; POP it, then the payload pickle (its own PROTO)."""
    return lambda p: prefix + b"0" + pickle_bytes(p)


def _memo_leading_zeros(payload: str) -> bytes:
    module, name, args = TARGETS[payload]
    a = Asm(0).global_(module, name).raw(b"p010\n0g010\n").mark()
    for arg in args:
        a.unicode(arg)
    return a.tuple().reduce().stop().bytes()


def _escaped_names(payload: str) -> bytes:
    """STACK_GLOBAL whose module and name are protocol 0 strings with escapes."""
    module, name, args = TARGETS[payload]
    esc = "".join(f"\\x{ord(c):02x}" for c in module)
    a = Asm(4).raw(f"S'{esc}'\n".encode()).raw(b"V" + name.replace("s", "\\u0073").encode() + b"\n")
    return a.stack_global().tuple_of(*args).reduce().stop().bytes()


def _frame_past_end(payload: str) -> bytes:
    """A FRAME longer than the rest of the file: the pure-Python unpickler reads what
    is there (joblib uses it), the C one refuses."""
    inner = body(Asm(4, header=False), payload).stop().bytes()
    return b"\x80\x04\x95" + struct.pack("<Q", len(inner) + 4096) + inner


def _frame_then_unframed(payload: str) -> bytes:
    """A short FRAME holding one opcode; the rest of the stream follows outside it."""
    inner = body(Asm(4, header=False), payload).stop().bytes()
    return b"\x80\x04\x95" + struct.pack("<Q", 1) + b"N" + b"0" + inner


def _binstring_names(payload: str) -> bytes:
    """STACK_GLOBAL whose names are SHORT_BINSTRINGs (bytes decoded to str on load)."""
    module, name, args = TARGETS[payload]
    a = Asm(4).short_binstring(module.encode()).short_binstring(name.encode()).stack_global()
    return a.tuple_of(*args).reduce().stop().bytes()


def _memoize_in_text(payload: str) -> bytes:
    """A protocol 0 stream that stores the callable with MEMOIZE (protocol 4) and
    fetches it with a text GET."""
    module, name, args = TARGETS[payload]
    a = Asm(0).global_(module, name).memoize().pop().raw(b"g0\n").mark()
    for arg in args:
        a.unicode(arg)
    return a.tuple().reduce().stop().bytes()


def _inst(payload: str) -> bytes:
    """INST: ``MARK args INST module name`` calls the callable with the args."""
    module, name, args = TARGETS[payload]
    a = Asm(0).mark()
    for arg in args:
        a.unicode(arg)
    return a.inst(module, name).stop().bytes()


def _obj(payload: str) -> bytes:
    """OBJ: ``MARK callable args OBJ`` calls the callable with the args."""
    module, name, args = TARGETS[payload]
    a = Asm(1).mark().global_(module, name)
    for arg in args:
        a.unicode(arg)
    return a.obj().stop().bytes()


SPELLINGS: dict[str, Callable[[str], bytes]] = {
    "int-leading-zero": _after(b"I07\n"),
    "int-octal-like": _after(b"I010\n"),
    "int-hex": _after(b"I0x10\n"),
    "int-underscore": _after(b"I1_0\n"),
    "int-spaces": _after(b"I 7 \n"),
    "long-without-suffix": _after(b"L10\n"),
    "float-underscore": _after(b"F1_0.5\n"),
    "float-spaces": _after(b"F 1.5\n"),
    "put-get-leading-zeros": _memo_leading_zeros,
    "stack-global-escaped-names": _escaped_names,
    "frame-past-end": _frame_past_end,
    "frame-then-unframed": _frame_then_unframed,
    "stack-global-binstring-names": _binstring_names,
    "memoize-in-protocol-0": _memoize_in_text,
    "inst-opcode": _inst,
    "obj-opcode": _obj,
}


@family("decode-spellings", 2, "argument spellings CPython's unpicklers accept")
def decode_spellings(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(SPELLINGS), full):
        yield variant, payload, "spelled.pkl", (lambda v=variant, p=payload: SPELLINGS[v](p))


# -- dotted names -------------------------------------------------------------------------
def _get_exec(module: str, getter: str, opcode: str = "stack") -> bytes:
    """``<module>.<getter>("exec")(SOURCE)``: a dict's ``get`` that reaches builtins."""
    a = Asm(4)
    a.global_(module, getter) if opcode == "global" else a.sglobal(module, getter)
    a.string("exec").tuple1().reduce()
    return a.string(SOURCE).tuple1().reduce().stop().bytes()


def _set_data(module: str, chain: str) -> bytes:
    """``<module>.<chain>(MARKER, b"")``: a module loader's ``set_data`` writes a file."""
    a = Asm(4).sglobal(module, chain)
    return a.string(MARKER).op("SHORT_BINBYTES", b"\x00").tuple2().reduce().stop().bytes()


def _set_data_protocol_2_opcodes(module: str, chain: str) -> bytes:
    """As ``_set_data``, with opcodes torch's weights-only unpickler accepts (a GLOBAL,
    bytes through ``_codecs.encode``) after the PROTO 4 that enables dotted names."""
    a = Asm(4)
    a.protocol = 2  # protocol 2 encodings from here on
    a.global_(module, chain).string(MARKER).bytes_(b"").tuple2().reduce()
    return a.stop().bytes()


def _call(module: str, chain: str, *args: str) -> bytes:
    return Asm(4).sglobal(module, chain).tuple_of(*args).reduce().stop().bytes()


DOTTED: dict[str, Callable[[], bytes]] = {
    "numpy-dtypes-loader-set-data": lambda: _set_data("numpy.dtypes", "__loader__.set_data"),
    "numpy-dtypes-spec-loader-set-data": lambda: _set_data(
        "numpy.dtypes", "__spec__.loader.set_data"
    ),
    "numpy-dtypes-builtins-get": lambda: _get_exec("numpy.dtypes", "__builtins__.get"),
    "numpy-dtypes-builtins-get-global-opcode": lambda: _get_exec(
        "numpy.dtypes", "__builtins__.get", "global"
    ),
    "namespace-init-builtins-get": lambda: _get_exec(
        "argparse", "Namespace.__init__.__builtins__.get"
    ),
    "rebuild-tensor-builtins-get": lambda: _get_exec(
        "torch._utils", "_rebuild_tensor_v2.__builtins__.get"
    ),
    "torch-serialization-os-system": lambda: _call("torch.serialization", "os.system", SHELL),
    "numpy-split-differently": lambda: _get_exec("numpy", "dtypes.__builtins__.get"),
    "namedtuple-builtins-get": lambda: _get_exec("collections", "namedtuple.__builtins__.get"),
}


def _in_torch_zip(make: Callable[[], bytes]) -> Callable[[], bytes]:
    """The chain as a torch checkpoint's data.pkl: torchvet may call it needs-allowlist
    and print an allowlist, which torchvet.load(allow=...) then follows."""
    return lambda: B.build_zip(B.torch_zip_members(make()))


DOTTED["numpy-dtypes-loader-set-data-protocol-2-opcodes"] = lambda: _set_data_protocol_2_opcodes(
    "numpy.dtypes", "__loader__.set_data"
)
for _name in (
    "numpy-dtypes-loader-set-data",
    "numpy-dtypes-builtins-get",
    "numpy-dtypes-loader-set-data-protocol-2-opcodes",
):
    DOTTED[f"{_name}-torch-zip"] = _in_torch_zip(DOTTED[_name])


@family("dotted-names", 1, "dotted and dunder names resolved attribute by attribute")
def dotted_names(full: bool) -> Iterable[tuple]:
    for variant, make in DOTTED.items():
        fname = "model.pt" if variant.endswith("torch-zip") else "state.pkl"
        yield variant, "chain", fname, make


# -- errors and limits after (or before) the payload -------------------------------------------
def _nested_lists(depth: int, payload: str) -> bytes:
    a = Asm(2)
    a.raw(b"]" * depth)
    body(a, payload)
    return a.raw(b"a" * depth).stop().bytes()


LIMITS: dict[str, Callable[[str], bytes]] = {
    "payload-then-bad-opcode": lambda p: pickle_bytes(p)[:-1] + b"\xff",
    "payload-then-truncated": lambda p: pickle_bytes(p)[:-1] + b"X\xff\xff\x00\x00ab",
    "payload-then-stack-underflow": lambda p: pickle_bytes(p)[:-1] + b"000.",
    # after the payload, constructs that make CPython's unpickler raise: a reader that
    # trips over them must keep what it found before
    "payload-then-stack-global-of-ints": lambda p: pickle_bytes(p)[:-1] + b"K\x01K\x02\x93.",
    "payload-then-non-ascii-global": lambda p: pickle_bytes(p)[:-1] + b"c\xff\xfe\nx\n.",
    "payload-then-persistent-id": lambda p: pickle_bytes(p)[:-1] + b"Pstorage\n.",
    "payload-then-extension-code": lambda p: pickle_bytes(p)[:-1] + b"\x82\xfe.",
    "payload-then-huge-long": lambda p: (
        pickle_bytes(p)[:-1] + b"\x8b" + struct.pack("<i", 1 << 17) + b"\x01" * (1 << 17) + b"."
    ),
    "marks-before-payload": lambda p: b"\x80\x02" + b"(" * 100_001 + pickle_bytes(p)[2:],
    "marks-after-payload": lambda p: pickle_bytes(p)[:-1] + b"(" * 100_001 + b".",
    "stack-before-payload": lambda p: b"\x80\x02" + b"N" * 1_000_001 + pickle_bytes(p)[2:],
    "memo-index-high": lambda p: (
        b"\x80\x02Nr" + struct.pack("<I", 2_000_001) + b"0" + pickle_bytes(p)[2:]
    ),
    "nesting-deep": lambda p: _nested_lists(50_000, p),
    "many-pickles-before": lambda p: _benign(0) * 70 + pickle_bytes(p),
}


# A megabyte of opcodes takes torchvet seconds: benchmarks/redteam.py only.
FULL_ONLY = ("stack-before-payload",)


@family("limits", 4, "a bound or an error before or after the payload")
def limits(full: bool) -> Iterable[tuple]:
    variants = [v for v in LIMITS if full or v not in FULL_ONLY]
    for variant, payload in rotate(variants, full):
        yield variant, payload, "big.pkl", (lambda v=variant, p=payload: LIMITS[v](p))
