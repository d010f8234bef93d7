"""Zips read differently by torch (miniz) and by Python's zipfile (numpy, pandas).

Facts these files rely on (torch 2.13, CPython 3.11; the harness re-checks them on
every run, since a case no loader fires fails the sanity test):

* torch takes the *first* central-directory record of a name, compared without case;
  zipfile's ``open(name)`` takes the *last* record with exactly that name.
* Both take sizes and method from the central directory and the data offset from
  the local header's name and extra lengths; neither checks the local name.
* numpy's ``NpzFile`` unpickles any member whose bytes start with the npy magic,
  whatever its name; ``pandas.read_pickle('x.zip')`` unpickles a zip's only member.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from tests.redteam import builders as B
from tests.redteam.builders import BZIP2, DEFLATED, LZMA, Member
from tests.redteam.cases import family, rotate
from tests.redteam.payloads import pickle_bytes

_TORCH_REST = [Member("archive/byteorder", b"little"), Member("archive/version", b"3\n")]


def _torch(members: list[Member], **kw: object) -> bytes:
    return B.build_zip(members + _TORCH_REST, **kw)  # type: ignore[arg-type]


def _npz(meta_name: str, payload: str, **member: object) -> bytes:
    members = [
        Member("weights.npy", B.npy_floats()),
        Member(meta_name, B.npy_object(pickle_bytes(payload)), **member),  # type: ignore[arg-type]
    ]
    return B.build_zip(members)


def _single(payload: str, **member: object) -> bytes:
    """A one-member zip: pandas.read_pickle("x.zip") unpickles the member."""
    return B.build_zip([Member("data.pkl", pickle_bytes(payload), **member)])  # type: ignore[arg-type]


def _count_short(payload: str) -> bytes:
    """The end record counts one entry less than the directory holds: zipfile reads
    entries for the directory's byte size, miniz for the count."""
    data = bytearray(_npz("meta.npy", payload))
    eocd = data.rindex(b"PK\x05\x06")
    for field in (8, 10):
        (count,) = struct.unpack_from("<H", data, eocd + field)
        struct.pack_into("<H", data, eocd + field, count - 1)
    return bytes(data)


def _decoy_extra(size: int = 16) -> bytes:
    """A local extra field whose first bytes read as the pickle ``None`` ("N." ...):
    a reader that takes the data offset from the central directory starts here."""
    return b"N." + struct.pack("<H", size - 4) + b"\x00" * (size - 4)


# -- the same bytes, read two ways ---------------------------------------------------------
VIEWS: dict[str, tuple[Callable[[str], bytes], str]] = {
    # npz members that numpy unpickles although their names do not end in ".npy"
    "npz-member-without-suffix": (lambda p: _npz("meta", p), "arrays.npz"),
    "npz-member-uppercase-suffix": (lambda p: _npz("meta.NPY", p), "arrays.npz"),
    "npz-member-other-suffix": (lambda p: _npz("meta.bin", p), "arrays.npz"),
    "npz-member-in-folder": (lambda p: _npz("extra/meta", p), "arrays.npz"),
    # compression methods torch does not read and zipfile does
    "npz-lzma-member": (lambda p: _npz("meta.npy", p, method=LZMA), "arrays.npz"),
    "npz-bzip2-member": (lambda p: _npz("meta.npy", p, method=BZIP2), "arrays.npz"),
    "npz-deflate-member": (lambda p: _npz("meta.npy", p, method=DEFLATED), "arrays.npz"),
    "pandas-zip-stored": (lambda p: _single(p), "frame.zip"),
    "pandas-zip-lzma": (lambda p: _single(p, method=LZMA), "frame.zip"),
    "pandas-zip-bzip2": (lambda p: _single(p, method=BZIP2), "frame.zip"),
    "pandas-zip-member-named-csv": (
        lambda p: B.build_zip([Member("table.csv", pickle_bytes(p))]),
        "frame.zip",
    ),
    "npz-end-record-count-short": (_count_short, "arrays.npz"),
    # local headers that disagree with the central directory
    "local-sizes-short": (
        lambda p: _torch([Member("archive/data.pkl", pickle_bytes(p), local_sizes=(2, 2))]),
        "model.pt",
    ),
    "local-extra-decoy-torch": (
        lambda p: _torch([Member("archive/data.pkl", pickle_bytes(p), local_extra=_decoy_extra())]),
        "model.pt",
    ),
    "local-extra-decoy-npz": (
        lambda p: _npz("meta.npy", p, local_extra=_decoy_extra()),
        "arrays.npz",
    ),
    "local-extra-decoy-pandas": (lambda p: _single(p, local_extra=_decoy_extra()), "frame.zip"),
    "central-extra-longer": (
        lambda p: _torch(
            [Member("archive/data.pkl", pickle_bytes(p), central_extra=B.extra_field(24))]
        ),
        "model.pt",
    ),
    "local-method-says-stored": (
        lambda p: _torch(
            [Member("archive/data.pkl", pickle_bytes(p), method=DEFLATED, local_method=0)]
        ),
        "model.pt",
    ),
    "local-name-differs": (
        lambda p: _torch(
            [Member("archive/data.pkl", pickle_bytes(p), local_name="archive/notes.txt")]
        ),
        "model.pt",
    ),
}


@family("zip-views", 3, "a zip that torch and zipfile read differently")
def zip_views(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(VIEWS), full):
        build, fname = VIEWS[variant]
        yield variant, payload, fname, (lambda b=build, p=payload: b(p))


# -- duplicate names, case collisions, decoy records --------------------------------------------
def _dup_torch(
    evil_name: str, evil_first: bool, payload: str, central_order: list[int] | None = None
) -> bytes:
    evil = Member(evil_name, pickle_bytes(payload))
    good = Member("archive/data.pkl", B.benign_pickle())
    members = [evil, good] if evil_first else [good, evil]
    return _torch(members, central_order=central_order)


def _decoy_local_record(payload: str) -> bytes:
    """A complete local record of a benign data.pkl that no central entry points to,
    then the real archive: a reader walking local headers meets the decoy first."""
    decoy = B.build_zip([Member("archive/data.pkl", B.benign_pickle())])
    decoy = decoy[: decoy.index(b"PK\x01\x02")]
    return _torch([Member("archive/data.pkl", pickle_bytes(payload))], prefix=decoy)


def _dup_npz(names: tuple[str, str], payload: str) -> bytes:
    members = [
        Member(names[0], B.npy_floats()),
        Member(names[1], B.npy_object(pickle_bytes(payload))),
    ]
    return B.build_zip(members)


DUPLICATES: dict[str, tuple[Callable[[str], bytes], str]] = {
    "torch-first-copy-evil": (lambda p: _dup_torch("archive/data.pkl", True, p), "model.pt"),
    "torch-case-colliding-first": (lambda p: _dup_torch("archive/DATA.PKL", True, p), "model.pt"),
    "torch-central-order-reversed": (
        lambda p: _dup_torch("archive/data.pkl", False, p, central_order=[1, 0, 2, 3]),
        "model.pt",
    ),
    "torch-decoy-local-record": (_decoy_local_record, "model.pt"),
    "npz-last-copy-evil": (lambda p: _dup_npz(("meta.npy", "meta.npy"), p), "arrays.npz"),
    "npz-case-colliding": (lambda p: _dup_npz(("meta.npy", "META.npy"), p), "arrays.npz"),
}


@family("zip-duplicates", 3, "duplicate, case-colliding and decoy zip records")
def zip_duplicates(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(DUPLICATES), full):
        build, fname = DUPLICATES[variant]
        yield variant, payload, fname, (lambda b=build, p=payload: b(p))
