"""Which files `torchvet check` treats as model files: every model by content, no text."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import pickletools
import tarfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.corpus import Corpus
from torchvet.check.detect import content_kind, has_model_suffix, model_reason
from torchvet.source import BytesSource

# The corpus files that hold no model at all: they count only by their extension.
NOT_MODELS = {"lfs-pointer", "html-page", "png-header", "empty"}


def kind(data: bytes) -> str | None:
    return content_kind(BytesSource(data, "x"))


def test_every_corpus_model_is_found_by_content(corpus: Corpus) -> None:
    """Benign and malicious, every container, truncated files too; names are ignored."""
    missed = [r.id for r in corpus.files if kind(r.path.read_bytes()) is None]
    assert sorted(missed) == sorted(NOT_MODELS)


def test_non_models_with_a_model_extension_are_still_model_files(corpus: Corpus) -> None:
    for record_id in NOT_MODELS:
        path = corpus.by_id(record_id).path
        assert model_reason(str(path)) == "extension", record_id


TEXTS = [
    # Each starts with a pickle opcode and survives a few opcodes: real false alarms
    # of simpler tests (G reads 8 bytes as a float, then "." is STOP; C reads a length).
    b"Git v2.31.7 Release Notes\n=========================\n\nThis release merges.\n",
    b"CacheControl==0.14.4\ndistlib==0.4.4\ndistro==1.9.0\nmsgpack==1.2.4\n",
    b"cd build\nmake\n.\n",
    b"class Foo:\n    pass\n",
    b"(see below)\n",
    b"N/A\n",
    b"N.",  # the smallest pickle, but as text: "N." is None. Counted (see below).
    b"import os\nprint(os.getcwd())\n",
    b"]\n",
    b"}",
    b"0.5,1.2\n3.4,5.6\n",
    b"Copyright (c) 2024\n\nPermission is hereby granted, free of charge\n",
    b"label\ttext\nspam\tbuy now\n",
    b"\x80not really",  # 0x80 then a byte above protocol 5
]


@pytest.mark.parametrize("text", [t for t in TEXTS if t != b"N."])
def test_text_is_not_a_model(text: bytes) -> None:
    assert kind(text) is None


def test_a_whole_protocol_0_pickle_is_one_even_if_it_reads_as_text() -> None:
    assert kind(b"N.") == "pickle"
    assert kind(pickle.dumps({"lr": 0.1, "layers": [1, 2]}, protocol=0)) == "pickle"
    assert kind(pickle.dumps([1.5, "x", None], protocol=1)) == "pickle"


def test_concatenated_protocol_0_pickles() -> None:
    stream = pickle.dumps({"a": 1}, protocol=0) + pickle.dumps([2], protocol=0)
    assert kind(stream) == "pickle"
    assert kind(stream + b"trailing text\n") is None  # text after STOP: not a pickle file


def test_a_payload_that_runs_before_the_stream_breaks_is_a_model() -> None:
    payload = b"cos\nsystem\n(S'touch /tmp/x'\ntR" + b"garbage that never decodes\n"
    assert kind(payload) == "pickle"


def test_malformed_global_names_are_text() -> None:
    assert kind(b"cnot a module\nnot a name\n.") is None


def test_protocol_2_to_5_headers() -> None:
    for protocol in range(2, 6):
        assert kind(pickle.dumps({"w": [1.0]}, protocol=protocol)) == "pickle"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zips_by_layout() -> None:
    assert (
        kind(_zip({"archive/data.pkl": pickle.dumps(1, 2), "archive/version": b"3"})) == "torch-zip"
    )
    assert kind(_zip({"x.npy": b"\x93NUMPY"})) == "npz-zip"
    assert kind(_zip({"cache/model.pkl": pickle.dumps(1, 2)})) == "zip"
    assert kind(_zip({"word/document.xml": b"<xml/>", "README.txt": b"hi"})) is None
    assert kind(_zip({})) is None


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_tars_by_member_names() -> None:
    assert kind(_tar({"sys_info": b"", "pickle": b"", "storages": b"", "tensors": b""})) == "tar"
    assert kind(_tar({"src/main.c": b"int main;", "README": b"hi"})) is None


def test_compressed_files_count_by_what_they_hold() -> None:
    model = pickle.dumps({"w": [1.0]}, protocol=2)
    text = b"a,b\n1,2\n" * 100
    for compress in (gzip.compress, bz2.compress, lzma.compress):
        assert kind(compress(model)) == "compressed"
        assert kind(compress(text)) is None
    assert kind(gzip.compress(_tar({"src/a.c": b"x"}))) is None
    assert kind(gzip.compress(_zip({"archive/data.pkl": model}))) == "compressed"


def test_zstd_and_lz4_files_count_by_what_they_hold_too() -> None:
    """The scanner's own decoders (containers/compressed.py): what check finds by content
    is what scan reads."""
    import lz4.frame
    import zstandard

    model = pickle.dumps({"w": [1.0]}, protocol=2)
    for compress in (zstandard.ZstdCompressor().compress, lz4.frame.compress):
        assert kind(compress(model)) == "compressed"
        assert kind(compress(b"a,b\n1,2\n" * 100)) is None
    assert has_model_suffix("w.pt.zstd") and has_model_suffix("m.pkl.zlib")


def test_numpy_and_safetensors() -> None:
    assert kind(b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False}") == "npy"
    header = b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    assert kind(len(header).to_bytes(8, "little") + header + b"\0" * 4) == "safetensors"


def test_model_suffixes() -> None:
    for name in ("a.pt", "B.PTH", "w.bin", "m.pkl.gz", "x.joblib.xz", "c.safetensors", "a.npz"):
        assert has_model_suffix(name), name
    for name in ("a.txt", "a.gz", "a.tar.gz", "pt", "a.pt.txt", "a.py"):
        assert not has_model_suffix(name), name


def test_unreadable_file_is_a_model_only_by_name(tmp_path: Path) -> None:
    assert model_reason(str(tmp_path / "missing.txt")) is None
    assert model_reason(str(tmp_path / "missing.pt")) == "extension"


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> None:  # type: ignore[override]
        raise pickle.UnpicklingError("no globals here")


def _unpickles_to_the_end(data: bytes) -> bool:
    """Whether pickle.load in a loop reads all of ``data`` (globals refused, so nothing
    runs). pickletools reads it first: CPython allocates what a length field declares
    before it reads the bytes from a file, pickletools does not."""
    try:
        for reader in (lambda f: list(pickletools.genops(f)), lambda f: _NoGlobals(f).load()):
            stream = io.BytesIO(data)
            while stream.tell() < len(data):
                reader(stream)
    except Exception:
        return False
    return bool(data)


PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.binary(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=10,
)
KINDS = {None, "pickle", "zip", "torch-zip", "npz-zip", "package-zip", "pt2-zip", "npy"}
KINDS |= {"safetensors", "tar", "compressed"}


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | st.builds(pickle.dumps, PLAIN, st.integers(0, 5))
)
def test_content_test_finds_every_whole_pickle_and_never_raises(data: bytes) -> None:
    found = kind(data)
    assert found in KINDS
    if _unpickles_to_the_end(data):  # what a loader reads to the end is a model file
        assert found == "pickle", data
