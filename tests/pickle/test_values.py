"""Value accessors: exact types, as torch's argument parser and pickle see them."""

from __future__ import annotations

from torchvet.pickle.values import (
    Const,
    Instance,
    ListValue,
    TupleValue,
    bool_of,
    int_of,
    ints_of,
    is_shape_like,
    str_of,
)


def test_constants_of_exact_type_only() -> None:
    assert int_of(Const(0, 5)) == 5 and int_of(Const(0, True)) is None  # bool is no int
    assert bool_of(Const(0, False)) is False and bool_of(Const(0, 0)) is None
    assert str_of(Const(0, "s")) == "s" and str_of(Const(0, b"s")) is None


def test_int_sequences() -> None:
    ints = [Const(0, 2), Const(0, 3)]
    assert ints_of(TupleValue(0, tuple(ints))) == (2, 3)
    assert ints_of(ListValue(0, ints)) == (2, 3)
    assert ints_of(Instance(0, "torch.Size", info=(4,))) == (4,)
    assert ints_of(TupleValue(0, (Const(0, 2), Const(0, 2.0)))) is None
    assert ints_of(TupleValue(0, (Const(0, True),))) is None
    assert is_shape_like(Instance(0, "torch.Size")) and not is_shape_like(Const(0, 1))
