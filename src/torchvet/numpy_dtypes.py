"""numpy dtypes as files spell them: one table for the scanner's models, the ``.npy`` and
joblib readers and the converter.

A numeric dtype is pickled as its kind letter and item size (``numpy.dtype("f8")``);
``NUMERIC`` gives, for each such code, the item size, the ``numpy.dtypes`` class numpy 2
creates (the runtime type BUILD then sees), the scalar type it makes, and the torch
dtype holding the same values. ``dtype_layout`` reads an ``.npy`` header's ``descr``.
Checked against numpy and torch in ``tests/test_numpy_dtypes.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NumericType:
    code: str  # kind letter and item size, as numpy pickles the dtype: "f8"
    dtype_class: str  # the numpy.dtypes class numpy 2 makes: "Float64DType"
    scalar: str  # the type of its scalars: "numpy.float64"
    torch: str | None = None  # the torch dtype with the same values, if any
    # False: the size of a 32-bit x86 long double, which numpy pickles there and
    # 64-bit numpy does not understand.
    native: bool = True

    @property
    def itemsize(self) -> int:
        return int(self.code[1:])

    @property
    def kind(self) -> str:
        return self.code[0]


# Pickled code -> the numpy.dtypes class numpy 2 makes.
_CLASSES = {
    "b1": "BoolDType",
    "i1": "Int8DType",
    "u1": "UInt8DType",
    "i2": "Int16DType",
    "u2": "UInt16DType",
    "i4": "Int32DType",
    "u4": "UInt32DType",
    "i8": "Int64DType",
    "u8": "UInt64DType",
    "f2": "Float16DType",
    "f4": "Float32DType",
    "f8": "Float64DType",
    "f12": "LongDoubleDType",
    "f16": "LongDoubleDType",
    "c8": "Complex64DType",
    "c16": "Complex128DType",
    "c24": "CLongDoubleDType",
    "c32": "CLongDoubleDType",
}
# numpy.dtypes class -> the type of its scalars.
_SCALARS = {
    "BoolDType": "numpy.bool",
    "Int8DType": "numpy.int8",
    "UInt8DType": "numpy.uint8",
    "Int16DType": "numpy.int16",
    "UInt16DType": "numpy.uint16",
    "Int32DType": "numpy.int32",
    "UInt32DType": "numpy.uint32",
    "Int64DType": "numpy.int64",
    "UInt64DType": "numpy.uint64",
    "Float16DType": "numpy.float16",
    "Float32DType": "numpy.float32",
    "Float64DType": "numpy.float64",
    "LongDoubleDType": "numpy.longdouble",
    "Complex64DType": "numpy.complex64",
    "Complex128DType": "numpy.complex128",
    "CLongDoubleDType": "numpy.clongdouble",
}
# Pickled code -> the torch dtype holding the same values (long doubles have none).
_TORCH = {
    "b1": "torch.bool",
    "i1": "torch.int8",
    "u1": "torch.uint8",
    "i2": "torch.int16",
    "u2": "torch.uint16",
    "i4": "torch.int32",
    "u4": "torch.uint32",
    "i8": "torch.int64",
    "u8": "torch.uint64",
    "f2": "torch.float16",
    "f4": "torch.float32",
    "f8": "torch.float64",
    "c8": "torch.complex64",
    "c16": "torch.complex128",
}
_NOT_NATIVE = frozenset({"f12", "c24"})  # 32-bit x86 long doubles
NUMERIC: dict[str, NumericType] = {
    code: NumericType(code, cls, _SCALARS[cls], _TORCH.get(code), code not in _NOT_NATIVE)
    for code, cls in _CLASSES.items()
}
# The object dtype as numpy pickles it (pointer size), and every code numpy reads as it.
PICKLED_OBJECT_CODES = frozenset({"O4", "O8"})
OBJECT_CODES = PICKLED_OBJECT_CODES | {"O"}
OBJECT_ITEMSIZE = 8
# Flexible kinds (size in the code, or none) -> their numpy.dtypes class.
FLEXIBLE_CLASSES = {
    "U": "StrDType",
    "S": "BytesDType",
    "V": "VoidDType",
    "M": "DateTime64DType",
    "m": "TimeDelta64DType",
}
# (kind, item size) -> the torch dtype holding the same values.
TORCH_DTYPES = {(t.kind, t.itemsize): t.torch for t in NUMERIC.values() if t.torch}


def dtype_class(code: str) -> str | None:
    """``numpy.dtypes.<X>DType`` for a pickled dtype string such as ``"f8"`` or ``"<U5"``."""
    code = code.lstrip("<>|=")
    if code in NUMERIC:
        return "numpy.dtypes." + NUMERIC[code].dtype_class
    if code in PICKLED_OBJECT_CODES:
        return "numpy.dtypes.ObjectDType"
    head, rest = code[:1], code[1:]
    if head in FLEXIBLE_CLASSES and (rest == "" or rest.isdigit() or rest.startswith("8")):
        return "numpy.dtypes." + FLEXIBLE_CLASSES[head]
    return None


def scalar_type(dtype_class_name: str) -> str | None:
    """The scalar type of a numeric ``numpy.dtypes`` class (``"Float64DType"``)."""
    return _SCALARS.get(dtype_class_name)


# -- .npy headers ----------------------------------------------------------------------
# numpy's one-character codes and type names -> item size (object dtypes apart).
_CHAR_SIZES = {
    "?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8,
    "Q": 8, "p": 8, "P": 8, "n": 8, "N": 8, "e": 2, "f": 4, "d": 8, "g": 16, "F": 8,
    "D": 16, "G": 32, "c": 1,
}  # fmt: skip
_NAMES = {
    "bool": 1, "bool_": 1, "int8": 1, "uint8": 1, "byte": 1, "ubyte": 1, "int16": 2,
    "uint16": 2, "short": 2, "ushort": 2, "int32": 4, "uint32": 4, "intc": 4, "uintc": 4,
    "int64": 8, "uint64": 8, "long": 8, "ulong": 8, "longlong": 8, "ulonglong": 8,
    "intp": 8, "uintp": 8, "int": 8, "float16": 2, "half": 2, "float32": 4, "single": 4,
    "float64": 8, "double": 8, "float": 8, "longdouble": 16, "float128": 16,
    "complex64": 8, "csingle": 8, "complex128": 16, "cdouble": 16, "complex": 16,
    "clongdouble": 32, "complex256": 32, "datetime64": 8, "timedelta64": 8,
}  # fmt: skip
_OBJECT_NAMES = OBJECT_CODES | {"object", "object_"}
_KIND_SIZES: dict[str, set[int]] = {}
for _t in NUMERIC.values():
    if _t.native:
        _KIND_SIZES.setdefault(_t.kind, set()).add(_t.itemsize)


def dtype_layout(descr: object) -> tuple[bool, int] | None:
    """(holds Python objects, item size) for a header's ``descr``, or None if unknown."""
    if isinstance(descr, str):
        return _dtype_str(descr)
    if isinstance(descr, tuple) and len(descr) == 2:
        return _subarray(descr[0], descr[1])
    if isinstance(descr, list) and descr:
        has_object, size = False, 0
        for fld in descr:
            if not isinstance(fld, tuple) or len(fld) not in (2, 3):
                return None
            part = dtype_layout(fld[1] if len(fld) == 2 else (fld[1], fld[2]))
            if part is None:
                return None
            has_object = has_object or part[0]
            size += part[1]
        return has_object, size
    return None


