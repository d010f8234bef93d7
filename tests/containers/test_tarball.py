"""tar files: torch's pre-1.0 layout, refused by weights_only, its pickles scanned."""

from __future__ import annotations

import io
import struct
import tarfile
from pathlib import Path

from tests.corpus import Asm, weights_only_batch
from torchvet.scan import scan_bytes, scan_file

PAYLOAD = Asm(2).global_("os", "system").tuple_of("true").reduce().stop().bytes()


def pickled(a: Asm) -> bytes:
    return a.stop().bytes()


# torch < 1.0: storage 1 (3 floats), tensor 2 viewing it, and the object {"w": tensor 2}.
STORAGES = (
    pickled(Asm(2).int_(1))
    + pickled(Asm(2).int_(1).string("cpu").global_("torch", "FloatStorage").tuple3())
    + struct.pack("<q3f", 3, 1, 2, 3)
    + pickled(Asm(2).empty_list())
)
TENSORS = (
    pickled(Asm(2).int_(1))
    + pickled(Asm(2).int_(2).int_(1).global_("torch", "FloatTensor").tuple3())
    + struct.pack("<i4xqqq", 1, 3, 1, 0)
)
MAIN = pickled(Asm(2).empty_dict().string("w").persid("2").setitem())


def tar(members: list[tuple[str, bytes]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


GOOD = [("storages", STORAGES), ("tensors", TENSORS), ("pickle", MAIN)]


def test_refused_by_torch_and_scanned(tmp_path: Path) -> None:
    files = {
        "good.tar": tar(GOOD),
        "evil-pickle.tar": tar([*GOOD[:2], ("pickle", PAYLOAD)]),
        "evil-storages.tar": tar(
            [("storages", STORAGES.replace(b"\x80\x02]", PAYLOAD[:-1] + b"0]")), *GOOD[1:]]
        ),
    }
    paths = []
    for name, data in files.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    results = weights_only_batch([(p, (), ()) for p in paths])
    assert not any(r.ok for r in results)
    assert all("legacy .tar format" in (r.message or "") for r in results)
    verdicts = {p.name: scan_file(p).verdict.value for p in paths}
    assert verdicts == {
        "good.tar": "unsupported",
        "evil-pickle.tar": "dangerous",
        "evil-storages.tar": "dangerous",
    }


def test_payload_after_storage_data() -> None:
    storages = STORAGES[:-4] + PAYLOAD[:-1] + b"0" + STORAGES[-4:]
    result = scan_bytes(tar([("storages", storages), *GOOD[1:]]), name="x.tar")
    assert result.verdict.value == "dangerous"


def test_other_members_that_are_pickles() -> None:
    result = scan_bytes(tar([("readme.txt", b"hello"), ("model.pkl", PAYLOAD)]), name="x.tar")
    assert result.format == "tar"
    assert result.verdict.value == "dangerous"


def test_bad_layout_is_malformed() -> None:
    result = scan_bytes(tar([("storages", pickled(Asm(2).value([1])))]), name="x.tar")
    assert result.verdict.value == "malformed"
    huge = pickled(Asm(2).int_(1)) + pickled(
        Asm(2).int_(1).string("cpu").global_("torch", "FloatStorage").tuple3()
    )
    result = scan_bytes(tar([("storages", huge + struct.pack("<q", 2**40))]), name="x.tar")
    assert result.verdict.value == "malformed"


def test_truncated_tar_never_raises() -> None:
    data = tar(GOOD)
    for cut in (600, 1100, len(data) - 700):
        result = scan_bytes(data[:cut], name="x.tar")
        assert result.verdict.value in ("unsupported", "malformed")


def test_huge_pax_header_is_not_read() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("pickle")
        info.pax_headers = {"comment": "x" * (17 << 20)}
        info.size = len(MAIN)
        t.addfile(info, io.BytesIO(MAIN))
    result = scan_bytes(buf.getvalue(), name="x.tar")
    assert result.verdict.value == "malformed"
