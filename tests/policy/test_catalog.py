"""The catalogs that explain refusals: gadgets against the advisories' list, inert names
against the objects they name."""

from __future__ import annotations

import sys

import pytest

from torchvet.numpy_dtypes import dtype_class as numpy_dtype_class
from torchvet.pickle.torchfacts import installed_torch_version, load_facts
from torchvet.policy.catalog import gadget_reason, inert_reason, inert_type_reason

ISSUE_GADGETS = [
    "pip.main",
    "pkgutil.resolve_name",
    "importlib.import_module",
    "runpy.run_path",
    "code.InteractiveInterpreter",
    "trace.Trace.run",  # the classes only construct; their run methods exec
    "profile.run",
    "cProfile.run",
    "pdb.run",
    "bdb.Bdb.run",
    "timeit.timeit",
    "doctest.debug_script",
    "idlelib.run.main",
    "lib2to3.main.main",
    "ensurepip.bootstrap",
    "venv.create",
    "distutils.spawn.spawn",
    "pty.spawn",
    "ctypes.CDLL",
    "operator.attrgetter",
    "_operator.methodcaller",
    "types.CodeType",
    "types.FunctionType",
    "marshal.loads",
    "cloudpickle.cloudpickle._make_function",
    "logging.FileHandler",
    "asyncio.subprocess.create_subprocess_shell",
    "asyncio.base_subprocess.BaseSubprocessTransport",
    "torch.load",
    "numpy.load",
    "pickle.loads",
    "torch.storage._load_from_bytes",
    "torch.utils.collect_env.run",
    "torch.utils._config_module.ConfigModule",
    "os.system",
    "posix.system",
    "nt.system",
    "subprocess.Popen",
    "builtins.eval",
    "builtins.exec",
    "builtins.__import__",
    # issue 9: shell-out helpers, jit code executors, interpreter modules, nested decoders
    "subprocess.getoutput",
    "os.popen",
    "torch.jit.unsupported_tensor_ops.execWrapper",
    "_xxsubinterpreters.run_string",
    "torch.distributed.distributed_c10d._tensor_to_object",
]


@pytest.mark.parametrize("name", ISSUE_GADGETS)
def test_gadget_catalog_covers_the_advisories(name: str) -> None:
    assert gadget_reason(name, resolved="." in name.split(".", 1)[1]), name


@pytest.mark.parametrize(
    "name",
    [
        "numpy._core.multiarray.scalar",
        "numpy.core.multiarray._reconstruct",
        "numpy.dtype",
        "numpy.dtypes.Float64DType",
        "argparse.Namespace",
        "pathlib.PosixPath",
        "datetime.datetime",
        "collections.defaultdict",
        "omegaconf.dictconfig.DictConfig",
    ],
)
def test_inert_catalog(name: str) -> None:
    assert inert_type_reason(name)
    assert gadget_reason(name) is None


def test_resolved_chains_find_reexported_gadgets() -> None:
    assert gadget_reason("torch.serialization.os.system", resolved=True)
    assert gadget_reason("mymodule.Thing.__globals__", resolved=True)
    assert gadget_reason("numpy.dtypes.__builtins__.get", resolved=True)
    assert gadget_reason("numpy.dtypes.__loader__.set_data", resolved=True)
    assert gadget_reason("pathlib.PosixPath.write_text", resolved=True)
    assert gadget_reason("mymodule.Outer.Inner", resolved=True) is None
    assert gadget_reason("mymodule.Outer.__qualname__", resolved=True) is None


def test_inert_means_exactly_a_vetted_object() -> None:
    assert inert_reason("numpy.dtypes", "Float64DType")
    assert inert_reason("numpy", "dtypes.Float64DType") is None  # walked: an attribute chain
    assert inert_reason("numpy.dtypes", "__loader__.set_data") is None
    assert inert_reason("numpy.dtypes", "__builtins__") is None
    assert inert_reason("argparse", "Namespace.__init__") is None


def test_inert_names_are_exact_importable_objects() -> None:
    import importlib.util

    from torchvet.policy.catalog import importable_name, inert_names
    from torchvet.safeload import resolve_name

    models_dtypes = {numpy_dtype_class(c) for c in ("f8", "i4", "<U5", "|S3", "O8", "c16")}
    assert models_dtypes <= set(inert_names())  # what BUILD types torchvet computes are listed
    for name in inert_names():
        assert "*" not in name and not any(
            p.startswith("__") and p.endswith("__") for p in name.split(".")
        )
        top = importable_name(name).split(".")[0]
        if importlib.util.find_spec(top) is None:
            continue  # lightning is not installed here
        obj = resolve_name(name)
        assert not isinstance(obj, type(sys)), name  # an object, not a module


def test_nothing_allowed_or_inert_is_a_gadget() -> None:
    from torchvet.guarding import GUARD_DATA
    from torchvet.policy.catalog import inert_names

    facts = load_facts(installed_torch_version())
    vetted = set(inert_names()) | set(GUARD_DATA) | set(facts.allowed)
    vetted |= facts.user_allowed_after_import
    assert not {n: gadget_reason(n) for n in vetted if gadget_reason(n)}
