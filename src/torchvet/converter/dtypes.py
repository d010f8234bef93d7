"""torch dtypes as safetensors stores them, and what each needs when transformed."""

from __future__ import annotations

from dataclasses import dataclass

from torchvet.pickle.torchfacts import load_facts, shipped_versions


@dataclass(frozen=True)
class Target:
    code: str  # safetensors dtype string
    itemsize: int  # bytes per torch element
    kind: str  # float, fnuz, int, uint, bool, complex, e8m0, packed4
    # How to negate one element: "sign" (flip the top bit), "twos" (two's complement),
    # None when torch itself cannot negate the dtype.
    neg: str | None = None


# torch dtype -> (safetensors code, kind, negation).
_TARGETS: dict[str, tuple[str, str, str | None]] = {
    "torch.float64": ("F64", "float", "sign"),
    "torch.float32": ("F32", "float", "sign"),
    "torch.float16": ("F16", "float", "sign"),
    "torch.bfloat16": ("BF16", "float", "sign"),
    "torch.int64": ("I64", "int", "twos"),
    "torch.int32": ("I32", "int", "twos"),
    "torch.int16": ("I16", "int", "twos"),
    "torch.int8": ("I8", "int", "twos"),
    "torch.uint8": ("U8", "uint", "twos"),
    "torch.uint16": ("U16", "uint", None),
    "torch.uint32": ("U32", "uint", None),
    "torch.uint64": ("U64", "uint", None),
    "torch.bool": ("BOOL", "bool", None),
    "torch.complex64": ("C64", "complex", "sign"),
    "torch.float8_e4m3fn": ("F8_E4M3", "float", None),
    "torch.float8_e5m2": ("F8_E5M2", "float", None),
    "torch.float8_e4m3fnuz": ("F8_E4M3FNUZ", "fnuz", None),
    "torch.float8_e5m2fnuz": ("F8_E5M2FNUZ", "fnuz", None),
    "torch.float8_e8m0fnu": ("F8_E8M0", "e8m0", None),
    # Two 4-bit values per byte: safetensors counts 4-bit elements, so the last
    # dimension doubles in the header.
    "torch.float4_e2m1fn_x2": ("F4", "packed4", None),
}
# Item sizes are torch's, from the generated table the scanner reads (the newest
# release's: it knows every dtype above).
_DTYPES = load_facts(shipped_versions()[-1]).dtypes
TARGETS: dict[str, Target] = {
    name: Target(code, _DTYPES[name].itemsize, kind, neg)
    for name, (code, kind, neg) in _TARGETS.items()
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
