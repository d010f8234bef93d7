"""numpy arrays as tensors: ``.npy`` files, ``.npz`` members, joblib's inline arrays and
arrays pickled by ``numpy.ndarray.__reduce__``.

A numeric array is a tensor whose storage is its data bytes: the dtype maps to the torch
dtype of the same kind and width (so a complex128 array is refused with the words a
complex128 tensor gets), the shape is numpy's, the strides are C or Fortran order.
Arrays written big-endian are byte-swapped like big-endian torch storages.
"""

from __future__ import annotations

from dataclasses import dataclass

from torchvet.converter.blobs import SourceRange
from torchvet.numpy_dtypes import TORCH_DTYPES
from torchvet.pickle.tensorinfo import TensorInfo
from torchvet.pickle.values import Call, Const, Instance, ListValue, Storage, TupleValue, Value
from torchvet.source import ByteSource, BytesSource

_RECONSTRUCT = frozenset(
    {"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"}
)


@dataclass(frozen=True)
class NumpyDtype:
    """A numpy dtype as written in a file: byte order, kind and item size, or the
    description of a dtype that has no tensor counterpart."""

    torch_dtype: str  # "torch.float32", or "numpy dtype '<U5'" when none fits
    big_endian: bool = False


def numpy_dtype(descr: object) -> NumpyDtype:
    """From an ``.npy`` header's ``descr`` (``'<f4'``, ``'|b1'``, a structured list...)."""
    if isinstance(descr, str) and len(descr) >= 2:
        order, code = (descr[0], descr[1:]) if descr[0] in "<>|=" else ("=", descr)
        kind, digits = code[:1], code[1:]
        if digits.isdigit():
            name = TORCH_DTYPES.get((kind, int(digits)))
            if name is not None:
                return NumpyDtype(name, order == ">")
    return NumpyDtype(f"numpy dtype {descr!r}")


def pickled_dtype(v: Value | None) -> NumpyDtype | None:
    """From a pickled ``numpy.dtype(code, ...)`` whose BUILD state gives the byte order."""
    if not (isinstance(v, Instance) and isinstance(v.call, Call) and isinstance(v.info, str)):
        return None
    if v.call.target != "numpy.dtype":
        return None
    state = v.state[-1] if v.state else None
    byteorder = state.items[1] if isinstance(state, TupleValue) and len(state.items) > 1 else None
    order = "|"
    if isinstance(byteorder, Const) and isinstance(byteorder.value, str):
        order = byteorder.value
    code = v.info.lstrip("<>|=")
    return numpy_dtype(order + code)


def array_tensor(
    dtype: NumpyDtype,
    shape: tuple[int, ...],
    fortran: bool,
    source: ByteSource,
    offset: int,
    key: str,
) -> TensorInfo:
    """A dense tensor over an array's data bytes (``offset`` in ``source``)."""
    strides = [1] * len(shape)
    acc = 1
    dims = range(len(shape)) if fortran else range(len(shape) - 1, -1, -1)
    for i in dims:
        strides[i] = acc
        acc *= shape[i]
    itemsize = _itemsize(dtype)
    record = SourceRange(source, offset, acc * itemsize, dtype.big_endian)
    storage = Storage(offset, key, dtype.torch_dtype, acc * itemsize, "cpu", record)
    return TensorInfo("dense", dtype.torch_dtype, shape, tuple(strides), 0, storage)


def _itemsize(dtype: NumpyDtype) -> int:
    for (_, size), name in TORCH_DTYPES.items():
        if name == dtype.torch_dtype:
            return size
    return 1  # not storable: planning refuses it before any byte is read


def reconstructed_array(v: Value) -> TensorInfo | None:
    """``numpy.ndarray.__reduce__``'s form: ``_reconstruct(ndarray, (0,), b'b')`` then
    BUILD ``(1, shape, dtype, is_fortran, rawdata)``; the data is the pickle's bytes."""
    if not (isinstance(v, Instance) and v.pytype == "numpy.ndarray" and v.call is not None):
        return None
    if v.call.target not in _RECONSTRUCT or not v.state:
        return None
    state = v.state[-1]
    if not (isinstance(state, TupleValue) and len(state.items) == 5):
        return None
    _, shape_v, dtype_v, fortran_v, data_v = state.items
    shape = _int_tuple(shape_v)
    dtype = pickled_dtype(dtype_v)
    if shape is None or dtype is None or isinstance(data_v, ListValue):
        return None  # object arrays pickle a list of objects: no tensor there
    if not (isinstance(fortran_v, Const) and isinstance(fortran_v.value, bool)):
        return None
    if not (isinstance(data_v, Const) and isinstance(data_v.value, bytes)):
        return None
    info = array_tensor(
        dtype, shape, fortran_v.value, BytesSource(data_v.value, "<pickled array>"), 0, "array"
    )
    storable = info.dtype.startswith("torch.")
    if storable and info.storage is not None and info.storage.nbytes != len(data_v.value):
        return None  # numpy would fail: the data does not fit the shape
    return info


def _int_tuple(v: Value) -> tuple[int, ...] | None:
    if not isinstance(v, TupleValue):
        return None
    out = []
    for x in v.items:
        if not (isinstance(x, Const) and type(x.value) is int and x.value >= 0):
            return None
        out.append(x.value)
    return tuple(out)
