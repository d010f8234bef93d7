"""The numpy dtype table against numpy and torch themselves."""

from __future__ import annotations

import pytest

from torchvet import numpy_dtypes
from torchvet.numpy_dtypes import NUMERIC, dtype_class, dtype_layout, scalar_type

np = pytest.importorskip("numpy")


@pytest.mark.parametrize("code", sorted(c for c, t in NUMERIC.items() if t.native))
def test_numeric_codes_match_numpy(code: str) -> None:
    dt = np.dtype(code)
    entry = NUMERIC[code]
    assert (dt.itemsize, dt.kind) == (entry.itemsize, entry.kind)
    assert dtype_class(code) == "numpy.dtypes." + type(dt).__name__
    assert scalar_type(entry.dtype_class) == entry.scalar == "numpy." + dt.type.__name__


@pytest.mark.parametrize("code", sorted(c for c, t in NUMERIC.items() if not t.native))
def test_32_bit_long_doubles_are_not_understood_here(code: str) -> None:
    with pytest.raises(TypeError):
        np.dtype(code)
    assert NUMERIC[code].dtype_class in ("LongDoubleDType", "CLongDoubleDType")


def test_torch_dtypes_hold_the_same_values() -> None:
    torch = pytest.importorskip("torch")
    for code, entry in NUMERIC.items():
        if not entry.native:
            continue
        array = np.zeros(2, dtype=code)
        if entry.torch is None:
            with pytest.raises(TypeError):
                torch.from_numpy(array)
        else:
            assert str(torch.from_numpy(array).dtype) == entry.torch, code


@pytest.mark.parametrize("code", ["O4", "O8", "<U5", "|S3", "|V8", "<M8[ns]", "<m8[s]", "U", "S"])
def test_other_pickled_codes_name_numpys_class(code: str) -> None:
    assert dtype_class(code) == "numpy.dtypes." + type(np.dtype(code)).__name__


def test_an_empty_code_names_no_class() -> None:
    assert dtype_class("") is None  # numpy.dtype("") is float64; torchvet does not guess


def test_header_codes_and_names_have_numpys_sizes() -> None:
    tables = {**numpy_dtypes._CHAR_SIZES, **numpy_dtypes._NAMES}
    for code, size in tables.items():
        try:
            dt = np.dtype(code)
        except TypeError:
            continue  # a name this numpy lacks (float128 on some platforms)
        assert (dt.itemsize, dt.hasobject) == (size, False), code
        assert dtype_layout("<" + code if len(code) == 1 else code) == (False, size), code
    for name in ("O", "|O", "object"):
        assert dtype_layout(name) == (True, np.dtype(name.lstrip("|")).itemsize)
