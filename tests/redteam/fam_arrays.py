"""Arrays that carry pickles: joblib's inline array data and numpy's object arrays.

* ``joblib-inline`` (class 3): after BUILD of a ``NumpyArrayWrapper`` joblib reads the
  array from the file itself: for an object dtype that is a whole nested pickle; for
  other dtypes an alignment padding (a length byte, then that many bytes, when the
  wrapper's state has ``numpy_array_alignment_bytes``) and then the raw elements. A
  reader that skips the wrong number of bytes sees other opcodes than joblib does.
* ``npy-object`` (class 3): ``.npy`` headers whose dtype holds objects, however spelt
  (``'|O'``, ``'O8'``, ``'object'``, a structured or sub-array dtype with an object
  field), in every header version, and beyond numpy's 10000-byte header bound (which
  ``allow_pickle=True`` lifts).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import zlib
from collections.abc import Callable, Iterable

from tests.corpus.pickle_asm import Asm
from tests.redteam import builders as B
from tests.redteam.cases import family, rotate
from tests.redteam.payloads import body, pickle_bytes

_FLOAT_STATE = (3, "<", None, None, None, -1, -1, 0)
_OBJECT_STATE = (3, "|", None, None, None, -1, -1, 63)


def _wrapper(a: Asm, dtype: str, count: int, align: int | None) -> Asm:
    """Push a NumpyArrayWrapper as joblib writes it (NEWOBJ, then BUILD of its dict)."""
    a.global_("joblib.numpy_pickle", "NumpyArrayWrapper").empty_tuple().newobj()
    a.empty_dict().mark()
    a.string("subclass").global_("numpy", "ndarray")
    a.string("shape").value((count,))
    a.string("order").string("C")
    a.string("dtype").global_("numpy", "dtype").value((dtype, False, True)).reduce()
    a.value(_OBJECT_STATE if dtype == "O8" else _FLOAT_STATE).build()
    a.string("allow_mmap").bool_(False)
    if align is not None:
        a.string("numpy_array_alignment_bytes").int_(align)
    return a.setitems().build()


def _joblib(entries: list[Callable[[Asm], None]]) -> bytes:
    """``{"a0": ..., "a1": ...}``; each entry pushes one value (and its inline data)."""
    a = Asm(2).empty_dict()
    for i, push in enumerate(entries):
        a.string(f"a{i}")
        push(a)
        a.setitem()
    return a.stop().bytes()


def _object_array(payload: str) -> bytes:
    return _joblib([lambda a: _wrapper(a, "O8", 1, None).raw(pickle_bytes(payload))])


def _floats_then_payload(payload: str) -> bytes:
    def floats(a: Asm) -> None:
        _wrapper(a, "f8", 2, 16).raw(b"\x07" + b"\xff" * 7 + struct.pack("<2d", 1.0, 2.0))

    return _joblib([floats, lambda a: body(a, payload)])


def _padding_decoy(payload: str) -> bytes:
    """Padding of 15 bytes before 16 bytes of data that start "N.": a reader that
    ignores the padding lands on them and reads the pickle None, then STOP."""

    def floats(a: Asm) -> None:
        data = b"N." + b"\x00" * 14
        _wrapper(a, "f8", 2, 16).raw(b"\x0f" + b"\x00" * 15 + data)

    return _joblib([floats, lambda a: body(a, payload)])


def _no_alignment_decoy(payload: str) -> bytes:
    """No alignment in the state, so no padding: a reader that always expects a padding
    byte takes the first data byte (2) as its length."""

    def floats(a: Asm) -> None:
        _wrapper(a, "f8", 2, None).raw(b"\x02N." + b"\x00" * 13)

    return _joblib([floats, lambda a: body(a, payload)])


def _compressed(codec: Callable[[bytes], bytes]) -> Callable[[str], bytes]:
    return lambda p: codec(_object_array(p))


JOBLIB: dict[str, tuple[Callable[[str], bytes], str]] = {
    "object-array-inline-pickle": (_object_array, "model.joblib"),
    "float-array-then-payload": (_floats_then_payload, "model.joblib"),
    "padding-decoy": (_padding_decoy, "model.joblib"),
    "no-alignment-decoy": (_no_alignment_decoy, "model.joblib"),
    "object-array-zlib": (_compressed(lambda d: zlib.compress(d, 3)), "model.joblib"),
    "object-array-gzip": (_compressed(lambda d: gzip.compress(d, mtime=0)), "model.joblib"),
    "object-array-bz2": (_compressed(bz2.compress), "model.joblib"),
    "object-array-xz": (_compressed(lzma.compress), "model.joblib"),
    "object-array-lzma": (
        _compressed(lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)),
        "model.joblib",
    ),
}


@family("joblib-inline", 3, "joblib array data that hides or shifts pickles")
def joblib_inline(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(JOBLIB), full):
        build, fname = JOBLIB[variant]
        yield variant, payload, fname, (lambda b=build, p=payload: b(p))


# -- .npy object arrays --------------------------------------------------------------------
NPY_HEADERS: dict[str, dict] = {
    "descr-pipe-O": {},
    "descr-O": {"descr": "'O'"},
    "descr-O8": {"descr": "'|O8'"},
    "descr-object": {"descr": "'object'"},
    "structured-object-field": {"descr": "[('a', '<f8'), ('b', '|O')]"},
    "subarray-of-objects": {"descr": "('|O', (2,))"},
    "version-2": {"version": (2, 0)},
    "version-3": {"version": (3, 0)},
    "shape-scalar": {"shape": "()"},
    # literal_eval keeps the last of two equal keys: numpy sees '|O'
    "duplicate-descr-key": {
        "text": "{'descr': '<f8', 'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    },
    "descr-escaped": {"text": "{'descr': '\\x7cO', 'fortran_order': False, 'shape': (1,), }"},
    "descr-implicit-concatenation": {
        "text": "{'descr': '|' 'O', 'fortran_order': False, 'shape': (1,), }"
    },
}


def _huge_header(payload: str) -> bytes:
    """A header over 10000 bytes: numpy refuses it unless allow_pickle=True."""
    shape = "(" + "1, " * 4000 + ")"
    return B.npy_object(pickle_bytes(payload), shape=shape, version=(2, 0))


@family("npy-object", 3, "object arrays in .npy, whatever the header spelling")
def npy_object(full: bool) -> Iterable[tuple]:
    variants = [*NPY_HEADERS, "header-over-10000-bytes"]
    for variant, payload in rotate(variants, full):
        if variant == "header-over-10000-bytes":
            make = lambda p=payload: _huge_header(p)  # noqa: E731
        else:
            make = lambda v=variant, p=payload: B.npy_object(pickle_bytes(p), **NPY_HEADERS[v])  # noqa: E731
        yield variant, payload, "array.npy", make
