"""BUILD: what applying a state to the object on the stack does, and what torch checks.

torch's weights-only unpickler builds only tensors, parameters, OrderedDicts and
instances of allowlisted classes (their runtime type is recorded for the policy); other
unpicklers call ``__setstate__`` or update ``__dict__``, which on a class or a module
monkey-patches it in the loading process.
"""

from __future__ import annotations

from torchvet.pickle import values
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.tensorinfo import PARAMETER, TENSOR
from torchvet.pickle.torchfacts import class_repr
from torchvet.pickle.trace import IssueKind
from torchvet.pickle.values import Value, is_falsy


def build(fx: Effects, inst: Value, state: Value) -> None:
    if isinstance(inst, values.Opaque):
        return
    t = inst.pytype
    if isinstance(inst, (values.GlobalName, values.ModuleValue)) or (
        t is None and not isinstance(inst, values.Instance)
    ):
        _build_on_non_instance(fx, inst)
        return
    if isinstance(inst, values.Instance):
        if not isinstance(inst.state, list):
            inst.state = list(inst.state)
        inst.state.append(state)
    if t in (TENSOR, PARAMETER):
        _unverified(fx, f"BUILD on a {t} (legacy tensor state)")
        return
    if t == "collections.OrderedDict":
        _build_ordered_dict(fx, inst, state)
        return
    fx.note_build_type(inst)
    if t is None:
        return
    kind = fx.facts.allowed.get(t)
    if kind is not None and t != "collections.Counter" and not is_falsy(state):
        _unverified(fx, f"BUILD with state on an instance of {t}")
    if t == "collections.Counter" and not (isinstance(state, values.DictValue) or is_falsy(state)):
        _unverified(fx, "Counter state that is not a dict")


def _build_on_non_instance(fx: Effects, inst: Value) -> None:
    fx.issue(
        IssueKind.STRUCTURE,
        f"BUILD at offset {fx.pos} applies state to {inst.describe()}",
        torch_message=fx.facts.message("BUILD", type=class_repr("builtins.type")),
    )
    if isinstance(
        inst, (values.GlobalName, values.ModuleValue)
    ):  # setattr on a class, function or module
        fx.dynamic(
            f"BUILD at offset {fx.pos} sets attributes of {inst.describe()} itself: "
            "other unpicklers monkey-patch it in the loading process"
        )


def _build_ordered_dict(fx: Effects, inst: Value, state: Value) -> None:
    if not isinstance(inst, values.DictValue):  # e.g. made by OBJ or NEWOBJ_EX: not modelled
        _unverified(fx, "BUILD on an OrderedDict built by an unusual opcode")
    elif isinstance(state, values.DictValue):
        inst.attrs = state
    elif not is_falsy(state) or not isinstance(state, values.DictValue):
        _unverified(fx, "OrderedDict state that is not a dict")


def _unverified(fx: Effects, why: str) -> None:
    fx.issue(IssueKind.UNVERIFIED, f"{why} at offset {fx.pos}")
