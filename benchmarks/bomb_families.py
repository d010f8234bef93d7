"""The bomb families of ``bombs.py``: files of at most 1 MB, each making a scanner (or a
loader) work far out of proportion to its size in one way. Generated in memory from a few
compressed blocks (nothing downloaded, nothing loaded); the test suite scans every family.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20
MAX_SIZE = 1 << 20  # every bomb is at most this big
HERE = Path(__file__).resolve().parent


# ---- pickle bytes ----------------------------------------------------------------------
def _p(*parts: bytes) -> bytes:
    return b"".join(parts)


PROTO2 = b"\x80\x02"


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _put(i: int) -> bytes:
    return b"r" + struct.pack("<I", i)  # LONG_BINPUT


def _get(i: int) -> bytes:
    return b"j" + struct.pack("<I", i)  # LONG_BINGET


def _unicode(s: str) -> bytes:
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _long1(n: int) -> bytes:
    data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def _fill(prefix: bytes, unit: bytes, suffix: bytes, size: int = MAX_SIZE - 64) -> bytes:
    """``prefix + unit * k + suffix`` as long as it fits in ``size`` bytes."""
    k = max(0, (size - len(prefix) - len(suffix)) // len(unit))
    return prefix + unit * k + suffix


# A payload that names a gadget (never run: nothing here loads anything).
PAYLOAD_OPS = _global("os", "system") + _unicode("true") + b"\x85R"  # TUPLE1 REDUCE


# ---- compression helpers ----------------------------------------------------------------
def _repeat_stream(compress: Callable[[bytes], bytes], block: bytes, size: int) -> bytes:
    """Concatenated compressed streams of ``block`` filling ``size`` bytes (every codec
    here reads concatenated streams as one)."""
    one = compress(block)
    return one * max(1, size // len(one))


def _raw_deflate_of_repeats(
    block: bytes, times: int | None, head: bytes = b""
) -> tuple[bytes, int, int]:
    """Raw DEFLATE of ``head + block * times`` without compressing it all: ``block`` is
    compressed once after a full flush (no back-references across it) and repeated
    (``times=None``: as often as fits in 1 MB). Returns (data, crc32, uncompressed size)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    unit = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    if times is None:
        times = (MAX_SIZE - 4096 - len(first)) // len(unit)
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    return first + unit * times + end, crc, len(head) + len(block) * times


@dataclass
class _Member:
    name: str
    data: bytes  # stored bytes (raw DEFLATE when method 8)
    crc: int
    size: int
    method: int = 0


def _zip(members: list[_Member], aliases: dict[int, list[str]] | None = None) -> bytes:
    """A zip archive; ``aliases[i]`` adds central-directory entries sharing member i's data."""
    out = io.BytesIO()
    central = []
    for i, m in enumerate(members):
        offset = out.tell()
        name = m.name.encode()
        out.write(
            struct.pack(
                "<4sHHHHHIIIHH",
                b"PK\x03\x04",
                20,
                0,
                m.method,
                0,
                0,
                m.crc,
                len(m.data),
                m.size,
                len(name),
                0,
            )
        )
        out.write(name + m.data)
        for alias in [m.name, *(aliases or {}).get(i, [])]:
            central.append((alias.encode(), m, offset))
    start = out.tell()
    for name, m, offset in central:
        out.write(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                m.method,
                0,
                0,
                m.crc,
                len(m.data),
                m.size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
        )
        out.write(name)
    end = out.tell()
    n = len(central)
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n, n, end - start, start, 0))
    return out.getvalue()


def _stored(name: str, data: bytes) -> _Member:
    return _Member(name, data, zlib.crc32(data), len(data))


def _torch_zip(data_pkl: _Member, extra: list[_Member] | None = None, **kw: object) -> bytes:
    members = [data_pkl, *(extra or []), _stored("archive/version", b"3\n")]
    return _zip(members, **kw)  # type: ignore[arg-type]


# ---- the families -----------------------------------------------------------------------
@dataclass
class Family:
    name: str
    what: str
    build: Callable[[], bytes]
    verdicts: tuple[str, ...]  # acceptable torchvet verdicts
    suffix: str = ".bin"


FAMILIES: list[Family] = []