def _subarray(base_descr: object, shape: object) -> tuple[bool, int] | None:
    base = dtype_layout(base_descr)
    if isinstance(shape, int):
        shape = (shape,)
    if (
        base is None
        or not isinstance(shape, tuple)
        or not all(isinstance(d, int) and d >= 0 for d in shape)
    ):
        return None
    n = 1
    for d in shape:
        n *= d
    return base[0], base[1] * n


def _dtype_str(s: str) -> tuple[bool, int] | None:
    if "," in s:  # "i4,f8": a structured dtype
        parts = [_dtype_str(p.strip()) for p in s.split(",")]
        if any(p is None for p in parts):
            return None
        return any(p[0] for p in parts), sum(p[1] for p in parts)  # type: ignore[index]
    code = s[1:] if s[:1] in "<>|=" else s
    if code in _OBJECT_NAMES:
        return True, OBJECT_ITEMSIZE
    if code in _NAMES:
        return False, _NAMES[code]
    if code in _CHAR_SIZES:
        return False, _CHAR_SIZES[code]
    kind, rest = code[:1], code[1:]
    if kind in "Mm" and (rest == "8" or rest.startswith("8[")) and rest.endswith(("8", "]")):
        return False, 8
    if kind in "SaUV" and rest.isdigit():
        return False, int(rest) * (4 if kind == "U" else 1)
    if kind in _KIND_SIZES and rest.isdigit() and int(rest) in _KIND_SIZES[kind]:
        return False, int(rest)
    return None
