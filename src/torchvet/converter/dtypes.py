"""torch dtypes as safetensors stores them, and what each needs when transformed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    code: str  # safetensors dtype string
    itemsize: int  # bytes per torch element
    kind: str  # float, fnuz, int, uint, bool, complex, e8m0, packed4
    # How to negate one element: "sign" (flip the top bit), "twos" (two's complement),
    # None when torch itself cannot negate the dtype.
    neg: str | None = None


TARGETS: dict[str, Target] = {
    "torch.float64": Target("F64", 8, "float", "sign"),
    "torch.float32": Target("F32", 4, "float", "sign"),
    "torch.float16": Target("F16", 2, "float", "sign"),
    "torch.bfloat16": Target("BF16", 2, "float", "sign"),
    "torch.int64": Target("I64", 8, "int", "twos"),
    "torch.int32": Target("I32", 4, "int", "twos"),
    "torch.int16": Target("I16", 2, "int", "twos"),
    "torch.int8": Target("I8", 1, "int", "twos"),
    "torch.uint8": Target("U8", 1, "uint", "twos"),
    "torch.uint16": Target("U16", 2, "uint"),
    "torch.uint32": Target("U32", 4, "uint"),
    "torch.uint64": Target("U64", 8, "uint"),
    "torch.bool": Target("BOOL", 1, "bool"),
    "torch.complex64": Target("C64", 8, "complex", "sign"),
    "torch.float8_e4m3fn": Target("F8_E4M3", 1, "float"),
    "torch.float8_e5m2": Target("F8_E5M2", 1, "float"),
    "torch.float8_e4m3fnuz": Target("F8_E4M3FNUZ", 1, "fnuz"),
    "torch.float8_e5m2fnuz": Target("F8_E5M2FNUZ", 1, "fnuz"),
    "torch.float8_e8m0fnu": Target("F8_E8M0", 1, "e8m0"),
    # Two 4-bit values per byte: safetensors counts 4-bit elements, so the last
    # dimension doubles in the header.
    "torch.float4_e2m1fn_x2": Target("F4", 1, "packed4"),
}

# Why a dtype cannot go into a safetensors file (for the per-tensor report).
UNSTORABLE = {
    "torch.complex128": "complex128 has no safetensors dtype",
    "torch.complex32": "complex32 has no safetensors dtype",
}


def unstorable_reason(dtype: str) -> str:
    if dtype in UNSTORABLE:
        return UNSTORABLE[dtype]
    if dtype.startswith(("torch.q", "torch.quint")):
        return f"quantized dtype {dtype} has no safetensors dtype"
    return f"{dtype} has no safetensors dtype"


def header_shape(target: Target, shape: tuple[int, ...]) -> list[int]:
    if target.kind == "packed4":
        if not shape:
            return [2]
        return [*shape[:-1], shape[-1] * 2]
    return list(shape)
