"""Benign corpus: files a model loader meets in practice, none of which carries a payload.

Every generator takes the output directory, writes exactly one file and returns its
`CorpusFile`. `generate_benign(out)` runs them all with a fixed torch seed each.
`expect_weights_only` is the hand-written expectation of torch 2.13's verdict; the
oracle checks it (tests/corpus/test_corpus.py).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import gzip
import io
import pathlib
import pickle
import random
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.corpus import containers as C
from tests.corpus.record import CorpusFile

Generator = Callable[[Path], CorpusFile]
GENERATORS: list[Generator] = []

NUMPY_ARRAY = (
    "numpy._core.multiarray._reconstruct",
    "numpy.ndarray",
    "numpy.dtype",
)
OMEGACONF_DICT = (
    "omegaconf.dictconfig.DictConfig",
    "omegaconf.base.ContainerMetadata",
    "typing.Any",
    "builtins.dict",
    "collections.defaultdict",
    "omegaconf.nodes.AnyNode",
    "omegaconf.base.Metadata",
    "omegaconf.listconfig.ListConfig",
    "builtins.list",
    "builtins.int",
)
UC = "tests.corpus.userclasses"


def generator(fn: Generator) -> Generator:
    GENERATORS.append(fn)
    return fn


def _rec(path: Path, id: str, description: str, container: str, **kw: Any) -> CorpusFile:
    kw.setdefault("expected_verdict", _default_verdict(kw))
    return CorpusFile(
        path=path, id=id, description=description, container=container, kind="benign", **kw
    )


def _default_verdict(kw: dict[str, Any]) -> str:
    if kw.get("expect_weights_only"):
        return "safe"
    if kw.get("allowlist"):
        return "needs-allowlist"
    return ""


def _saved(
    out: Path,
    fname: str,
    id: str,
    description: str,
    obj: Any,
    *,
    legacy: bool = False,
    protocol: int = 2,
    **kw: Any,
) -> CorpusFile:
    """torch.save `obj` and describe it; default expectation: weights_only accepts."""
    path = out / fname
    det = C.torch_save(obj, path, legacy=legacy, protocol=protocol)
    kw.setdefault("expect_weights_only", not kw.get("allowlist"))
    container = "torch-legacy" if legacy else "torch-zip"
    return _rec(path, id, description, container, deterministic=det, **kw)


# -- one file per dtype ---------------------------------------------------------------
OLD_DTYPES = [
    "float64",
    "float32",
    "float16",
    "bfloat16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
    "complex128",
    "complex64",
]
NEW_DTYPES = [
    "float8_e5m2",
    "float8_e4m3fn",
    "float8_e5m2fnuz",
    "float8_e4m3fnuz",
    "float8_e8m0fnu",
    "uint16",
    "uint32",
    "uint64",
    "complex32",
]


def _dtype_generator(dtype_name: str) -> Generator:
    def gen(out: Path) -> CorpusFile:
        import torch

        dtype = getattr(torch, dtype_name)
        base = torch.arange(6, dtype=torch.float32).reshape(2, 3)
        if dtype == torch.complex32:
            t = base.to(torch.complex64).to(dtype)
        elif dtype.is_floating_point and dtype.itemsize == 1:
            t = (base / 8).to(dtype)
        else:
            t = base.to(dtype)
        rebuild = "_rebuild_tensor_v3" if dtype_name in NEW_DTYPES else "_rebuild_tensor_v2"
        return _saved(
            out,
            f"dtype_{dtype_name}.pt",
            f"dtype-{dtype_name}",
            f"2x3 {dtype_name} tensor ({rebuild})",
            {"t": t},
            tags=("dtype",),
        )

    gen.__name__ = f"gen_dtype_{dtype_name}"
    return gen


for _name in OLD_DTYPES + NEW_DTYPES:
    generator(_dtype_generator(_name))


@generator
def gen_exotic_dtypes(out: Path) -> CorpusFile:
    import torch

    raw = torch.arange(4, dtype=torch.uint8)
    obj = {
        "f4x2": raw.view(torch.float4_e2m1fn_x2),
        "bits8": raw.view(torch.bits8),
        "bits16": torch.arange(2, dtype=torch.int16).view(torch.bits16),
    }
    return _saved(out, "dtype_exotic.pt", "dtype-exotic", "float4_e2m1fn_x2, bits8, bits16", obj)


# -- tensor kinds ----------------------------------------------------------------------
@generator
def gen_quant_per_tensor(out: Path) -> CorpusFile:
    import torch

    x = torch.linspace(-1, 1, 6)
    obj = {
        "quint8": torch.quantize_per_tensor(x, 0.1, 3, torch.quint8),
        "qint8": torch.quantize_per_tensor(x, 0.05, 0, torch.qint8),
        "qint32": torch.quantize_per_tensor(x, 0.01, 0, torch.qint32),
    }
    return _saved(out, "quant_per_tensor.pt", "quant-per-tensor", "per-tensor quantized", obj)


@generator
def gen_quant_per_channel(out: Path) -> CorpusFile:
    import torch

    x = torch.linspace(-1, 1, 6).reshape(2, 3)
    q = torch.quantize_per_channel(
        x, torch.tensor([0.1, 0.2]), torch.tensor([0, 1]), 0, torch.quint8
    )
    return _saved(out, "quant_per_channel.pt", "quant-per-channel", "per-channel quint8", {"q": q})


def _sparse_generator(layout: str) -> Generator:
    def gen(out: Path) -> CorpusFile:
        import torch

        dense = torch.tensor([[1.0, 0, 0, 2], [0, 0, 3, 0], [0, 0, 0, 0], [4, 0, 0, 5]])
        convert = {
            "coo": lambda d: d.to_sparse(),
            "csr": lambda d: d.to_sparse_csr(),
            "csc": lambda d: d.to_sparse_csc(),
            "bsr": lambda d: d.to_sparse_bsr((2, 2)),
            "bsc": lambda d: d.to_sparse_bsc((2, 2)),
        }[layout]
        return _saved(
            out,
            f"sparse_{layout}.pt",
            f"sparse-{layout}",
            f"4x4 sparse {layout.upper()} tensor",
            {"s": convert(dense)},
            tags=("sparse",),
        )

    gen.__name__ = f"gen_sparse_{layout}"
    return gen


for _layout in ("coo", "csr", "csc", "bsr", "bsc"):
    generator(_sparse_generator(_layout))


@generator
def gen_nested_strided(out: Path) -> CorpusFile:
    import torch

    nt = torch.nested.nested_tensor([torch.ones(2, 3), torch.zeros(1, 3)])
    return _saved(out, "nested_strided.pt", "nested-strided", "strided nested tensor", {"n": nt})


@generator
def gen_nested_jagged(out: Path) -> CorpusFile:
    import torch

    nt = torch.nested.nested_tensor([torch.ones(2, 3), torch.zeros(1, 3)], layout=torch.jagged)
    return _saved(
        out,
        "nested_jagged.pt",
        "nested-jagged",
        "jagged NJT (names torch._dynamo.decorators._DimRange)",
        {"n": nt},
        expect_weights_only=False,
        preimport=("torch._dynamo",),
        expected_verdict="needs-allowlist",
        notes="refused in a fresh `import torch` process; accepted once torch._dynamo is imported",
    )


@generator
def gen_meta(out: Path) -> CorpusFile:
    import torch

    obj = {"w": torch.empty(3, 4, device="meta"), "b": torch.empty(4, device="meta")}
    return _saved(out, "meta.pt", "meta", "meta tensors (no storage)", obj)


@generator
def gen_conj_neg_views(out: Path) -> CorpusFile:
    import torch

    z = torch.tensor([1 + 2j, 3 - 1j], dtype=torch.complex64)
    obj = {"conj": z.conj(), "neg": torch._neg_view(torch.ones(3))}
    return _saved(out, "conj_neg.pt", "conj-neg-views", "conj and neg views (metadata bits)", obj)


@generator
def gen_channels_last(out: Path) -> CorpusFile:
    import torch

    x = torch.arange(24.0).reshape(1, 2, 3, 4).to(memory_format=torch.channels_last)
    return _saved(out, "channels_last.pt", "channels-last", "NCHW in channels_last", {"x": x})


@generator
def gen_shared_views(out: Path) -> CorpusFile:
    import torch

    base = torch.arange(12.0)
    obj = {"base": base, "view": base[2:8].view(2, 3), "t": base.view(3, 4).t()}
    return _saved(out, "shared_views.pt", "shared-views", "three tensors, one storage", obj)


@generator
def gen_tied_weights(out: Path) -> CorpusFile:
    from tests.corpus.userclasses import TiedNet

    sd = TiedNet().state_dict()
    return _saved(out, "tied.pt", "tied-weights", "embedding and head share storage", sd)


@generator
def gen_parameters(out: Path) -> CorpusFile:
    import torch

    obj = {
        "p": torch.nn.Parameter(torch.ones(2)),
        "frozen": torch.nn.Parameter(torch.ones(2), False),
    }
    return _saved(out, "parameters.pt", "parameters", "nn.Parameter, trainable and frozen", obj)


@generator
def gen_parameter_attrs(out: Path) -> CorpusFile:
    import torch

    p = torch.nn.Parameter(torch.ones(2))
    p.lr_scale = 0.5  # type: ignore[attr-defined]
    return _saved(
        out, "param_attrs.pt", "parameter-attrs", "Parameter with a Python attribute", {"p": p}
    )


@generator
def gen_tensor_attrs(out: Path) -> CorpusFile:
    import torch

    t = torch.ones(2)
    t.note = "calibrated"  # type: ignore[attr-defined]
    return _saved(
        out, "tensor_attrs.pt", "tensor-attrs", "tensor with a Python attribute", {"t": t}
    )


@generator
def gen_tensor_subclass(out: Path) -> CorpusFile:
    import torch

    from tests.corpus.userclasses import TaggedTensor

    t = torch.ones(2).as_subclass(TaggedTensor)
    return _saved(
        out,
        "tensor_subclass.pt",
        "tensor-subclass",
        "tensor subclass defined by the test suite",
        {"t": t},
        allowlist=(f"{UC}.TaggedTensor",),
        expected_verdict="unknown",
    )


@generator
def gen_zero_and_scalar(out: Path) -> CorpusFile:
    import torch

    obj = {"empty": torch.empty(0, 5), "scalar": torch.tensor(3.5), "long0": torch.tensor(7)}
    return _saved(out, "zero_scalar.pt", "zero-size-scalar", "zero-size and 0-d tensors", obj)


@generator
def gen_huge_shape(out: Path) -> CorpusFile:
    import torch

    obj = {
        "broadcast": torch.zeros(1).expand(100000, 100000),
        "empty_wide": torch.empty(0, 10**9),
    }
    return _saved(
        out,
        "huge_shape.pt",
        "huge-shape-small-file",
        "stride-0 expand to 1e10 elements over a 1-element storage",
        obj,
    )


# -- containers of tensors -------------------------------------------------------------
@generator
def gen_mlp_state_dict(out: Path) -> CorpusFile:
    from tests.corpus.userclasses import TinyNet

    return _saved(
        out, "mlp_state_dict.pt", "mlp-state-dict", "MLP state_dict()", TinyNet().state_dict()
    )


@generator
def gen_convnet_state_dict(out: Path) -> CorpusFile:
    from tests.corpus.userclasses import ConvNet

    sd = ConvNet().state_dict()
    return _saved(out, "conv_bn.pth", "conv-bn-state-dict", "Conv+BatchNorm state_dict()", sd)


def _trained_optimizer(kind: str) -> Any:
    import torch

    from tests.corpus.userclasses import TinyNet

    model = TinyNet()
    if kind == "adam":
        opt: Any = torch.optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 4)).sum().backward()
    opt.step()
    return model, opt


@generator
def gen_adam(out: Path) -> CorpusFile:
    _model, opt = _trained_optimizer("adam")
    return _saved(
        out, "adam.pt", "optimizer-adam", "Adam state_dict after one step", opt.state_dict()
    )


@generator
def gen_sgd(out: Path) -> CorpusFile:
    _model, opt = _trained_optimizer("sgd")
    return _saved(out, "sgd.pt", "optimizer-sgd", "SGD+momentum state_dict", opt.state_dict())


@generator
def gen_lr_schedulers(out: Path) -> CorpusFile:
    import torch

    _model, opt = _trained_optimizer("sgd")
    step = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    obj = {"step": step.state_dict(), "plateau": plateau.state_dict()}
    return _saved(out, "schedulers.pt", "lr-schedulers", "StepLR and ReduceLROnPlateau state", obj)


@generator
def gen_grad_scaler(out: Path) -> CorpusFile:
    import torch

    state = torch.amp.GradScaler("cpu", init_scale=1024.0).state_dict()
    return _saved(out, "grad_scaler.pt", "grad-scaler", "GradScaler state_dict", {"scaler": state})


@generator
def gen_lightning(out: Path) -> CorpusFile:
    import torch

    model, opt = _trained_optimizer("adam")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    ckpt = {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": {"model." + k: v for k, v in model.state_dict().items()},
        "loops": {"fit_loop": {"epoch_progress": {"total": {"ready": 4}}}},
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.25)}
        },
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [sched.state_dict()],
        "hparams_name": "kwargs",
        "hyper_parameters": {"lr": 1e-3, "hidden": [4, 3, 2], "name": "tiny"},
    }
    return _saved(
        out, "epoch=3-step=120.ckpt", "lightning-ckpt", "Lightning-style checkpoint", ckpt
    )


@generator
def gen_hf_bin(out: Path) -> CorpusFile:
    from tests.corpus.userclasses import TiedNet

    sd = {"model." + k: v for k, v in TiedNet().state_dict().items()}
    return _saved(
        out, "pytorch_model.bin", "hf-pytorch-model-bin", "HF-style state dict named .bin", sd
    )


@generator
def gen_hf_training_state(out: Path) -> CorpusFile:
    import torch

    _model, opt = _trained_optimizer("adam")
    state = {
        "optimizer": opt.state_dict(),
        "scheduler": {"last_epoch": 5, "_step_count": 6, "base_lrs": [0.001]},
        "rng_state": {"python": random.Random(0).getstate(), "cpu": torch.get_rng_state()},
        "global_step": 6,
    }
    return _saved(out, "optimizer.pt", "hf-trainer-state", "HF Trainer-style state", state)


@generator
def gen_rng_states(out: Path) -> CorpusFile:
    import torch

    obj = {"torch": torch.get_rng_state(), "python": random.Random(1234).getstate()}
    return _saved(out, "rng_state.pth", "rng-states", "torch and python RNG states", obj)


@generator
def gen_python_values(out: Path) -> CorpusFile:
    obj = {
        "bytes": b"\x00\xffcorpus",
        "bytearray": bytearray(b"abc"),
        "set": {1, 2, 3},
        "complex": 1 + 2j,
        "big": 2**100,
        "neg_big": -(2**70),
        "inf": float("inf"),
        "nan": float("nan"),
        "none": None,
        "flags": (True, False),
        "text": "日本語 ✓",
    }
    return _saved(
        out, "python_values.pt", "python-values", "bytes/bytearray/set/complex/big ints", obj
    )


@generator
def gen_odd_keys(out: Path) -> CorpusFile:
    import torch

    obj = {0: torch.ones(1), (1, "a"): torch.zeros(1), 2.5: "float key", None: "none key"}
    return _saved(out, "odd_keys.pt", "odd-keys", "dict with int/tuple/float/None keys", obj)


@generator
def gen_torch_objects(out: Path) -> CorpusFile:
    import torch

    obj = {
        "size": torch.Size([2, 3]),
        "device": torch.device("cpu"),
        "cuda": torch.device("cuda", 1),
        "dtypes": [torch.float32, torch.bfloat16, torch.float8_e4m3fn],
        "layouts": [torch.strided, torch.sparse_coo, torch.sparse_csr],
        "counter": collections.Counter("aab"),
        "storage": torch.zeros(4, dtype=torch.uint8).untyped_storage(),
        "typed": torch.ones(2).storage(),
    }
    return _saved(
        out, "torch_objects.pt", "torch-objects", "Size/device/dtype/layout/storages", obj
    )


@generator
def gen_ordered_metadata(out: Path) -> CorpusFile:
    import torch

    sd = torch.nn.Linear(2, 2).state_dict()
    assert hasattr(sd, "_metadata")
    return _saved(
        out, "linear_sd.pt", "ordereddict-metadata", "state_dict with _metadata (BUILD)", sd
    )


# -- format variants -------------------------------------------------------------------
@generator
def gen_legacy(out: Path) -> CorpusFile:
    import torch

    obj = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2, dtype=torch.bfloat16)}
    return _saved(
        out, "legacy.pt", "legacy-format", "non-zip legacy format (5 pickles)", obj, legacy=True
    )


@generator
def gen_legacy_shared(out: Path) -> CorpusFile:
    from tests.corpus.userclasses import TiedNet

    return _saved(
        out,
        "legacy_tied.pth",
        "legacy-tied",
        "legacy format with shared storage",
        TiedNet().state_dict(),
        legacy=True,
    )


@generator
def gen_legacy_new_dtype(out: Path) -> CorpusFile:
    import torch

    return _saved(
        out,
        "legacy_uint16.pt",
        "legacy-new-dtype",
        "legacy format holding a uint16 tensor (an UntypedStorage persistent id)",
        {"u": torch.arange(3).to(torch.uint16)},
        legacy=True,
        expect_weights_only=False,
        expected_verdict="malformed",
        notes="torch 2.13 writes it but cannot read it back in either mode: "
        "AttributeError: UntypedStorage has no attribute 'dtype'",
    )


@generator
def gen_protocol1(out: Path) -> CorpusFile:
    import torch

    return _saved(
        out,
        "proto1.pt",
        "protocol-1",
        "torch.save(pickle_protocol=1) of a tensor",
        {"w": torch.ones(3)},
        protocol=1,
        expect_weights_only=False,
        expected_verdict="malformed",
        notes="protocol 1 writes booleans (requires_grad) as INT '00', a protocol-0 opcode "
        "the weights-only unpickler refuses: every tensor file at protocol 1 is refused",
    )


@generator
def gen_protocol1_no_bool(out: Path) -> CorpusFile:
    return _saved(
        out,
        "proto1_nobool.pt",
        "protocol-1-no-bool",
        "torch.save(pickle_protocol=1) of ints, floats and strings only",
        {"epoch": 3, "lr": 0.5, "name": "x", "sizes": [1, 2]},
        protocol=1,
    )


@generator
def gen_protocol3_plain(out: Path) -> CorpusFile:
    import torch

    return _saved(
        out,
        "proto3_plain.pt",
        "protocol-3-plain",
        "pickle_protocol=3 without bytes: only the PROTO byte differs",
        {"w": torch.ones(3), "name": "x"},
        protocol=3,
        notes="PROTO 3 only warns; no opcode beyond protocol 2 is emitted",
    )


def _refused_protocol(protocol: int) -> Generator:
    def gen(out: Path) -> CorpusFile:
        import torch

        return _saved(
            out,
            f"proto{protocol}.pt",
            f"protocol-{protocol}-refused",
            f"torch.save(pickle_protocol={protocol}) with a bytes value",
            {"w": torch.ones(3), "blob": b"\x01\x02"},
            protocol=protocol,
            expect_weights_only=False,
            expected_verdict="malformed",
            notes="refused for form: an opcode outside the weights-only set",
        )

    gen.__name__ = f"gen_protocol{protocol}_refused"
    return gen


for _p in (3, 4, 5):
    generator(_refused_protocol(_p))


def _base_ckpt() -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"w": torch.arange(4.0), "b": torch.ones(2)}, buf)
    return buf.getvalue()


def _zip_variant(
    id: str, fname: str, description: str, data_fn: Callable[[], bytes], **kw: Any
) -> Generator:
    def gen(out: Path) -> CorpusFile:
        path = out / fname
        path.write_bytes(data_fn())
        kw.setdefault("expect_weights_only", True)
        return _rec(path, id, description, "torch-zip", **kw)

    gen.__name__ = "gen_" + id.replace("-", "_")
    return gen


def _big_endian() -> bytes:
    import numpy as np

    swapped = np.arange(4.0, dtype="<f4").astype(">f4").tobytes()
    ones = np.ones(2, dtype=">f4").tobytes()
    return C.rewrite_zip(
        _base_ckpt(), replace={"byteorder": b"big", "data/0": swapped, "data/1": ones}
    )


for _gen in (
    _zip_variant(
        "zip-deflate",
        "deflate.pt",
        "checkpoint re-zipped by Python with DEFLATE",
        lambda: C.rewrite_zip(_base_ckpt(), compression=zipfile.ZIP_DEFLATED),
        notes="torch.load decompresses; mmap=True would read garbage",
    ),
    _zip_variant(
        "zip-unaligned",
        "unaligned.pt",
        "checkpoint re-zipped by Python, STORED, no 64-byte alignment",
        lambda: C.rewrite_zip(_base_ckpt()),
    ),
    _zip_variant(
        "zip-renamed-prefix",
        "renamed_prefix.pt",
        "archive folder renamed to something unrelated",
        lambda: C.rewrite_zip(_base_ckpt(), prefix="totally_different"),
    ),
    _zip_variant(
        "zip-big-endian",
        "big_endian.pt",
        "hand-made byteorder=big record with byteswapped float32 storages",
        _big_endian,
        notes="loads with the same values as the little-endian original",
    ),
    _zip_variant(
        "zip-as-bin",
        "checkpoint.bin",
        "torch zip checkpoint with a .bin extension",
        _base_ckpt,
        tags=("misleading-extension",),
    ),
    _zip_variant(
        "zip-as-txt",
        "weights.txt",
        "torch zip checkpoint with a .txt extension",
        _base_ckpt,
        tags=("misleading-extension",),
    ),
):
    generator(_gen)


# -- needs an allowlist ----------------------------------------------------------------
def _allow(
    id: str,
    fname: str,
    description: str,
    make: Callable[[], Any],
    allowlist: tuple[str, ...],
    **kw: Any,
) -> Generator:
    def gen(out: Path) -> CorpusFile:
        import torch

        obj = {"w": torch.ones(2), "extra": make()}
        kw.setdefault("expect_weights_only", False)
        return _saved(out, fname, id, description, obj, allowlist=allowlist, **kw)

    gen.__name__ = "gen_" + id.replace("-", "_")
    return gen


def _np() -> Any:
    import numpy as np

    return np


def _omega(value: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.create(value)


def _torch_version() -> Any:
    import torch

    return torch.__version__


def _user(name: str) -> Callable[[], Any]:
    def make() -> Any:
        from tests.corpus import userclasses

        return {
            "Pair": lambda: userclasses.Pair(1, "two"),
            "TrainConfig": lambda: userclasses.TrainConfig(),
            "Color": lambda: userclasses.Color.GREEN,
        }[name]()

    return make


for _gen in (
    _allow(
        "numpy-scalar",
        "np_scalar.pt",
        "numpy float64 scalar (best metric)",
        lambda: _np().float64(0.93),
        ("numpy._core.multiarray.scalar", "numpy.dtype", "numpy.dtypes.Float64DType"),
        notes="Float64DType is never named in the pickle: it is the type BUILD sees",
    ),
    _allow(
        "numpy-array",
        "np_array.pt",
        "numpy float32 array",
        lambda: _np().arange(4, dtype="float32"),
        (*NUMPY_ARRAY, "numpy.dtypes.Float32DType"),
    ),
    _allow(
        "numpy-dtype",
        "np_dtype.pt",
        "a bare numpy dtype object",
        lambda: _np().dtype("int32"),
        ("numpy.dtype", "numpy.dtypes.Int32DType"),
    ),
    _allow(
        "numpy-rng-state",
        "np_rng.pth",
        "np.random.get_state() as saved by HF/accelerate",
        lambda: _np().random.RandomState(0).get_state(),
        (*NUMPY_ARRAY, "numpy.dtypes.UInt32DType"),
    ),
    _allow(
        "argparse-namespace",
        "fairseq_args.pt",
        "fairseq-style argparse.Namespace",
        lambda: argparse.Namespace(lr=0.1, arch="tiny"),
        ("argparse.Namespace",),
    ),
    _allow(
        "omegaconf-dictconfig",
        "hydra_cfg.ckpt",
        "Hydra DictConfig hyper-parameters",
        lambda: _omega({"lr": 1, "layers": [1, 2]}),
        OMEGACONF_DICT,
    ),
    _allow(
        "omegaconf-listconfig",
        "listcfg.pt",
        "OmegaConf ListConfig",
        lambda: _omega([1, 2]),
        OMEGACONF_DICT,
    ),
    _allow(
        "pathlib-path",
        "path.pt",
        "pathlib.PosixPath in a config",
        lambda: pathlib.PosixPath("/data/run1"),
        ("pathlib.PosixPath",),
    ),
    _allow(
        "datetime",
        "datetime.pt",
        "datetime.datetime timestamp",
        lambda: datetime.datetime(2024, 5, 6, 7, 8, 9),
        ("datetime.datetime",),
    ),
    _allow(
        "defaultdict-empty",
        "defaultdict_empty.pt",
        "empty collections.defaultdict(int)",
        lambda: collections.defaultdict(int),
        ("collections.defaultdict", "builtins.int"),
    ),
    _allow(
        "defaultdict-items",
        "defaultdict_items.pt",
        "non-empty defaultdict: SETITEMS on a non-dict is refused even when allowlisted",
        lambda: collections.defaultdict(int, {"a": 1}),
        ("collections.defaultdict", "builtins.int"),
        tags=("allowlist-insufficient",),
        expected_verdict="unknown",
    ),
    _allow(
        "torch-version-raw",
        "torch_version.pt",
        "torch.__version__ saved unconverted (TorchVersion)",
        _torch_version,
        ("torch.torch_version.TorchVersion",),
    ),
    _allow(
        "namedtuple",
        "namedtuple.pt",
        "namedtuple of the test suite",
        _user("Pair"),
        (f"{UC}.Pair",),
        expected_verdict="unknown",
    ),
    _allow(
        "dataclass",
        "dataclass.pt",
        "dataclass of the test suite (NEWOBJ + BUILD)",
        _user("TrainConfig"),
        (f"{UC}.TrainConfig",),
        expected_verdict="unknown",
    ),
    _allow(
        "enum",
        "enum.pt",
        "enum member of the test suite",
        _user("Color"),
        (f"{UC}.Color",),
        expected_verdict="unknown",
    ),
):
    generator(_gen)


@generator
def gen_whole_module(out: Path) -> CorpusFile:
    from tests.corpus.userclasses import TinyNet

    return _saved(
        out,
        "whole_model.pt",
        "whole-module",
        "torch.save(model): a pickled nn.Module",
        TinyNet(),
        expect_weights_only=False,
        allowlist=(
            f"{UC}.TinyNet",
            "torch.nn.modules.linear.Linear",
            "torch.nn.modules.activation.ReLU",
        ),
        expected_verdict="unknown",
    )


# -- other formats torch refuses ---------------------------------------------------------
@generator
def gen_torchscript(out: Path) -> CorpusFile:
    path = out / "scripted.pt"
    path.write_bytes(C.torchscript_bytes())
    return _rec(
        path,
        "torchscript",
        "torch.jit.save of a scripted Linear",
        "torchscript",
        expect_weights_only=False,
        expected_verdict="unknown",
        notes="RuntimeError: TorchScript archives are refused by weights_only",
    )


@generator
def gen_torchscript_extra(out: Path) -> CorpusFile:
    path = out / "scripted_extra.pt"
    path.write_bytes(C.torchscript_bytes(extra_files=True))
    return _rec(
        path,
        "torchscript-extra-files",
        "TorchScript archive with extra/ files",
        "torchscript",
        expect_weights_only=False,
        expected_verdict="unknown",
    )


@generator
def gen_legacy_tar(out: Path) -> CorpusFile:
    path = out / "ancient.tar.pt"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, value in (("storages", [1]), ("tensors", [2]), ("pickle", {"w": 3})):
            payload = pickle.dumps(value, protocol=2)
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(payload))
    path.write_bytes(buf.getvalue())
    return _rec(
        path,
        "legacy-tar",
        "pre-1.0 tar layout (storages/tensors/pickle members)",
        "tar",
        expect_weights_only=False,
        expected_verdict="malformed",
        notes="any tar is refused by weights_only before its members are read",
    )


@generator
def gen_joblib_plain(out: Path) -> CorpusFile:
    import joblib
    import numpy as np

    path = out / "model.joblib"
    joblib.dump({"coef": np.arange(3.0), "intercept": 0.5}, path)
    return _rec(
        path, "joblib-plain", "joblib.dump with a numpy array", "joblib", expect_weights_only=False
    )


@generator
def gen_joblib_compressed(out: Path) -> CorpusFile:
    import joblib
    import numpy as np

    path = out / "model.pkl.z"
    joblib.dump({"coef": np.arange(3.0)}, path, compress=("zlib", 3))
    return _rec(
        path, "joblib-zlib", "joblib.dump compress=zlib", "joblib-zlib", expect_weights_only=False
    )


@generator
def gen_npy_numeric(out: Path) -> CorpusFile:
    import numpy as np

    path = out / "array.npy"
    path.write_bytes(C.npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)))
    return _rec(
        path,
        "npy-numeric",
        "numeric .npy",
        "npy",
        expect_weights_only=False,
        expected_verdict="malformed",
    )


@generator
def gen_npy_object(out: Path) -> CorpusFile:
    import numpy as np

    path = out / "objects.npy"
    arr = np.empty(2, dtype=object)
    arr[:] = [{"a": 1}, "text"]
    path.write_bytes(C.npy_bytes(arr))
    return _rec(
        path, "npy-object", "object .npy (pickled elements)", "npy", expect_weights_only=False
    )


@generator
def gen_npz_numeric(out: Path) -> CorpusFile:
    import numpy as np

    path = out / "arrays.npz"
    path.write_bytes(C.npz_bytes({"a": C.npy_bytes(np.arange(3)), "b": C.npy_bytes(np.ones(2))}))
    return _rec(
        path,
        "npz-numeric",
        "numeric .npz",
        "npz",
        expect_weights_only=False,
        expected_verdict="malformed",
    )


@generator
def gen_npz_object(out: Path) -> CorpusFile:
    import numpy as np

    arr = np.empty(1, dtype=object)
    arr[0] = ("x", 1)
    path = out / "objects.npz"
    path.write_bytes(C.npz_bytes({"o": C.npy_bytes(arr)}))
    return _rec(path, "npz-object", "object .npz", "npz", expect_weights_only=False)


@generator
def gen_safetensors(out: Path) -> CorpusFile:
    import torch
    from safetensors.torch import save_file

    path = out / "model.safetensors"
    save_file({"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(2)}, str(path), {"fmt": "pt"})
    return _rec(
        path,
        "safetensors",
        "safetensors file with metadata",
        "safetensors",
        expect_weights_only=True,
        notes="torch.load routes *.safetensors paths to safetensors.torch.load_file",
    )


@generator
def gen_safetensors_as_bin(out: Path) -> CorpusFile:
    import torch
    from safetensors.torch import save_file

    path = out / "model.safetensors.bin"
    save_file({"w": torch.ones(2)}, str(path))
    return _rec(
        path,
        "safetensors-as-bin",
        "safetensors bytes named .bin",
        "safetensors",
        expect_weights_only=False,
        tags=("misleading-extension",),
        expected_verdict="malformed",
    )


def _plain_pickle(protocol: int) -> Generator:
    def gen(out: Path) -> CorpusFile:
        path = out / f"plain_p{protocol}.pkl"
        obj = {"name": "cfg", "values": [1, 2.5, None], "nested": {"k": (1, 2)}}
        path.write_bytes(pickle.dumps(obj, protocol=protocol))
        return _rec(
            path,
            f"plain-pickle-p{protocol}",
            f"pickle.dumps(dict, protocol={protocol})",
            "pickle",
            expect_weights_only=False,
            expected_verdict="safe",
            notes="no torch magic number: torch.load refuses it either way",
        )

    gen.__name__ = f"gen_plain_pickle_p{protocol}"
    return gen


for _p in range(6):
    generator(_plain_pickle(_p))


@generator
def gen_pickle_as_pt(out: Path) -> CorpusFile:
    path = out / "model.pt"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
    return _rec(
        path,
        "pickle-as-pt",
        "plain protocol-2 pickle named .pt",
        "pickle",
        expect_weights_only=False,
        expected_verdict="safe",
        tags=("misleading-extension",),
    )


# -- not a model at all ----------------------------------------------------------------
def _blob(
    id: str, fname: str, description: str, make: Callable[[], bytes], container: str
) -> Generator:
    def gen(out: Path) -> CorpusFile:
        path = out / fname
        path.write_bytes(make())
        return _rec(
            path,
            id,
            description,
            container,
            expect_weights_only=False,
            expected_verdict="malformed",
        )

    gen.__name__ = "gen_" + id.replace("-", "_")
    return gen


LFS_POINTER = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    b"size 438007\n"
)

for _gen in (
    _blob(
        "lfs-pointer",
        "lfs_pointer.bin",
        "Git LFS pointer instead of the weights",
        lambda: LFS_POINTER,
        "text",
    ),
    _blob(
        "html-page",
        "download.pt",
        "HTML error page saved as a checkpoint",
        lambda: b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n",
        "text",
    ),
    _blob(
        "gzip-ckpt",
        "ckpt.pt.gz",
        "gzip of a torch checkpoint",
        lambda: gzip.compress(_base_ckpt(), mtime=0),
        "gzip",
    ),
    _blob(
        "png-header",
        "image.pt",
        "PNG signature and IHDR",
        lambda: bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"),
        "png",
    ),
    _blob("empty", "empty.pt", "zero-byte file", lambda: b"", "empty"),
    _blob(
        "truncated-zip",
        "truncated.pt",
        "torch zip cut in half",
        lambda: _base_ckpt()[: len(_base_ckpt()) // 2],
        "torch-zip",
    ),
):
    generator(_gen)


def generate_benign(out: Path) -> list[CorpusFile]:
    """Write every benign file into `out` (created if needed)."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    records = []
    for gen in GENERATORS:
        torch.manual_seed(0)
        random.seed(0)
        records.append(gen(out))
    return records
