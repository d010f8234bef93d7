"""What the models of known callables compute, against the libraries they model."""

from __future__ import annotations

import pytest

from torchvet.numpy_dtypes import dtype_class as numpy_dtype_class


@pytest.mark.parametrize(
    "code",
    [
        "f8",
        "<f4",
        "f2",
        "i8",
        "<i4",
        "i2",
        "i1",
        "u1",
        "u2",
        "u4",
        "u8",
        "b1",
        "c8",
        "c16",
        "O8",
        "<U5",
        "|S3",
        "|V8",
        "<M8[ns]",
        "<m8[s]",
    ],
)
def test_numpy_dtype_classes_match_numpy(code: str) -> None:
    np = pytest.importorskip("numpy")
    expected = "numpy.dtypes." + type(np.dtype(code)).__name__
    assert numpy_dtype_class(code) == expected
