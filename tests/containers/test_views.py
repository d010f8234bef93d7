"""Every reading a loader could take of a file is scanned, and the worst wins.

Each file here hides a payload where torch.load does not look but another real loader
does; the loaders themselves (tests/containers/loaders.py) confirm which global they would
resolve, and the scan must be dangerous, with the finding naming that loader's view.
"""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.containers.loaders import first_globals
from tests.corpus.pickle_asm import Asm
from torchvet.containers.zipreader import read_archive
from torchvet.results import Category, Verdict
from torchvet.scan import scan_file
from torchvet.source import BytesSource

torch = pytest.importorskip("torch")

GADGET = "os.system"


def payload(protocol: int = 2, header: bool = True) -> bytes:
    """A pickle calling os.system('true') (never run: the loaders' hook refuses it)."""
    asm = Asm(protocol, header).global_("os", "system").mark().string("true").tuple()
    return asm.reduce().stop().bytes()


def npy_object_array_with(pickle_bytes: bytes) -> bytes:
    """A valid .npy header for an object array followed by ``pickle_bytes`` as its data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "|O", "fortran_order": False, "shape": (1,)}
    )
    return buf.getvalue() + pickle_bytes


def assert_dangerous_by(path: Path, view: str | None) -> None:
    """Dangerous, with a gadget found by ``view`` (None: any reading may find it)."""
    result = scan_file(path)
    assert result.verdict is Verdict.DANGEROUS, result.findings
    views = {f.view or "torch.load" for f in result.findings if f.category is Category.GADGET}
    assert view is None or view in views, result.findings


def zip_bytes(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in members:
            z.writestr(name, data)
    return out.getvalue()


# -- files that begin like something else are still pickles from byte 0 ------------------
POLYGLOTS = {
    # 'G' is BINFLOAT: it eats "IF89a" and three more bytes; POP drops the float.
    "gif": b"GIF89a\x00\x00\x00" + b"0" + payload(header=False),
    # 'M' is BININT2: it eats "Z" and one byte.
    "pe-executable": b"MZ\x90" + b"0" + payload(header=False),
    # 'B' is BINBYTES: "Zh" and two zero bytes make a 26,714-byte length.
    "bz2": b"BZh\x00\x00" + bytes(0x685A) + b"0" + payload(header=False),
}


@pytest.mark.parametrize("name", sorted(POLYGLOTS))
def test_polyglot_pickles_are_read_from_byte_zero(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.bin"
    path.write_bytes(POLYGLOTS[name])
    # joblib.load takes "BZh" for bz2 and fails; pickle and numpy read on.
    loaders = ["pickle", "numpy"] if name == "bz2" else ["pickle", "numpy", "joblib"]
    assert first_globals([(loader, path) for loader in loaders]) == [GADGET] * len(loaders)
    assert_dangerous_by(path, "pickle.load")


def test_tar_whose_first_header_is_a_pickle(tmp_path: Path) -> None:
    """The first header's name field is a protocol 0 pickle: tarfile (and so torch.load)
    reads a tar; pickle.load reads the name as opcodes."""
    path = tmp_path / "polyglot.tar"
    name = payload(protocol=0).decode("ascii")
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    assert tarfile.is_tarfile(path)
    assert first_globals([("pickle", path)]) == [GADGET]
    result = scan_file(path)
    assert result.format == "tar"
    assert_dangerous_by(path, "pickle.load")


def test_pickles_after_a_legacy_checkpoint(tmp_path: Path) -> None:
    """A loop of pickle.load calls reads on after torch's five pickles."""
    buf = io.BytesIO()
    torch.save({"step": 1}, buf, _use_new_zipfile_serialization=False)
    path = tmp_path / "legacy.pt"
    path.write_bytes(buf.getvalue() + payload())
    assert first_globals([("pickle-loop", path)]) == [GADGET]
    assert_dangerous_by(path, "pickle.load")


# -- zips as Python's zipfile reads them (numpy .npz, pandas .zip) ------------------------
def test_npz_member_without_npy_suffix(tmp_path: Path) -> None:
    """numpy unpickles any member whose bytes start like an object array, whatever its name."""
    path = tmp_path / "weights.npz"
    path.write_bytes(zip_bytes([("weights", npy_object_array_with(payload()))]))
    assert first_globals([("numpy", path)]) == [GADGET]
    assert_dangerous_by(path, None)


def test_npz_member_compressed_with_lzma(tmp_path: Path) -> None:
    """torch's reader refuses LZMA members; zipfile, and so numpy, reads them."""
    path = tmp_path / "weights.npz"
    data = zip_bytes([("w.npy", npy_object_array_with(payload()))], zipfile.ZIP_LZMA)
    path.write_bytes(data)
    assert first_globals([("numpy", path)]) == [GADGET]
    assert_dangerous_by(path, "zipfile")


def test_npz_duplicate_members_every_copy(tmp_path: Path) -> None:
    """numpy reads the last of two members with one name; torchvet reads every copy."""
    numeric = io.BytesIO()
    np.save(numeric, np.arange(3))
    path = tmp_path / "weights.npz"
    members = [("w.npy", npy_object_array_with(payload())), ("w.npy", numeric.getvalue())]
    path.write_bytes(zip_bytes(members))
    assert first_globals([("numpy", path)]) == [None]
    assert_dangerous_by(path, None)
    members.reverse()
    path.write_bytes(zip_bytes(members))
    assert first_globals([("numpy", path)]) == [GADGET]
    assert_dangerous_by(path, None)