def family(name: str, what: str, verdicts: tuple[str, ...], suffix: str = ".bin") -> Callable:
    def register(build: Callable[[], bytes]) -> Callable[[], bytes]:
        FAMILIES.append(Family(name, what, build, verdicts, suffix))
        return build

    return register


NOT_SAFE = ("unknown", "dangerous", "malformed", "unsupported")
UNKNOWN_OR_WORSE = ("unknown", "dangerous")
OPS_PICKLE = _p(PROTO2, PAYLOAD_OPS, b"0", b"N0" * (64 * MiB // 2))  # payload, then 32M ops


@family("gzip-zeros", "gzip of 1 GiB of zeros", ("malformed", "unknown", "not-a-model"), ".gz")
def _gzip_zeros() -> bytes:
    return _repeat_stream(lambda d: gzip.compress(d, 9), b"\0" * (64 * MiB), MAX_SIZE)


@family("gzip-ops", "gzip members of a pickle: a payload, then 1 G opcodes", ("dangerous",), ".gz")
def _gzip_ops() -> bytes:
    head = gzip.compress(OPS_PICKLE[: 4 * MiB], 9)
    rest = gzip.compress(b"N0" * (32 * MiB), 9)
    return head + rest * ((MAX_SIZE - len(head)) // len(rest))


@family(
    "bz2-zeros",
    "bz2 streams of 64 MiB of zeros each, about 1 TiB",
    ("malformed", "unknown", "not-a-model"),
    ".bz2",
)
def _bz2_zeros() -> bytes:
    return _repeat_stream(lambda d: bz2.compress(d, 9), b"\0" * (64 * MiB), MAX_SIZE)


@family("xz-ops", "xz streams of pickle opcodes (a payload first)", ("dangerous",), ".xz")
def _xz_ops() -> bytes:
    head = lzma.compress(OPS_PICKLE[: 4 * MiB])
    rest = lzma.compress(b"N0" * (32 * MiB))
    return head + rest * ((MAX_SIZE - len(head)) // len(rest))


@family("lzma-bigdict", "lzma header declaring a 1.5 GiB dictionary", UNKNOWN_OR_WORSE, ".lzma")
def _lzma_bigdict() -> bytes:
    data = bytearray(lzma.compress(b"\0" * (64 * MiB), format=lzma.FORMAT_ALONE))
    data[1:5] = (1536 * MiB).to_bytes(4, "little")
    return bytes(data)


@family(
    "zstd-zeros",
    "zstd frames of zeros, about 16 GiB",
    ("malformed", "unknown", "not-a-model"),
    ".zst",
)
def _zstd_zeros() -> bytes:
    import zstandard

    return _repeat_stream(zstandard.ZstdCompressor(level=19).compress, b"\0" * (64 * MiB), MAX_SIZE)


@family("zstd-bigwindow", "zstd frame asking for a 2 GiB window", UNKNOWN_OR_WORSE, ".zst")
def _zstd_bigwindow() -> bytes:
    import zstandard

    params = zstandard.ZstdCompressionParameters(window_log=20, write_content_size=False)
    frame = bytearray(zstandard.ZstdCompressor(compression_params=params).compress(b"\0" * MiB))
    assert frame[4] & 0x20 == 0  # not single-segment: the next byte is the window descriptor
    frame[5] = 21 << 3  # window log 31
    return bytes(frame)


@family("lz4-zeros", "lz4 frames of zeros", ("malformed", "unknown", "not-a-model"), ".lz4")
def _lz4_zeros() -> bytes:
    import lz4.frame

    return _repeat_stream(lz4.frame.compress, b"\0" * (64 * MiB), MAX_SIZE)


@family("gzip-nested", "gzip of gzip of gzip of gzip of a payload and zeros", NOT_SAFE, ".gz")
def _gzip_nested() -> bytes:
    data = _p(PROTO2, PAYLOAD_OPS, b".") + b"\0" * (256 * MiB)
    for _ in range(4):
        data = gzip.compress(data, 9)
    return data


@family("zip-deflate-ops", "torch zip whose DEFLATE data.pkl is 1 GiB of opcodes", ("dangerous",))
def _zip_deflate_ops() -> bytes:
    head = OPS_PICKLE[: 4 * MiB]
    raw, crc, size = _raw_deflate_of_repeats(b"N0" * (4 * MiB), None, head)
    return _torch_zip(_Member("archive/data.pkl", raw, crc, size, 8))


@family("zip-deflate-value", "torch zip: data.pkl holds one 1 GiB BINBYTES8 value", NOT_SAFE)
def _zip_deflate_value() -> bytes:
    n = 1024 * MiB
    head = _p(PROTO2, b"\x8e", struct.pack("<Q", n))
    raw, crc, size = _raw_deflate_of_repeats(b"\0" * (8 * MiB), None, head)
    return _torch_zip(_Member("archive/data.pkl", raw, crc, size, 8))


@family("zip-deflate-calls", "torch zip: DEFLATE data.pkl of 1 G calls, results kept", NOT_SAFE)
def _zip_deflate_calls() -> bytes:
    head = _p(PROTO2, b"]", _put(0), _global("mod", "Cls"), _put(1), b")", _put(2), b"0")
    block = b"h\x01h\x02Ra" * (1 << 20)
    raw, crc, size = _raw_deflate_of_repeats(block, None, head)
    return _torch_zip(_Member("archive/data.pkl", raw, crc, size, 8))


@family("gzip-long-line", "gzip of a pickle whose one STRING line is 1 GiB long", NOT_SAFE, ".gz")
def _gzip_long_line() -> bytes:
    head = gzip.compress(_p(PROTO2, b"S'"), 9)
    rest = gzip.compress(b"a" * (64 * MiB), 9)
    return head + rest * ((MAX_SIZE - len(head)) // len(rest))


@family("zip-shared-members", "zip: 8,000 entries share one 500 KB pickle member", NOT_SAFE)
def _zip_shared_members() -> bytes:
    body = _fill(_p(PROTO2, PAYLOAD_OPS, b"0"), b"N0", b"N.", 500_000)
    names = [f"m/p{i}.pkl" for i in range(8_000)]
    return _zip([_stored("m/p.pkl", body)], aliases={0: names})


@family("zip-shared-deflate", "npz: 10,000 entries share one member inflating to 480 MiB", NOT_SAFE)
def _zip_shared_deflate() -> bytes:
    raw, crc, size = _raw_deflate_of_repeats(b"\0" * (8 * MiB), 60, b"\x93NUMPY")
    names = [f"a{i}.npy" for i in range(10_000)]
    return _zip([_Member("a.npy", raw, crc, size, 8)], aliases={0: names})


@family(
    "zip-shared-storages", "torch zip: 6,000 storages share one 200 KB record", UNKNOWN_OR_WORSE
)
def _zip_shared_storages() -> bytes:
    n = 6_000
    record = b"\0" * 200_000
    ops = [PROTO2, b"]", _put(0), b"("]
    for i in range(n):
        pid = _p(
            b"(",
            _unicode("storage"),
            _global("torch", "ByteStorage"),
            _unicode(str(i)),
            _unicode("cpu"),
            b"J",
            struct.pack("<i", len(record)),
            b"tQ",
        )
        ops.append(pid)
    ops.append(b"e.")
    names = [f"archive/data/{i}" for i in range(1, n)]
    return _torch_zip(
        _stored("archive/data.pkl", b"".join(ops)),
        [_stored("archive/data/0", record)],
        aliases={1: names},
    )


@family("tar-hardlinks", "tar: one 400 KB pickle and 1,000 hard links to it", NOT_SAFE, ".tar")
def _tar_hardlinks() -> bytes:
    body = _fill(_p(PROTO2, PAYLOAD_OPS, b"0"), b"N0", b"N.", 400_000)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("p.pkl")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
        for i in range(1000):
            link = tarfile.TarInfo(f"l{i}.pkl")
            link.type = tarfile.LNKTYPE
            link.linkname = "p.pkl"
            tar.addfile(link)
    return out.getvalue()


@family(
    "pickle-none-pop", "1 MB of NONE/POP: a refused opcode each", ("unsupported", "unknown"), ".pkl"
)
def _none_pop() -> bytes:
    return _fill(PROTO2, b"N0", b"N.")


@family("pickle-append-dict", "APPEND on a dict, 500k times: an issue each", NOT_SAFE, ".pkl")
def _append_dict() -> bytes:
    return _fill(_p(PROTO2, b"}"), b"Na", b".")


@family(
    "pickle-calls", "250k calls of an unknown class, each result kept", UNKNOWN_OR_WORSE, ".pkl"
)
def _calls() -> bytes:
    head = _p(PROTO2, b"]", _put(0), _global("mod", "Cls"), _put(1), b")", _put(2), b"0")
    return _fill(head, b"h\x01h\x02Ra", b".")


@family(
    "pickle-list-args", "a 100k-item list passed as arguments 100k times", UNKNOWN_OR_WORSE, ".pkl"
)
def _list_args() -> bytes:
    head = _p(PROTO2, _global("mod", "f"), _put(0), b"0]", _put(1), b"(", b"N" * 100_000, b"e0")
    return _fill(head, b"h\x00h\x01R0", b"N.")


@family("pickle-dict-copies", "OrderedDict(d) of a 60k-key dict, 60k times", NOT_SAFE, ".pkl")
def _dict_copies() -> bytes:
    keys = b"".join(b"J" + struct.pack("<i", i) + b"N" for i in range(60_000))
    head = _p(
        PROTO2, _global("collections", "OrderedDict"), _put(0), b"0}", _put(1), b"(", keys, b"u0)0"
    )
    return _fill(head, b"h\x00h\x01\x85R0", b"N.")


@family("pickle-size-tuples", "torch.Size of one 100k-int tuple, 100k times", NOT_SAFE, ".pkl")
def _size_tuples() -> bytes:
    head = _p(
        PROTO2, _global("torch", "Size"), _put(0), b"0(", b"K\x01" * 100_000, b"t", _put(1), b"0"
    )
    return _fill(head, b"h\x00h\x01\x85R0", b"N.")


@family(
    "pickle-getattr-chain",
    "a 150k-deep getattr chain, described by each call",
    UNKNOWN_OR_WORSE,
    ".pkl",
)
def _getattr_chain() -> bytes:
    head = _p(
        PROTO2,
        _global("builtins", "getattr"),
        _put(0),
        b"0",
        _unicode("a"),
        _put(1),
        b"0",
        _global("mod", "obj"),
    )
    return (
        _fill(head, b"h\x00" + b"\x93"[:0] + b"N", b".")[:0]
        + _fill(head, _p(_get(0)[:0], b"h\x00", b"\x94"[:0]), b".")[:0]
        + _getattr_chain_body(head)
    )


def _getattr_chain_body(head: bytes) -> bytes:
    # obj on the stack; each link: getattr, swap in via a tuple: (getattr, (obj, "a")) R
    link = b"\x94"[:0] + b"q\x05h\x00h\x05h\x01\x86R"  # BINPUT 5; getattr (obj, 'a') REDUCE
    body = _fill(head, link, b"")
    return body + b"N\x85R."  # finally call the chain's end


@family(
    "pickle-partial-chain", "partial(partial(...)) 100k deep, then called", UNKNOWN_OR_WORSE, ".pkl"
)
def _partial_chain() -> bytes:
    head = _p(PROTO2, _global("functools", "partial"), _put(0), b"0", _global("mod", "f"))
    link = b"q\x05h\x00h\x05\x85R"  # BINPUT 5; partial (prev,) REDUCE
    return _fill(head, link, b")R.")


@family(
    "pickle-big-long", "a 900 KB LONG4 int used 20k times as a bad APPEND target", NOT_SAFE, ".pkl"
)
def _big_long() -> bytes:
    n = 900_000
    head = _p(PROTO2, b"\x8b", struct.pack("<i", n), b"\x7f" * n, _put(0))
    return _fill(head, b"Na", b".")


@family("pickle-big-string", "a 900 KB string, APPEND target 50k times", NOT_SAFE, ".pkl")
def _big_string() -> bytes:
    head = _p(PROTO2, _unicode("x" * 900_000), _put(0))
    return _fill(head, b"Na", b".")


@family(
    "pickle-long-name", "a class with a 900 KB name, called 20k times", UNKNOWN_OR_WORSE, ".pkl"
)
def _long_name() -> bytes:
    head = _p(PROTO2, b"]", _put(0), _global("mod", "C" * 900_000), _put(1), b")", _put(2), b"0")
    return _fill(head, b"h\x01h\x02Ra", b".")


@family("pickle-marks", "1M nested MARKs", NOT_SAFE, ".pkl")
def _marks() -> bytes:
    return _fill(PROTO2, b"(", b".")


@family("pickle-memo", "200k distinct memo entries", ("unsupported",), ".pkl")
def _memo() -> bytes:
    return PROTO2 + b"N" + b"".join(_put(i) for i in range(200_000)) + b"."


@family(
    "pickle-dag-tuple-key",
    "a dict key: 64 nested pairs of one tuple (2^64 to hash)",
    UNKNOWN_OR_WORSE,
    ".pkl",
)
def _dag_tuple_key() -> bytes:
    ops = [PROTO2, b"}", b"K\x00"]
    for _ in range(64):
        ops.append(b"q\x01h\x01\x86")  # BINPUT 1; BINGET 1; TUPLE2: (t, t)
    ops.append(b"Ns.")
    return b"".join(ops)


@family(
    "pickle-colliding-keys", "a dict of 80k int keys that all hash alike", UNKNOWN_OR_WORSE, ".pkl"
)
def _colliding_keys() -> bytes:
    modulus = (1 << 61) - 1  # CPython hashes an int n as n mod (2**61 - 1)
    items = b"".join(_long1(modulus * (i + 1) + 7) + b"N" for i in range(80_000))
    return _p(PROTO2, b"}(", items, b"u.")


@family(
    "gzip-calls",
    "gzip of a pickle of 100M unknown-class calls, results kept",
    UNKNOWN_OR_WORSE,
    ".gz",
)
def _gzip_calls() -> bytes:
    head = _p(PROTO2, b"]", _put(0), _global("mod", "Cls"), _put(1), b")", _put(2), b"0")
    body = head + b"h\x01h\x02Ra" * (32 * MiB // 7)
    one = gzip.compress(body, 9)
    more = gzip.compress(b"h\x01h\x02Ra" * (32 * MiB // 7), 9)
    return one + more * ((MAX_SIZE - len(one)) // len(more))


@family(
    "joblib-nested-arrays",
    "5,000 joblib object arrays, each inside the last",
    ("dangerous",),
    ".pkl",
)
def _joblib_nested() -> bytes:
    dtype = _p(_global("numpy", "dtype"), _unicode("O8"), b"\x85R")
    wrapper = _p(
        _global("joblib.numpy_pickle", "NumpyArrayWrapper"),
        b"(",
        _global("numpy", "ndarray"),
        b"K\x01\x85",
        _unicode("C"),
        dtype,
        b"\x89N",
        b"tR}b",
    )
    n = 5_000
    return _p(PROTO2, PAYLOAD_OPS, b"0", wrapper * n, b"N.", b"." * n)


@family(
    "legacy-1tib-storage",
    "legacy torch file declaring a 1 TiB storage nobody uses",
    UNKNOWN_OR_WORSE,
    ".pt",
)
def _legacy_tib() -> bytes:
    return legacy_file(1 << 38)


def legacy_file(numel: int) -> bytes:
    """A legacy torch file whose one float storage of ``numel`` elements has no data."""
    magic = _p(PROTO2, _long1(0x1950A86A20F9469CFC6C), b".")
    proto = _p(PROTO2, b"M", struct.pack("<H", 1001), b".")
    sys_info = _p(PROTO2, b"}", _unicode("little_endian"), b"\x88s.")
    pid = _p(
        b"(",
        _unicode("storage"),
        _global("torch", "FloatStorage"),
        _unicode("0"),
        _unicode("cpu"),
        _long1(numel),
        b"Nt",
    )
    data = _p(PROTO2, b"}", _unicode("unused"), pid, b"Qs.")  # {"unused": storage}
    keys = _p(PROTO2, b"].")
    return magic + proto + sys_info + data + keys


# ---- running -----------------------------------------------------------------------------
def write_all(out: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Generate the families (all, or ``names``) into ``out``; return name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fam in FAMILIES:
        if names and fam.name not in names:
            continue
        path = out / f"{fam.name}{fam.suffix}"
        if not path.exists():
            data = fam.build()
            if len(data) > MAX_SIZE:
                raise AssertionError(f"{fam.name} is {len(data)} bytes, more than 1 MB")
            path.write_bytes(data)
        paths[fam.name] = path
    return paths
