"""What known callables produce, and when torch would reject their arguments.

The machine asks ``Knowledge.apply`` for the value a call returns. For the callables
torch's weights-only unpickler allows, the models also check the arguments the way
the real functions would (storage bounds, dtype rules, argument counts), because
"torch accepts this file" depends on them. A call whose arguments fall outside the
forms modelled here is recorded as UNVERIFIED, never assumed fine.

For other callables the models only compute what is needed to *explain* a file:
the runtime type BUILD will see (``numpy.dtype(...)`` gives a ``numpy.dtypes.*DType``),
and the targets reached through ``getattr``, ``__import__``, ``functools.partial``,
``operator.methodcaller`` and similar chains.

Nothing here imports or calls anything the file names.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torchvet import budget as budgets
from torchvet.pickle.torchfacts import DType, TorchFacts, load_facts
from torchvet.pickle.trace import CallEvent, IssueKind
from torchvet.pickle.values import (
    Attr,
    Call,
    Const,
    DictValue,
    GlobalName,
    Instance,
    ListValue,
    ModuleValue,
    Opaque,
    SetValue,
    Storage,
    TupleValue,
    Value,
    cut,
    is_falsy,
)

if TYPE_CHECKING:
    from torchvet.pickle.machine import Machine

INT64_MAX = 2**63 - 1
TENSOR = "torch.Tensor"
PARAMETER = "torch.nn.parameter.Parameter"
NJT = "torch.nested._internal.nested_tensor.NestedTensor"
NJT_REBUILD = "torch.nested._internal.nested_tensor._rebuild_njt"
_MAX_CHAIN = 64  # getattr/attribute chains longer than this are not resolved
_MAX_TARGET = 1024  # characters of a call's dotted target name
_SMALL_BYTEARRAY = 1 << 16  # bytearray(n) contents modelled exactly up to this size


@dataclass
class TensorInfo:
    """What a rebuilt tensor is, as far as the pickle tells."""

    kind: str  # dense, quantized, sparse, nested, meta, from-cpu
    dtype: str  # torch dtype name, e.g. "torch.float32"
    shape: tuple[int, ...]
    stride: tuple[int, ...] | None = None
    offset: int = 0
    storage: Storage | None = None
    requires_grad: bool = False
    conj: bool = False
    neg: bool = False
    layout: str = "torch.strided"
    parts: dict[str, Value] = field(default_factory=dict)  # sparse/nested/qparams components
    attributes: Value | None = None  # Python attributes set on the tensor/parameter

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def tensor_info(v: Value) -> TensorInfo | None:
    if isinstance(v, Instance) and isinstance(v.info, TensorInfo):
        return v.info
    return None


# ---------------------------------------------------------------------------- resolution
def target_name(func: Value) -> str | None:
    """The dotted name a call reaches, followed through attribute chains."""
    parts: list[str] = []
    v = func
    for _ in range(_MAX_CHAIN):
        if isinstance(v, GlobalName):
            return v.qualname if not parts else _dotted(v.qualname, parts)
        if isinstance(v, ModuleValue):
            return _dotted(v.name, parts)
        if isinstance(v, Attr):
            parts.append(v.name)
            v = v.base
            continue
        if isinstance(v, Instance):
            if isinstance(v.info, _Partial):
                if parts:
                    return None
                v = v.info.func  # partial(partial(f)) calls f: follow, within the bound
                continue
            if v.pytype is not None and parts:
                # A method looked up on an instance: name it by the instance's type.
                return _dotted(v.pytype, parts)
        return None
    return None


def _dotted(head: str, parts: list[str]) -> str:
    """``head.part...`` (parts innermost first). Every call keeps its target, so a chain
    of megabyte-long attribute names is cut to a name no catalog entry is that long."""
    if len(head) + sum(len(p) for p in parts) > _MAX_TARGET:
        return cut(".".join([cut(head), *(cut(p) for p in reversed(parts))]), _MAX_TARGET)
    return ".".join([head, *reversed(parts)])


@dataclass
class _Partial:
    func: Value
    args: tuple[Value, ...]


@dataclass
class _MethodCaller:
    name: str
    args: tuple[Value, ...]


@dataclass
class _AttrGetter:
    names: tuple[str, ...]


# Numpy dtype strings (as numpy pickles them) -> the DType class numpy 2 creates.
_NUMPY_DTYPE_CLASSES = {
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
    "O4": "ObjectDType",
    "O8": "ObjectDType",
}
_NUMPY_SCALAR_TYPES = {
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


# numpy.random's pickling helpers and the types of what they return.
_NUMPY_RANDOM_CTORS = {
    "numpy.random._pickle.__randomstate_ctor": "numpy.random.mtrand.RandomState",
    "numpy.random._pickle.__generator_ctor": "numpy.random._generator.Generator",
}
_NUMPY_BIT_GENERATORS = {
    "MT19937": "numpy.random._mt19937.MT19937",
    "PCG64": "numpy.random._pcg64.PCG64",
    "PCG64DXSM": "numpy.random._pcg64.PCG64DXSM",
    "Philox": "numpy.random._philox.Philox",
    "SFC64": "numpy.random._sfc64.SFC64",
}


# Hashability of instances of known (non-torch) classes, for set items and dict keys.
_HASHABLE_INSTANCES: dict[str, bool] = {
    "argparse.Namespace": False,
    "types.SimpleNamespace": False,
    "omegaconf.dictconfig.DictConfig": False,
    "omegaconf.listconfig.ListConfig": False,
    "numpy.ndarray": False,
    "collections.deque": False,
    "pathlib.Path": True,
    "pathlib.PosixPath": True,
    "pathlib.WindowsPath": True,
    "datetime.datetime": True,
    "datetime.date": True,
    "datetime.timedelta": True,
    "decimal.Decimal": True,
    "fractions.Fraction": True,
    "uuid.UUID": True,
    "torch.torch_version.TorchVersion": True,
    "torch._dynamo.decorators._DimRange": True,
}


def numpy_dtype_class(code: str) -> str | None:
    """``numpy.dtypes.<X>DType`` for a dtype string such as ``"f8"`` or ``"<U5"``."""
    code = code.lstrip("<>|=")
    if code in _NUMPY_DTYPE_CLASSES:
        return "numpy.dtypes." + _NUMPY_DTYPE_CLASSES[code]
    head = code[:1]
    rest = code[1:]
    if head in "USVMm" and (rest == "" or rest.isdigit() or rest.startswith("8")):
        return (
            "numpy.dtypes."
            + {
                "U": "StrDType",
                "S": "BytesDType",
                "V": "VoidDType",
                "M": "DateTime64DType",
                "m": "TimeDelta64DType",
            }[head]
        )
    return None


# ---------------------------------------------------------------------------- helpers
def _int(v: Value) -> int | None:
    if isinstance(v, Const) and type(v.value) is int:
        return v.value
    return None


def _bool(v: Value) -> bool | None:
    if isinstance(v, Const) and type(v.value) is bool:
        return v.value
    return None


def _str(v: Value) -> str | None:
    if isinstance(v, Const) and type(v.value) is str:
        return v.value
    return None


def _copying(m: Machine, n: int) -> None:
    """Charge the machine for walking or copying ``n`` items of a value: the memo lets a
    file pass one huge container to any number of calls."""
    if n > 64:
        m.charge(n >> 3)


def _int_seq(m: Machine, v: Value) -> tuple[int, ...] | None:
    """A list / tuple / torch.Size of exact ints (what torch's IntArrayRef accepts)."""
    if isinstance(v, Instance) and v.pytype == "torch.Size" and isinstance(v.info, tuple):
        return v.info
    if isinstance(v, (TupleValue, ListValue)):
        items = v.items
        _copying(m, len(items))
        out = tuple(x.value for x in items if type(x) is Const and type(x.value) is int)
        return out if len(out) == len(items) else None
    return None


def _shown(seq: tuple[int, ...]) -> str:
    """A shape for a message: a file may pass a 100k-entry shape to every call."""
    return str(seq) if len(seq) <= 8 else f"({', '.join(map(str, seq[:8]))}, ... {len(seq)} dims)"


def _int64s(seq: tuple[int, ...]) -> bool:
    """Every value fits in a C int64 (what torch's argument parser accepts)."""
    return not seq or (min(seq) >= -INT64_MAX - 1 and max(seq) <= INT64_MAX)


def _is_int_seq_shape(v: Value) -> bool:
    return isinstance(v, (TupleValue, ListValue)) or (
        isinstance(v, Instance) and v.pytype == "torch.Size"
    )


# Largest input torchvet runs a codec on for _codecs.encode.
_MAX_ENCODED = 1 << 16


class Knowledge:
    """Models of known callables for one torch release."""

    def __init__(self, facts: TorchFacts | None = None) -> None:
        self.facts = facts or load_facts()
        self._call_models: dict[str, Callable[[Machine, Call], Value]] = {}
        self._new_models: dict[str, Callable[[Machine, Call], Value]] = {}
        self._register()

    # -------------------------------------------------------------- dispatch
    def apply(self, m: Machine, call: Call) -> Value:
        func = call.func
        if isinstance(func, Instance) and call.opcode == "REDUCE":
            return self._call_object(m, call, func)
        name = call.target
        if call.opcode in ("NEWOBJ", "NEWOBJ_EX"):
            model = self._new_models.get(name or "")
            if model is not None:
                return model(m, call)
            return self._instance_of(m, call)
        model = self._call_models.get(name or "")
        if model is not None:
            return model(m, call)
        kind = self.facts.allowed.get(name or "")
        if kind in ("dtype", "storage-type", "qscheme"):
            self._invalid(
                m, f"{name} is not callable", f"TypeError: '{kind}' object is not callable"
            )
            return Opaque(call.pos)
        if kind is not None:
            self._unverified(m, call, "torchvet does not model this allowlisted callable")
            return Instance(call.pos, None, call)
        return self._instance_of(m, call)

    def _instance_of(self, m: Machine, call: Call) -> Value:
        """Calling an unknown global: assume it is a class and the result its instance."""
        name = call.target
        pytype = name if isinstance(call.func, GlobalName) else None
        # Plain class instances hash by identity unless the class defines __eq__ alone;
        # for names torchvet does not know, that cannot be told.
        hashable = _HASHABLE_INSTANCES.get(pytype or "")
        return Instance(call.pos, pytype, call, hashable=hashable)

    def _call_object(self, m: Machine, call: Call, func: Instance) -> Value:
        """REDUCE whose callee is itself the result of a call (partial, methodcaller...)."""
        info = func.info
        if isinstance(info, _Partial):
            _copying(m, len(info.args))
            return self._nested_call(m, call, info.func, info.args + call.args)
        if isinstance(info, _MethodCaller) and call.args:
            return self._nested_call(m, call, Attr(call.pos, call.args[0], info.name), info.args)
        if isinstance(info, _AttrGetter) and call.args:
            v: Value = call.args[0]
            for dotted in info.names:
                for part in dotted.split("."):
                    v = Attr(call.pos, v, part)
            return v
        return Instance(call.pos, None, call)

    def _nested_call(self, m: Machine, outer: Call, func: Value, args: tuple[Value, ...]) -> Value:
        inner = Call(outer.pos, outer.opcode, func, args, None, target_name(func))
        m.trace.events.append(CallEvent(inner))
        if inner.target is None:
            m.issue(
                IssueKind.DYNAMIC,
                f"{outer.opcode} at offset {outer.pos} calls {func.describe()}, which torchvet "
                "cannot resolve",
            )
            return Instance(outer.pos, None, inner)
        return self.apply(m, inner)

    # -------------------------------------------------------------- reporting
    @staticmethod
    def _invalid(m: Machine, message: str, torch_message: str | None = None) -> None:
        m.issue(IssueKind.INVALID, message, torch_message=torch_message or message)

    @staticmethod
    def _unverified(m: Machine, call: Call, why: str) -> None:
        m.issue(
            IssueKind.UNVERIFIED,
            f"{call.target or call.func.describe()} called at offset {call.pos}: {why}",
        )

    def _argc(self, m: Machine, call: Call, lo: int, hi: int) -> bool:
        n = len(call.args)
        if lo <= n <= hi:
            return True
        fname = (call.target or "function").rsplit(".", 1)[-1]
        want = f"{lo}" if lo == hi else f"from {lo} to {hi}"
        self._invalid(
            m,
            f"{call.target} at offset {call.pos} called with {n} arguments (takes {want})",
            f"TypeError: {fname}() takes {want} positional arguments but {n} were given",
        )
        return False

    # -------------------------------------------------------------- registration
    def _register(self) -> None:
        c = self._call_models
        u = "torch._utils."
        c[u + "_rebuild_tensor"] = self._rebuild_tensor_v1
        c[u + "_rebuild_tensor_v2"] = self._rebuild_tensor_v2
        c[u + "_rebuild_tensor_v3"] = self._rebuild_tensor_v3
        c[u + "_rebuild_parameter"] = self._rebuild_parameter
        c[u + "_rebuild_parameter_with_state"] = self._rebuild_parameter_with_state
        c[u + "_rebuild_qtensor"] = self._rebuild_qtensor
        c[u + "_rebuild_sparse_tensor"] = self._rebuild_sparse_tensor
        c[u + "_rebuild_nested_tensor"] = self._rebuild_nested_tensor
        c[u + "_rebuild_meta_tensor_no_storage"] = self._rebuild_meta
        c[u + "_rebuild_device_tensor_from_cpu_tensor"] = self._rebuild_from_cpu
        c["torch._tensor._rebuild_from_type_v2"] = self._rebuild_from_type_v2
        c["torch.Size"] = self._size
        c["torch.device"] = self._device
        c["collections.OrderedDict"] = self._ordered_dict
        c["collections.Counter"] = self._counter
        c["builtins.set"] = self._set
        c["builtins.frozenset"] = self._frozenset
        c["builtins.bytearray"] = self._bytearray
        c["builtins.complex"] = self._complex
        c["_codecs.encode"] = self._codecs_encode
        c["torch.serialization._get_layout"] = self._get_layout
        # Not allowlisted by torch; modelled to explain files and follow gadget chains.
        c["numpy.dtype"] = self._numpy_dtype
        for core in ("numpy.core", "numpy._core"):  # numpy 1.x and 2.x spellings
            c[f"{core}.multiarray._reconstruct"] = self._numpy_reconstruct
            c[f"{core}.multiarray.scalar"] = self._numpy_scalar
        for ctor, cls in _NUMPY_RANDOM_CTORS.items():  # the type BUILD then sees
            c[ctor] = lambda m, call, cls=cls: Instance(call.pos, cls, call, hashable=False)
        c["numpy.random._pickle.__bit_generator_ctor"] = self._numpy_bit_generator
        c["builtins.getattr"] = self._getattr
        c["builtins.__import__"] = self._import
        c["importlib.import_module"] = self._import_module
        c["importlib.__import__"] = self._import
        c["functools.partial"] = self._partial
        c["operator.methodcaller"] = self._methodcaller
        c["_operator.methodcaller"] = self._methodcaller
        c["operator.attrgetter"] = self._attrgetter
        c["_operator.attrgetter"] = self._attrgetter
        c["operator.getitem"] = self._getitem
        c["_operator.getitem"] = self._getitem
        c["copyreg._reconstructor"] = self._reconstructor
        c["copyreg.__newobj__"] = self._copyreg_newobj
        c["collections.defaultdict"] = self._defaultdict
        c["builtins.dict"] = self._dict_call
        c["builtins.list"] = self._list_call
        c["builtins.tuple"] = self._tuple_call

        n = self._new_models
        n["collections.OrderedDict"] = lambda m, call: DictValue(
            call.pos, "collections.OrderedDict", call
        )
        n["collections.Counter"] = lambda m, call: DictValue(call.pos, "collections.Counter", call)
        n["collections.defaultdict"] = lambda m, call: DictValue(
            call.pos, "collections.defaultdict", call
        )
        n["builtins.dict"] = lambda m, call: DictValue(call.pos, "builtins.dict", call)
        n["builtins.list"] = lambda m, call: ListValue(call.pos)
        n["builtins.set"] = lambda m, call: SetValue(call.pos)
        n[PARAMETER] = self._new_parameter
        n["torch.Size"] = self._size

    # -------------------------------------------------------------- tensors
    def _storage_arg(self, m: Machine, call: Call, v: Value) -> Storage | None:
        if isinstance(v, Storage):
            return v
        if not isinstance(v, Opaque):  # Opaque: the persistent id was already reported
            self._unverified(m, call, f"storage argument is {v.describe()}, not a storage")
        return None

    def _check_view(
        self,
        m: Machine,
        call: Call,
        storage: Storage,
        itemsize: int,
        offset_v: Value,
        size_v: Value,
        stride_v: Value,
    ) -> tuple[int, tuple[int, ...], tuple[int, ...]] | None:
        """Emulate ``Tensor.set_(storage, offset, size, stride)`` on a non-resizable storage."""
        offset = _int(offset_v)
        size = _int_seq(m, size_v)
        stride = _int_seq(m, stride_v)
        if offset is None or size is None or stride is None:
            bad = not (_is_int_seq_shape(size_v) and _is_int_seq_shape(stride_v))
            if bad or isinstance(offset_v, Const):
                self._invalid(
                    m,
                    f"tensor at offset {call.pos} has a storage offset, size or stride that is "
                    "not made of integers",
                    "TypeError: set_() received an invalid combination of arguments",
                )
            else:
                self._unverified(m, call, "size or stride contains values torchvet cannot read")
            return None
        if len(size) != len(stride):
            self._invalid(
                m,
                f"tensor at offset {call.pos} has {len(size)} sizes but {len(stride)} strides",
                f"unequal size length ({len(size)}) and stride length ({len(stride)})",
            )
            return None
        if not _int64s((offset, *size, *stride)):
            self._invalid(
                m,
                f"tensor at offset {call.pos} has a value beyond int64",
                "TypeError: Overflow when unpacking long",
            )
            return None
        if offset < 0:
            self._invalid(
                m,
                f"tensor at offset {call.pos} has negative storage offset {offset}",
                f"Tensor: invalid storage offset {offset}",
            )
            return None
        if size and min(size) < 0:
            self._invalid(
                m,
                f"tensor at offset {call.pos} has a negative size {_shown(size)}",
                "numel: integer multiplication overflow",
            )
            return None
        numel = 1
        for s in size:
            numel *= s
        if numel > INT64_MAX:
            self._invalid(
                m,
                f"tensor at offset {call.pos} has more than 2**63 elements",
                "numel: integer multiplication overflow",
            )
            return None
        if numel == 0:
            if any(st < 0 for st in stride):
                self._unverified(m, call, "negative stride on an empty tensor")
                return None
            return offset, size, stride
        if any(st < 0 for st in stride):
            self._invalid(
                m,
                f"tensor at offset {call.pos} has a negative stride {_shown(stride)}",
                "Storage size calculation overflowed",
            )
            return None
        last = offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True))
        needed = (last + 1) * itemsize
        if needed > INT64_MAX:
            self._invalid(
                m,
                f"tensor at offset {call.pos} spans more than 2**63 bytes",
                "Storage size calculation overflowed",
            )
            return None
        if needed > storage.nbytes:
            self._invalid(
                m,
                f"tensor at offset {call.pos} reads {needed} bytes of storage {storage.key!r}, "
                f"which has {storage.nbytes}",
                "Trying to resize storage that is not resizable",
            )
            return None
        return offset, size, stride

    def _requires_grad(self, m: Machine, call: Call, v: Value, dtype: DType | None) -> bool | None:
        rg = _bool(v)
        if rg is None:
            self._invalid(
                m,
                f"requires_grad at offset {call.pos} is {v.describe()}, not a bool",
                "requires_grad must be a bool",
            )
            return None
        if rg and dtype is not None and not dtype.can_require_grad:
            self._invalid(
                m,
                f"tensor at offset {call.pos} of dtype {dtype.name} requires grad",
                "only Tensors of floating point and complex dtype can require gradients",
            )
            return None
        return rg

    def _metadata(self, m: Machine, call: Call, v: Value, dtype: DType, info: TensorInfo) -> bool:
        falsy = is_falsy(v)
        if falsy:
            return True
        if not isinstance(v, DictValue) or v.pytype not in (
            "builtins.dict",
            "collections.OrderedDict",
            "collections.Counter",
        ):
            if falsy is None:
                self._unverified(m, call, f"tensor metadata is {v.describe()}")
            else:
                self._invalid(
                    m,
                    f"tensor metadata at offset {call.pos} is not a dict",
                    "AssertionError: expected dict",
                )
            return False
        _copying(m, len(v.items))
        for k, val in v.items:
            key = _str(k)
            flag = _bool(val)
            if key is None or flag is None:
                self._unverified(m, call, "tensor metadata holds non-bool or non-str entries")
                return False
            if key == "conj":
                if not dtype.complex:
                    if flag:
                        self._invalid(
                            m,
                            f"conj bit on non-complex tensor at offset {call.pos}",
                            "isComplexType(...) INTERNAL ASSERT FAILED",
                        )
                    else:
                        self._unverified(m, call, "conj metadata on a non-complex tensor")
                    return False
                info.conj = flag
            elif key == "neg":
                info.neg = True  # torch sets the bit when the key is present
        return True

    def _dtype_of_storage(self, storage: Storage) -> DType | None:
        return self.facts.dtypes.get(storage.dtype)

    def _dense(
        self, m: Machine, call: Call, storage_v: Value, dtype: DType | None, args: tuple[Value, ...]
    ) -> TensorInfo | None:
        storage = self._storage_arg(m, call, storage_v)
        if storage is None or dtype is None:
            return None
        view = self._check_view(m, call, storage, dtype.itemsize, args[0], args[1], args[2])
        if view is None:
            return None
        offset, size, stride = view
        return TensorInfo("dense", dtype.name, size, stride, offset, storage)

    def _tensor(self, call: Call, info: TensorInfo | None, pytype: str = TENSOR) -> Instance:
        return Instance(call.pos, pytype, call, hashable=True, info=info)

    def _rebuild_tensor_v1(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 4, 4):
            return self._tensor(call, None)
        storage = call.args[0]
        dtype = self._dtype_of_storage(storage) if isinstance(storage, Storage) else None
        return self._tensor(call, self._dense(m, call, storage, dtype, call.args[1:4]))

    def _rebuild_tensor_v2(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 6, 7):
            return self._tensor(call, None)
        a = call.args
        storage = a[0]
        dtype = self._dtype_of_storage(storage) if isinstance(storage, Storage) else None
        info = self._dense(m, call, storage, dtype, a[1:4])
        return self._tensor(call, self._finish_dense(m, call, info, dtype, a[4], a[6:7]))

    def _rebuild_tensor_v3(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 7, 8):
            return self._tensor(call, None)
        a = call.args
        dtype = self._dtype_arg(m, call, a[6])
        info = self._dense(m, call, a[0], dtype, a[1:4])
        return self._tensor(call, self._finish_dense(m, call, info, dtype, a[4], a[7:8]))

    def _finish_dense(
        self,
        m: Machine,
        call: Call,
        info: TensorInfo | None,
        dtype: DType | None,
        requires_grad: Value,
        metadata: tuple[Value, ...],
    ) -> TensorInfo | None:
        """requires_grad and the optional metadata dict of _rebuild_tensor_v2/v3."""
        if info is None or dtype is None:
            return None
        rg = self._requires_grad(m, call, requires_grad, dtype)
        if rg is None:
            return None
        info.requires_grad = rg
        if metadata and not self._metadata(m, call, metadata[0], dtype, info):
            return None
        return info

    def _dtype_arg(self, m: Machine, call: Call, v: Value) -> DType | None:
        if isinstance(v, GlobalName) and v.qualname in self.facts.dtypes:
            return self.facts.dtypes[v.qualname]
        self._unverified(m, call, f"dtype argument is {v.describe()}")
        return None

    def _tensor_arg(self, m: Machine, call: Call, v: Value, what: str) -> TensorInfo | None:
        info = tensor_info(v)
        if info is None and not (isinstance(v, Instance) and v.pytype in (TENSOR, PARAMETER)):
            self._unverified(m, call, f"{what} is {v.describe()}, not a tensor torchvet rebuilt")
        return info

    def _parameter(self, m: Machine, call: Call, data: Value, rg_v: Value) -> Value:
        info = self._tensor_arg(m, call, data, "data")
        if info is None:
            return Instance(call.pos, PARAMETER, call, hashable=True)
        dtype = self.facts.dtypes.get(info.dtype)
        rg = self._requires_grad(m, call, rg_v, dtype)
        if rg is None:
            return Instance(call.pos, PARAMETER, call, hashable=True)
        new = TensorInfo(**{**info.__dict__, "requires_grad": rg})
        return Instance(call.pos, PARAMETER, call, hashable=True, info=new)

    def _rebuild_parameter(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 3, 3):
            return Instance(call.pos, PARAMETER, call, hashable=True)
        return self._parameter(m, call, call.args[0], call.args[1])

    def _rebuild_parameter_with_state(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 4, 4):
            return Instance(call.pos, PARAMETER, call, hashable=True)
        p = self._parameter(m, call, call.args[0], call.args[1])
        if isinstance(p, Instance) and isinstance(p.info, TensorInfo):
            if self._obj_state(m, call, call.args[3]):
                p.info.attributes = call.args[3]
            else:
                p.info = None
        return p

    def _new_parameter(self, m: Machine, call: Call) -> Value:
        # NEWOBJ of Parameter: torch calls Parameter(*args) (data=None, requires_grad=True).
        a = call.args
        if not a or len(a) > 2:
            self._unverified(m, call, "Parameter created with unusual arguments")
            return Instance(call.pos, PARAMETER, call, hashable=True)
        return self._parameter(m, call, a[0], a[1] if len(a) > 1 else Const(call.pos, True))

    def _obj_state(self, m: Machine, call: Call, state: Value) -> bool:
        """Emulate torch._utils._set_obj_state on a tensor: setattr for each key."""
        dict_state: Value = state
        slots_state: Value | None = None
        if isinstance(state, TupleValue):
            if len(state.items) != 2:
                self._invalid(
                    m,
                    f"invalid serialized tensor state at offset {call.pos}",
                    "RuntimeError: Invalid serialized state",
                )
                return False
            dict_state, slots_state = state.items
        for part in (dict_state, slots_state):
            if part is None or is_falsy(part):
                continue
            if not isinstance(part, DictValue):
                self._unverified(m, call, f"tensor state is {part.describe()}")
                return False
            _copying(m, len(part.items))
            for k, _ in part.items:
                key = _str(k)
                if key is None:
                    self._invalid(
                        m,
                        f"tensor attribute name at offset {call.pos} is not a string",
                        "TypeError: attribute name must be string",
                    )
                    return False
                if key in self.facts.parameter_attributes:
                    self._unverified(
                        m, call, f"tensor state overrides the built-in attribute {key!r}"
                    )
                    return False
        return True

    def _rebuild_from_type_v2(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 4, 4):
            return self._tensor(call, None)
        func, new_type, args, state = call.args
        if not isinstance(func, GlobalName) or not isinstance(args, TupleValue):
            self._unverified(m, call, "tensor subclass rebuilt through an unusual function")
            return self._tensor(call, None)
        if (
            func.qualname == NJT_REBUILD
            and isinstance(new_type, GlobalName)
            and new_type.qualname == NJT
        ):
            # Jagged nested tensors: torch allowlists both names at `import torch`, and needs
            # torch._dynamo's _DimRange as well (reported by the policy). Their metadata dict
            # is rebuilt by torch's own code; torchvet models it only as a tensor.
            return Instance(call.pos, NJT, call, hashable=True, info=TensorInfo("jagged", "", ()))
        inner = Call(call.pos, "REDUCE", func, args.items, None, func.qualname)
        model = self._call_models.get(func.qualname)
        if model is None or not func.qualname.startswith("torch._utils._rebuild"):
            self._unverified(m, call, f"tensor rebuilt by {func.qualname}")
            return self._tensor(call, None)
        result = model(m, inner)
        info = tensor_info(result)
        if not isinstance(new_type, GlobalName):
            self._unverified(m, call, "tensor subclass is not a global")
            return self._tensor(call, None)
        if new_type.qualname not in (TENSOR, PARAMETER):
            # A subclass: its global must be allowlisted (reported by the policy); torch
            # calls as_subclass and its __setstate__, which torchvet cannot see.
            self._unverified(
                m, call, f"tensor subclass {new_type.qualname} has its own state handling"
            )
            return Instance(call.pos, new_type.qualname, call, hashable=True, info=info)
        if info is not None and not self._obj_state(m, call, state):
            info = None
        elif info is not None:
            info.attributes = state
        return Instance(call.pos, new_type.qualname, call, hashable=True, info=info)

    def _rebuild_qtensor(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 7, 7):
            return self._tensor(call, None)
        storage_v, offset, size, stride, qparams, rg_v, _hooks = call.args
        storage = self._storage_arg(m, call, storage_v)
        dtype = self._dtype_of_storage(storage) if storage is not None else None
        if storage is None or dtype is None:
            return self._tensor(call, None)
        if not dtype.quantized:
            self._invalid(
                m,
                f"quantized tensor at offset {call.pos} over a {dtype.name} storage",
                "RuntimeError: quantized tensor expects a quantized dtype",
            )
            return self._tensor(call, None)
        if (
            not isinstance(qparams, TupleValue)
            or not qparams.items
            or not isinstance(qparams.items[0], GlobalName)
        ):
            self._unverified(m, call, "quantizer parameters are not a (qscheme, ...) tuple")
            return self._tensor(call, None)
        qscheme = qparams.items[0].qualname
        size_t = _int_seq(m, size)
        if size_t is not None and (not size_t or min(size_t) >= 0):
            # _empty_affine_quantized(size) allocates before set_ checks the storage.
            numel = 1
            for dim in size_t:
                numel *= dim
            self._allocation(m, call, numel * dtype.itemsize, "a quantized tensor's buffer")
        parts: dict[str, Value] = {}
        if qscheme == "torch.per_tensor_affine":
            if len(qparams.items) != 3:
                self._invalid(
                    m,
                    "per-tensor quantizer parameters need (qscheme, scale, zero_point)",
                    "ValueError: too many values to unpack",
                )
                return self._tensor(call, None)
            scale, zp = qparams.items[1:]
            if (
                not (isinstance(scale, Const) and type(scale.value) in (float, int))
                or _int(zp) is None
            ):
                self._unverified(m, call, "scale or zero point is not a number")
                return self._tensor(call, None)
            parts = {"scale": scale, "zero_point": zp}
        elif qscheme in ("torch.per_channel_affine", "torch.per_channel_affine_float_qparams"):
            if len(qparams.items) != 4:
                self._invalid(
                    m,
                    "per-channel quantizer parameters need 4 items",
                    "ValueError: too many values to unpack",
                )
                return self._tensor(call, None)
            scales, zps, axis_v = qparams.items[1:]
            axis = _int(axis_v)
            s_info, z_info = tensor_info(scales), tensor_info(zps)
            if axis is None or size_t is None or s_info is None or z_info is None:
                self._unverified(
                    m, call, "per-channel scales, zero points or axis are not modelled"
                )
                return self._tensor(call, None)
            if not 0 <= axis < len(size_t):
                self._invalid(
                    m,
                    f"per-channel axis {axis} out of range",
                    f"ValueError: _rebuild_qtensor: per_channel axis {axis} out of range",
                )
                return self._tensor(call, None)
            expected = size_t[axis]
            if s_info.numel != expected or z_info.numel != expected:
                self._invalid(
                    m,
                    "per-channel scales/zero_points length differs from size[axis]",
                    "ValueError: _rebuild_qtensor: per_channel scales/zero_points length "
                    "must equal size[axis]",
                )
                return self._tensor(call, None)
            if len(s_info.shape) != 1 or len(z_info.shape) != 1:
                self._unverified(m, call, "per-channel scales or zero points are not 1-D")
                return self._tensor(call, None)
            parts = {"scales": scales, "zero_points": zps, "axis": axis_v}
        else:
            self._invalid(
                m,
                f"quantized tensor with qscheme {qscheme}",
                f"RuntimeError: Can't deserialize quantized tensor with qscheme {qscheme}",
            )
            return self._tensor(call, None)
        view = self._check_view(m, call, storage, dtype.itemsize, offset, size, stride)
        if view is None:
            return self._tensor(call, None)
        rg = self._requires_grad(m, call, rg_v, dtype)
        if rg is None:
            return self._tensor(call, None)
        o, sz, st = view
        info = TensorInfo("quantized", dtype.name, sz, st, o, storage, rg, parts=parts)
        parts["qscheme"] = qparams.items[0]
        return self._tensor(call, info)

    def _get_layout(self, m: Machine, call: Call) -> Value:
        if self._argc(m, call, 1, 1):
            name = _str(call.args[0])
            if name is not None and name in self.facts.layouts:
                return Instance(call.pos, "torch.layout", call, hashable=True, info=name)
            if name is not None:
                self._invalid(m, f"unknown layout {name!r}", f"KeyError: {name!r}")
            else:
                self._unverified(m, call, "layout name is not a string")
        return Instance(call.pos, "torch.layout", call, hashable=True)

    def _rebuild_sparse_tensor(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 2, 2):
            return self._tensor(call, None)
        layout_v, data = call.args
        layout = (
            layout_v.info
            if isinstance(layout_v, Instance) and layout_v.pytype == "torch.layout"
            else None
        )
        if not isinstance(layout, str) or not isinstance(data, TupleValue):
            self._unverified(m, call, "sparse layout or data not in torch.save's form")
            return self._tensor(call, None)
        items = data.items
        if layout == "torch.sparse_coo":
            return self._sparse_coo(m, call, items)
        if layout in (
            "torch.sparse_csr",
            "torch.sparse_csc",
            "torch.sparse_bsr",
            "torch.sparse_bsc",
        ):
            return self._sparse_compressed(m, call, layout, items)
        self._invalid(
            m,
            f"sparse tensor with layout {layout}",
            f"NotImplementedError: rebuilding sparse tensor for layout {layout}",
        )
        return self._tensor(call, None)

    def _sparse_coo(self, m: Machine, call: Call, items: tuple[Value, ...]) -> Value:
        if len(items) not in (3, 4):
            self._invalid(
                m,
                "sparse COO data needs (indices, values, size[, is_coalesced])",
                "ValueError: not enough values to unpack",
            )
            return self._tensor(call, None)
        ind, val = tensor_info(items[0]), tensor_info(items[1])
        size = _int_seq(m, items[2])
        coalesced_ok = (
            len(items) == 3
            or _bool(items[3]) is not None
            or (isinstance(items[3], Const) and items[3].value is None)
        )
        if ind is None or val is None or size is None or not coalesced_ok:
            self._unverified(m, call, "sparse COO components not in torch.save's form")
            return self._tensor(call, None)
        # Shapes torch.sparse_coo_tensor checks even with check_invariants=False.
        ok = (
            ind.dtype == "torch.int64"
            and len(ind.shape) == 2
            and len(val.shape) >= 1
            and ind.shape[1] == val.shape[0]
            and len(size) == ind.shape[0] + len(val.shape) - 1
            and tuple(size[ind.shape[0] :]) == tuple(val.shape[1:])
            and all(s >= 0 for s in size)
            and ind.kind == "dense"
            and val.kind == "dense"
        )
        if not ok:
            self._unverified(
                m, call, "sparse COO shapes are not consistent in the way torchvet checks"
            )
            return self._tensor(call, None)
        info = TensorInfo(
            "sparse",
            val.dtype,
            size,
            layout="torch.sparse_coo",
            parts={"indices": items[0], "values": items[1]},
        )
        return self._tensor(call, info)

    def _sparse_compressed(
        self, m: Machine, call: Call, layout: str, items: tuple[Value, ...]
    ) -> Value:
        if len(items) != 4:
            self._invalid(
                m, "sparse compressed data needs 4 items", "ValueError: not enough values to unpack"
            )
            return self._tensor(call, None)
        comp, plain, val = (tensor_info(x) for x in items[:3])
        size = _int_seq(m, items[3])
        if comp is None or plain is None or val is None or size is None:
            self._unverified(m, call, "sparse compressed components not in torch.save's form")
            return self._tensor(call, None)
        blocked = layout in ("torch.sparse_bsr", "torch.sparse_bsc")
        ok = (
            comp.dtype == plain.dtype
            and comp.dtype in ("torch.int64", "torch.int32")
            and len(comp.shape) == 1
            and len(plain.shape) == 1
            and len(size) == (2 + (len(val.shape) - 3) if blocked else 2 + len(val.shape) - 1)
            and val.shape[:1] == plain.shape[:1]
            and all(s >= 0 for s in size)
            and all(t.kind == "dense" for t in (comp, plain, val))
        )
        if ok:
            compressed_dim = (
                size[0] if layout in ("torch.sparse_csr", "torch.sparse_bsr") else size[1]
            )
            if blocked:
                block = val.shape[1] if layout == "torch.sparse_bsr" else val.shape[2]
                ok = len(val.shape) == 3 and block > 0 and compressed_dim % block == 0
                compressed_dim = compressed_dim // block if ok else compressed_dim
            ok = ok and comp.shape[0] == compressed_dim + 1
        if not ok:
            self._unverified(
                m, call, "sparse compressed shapes are not in the form torchvet checks"
            )
            return self._tensor(call, None)
        info = TensorInfo(
            "sparse",
            val.dtype,
            size,
            layout=layout,
            parts={"compressed_indices": items[0], "plain_indices": items[1], "values": items[2]},
        )
        return self._tensor(call, info)

    def _rebuild_nested_tensor(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 4, 4):
            return self._tensor(call, None)
        buf, sizes, strides, offsets = (tensor_info(x) for x in call.args)
        if buf is None or sizes is None or strides is None or offsets is None:
            self._unverified(m, call, "nested tensor components are not tensors")
            return self._tensor(call, None)
        meta_ok = (
            sizes.dtype == strides.dtype == offsets.dtype == "torch.int64"
            and len(sizes.shape) == 2
            and sizes.shape == strides.shape
            and len(offsets.shape) == 1
            and offsets.shape[0] == sizes.shape[0]
            and len(buf.shape) == 1
            and buf.kind == "dense"
            and all(t.kind == "dense" and t.storage is not None for t in (sizes, strides, offsets))
        )
        if not meta_ok:
            self._unverified(m, call, "nested tensor components are not in torch.save's form")
            return self._tensor(call, None)
        info = TensorInfo(
            "nested",
            buf.dtype,
            (),
            parts=dict(zip(("buffer", "sizes", "strides", "offsets"), call.args, strict=True)),
        )
        # torch checks every component view against the buffer using the *contents* of
        # the sizes/strides/offsets tensors: the container reads them and settles it.
        m.trace.deferred.append((call.pos, "nested", info))
        return self._tensor(call, info)

    def _rebuild_meta(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 4, 4):
            return self._tensor(call, None)
        dtype_v, size_v, stride_v, rg_v = call.args
        dtype = self._dtype_arg(m, call, dtype_v)
        size, stride = _int_seq(m, size_v), _int_seq(m, stride_v)
        if dtype is None or size is None or stride is None:
            if dtype is not None:
                self._unverified(m, call, "meta tensor size or stride not made of ints")
            return self._tensor(call, None)
        if dtype.quantized:
            self._unverified(m, call, "quantized meta tensor")
            return self._tensor(call, None)
        if (
            len(size) != len(stride)
            or any(s < 0 for s in size)
            or any(s < 0 for s in stride)
            or any(x > INT64_MAX for x in (*size, *stride))
        ):
            self._invalid(
                m,
                f"meta tensor at offset {call.pos} has an invalid size/stride",
                "RuntimeError: empty_strided: invalid size or stride",
            )
            return self._tensor(call, None)
        numel = 1
        for s in size:
            numel *= s
        if numel > INT64_MAX:
            self._invalid(
                m,
                "meta tensor has more than 2**63 elements",
                "numel: integer multiplication overflow",
            )
            return self._tensor(call, None)
        rg = self._requires_grad(m, call, rg_v, dtype)
        if rg is None:
            return self._tensor(call, None)
        return self._tensor(call, TensorInfo("meta", dtype.name, size, stride, 0, None, rg))

    def _rebuild_from_cpu(self, m: Machine, call: Call) -> Value:
        if not self._argc(m, call, 4, 4):
            return self._tensor(call, None)
        data, dtype_v, _device, rg_v = call.args
        src = self._tensor_arg(m, call, data, "data")
        dtype = self._dtype_arg(m, call, dtype_v)
        if src is None or dtype is None:
            return self._tensor(call, None)
        src_dtype = self.facts.dtypes.get(src.dtype)
        if dtype.quantized or src_dtype is None or src_dtype.quantized or src.kind != "dense":
            self._unverified(m, call, "device tensor conversion between these dtypes")
            return self._tensor(call, None)
        rg = self._requires_grad(m, call, rg_v, dtype)
        if rg is None:
            return self._tensor(call, None)
        if dtype.name != src.dtype:  # Tensor.to makes a converted copy
            self._allocation(m, call, src.numel * dtype.itemsize, "a converted copy")
        info = TensorInfo(**{**src.__dict__, "kind": "from-cpu", "requires_grad": rg})
        info.parts = {"source": data, "dtype": dtype_v}
        info.dtype = dtype.name
        return self._tensor(call, info)

    # -------------------------------------------------------------- torch small types
    def _size(self, m: Machine, call: Call) -> Value:
        a = call.args
        if not a:
            return Instance(call.pos, "torch.Size", call, hashable=True, info=())
        if len(a) == 1:
            seq = _int_seq(m, a[0])
            if seq is not None and _int64s(seq):
                return Instance(call.pos, "torch.Size", call, hashable=True, info=seq)
        self._unverified(m, call, "torch.Size built from something other than a tuple of ints")
        return Instance(call.pos, "torch.Size", call, hashable=True)

    def _device(self, m: Machine, call: Call) -> Value:
        a = call.args
        ok = False
        if a and len(a) <= 2:
            spec = _str(a[0])
            index = _int(a[1]) if len(a) == 2 else 0
            if spec is not None and index is not None and index >= 0:
                kind, _, num = spec.partition(":")
                ok = kind in self.facts.device_types and (
                    num == "" or (num.isdigit() and len(a) == 1)
                )
        if not ok:
            self._unverified(m, call, "torch.device built from arguments torchvet does not model")
        return Instance(call.pos, "torch.device", call, hashable=True)

    # -------------------------------------------------------------- builtins and collections
    def _ordered_dict(self, m: Machine, call: Call) -> Value:
        d = DictValue(call.pos, "collections.OrderedDict", call)
        if call.args:
            self._fill_from_pairs(m, call, d)
        return d

    def _dict_call(self, m: Machine, call: Call) -> Value:
        d = DictValue(call.pos, "builtins.dict", call)
        if call.args:
            self._fill_from_pairs(m, call, d)
        return d

    def _defaultdict(self, m: Machine, call: Call) -> Value:
        return DictValue(call.pos, "collections.defaultdict", call)

    def _fill_from_pairs(self, m: Machine, call: Call, d: DictValue) -> None:
        src = call.args[0]
        if isinstance(src, (DictValue, ListValue, TupleValue)):
            _copying(m, len(src.items))
        if len(call.args) == 1 and isinstance(src, DictValue):
            m.hashes.insert(m, d, [k for k, _ in src.items])
            d.items.extend(src.items)
            return
        if len(call.args) == 1 and isinstance(src, (ListValue, TupleValue)):
            pairs = []
            for item in src.items:
                if not (isinstance(item, (TupleValue, ListValue)) and len(item.items) == 2):
                    break
                pairs.append((item.items[0], item.items[1]))
            else:
                if all(k.hashable for k, _ in pairs):
                    m.hashes.insert(m, d, [k for k, _ in pairs])
                    d.items.extend(pairs)
                    return
        self._unverified(m, call, "mapping built from arguments torchvet does not model")

    def _counter(self, m: Machine, call: Call) -> Value:
        d = DictValue(call.pos, "collections.Counter", call)
        if not call.args:
            return d
        if len(call.args) == 1 and isinstance(call.args[0], DictValue):
            _copying(m, len(call.args[0].items))
            m.hashes.insert(m, d, [k for k, _ in call.args[0].items])
            d.items.extend(call.args[0].items)
            return d
        self._unverified(m, call, "Counter built from something other than a dict")
        return d

    def _set(self, m: Machine, call: Call, frozen: bool = False) -> Value:
        s = SetValue(call.pos, frozen=frozen)
        if not call.args:
            return s
        src = call.args[0]
        if len(call.args) == 1 and isinstance(src, (ListValue, TupleValue, SetValue)):
            _copying(m, 2 * len(src.items))
            unhashable = [x for x in src.items if x.hashable is False]
            unknown = [x for x in src.items if x.hashable is None]
            if unhashable:
                self._invalid(
                    m,
                    f"set at offset {call.pos} contains an unhashable item",
                    "TypeError: unhashable type",
                )
            elif unknown:
                self._unverified(m, call, "set item of unknown hashability")
            m.hashes.insert(m, s, src.items)
            s.items.extend(src.items)
            return s
        self._unverified(m, call, "set built from something other than a list")
        return s

    def _frozenset(self, m: Machine, call: Call) -> Value:
        return self._set(m, call, frozen=True)

    def _list_call(self, m: Machine, call: Call) -> Value:
        out = ListValue(call.pos)
        if call.args and isinstance(call.args[0], (ListValue, TupleValue, SetValue)):
            _copying(m, len(call.args[0].items))
            out.items.extend(call.args[0].items)
        return out

    def _tuple_call(self, m: Machine, call: Call) -> Value:
        if call.args and isinstance(call.args[0], (ListValue, TupleValue)):
            _copying(m, len(call.args[0].items))
            return TupleValue(call.pos, tuple(call.args[0].items))
        return Instance(call.pos, "builtins.tuple", call)

    def _bytearray(self, m: Machine, call: Call) -> Value:
        a = call.args
        data: bytes | None = None
        if not a:
            data = b""
        elif len(a) == 1 and isinstance(a[0], Const) and type(a[0].value) is bytes:
            data = a[0].value
        elif len(a) == 1 and _int(a[0]) is not None:
            return self._bytearray_of_size(m, call, a[0].value)  # type: ignore[union-attr]
        elif len(a) == 2 and _str(a[0]) is not None and _str(a[1]) in ("latin1", "latin-1"):
            try:
                m.charge(len(a[0].value) >> 6)  # type: ignore[union-attr]
                data = _str(a[0]).encode("latin-1")  # type: ignore[union-attr]
            except UnicodeEncodeError:
                self._invalid(m, "bytearray text not encodable as latin-1", "UnicodeEncodeError")
                return Instance(call.pos, "builtins.bytearray", call, hashable=False)
        if data is None:
            self._unverified(m, call, "bytearray built from arguments torchvet does not model")
        return Instance(call.pos, "builtins.bytearray", call, hashable=False, info=data)

    @staticmethod
    def _allocation(m: Machine, call: Call, nbytes: int, what: str) -> None:
        """Count what a call makes the loader allocate; one RESOURCE issue per stream once
        the total is far out of proportion to the file (one huge call, or a memoised
        tensor converted a hundred thousand times)."""
        before = m.allocated
        m.allocated += nbytes
        if budgets.disproportionate(m.allocated) and not budgets.disproportionate(before):
            total = (
                "" if before == 0 else f", {budgets.human(m.allocated)} with the calls before it"
            )
            m.issue(
                IssueKind.RESOURCE,
                f"{call.target} at offset {call.pos} makes the loader allocate {what} of "
                f"{budgets.human(nbytes)}{total}: a denial of service (it fails where that "
                "much memory cannot be had)",
            )

    def _bytearray_of_size(self, m: Machine, call: Call, n: int) -> Value:
        """``bytearray(n)`` allocates and zero-fills n bytes: a few bytes of pickle can
        ask for gigabytes."""
        if n < 0:
            self._invalid(m, "bytearray with a negative size", "ValueError: negative count")
            return Opaque(call.pos)
        self._allocation(m, call, n, f"bytearray({n}), zero-filled,")
        data = bytes(n) if n <= _SMALL_BYTEARRAY else None
        return Instance(call.pos, "builtins.bytearray", call, hashable=False, info=data)

    def _complex(self, m: Machine, call: Call) -> Value:
        a = call.args
        nums = [x.value for x in a if isinstance(x, Const) and type(x.value) in (int, float)]
        if 1 <= len(a) <= 2 and len(nums) == len(a):
            try:
                return Const(call.pos, complex(*nums))
            except OverflowError:
                self._invalid(m, "complex number overflows", "OverflowError")
                return Opaque(call.pos)
        self._unverified(m, call, "complex built from arguments torchvet does not model")
        return Instance(call.pos, "builtins.complex", call, hashable=True)

    def _codecs_encode(self, m: Machine, call: Call) -> Value:
        """``_codecs.encode(obj, encoding, errors)``, which torch calls with whatever the
        pickle passes. The codec is looked up among the standard library's codecs (the
        only ones registered in torchvet's process; their modules hold tables, nothing a
        file can steer) and run on the constant, so the result is exactly torch's."""
        a = call.args
        consts = [x.value for x in a if isinstance(x, Const) and type(x.value) in (str, bytes)]
        if not 1 <= len(a) <= 3 or len(consts) != len(a) or call.kwargs is not None:
            self._unverified(m, call, "_codecs.encode with arguments torchvet does not model")
            return Instance(call.pos, "builtins.bytes", call, hashable=True)
        if len(consts[0]) > _MAX_ENCODED or any(type(x) is not str for x in consts[1:]):
            # Some codecs (punycode) take quadratic time: torchvet does not run them on
            # large inputs, and cannot vouch for the result.
            self._unverified(m, call, "_codecs.encode of a large or unusual input")
            return Instance(call.pos, "builtins.bytes", call, hashable=True)
        try:
            m.charge(len(consts[0]) >> 6)  # a memoised megabyte string, encoded again per call
            return Const(call.pos, codecs.encode(*consts))  # type: ignore[call-overload]
        except (LookupError, TypeError, ValueError) as exc:  # UnicodeError is a ValueError
            self._invalid(m, f"_codecs.encode fails: {exc}", f"{type(exc).__name__}: {exc}")
            return Opaque(call.pos)

    # -------------------------------------------------------------- numpy (explains blockers)
    def _numpy_reconstruct(self, m: Machine, call: Call) -> Value:
        """``_reconstruct(subtype, shape, dtype)``: an array of ``subtype`` (numpy.ndarray)."""
        sub = call.args[0] if call.args else None
        return Instance(
            call.pos, target_name(sub) if sub is not None else None, call, hashable=False
        )

    def _numpy_scalar(self, m: Machine, call: Call) -> Value:
        """``scalar(dtype, bytes)``: a numpy scalar whose type follows the dtype."""
        dt = call.args[0] if call.args else None
        scalar_type = None
        if isinstance(dt, Instance) and dt.pytype and dt.pytype.startswith("numpy.dtypes."):
            scalar_type = _NUMPY_SCALAR_TYPES.get(dt.pytype.rsplit(".", 1)[-1])
        return Instance(call.pos, scalar_type or "numpy.generic", call, hashable=True)

    def _numpy_dtype(self, m: Machine, call: Call) -> Value:
        code = _str(call.args[0]) if call.args else None
        cls = numpy_dtype_class(code) if code is not None else None
        return Instance(call.pos, cls or "numpy.dtype", call, hashable=True, info=code)

    def _numpy_bit_generator(self, m: Machine, call: Call) -> Value:
        """``__bit_generator_ctor(name_or_class)``: an instance of that BitGenerator."""
        arg = call.args[0] if call.args else Const(call.pos, "MT19937")
        name = (
            target_name(arg)
            if isinstance(arg, GlobalName)
            else _NUMPY_BIT_GENERATORS.get(_str(arg))
        )
        return Instance(call.pos, name, call, hashable=False)

    # -------------------------------------------------------------- gadget chains
    def _getattr(self, m: Machine, call: Call) -> Value:
        a = call.args
        name = _str(a[1]) if len(a) >= 2 else None
        if name is None:
            m.issue(
                IssueKind.DYNAMIC, f"getattr at offset {call.pos} with a computed attribute name"
            )
            return Opaque(call.pos, "dynamic getattr")
        return Attr(call.pos, a[0], name)

    def _import(self, m: Machine, call: Call) -> Value:
        name = _str(call.args[0]) if call.args else None
        if name is None:
            m.issue(IssueKind.DYNAMIC, f"import at offset {call.pos} of a computed module name")
            return Opaque(call.pos, "dynamic import")
        fromlist = call.args[3] if len(call.args) > 3 else None
        if fromlist is not None and not is_falsy(fromlist):
            return ModuleValue(call.pos, name)
        return ModuleValue(call.pos, name.split(".")[0])

    def _import_module(self, m: Machine, call: Call) -> Value:
        name = _str(call.args[0]) if call.args else None
        if name is None:
            m.issue(IssueKind.DYNAMIC, f"import_module at offset {call.pos} of a computed name")
            return Opaque(call.pos, "dynamic import")
        return ModuleValue(call.pos, name)

    def _getitem(self, m: Machine, call: Call) -> Value:
        a = call.args
        if len(a) == 2 and isinstance(a[0], GlobalName) and a[0].qualname == "sys.modules":
            name = _str(a[1])
            if name is not None:
                return ModuleValue(call.pos, name)
        if len(a) == 2 and isinstance(a[0], DictValue) and isinstance(a[1], Const):
            _copying(m, len(a[0].items))
            found = a[0].lookup(a[1].value)
            if found is not None:
                return found
        return Instance(call.pos, None, call)

    def _partial(self, m: Machine, call: Call) -> Value:
        if not call.args:
            return Instance(call.pos, "functools.partial", call)
        return Instance(
            call.pos, "functools.partial", call, info=_Partial(call.args[0], call.args[1:])
        )

    def _methodcaller(self, m: Machine, call: Call) -> Value:
        name = _str(call.args[0]) if call.args else None
        if name is None:
            m.issue(IssueKind.DYNAMIC, f"methodcaller at offset {call.pos} with a computed name")
            return Opaque(call.pos)
        return Instance(
            call.pos, "operator.methodcaller", call, info=_MethodCaller(name, call.args[1:])
        )

    def _attrgetter(self, m: Machine, call: Call) -> Value:
        names = tuple(_str(x) for x in call.args)
        if not names or any(n is None for n in names):
            m.issue(IssueKind.DYNAMIC, f"attrgetter at offset {call.pos} with a computed name")
            return Opaque(call.pos)
        return Instance(call.pos, "operator.attrgetter", call, info=_AttrGetter(names))  # type: ignore[arg-type]

    def _reconstructor(self, m: Machine, call: Call) -> Value:
        # copyreg._reconstructor(cls, base, state): base.__new__(cls, state) and, unless
        # base is object, base.__init__(obj, state) -- base's code runs.
        a = call.args
        if len(a) == 3:
            base = a[1]
            if not (isinstance(base, GlobalName) and base.qualname == "builtins.object"):
                inner = Call(call.pos, "REDUCE", base, (a[2],), None, target_name(base))
                m.trace.events.append(CallEvent(inner))
            cls_name = target_name(a[0])
            return Instance(call.pos, cls_name, call)
        return Instance(call.pos, None, call)

    def _copyreg_newobj(self, m: Machine, call: Call) -> Value:
        cls = call.args[0] if call.args else None
        return Instance(call.pos, target_name(cls) if cls is not None else None, call)

    # -------------------------------------------------------------- BUILD
    def build(self, m: Machine, inst: Value, state: Value) -> None:
        if isinstance(inst, Opaque):
            return
        t = inst.pytype
        if isinstance(inst, (GlobalName, ModuleValue)) or (
            t is None and not isinstance(inst, Instance)
        ):
            m.issue(
                IssueKind.STRUCTURE,
                f"BUILD at offset {m.pos} applies state to {inst.describe()}",
                torch_message=self.facts.message("BUILD", type="<class 'type'>"),
            )
            if isinstance(
                inst, (GlobalName, ModuleValue)
            ):  # setattr on a class, function or module
                m.issue(
                    IssueKind.DYNAMIC,
                    f"BUILD at offset {m.pos} sets attributes of {inst.describe()} itself: "
                    "other unpicklers monkey-patch it in the loading process",
                )
            return
        if isinstance(inst, Instance):
            if not isinstance(inst.state, list):
                inst.state = list(inst.state)
            inst.state.append(state)
        if t in (TENSOR, PARAMETER):
            self._unverified_build(m, f"BUILD on a {t} (legacy tensor state)")
            return
        if t == "collections.OrderedDict":
            if not isinstance(inst, DictValue):  # e.g. made by OBJ or NEWOBJ_EX: not modelled
                self._unverified_build(m, "BUILD on an OrderedDict built by an unusual opcode")
            elif isinstance(state, DictValue):
                inst.attrs = state
            elif not is_falsy(state) or not isinstance(state, DictValue):
                self._unverified_build(m, "OrderedDict state that is not a dict")
            return
        m.note_build_type(inst)
        if t is None:
            return
        kind = self.facts.allowed.get(t)
        if kind is not None and t != "collections.Counter" and not is_falsy(state):
            self._unverified_build(m, f"BUILD with state on an instance of {t}")
        if t == "collections.Counter" and not (isinstance(state, DictValue) or is_falsy(state)):
            self._unverified_build(m, "Counter state that is not a dict")

    @staticmethod
    def _unverified_build(m: Machine, why: str) -> None:
        m.issue(IssueKind.UNVERIFIED, f"{why} at offset {m.pos}")