def test_single_member_zip_with_prepended_bytes_for_pandas(tmp_path: Path) -> None:
    """pandas.read_pickle('x.zip') unpickles the only member; zipfile finds the archive
    from its end record, so bytes put in front shift nothing for it."""
    path = tmp_path / "frame.zip"
    path.write_bytes(b"not a zip header " * 10 + zip_bytes([("frame.pkl", payload())]))
    assert first_globals([("pandas", path)]) == [GADGET]
    assert_dangerous_by(path, "zipfile")


def test_bad_crc_keeps_what_the_loader_read(tmp_path: Path) -> None:
    """zipfile checks the CRC after the last byte, but numpy unpickles an object array
    straight from the member as it reads: a large member's pickle has run by then."""
    member = npy_object_array_with(payload() + bytes(1 << 20))
    data = bytearray(zip_bytes([("w.npy", member)]))
    archive = read_archive(BytesSource(bytes(data)))
    crc_at = data.rfind(b"PK\x01\x02") + 16
    data[crc_at : crc_at + 4] = (archive.entries[0].crc ^ 1).to_bytes(4, "little")
    path = tmp_path / "weights.npz"
    path.write_bytes(bytes(data))
    assert first_globals([("numpy", path)]) == [GADGET]
    assert_dangerous_by(path, None)


# -- tar members as tarfile resolves them --------------------------------------------------
def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> None:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info in members:
            content = data.get(info.name)
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)


def test_tar_hard_link_to_a_pickle(tmp_path: Path) -> None:
    """torch's tar loader reads 'storages' through a hard link to another member."""
    path = tmp_path / "old.tar"
    link = tarfile.TarInfo("storages")
    link.type = tarfile.LNKTYPE
    link.linkname = "blob"
    _tar(path, [tarfile.TarInfo("blob"), link], {"blob": payload()})
    assert first_globals([("torch", path)]) == [GADGET]
    assert_dangerous_by(path, "torch.load")


def test_single_member_tar_for_pandas(tmp_path: Path) -> None:
    """pandas.read_pickle('x.tar') unpickles the archive's only member."""
    path = tmp_path / "frame.tar"
    _tar(path, [tarfile.TarInfo("frame")], {"frame": payload()})
    assert first_globals([("pandas", path)]) == [GADGET]
    assert_dangerous_by(path, "torch.load")


# -- zips with duplicate records: the copy torch reads -------------------------------------
@pytest.mark.parametrize("copies", [2, 3, 7])
def test_duplicate_data_pkl_torch_copy_is_the_one_judged(copies: int, tmp_path: Path) -> None:
    """miniz finds one of several same-named records by binary search over a heap-sorted
    directory; the scan judges that copy as torch's reading and every other copy too."""
    saved = io.BytesIO()
    torch.save({"a": 0}, saved)
    base = zipfile.ZipFile(io.BytesIO(saved.getvalue()))
    members = []
    for name in base.namelist():
        if name.endswith("data.pkl"):
            members += [(name, pickle.dumps({"a": i}, protocol=2)) for i in range(copies)]
        else:
            members.append((name, base.read(name)))
    data = zip_bytes(members)
    loaded = torch.load(io.BytesIO(data), weights_only=True)["a"]
    picked = read_archive(BytesSource(data)).torch_pick("archive/data.pkl")
    assert picked is not None
    assert pickle.loads(read_archive(BytesSource(data)).read(picked))["a"] == loaded

    # Now the copy torch does not read carries a payload: dangerous, by that copy.
    other = next(i for i in range(copies) if i != loaded)
    members = [
        (n, payload() if n.endswith("data.pkl") and pickle.loads(d)["a"] == other else d)
        if n.endswith("data.pkl")
        else (n, d)
        for n, d in members
    ]
    path = tmp_path / "dup.pt"
    path.write_bytes(zip_bytes(members))
    assert torch.load(path, weights_only=True) == {"a": loaded}
    result = scan_file(path)
    assert result.verdict is Verdict.DANGEROUS
    assert any(f.view.startswith("copy ") for f in result.findings if f.category is Category.GADGET)


# -- compressed files as pandas and joblib decompress them -------------------------------
def test_codecs_without_the_usual_magic(tmp_path: Path) -> None:
    """A zstd file that starts with a skippable frame (pandas .zst), an .lzma stream with
    other properties than 0x5d (pandas .xz falls back to .lzma, which has no magic), and
    joblib's old ZF file without "0x" in its length: each loader decompresses them."""
    import lzma
    import struct
    import zlib

    import zstandard

    # pandas reads zstd through a stream without readline: a protocol 4 payload.
    body = Asm(4).sglobal("os", "system").string("true").tuple1().reduce().stop().bytes()
    skippable = struct.pack("<II", 0x184D2A53, 3) + b"abc"
    zst = tmp_path / "frame.zst"
    zst.write_bytes(skippable + zstandard.ZstdCompressor().compress(body))
    props0 = [{"id": lzma.FILTER_LZMA1, "lc": 0, "lp": 0, "pb": 0, "dict_size": 1 << 16}]
    xz = tmp_path / "frame.xz"
    xz.write_bytes(lzma.compress(body, format=lzma.FORMAT_ALONE, filters=props0))
    zf = tmp_path / "model.pkl"
    zf.write_bytes(b"ZF" + f"{len(body):19x}".encode() + zlib.compress(body))
    assert first_globals([("pandas", zst), ("pandas", xz), ("joblib", zf)]) == [GADGET] * 3
    for path in (zst, xz, zf):
        assert_dangerous_by(path, None)
    assert_dangerous_by(xz, "lzma.open")
