"""Every benign corpus file that holds tensors: convert, then compare bit for bit with
what torch.load(weights_only=False) returns (the oracle)."""

from __future__ import annotations

import warnings

import pytest

from tests.converter.oracle import flatten, same
from torchvet.converter import ConvertError, convert

pytest.importorskip("torch")
pytest.importorskip("safetensors")


def _torch_load(path):
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return torch.load(path, weights_only=False, map_location="cpu")
        except Exception:  # torch itself cannot read it: nothing to compare against
            return None


def test_every_benign_fixture_with_tensors_converts_bit_for_bit(corpus, tmp_path):
    from safetensors.torch import load_file

    checked = []
    for rec in corpus.benign:
        if rec.container == "safetensors":  # torch.load reads these with safetensors
            continue
        obj = _torch_load(rec.path)
        expected = flatten(obj) if obj is not None else {}
        if not expected:
            continue
        out = tmp_path / f"{rec.id}.safetensors"
        report = (
            convert(rec.path, out, include=("all",), unwrap=False, skip_unsupported=True)
            if rec.id not in _ALL_UNSUPPORTED
            else None
        )
        if report is None:
            with pytest.raises(ConvertError, match="no tensors to write"):
                convert(rec.path, out, include=("all",), unwrap=False, skip_unsupported=True)
            continue
        got = load_file(str(out))
        skipped = {name for name, _ in report.skipped}
        assert set(got) | set(report.aliases) | skipped == set(expected), rec.id
        for name, tensor in got.items():
            assert same(tensor, expected[name]), (rec.id, name)
        for alias, kept in report.aliases.items():
            assert same(got[kept], expected[alias]), (rec.id, alias)
        checked.append(rec.id)
    # The corpus covers these forms; make sure they were really compared.
    for must in (
        "mlp-state-dict",
        "whole-module",
        "legacy-format",
        "legacy-tied",
        "torchscript",
        "zip-big-endian",
        "zip-deflate",
        "conj-neg-views",
        "shared-views",
        "tied-weights",
        "channels-last",
        "lightning-ckpt",
        "dtype-bfloat16",
        "dtype-float8_e4m3fnuz",
        "dtype-complex64",
        "dtype-uint64",
    ):
        assert must in checked, must


# Fixtures whose every tensor is one safetensors cannot hold.
_ALL_UNSUPPORTED = {
    "dtype-complex128",
    "dtype-complex32",
    "quant-per-tensor",
    "quant-per-channel",
    "sparse-coo",
    "sparse-csr",
    "sparse-csc",
    "sparse-bsr",
    "sparse-bsc",
    "nested-strided",
    "nested-jagged",
    "meta",
}


def test_unsupported_tensors_are_listed_and_refused(corpus, tmp_path):
    for rid, needle in (
        ("sparse-coo", "sparse tensor"),
        ("quant-per-tensor", "quantized tensor"),
        ("dtype-complex128", "complex128"),
        ("meta", "meta tensor"),
        ("huge-shape-small-file", "expanded (stride-0) view"),
    ):
        rec = corpus.by_id(rid)
        out = tmp_path / f"{rid}.safetensors"
        with pytest.raises(ConvertError, match="refused: safetensors cannot hold") as exc:
            convert(rec.path, out)
        assert needle in str(exc.value)
        assert not out.exists()
