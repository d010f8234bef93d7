"""Loading as the attack (class 8) and pickles that hide behind a harmless name (class 6).

* ``dos`` (no payload): a legacy file of a few hundred bytes declaring a 1 TiB storage
  (torch allocates declared sizes, even for a storage nothing references), and
  containers of integers that all hash alike (each insertion compares against every
  earlier key: quadratic work in the file's size).
* ``check-by-content``: crafted pickles named ``notes.txt``, ``data.csv`` … that
  ``torchvet check`` must report when it walks their folder.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable

from tests.corpus.pickle_asm import Asm
from tests.redteam import builders as B
from tests.redteam.cases import family, rotate
from tests.redteam.fam_polyglot import MAGIC
from tests.redteam.payloads import pickle_bytes, text_pickle

TIB = 1 << 40
HASH_MODULUS = (1 << 61) - 1  # hash(n) == n % HASH_MODULUS for ints on 64-bit CPython
COLLIDING_KEYS = 30_000


def colliding_ints(count: int = COLLIDING_KEYS) -> list[int]:
    """Distinct ints whose hashes are all 0 (the multiples of the hash modulus)."""
    return [k * HASH_MODULUS for k in range(1, count + 1)]


def _legacy_huge(referenced: bool) -> bytes:
    numel = TIB // 4  # float32 elements
    slots = B.legacy_slots(numel=numel)
    if not referenced:  # the storage is declared by a persistent id whose value is dropped
        a = Asm(2).mark().string("storage").global_("torch", "FloatStorage").string("0")
        a.string("cpu").int_(numel).none().tuple().binpersid().pop()
        slots[3] = a.value({"epoch": 1}).stop().bytes()
    return b"".join(slots) + struct.pack("<q", numel)  # the elements themselves are absent


def _colliding_dict() -> bytes:
    a = Asm(2).empty_dict().mark()
    for key in colliding_ints():
        a.long1(key).none()
    return a.setitems().stop().bytes()


def _colliding_dict_torch_zip() -> bytes:
    return B.build_zip(B.torch_zip_members(_colliding_dict()))


def _colliding_set() -> bytes:
    a = Asm(4).op("EMPTY_SET").mark()
    for key in colliding_ints():
        a.long1(key)
    return a.op("ADDITEMS").stop().bytes()


def _memo_index_4g() -> bytes:
    """Nine bytes: LONG_BINPUT at index 2**32 - 1, which CPython's C unpickler (pickle,
    torch.load(weights_only=False)) serves by growing its memo array to that size."""
    return b"\x80\x02Nr\xff\xff\xff\xff."


TORCH_LOADS = ("torch.load(weights_only)", "torch.load")
# (build, file name, loaders run in the test suite: loading a hash-collision file takes
# seconds by design, so only benchmarks/redteam.py loads those)
DOS = {
    "legacy-1tib-storage": (lambda: _legacy_huge(True), "tiny.pt", TORCH_LOADS),
    "legacy-1tib-unreferenced-storage": (lambda: _legacy_huge(False), "tiny.pt", TORCH_LOADS),
    "memo-index-4g": (_memo_index_4g, "tiny.pkl", ("pickle.load",)),
    "memo-index-4g-torch-zip": (
        lambda: B.build_zip(B.torch_zip_members(_memo_index_4g())),
        "tiny.pt",
        TORCH_LOADS,
    ),
    "hash-colliding-dict-keys": (_colliding_dict, "table.pkl", ()),
    "hash-colliding-dict-keys-torch-zip": (_colliding_dict_torch_zip, "table.pt", ()),
    "hash-colliding-set": (_colliding_set, "table.pkl", ()),
}


@family("dos", 8, "a load that allocates or computes far out of proportion to the file")
def dos(full: bool) -> Iterable[tuple]:
    for variant, (build, fname, loaders) in DOS.items():
        yield variant, "none", fname, build, {"payload": False, "loaders": loaders}


# -- pickles named like text -----------------------------------------------------------------
CHECK = {
    "notes-txt-protocol-2": (lambda p: pickle_bytes(p), "notes.txt"),
    "data-csv-protocol-0": (lambda p: text_pickle(p), "data.csv"),
    "readme-gif-polyglot": (lambda p: MAGIC["gif"][0](p), "README"),
    "notes-txt-pe-polyglot": (lambda p: MAGIC["pe"][0](p), "notes.txt"),
    "data-csv-after-text-pickle": (lambda p: b"S'a,b,c'\n." + text_pickle(p), "data.csv"),
    "config-json-gzip": (lambda p: gzip.compress(pickle_bytes(p), mtime=0), "config.json"),
    "blob-dat-hex-int-prefix": (lambda p: b"I0x10\n0" + text_pickle(p), "blob.dat"),
    "notes-txt-safetensors-polyglot": (lambda p: MAGIC["safetensors-header"][0](p), "notes.txt"),
    "data-csv-tar-header-polyglot": (lambda p: MAGIC["tar-member-name"][0](p), "data.csv"),
}


@family("check-by-content", 6, "a crafted pickle named like text, found by torchvet check")
def check_by_content(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(CHECK), full):
        build, fname = CHECK[variant]
        yield variant, payload, fname, (lambda b=build, p=payload: b(p))
