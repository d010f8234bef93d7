"""Parameters, tensor subclasses and the Python attributes torch sets on tensors.

``torch._utils._rebuild_parameter(_with_state)``, NEWOBJ of ``Parameter``, and
``torch._tensor._rebuild_from_type_v2`` (a tensor rebuilt by an inner ``_rebuild_*``
call, then turned into its subclass with its ``__dict__`` state applied).
"""

from __future__ import annotations

from torchvet.pickle import values
from torchvet.pickle.models import checks
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.models.registry import CALL_MODELS, model, new_model
from torchvet.pickle.tensorinfo import PARAMETER, TENSOR, TensorInfo, tensor_info
from torchvet.pickle.values import Call, Value, is_falsy, str_of

NJT = "torch.nested._internal.nested_tensor.NestedTensor"
NJT_REBUILD = "torch.nested._internal.nested_tensor._rebuild_njt"


def _parameter(fx: Effects, call: Call, data: Value, rg_v: Value) -> Value:
    info = checks.tensor_arg(fx, call, data, "data")
    if info is None:
        return values.Instance(call.pos, PARAMETER, call, hashable=True)
    rg = checks.requires_grad(fx, call, rg_v, fx.facts.dtypes.get(info.dtype))
    if rg is None:
        return values.Instance(call.pos, PARAMETER, call, hashable=True)
    new = TensorInfo(**{**info.__dict__, "requires_grad": rg})
    return values.Instance(call.pos, PARAMETER, call, hashable=True, info=new)


@model("torch._utils._rebuild_parameter")
def rebuild_parameter(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 3, 3):
        return values.Instance(call.pos, PARAMETER, call, hashable=True)
    return _parameter(fx, call, call.args[0], call.args[1])


@model("torch._utils._rebuild_parameter_with_state")
def rebuild_parameter_with_state(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 4, 4):
        return values.Instance(call.pos, PARAMETER, call, hashable=True)
    p = _parameter(fx, call, call.args[0], call.args[1])
    if isinstance(p, values.Instance) and isinstance(p.info, TensorInfo):
        if _obj_state(fx, call, call.args[3]):
            p.info.attributes = call.args[3]
        else:
            p.info = None
    return p


@new_model(PARAMETER)
def new_parameter(fx: Effects, call: Call) -> Value:
    # NEWOBJ of Parameter: torch calls Parameter(*args) (data=None, requires_grad=True).
    a = call.args
    if not a or len(a) > 2:
        fx.unverified(call, "Parameter created with unusual arguments")
        return values.Instance(call.pos, PARAMETER, call, hashable=True)
    return _parameter(fx, call, a[0], a[1] if len(a) > 1 else values.Const(call.pos, True))


def _obj_state(fx: Effects, call: Call, state: Value) -> bool:
    """Emulate torch._utils._set_obj_state on a tensor: setattr for each key."""
    dict_state: Value = state
    slots_state: Value | None = None
    if isinstance(state, values.TupleValue):
        if len(state.items) != 2:
            fx.invalid(
                f"invalid serialized tensor state at offset {call.pos}",
                "RuntimeError: Invalid serialized state",
            )
            return False
        dict_state, slots_state = state.items
    for part in (dict_state, slots_state):
        if part is None or is_falsy(part):
            continue
        if not isinstance(part, values.DictValue):
            fx.unverified(call, f"tensor state is {part.describe()}")
            return False
        fx.copying(len(part.items))
        for k, _ in part.items:
            key = str_of(k)
            if key is None:
                fx.invalid(
                    f"tensor attribute name at offset {call.pos} is not a string",
                    "TypeError: attribute name must be string",
                )
                return False
            if key in fx.facts.parameter_attributes:
                fx.unverified(call, f"tensor state overrides the built-in attribute {key!r}")
                return False
    return True


@model("torch._tensor._rebuild_from_type_v2")
def rebuild_from_type_v2(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 4, 4):
        return checks.tensor(call, None)
    func, new_type, args, state = call.args
    if not isinstance(func, values.GlobalName) or not isinstance(args, values.TupleValue):
        fx.unverified(call, "tensor subclass rebuilt through an unusual function")
        return checks.tensor(call, None)
    if (
        func.qualname == NJT_REBUILD
        and isinstance(new_type, values.GlobalName)
        and new_type.qualname == NJT
    ):
        # Jagged nested tensors: torch allowlists both names at `import torch`, and needs
        # torch._dynamo's _DimRange as well (reported by the policy). Their metadata dict
        # is rebuilt by torch's own code; torchvet models it only as a tensor.
        return values.Instance(
            call.pos, NJT, call, hashable=True, info=TensorInfo("jagged", "", ())
        )
    inner = Call(call.pos, "REDUCE", func, args.items, None, func.qualname)
    rebuild = CALL_MODELS.get(func.qualname)
    if rebuild is None or not func.qualname.startswith("torch._utils._rebuild"):
        fx.unverified(call, f"tensor rebuilt by {func.qualname}")
        return checks.tensor(call, None)
    info = tensor_info(rebuild(fx, inner))
    if not isinstance(new_type, values.GlobalName):
        fx.unverified(call, "tensor subclass is not a global")
        return checks.tensor(call, None)
    if new_type.qualname not in (TENSOR, PARAMETER):
        # A subclass: its global must be allowlisted (reported by the policy); torch
        # calls as_subclass and its __setstate__, which torchvet cannot see.
        fx.unverified(call, f"tensor subclass {new_type.qualname} has its own state handling")
        return values.Instance(call.pos, new_type.qualname, call, hashable=True, info=info)
    if info is not None and not _obj_state(fx, call, state):
        info = None
    elif info is not None:
        info.attributes = state
    return values.Instance(call.pos, new_type.qualname, call, hashable=True, info=info)
