"""Generate torchvet's policy table for the installed torch (run with that torch).

    python scripts/gen_torch_policy.py            # writes src/torchvet/policy/data/torch-<ver>.json
    python scripts/gen_torch_policy.py --check    # exit 1 if the shipped table drifted

Everything is read from torch itself, never retyped: the weights-only allowlist
(_get_allowed_globals), what `import torch` adds to the user allowlist, the Python 2
name mapping, the blocked modules, the "must be imported" special names, dtype facts
and the attribute names a Parameter's Python state must not shadow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_file import write_or_check

DATA = Path(__file__).resolve().parents[1] / "src" / "torchvet" / "policy" / "data"


def build() -> dict:
    import torch
    import torch._weights_only_unpickler as wo
    from torch._utils import IMPORT_MAPPING, NAME_MAPPING

    allowed = wo._get_allowed_globals()
    entries = {}
    for name, obj in sorted(allowed.items()):
        if isinstance(obj, torch.dtype):
            kind = "dtype"
        elif isinstance(obj, torch.serialization.StorageType):
            kind = "storage-type"
        elif isinstance(obj, torch.qscheme):
            kind = "qscheme"
        elif isinstance(obj, type):
            kind = "class"
        else:
            kind = "function"
        entries[name] = kind

    dtypes = {}
    for name, kind in entries.items():
        if kind != "dtype":
            continue
        dt = allowed[name]
        dtypes[name] = {
            "itemsize": dt.itemsize,
            "floating": dt.is_floating_point,
            "complex": dt.is_complex,
            "quantized": name
            in ("torch.qint8", "torch.qint32", "torch.quint8", "torch.quint4x2", "torch.quint2x4"),
        }
    storage_types = {
        name: str(allowed[name].dtype) for name, kind in entries.items() if kind == "storage-type"
    }
    src = Path(wo.__file__).read_text()
    special = {
        "njt": [
            "torch.nested._internal.nested_tensor.NestedTensor",
            "torch.nested._internal.nested_tensor._rebuild_njt",
            "torch._dynamo.decorators._DimRange",
        ],
        "dtensor": [
            "torch.distributed.device_mesh.DeviceMesh",
            "torch.distributed.tensor._dtensor_spec.DTensorSpec",
            "torch.distributed.tensor._dtensor_spec.TensorMeta",
            "torch.distributed.tensor.DTensor",
            "torch.distributed.tensor.placement_types.Partial",
            "torch.distributed.tensor.placement_types.Replicate",
            "torch.distributed.tensor.placement_types.Shard",
        ],
    }
    for names in special.values():
        for n in names:
            assert f'"{n}"' in src, f"special name {n} no longer in torch's unpickler"
    layouts = sorted(str(v) for v in torch.__dict__.values() if isinstance(v, torch.layout))
    device_types = []
    for cand in [
        "cpu",
        "cuda",
        "xpu",
        "mkldnn",
        "opengl",
        "opencl",
        "ideep",
        "hip",
        "ve",
        "fpga",
        "maia",
        "xla",
        "lazy",
        "vulkan",
        "mps",
        "meta",
        "hpu",
        "mtia",
        "privateuseone",
        "ipu",
    ]:
        try:
            torch.device(cand)
            device_types.append(cand)
        except RuntimeError:
            pass
    user_after_import = sorted(
        k
        for k in wo._get_user_allowed_globals()  # what `import torch` itself adds
    )
    return {
        "torch_version": torch.__version__.split("+")[0],
        "allowed": entries,
        "user_allowed_after_import": user_after_import,
        "blocked_modules": list(wo._blocklisted_modules),
        "special": special,
        "name_mapping": [[list(k), list(v)] for k, v in sorted(NAME_MAPPING.items())],
        "import_mapping": dict(sorted(IMPORT_MAPPING.items())),
        "dtypes": dtypes,
        "storage_types": storage_types,
        "layouts": layouts,
        "device_types": device_types,
        "parameter_attributes": sorted(set(dir(torch.nn.Parameter))),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped table")
    args = parser.parse_args()
    table = build()
    path = DATA / f"torch-{table['torch_version']}.json"
    text = json.dumps(table, indent=1, sort_keys=True) + "\n"
    source = f"torch {table['torch_version']}"
    summary = f"{len(table['allowed'])} allowed globals"
    return write_or_check(path, text, args.check, source, summary)


if __name__ == "__main__":
    raise SystemExit(main())
