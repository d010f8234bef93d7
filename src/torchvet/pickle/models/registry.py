"""Declarative registration: which model emulates which callable.

``@model("torch._utils._rebuild_tensor_v2")`` registers what calling a global returns
(REDUCE, INST, OBJ and calls reached through ``functools.partial`` and friends);
``@new_model("collections.OrderedDict")`` what ``cls.__new__(cls, *args)`` returns
(NEWOBJ, NEWOBJ_EX). A model is ``fn(fx, call) -> Value``: ``fx`` is the narrow
``Effects`` interface, ``call.target`` the registered name.
"""

from __future__ import annotations

from collections.abc import Callable

from torchvet.pickle.models.effects import Effects
from torchvet.pickle.values import Call, Value

Model = Callable[[Effects, Call], Value]

CALL_MODELS: dict[str, Model] = {}
NEW_MODELS: dict[str, Model] = {}


def _registrar(table: dict[str, Model], names: tuple[str, ...]) -> Callable[[Model], Model]:
    def register(fn: Model) -> Model:
        for name in names:
            if name in table:
                raise ValueError(f"two models for {name}: {table[name].__name__}, {fn.__name__}")
            table[name] = fn
        return fn

    return register


def model(*names: str) -> Callable[[Model], Model]:
    """Register the decorated function as what calling any of ``names`` returns."""
    return _registrar(CALL_MODELS, names)


def new_model(*names: str) -> Callable[[Model], Model]:
    """Register the decorated function as what NEWOBJ of any of ``names`` returns."""
    return _registrar(NEW_MODELS, names)
