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

One module per family, each registering its models with ``@model`` / ``@new_model``
(``registry.py``); a model acts only through ``Effects`` (``effects.py``). Nothing here
imports or calls anything the file names.
"""

from __future__ import annotations

import importlib

from torchvet.pickle import values
from torchvet.pickle.models import build as _build
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.models.gadgets import call_object, target_name
from torchvet.pickle.models.registry import CALL_MODELS, NEW_MODELS
from torchvet.pickle.tensorinfo import INT64_MAX, TensorInfo, tensor_info
from torchvet.pickle.torchfacts import TorchFacts, load_facts
from torchvet.pickle.values import Call, Value

__all__ = ["INT64_MAX", "Effects", "Knowledge", "TensorInfo", "target_name", "tensor_info"]

# The model families: each registers its models (``@model``) when imported (gadgets too,
# imported above for its chain resolution).
FAMILIES = ("tensors", "parameters", "quantized", "sparse", "torchtypes", "pytypes", "numpytypes")
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")

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
_NOT_CALLABLE_KINDS = ("dtype", "storage-type", "qscheme")


class Knowledge:
    """Models of known callables for one torch release."""

    def __init__(self, facts: TorchFacts | None = None) -> None:
        self.facts = facts or load_facts()

    def apply(self, fx: Effects, call: Call) -> Value:
        """The value ``call`` returns, after the checks torch makes on its arguments."""
        func = call.func
        if isinstance(func, values.Instance) and call.opcode == "REDUCE":
            return call_object(fx, call, func, self.apply)
        name = call.target or ""
        if call.opcode in ("NEWOBJ", "NEWOBJ_EX"):
            new = NEW_MODELS.get(name)
            return new(fx, call) if new is not None else _instance_of(call)
        emulate = CALL_MODELS.get(name)
        if emulate is not None:
            return emulate(fx, call)
        kind = self.facts.allowed.get(name)
        if kind in _NOT_CALLABLE_KINDS:
            fx.invalid(f"{name} is not callable", f"TypeError: '{kind}' object is not callable")
            return values.Opaque(call.pos)
        if kind is not None:
            fx.unverified(call, "torchvet does not model this allowlisted callable")
            return values.Instance(call.pos, None, call)
        return _instance_of(call)

    def build(self, fx: Effects, inst: Value, state: Value) -> None:
        """BUILD of ``state`` onto ``inst`` (``build.py``)."""
        _build.build(fx, inst, state)


def _instance_of(call: Call) -> Value:
    """Calling an unknown global: assume it is a class and the result its instance."""
    pytype = call.target if isinstance(call.func, values.GlobalName) else None
    # Plain class instances hash by identity unless the class defines __eq__ alone;
    # for names torchvet does not know, that cannot be told.
    return values.Instance(call.pos, pytype, call, hashable=_HASHABLE_INSTANCES.get(pytype or ""))
