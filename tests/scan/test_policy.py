"""Policy tables against the installed torch and numpy; catalogs against the issue's list."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from torchvet.numpy_dtypes import dtype_class as numpy_dtype_class
from torchvet.pickle.torchfacts import installed_torch_version, load_facts, pick_version
from torchvet.policy.catalog import gadget_reason, inert_reason, inert_type_reason
from torchvet.policy.gadgets import derived_reason
from torchvet.policy.judge import unsupported_global_message
from torchvet.policy.names import NameRule, cpython_resolutions

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("script", "flag"),
    [
        # The generators read torch, numpy and the sources themselves, never retyped.
        ("gen_torch_policy.py", "--check"),
        ("gen_inert.py", "--check"),
        # The gadget table records a fingerprint of everything it is derived from (each
        # source file, the Python version, the derivation code and its sinks); the
        # derivation is deterministic, so an equal fingerprint means an equal table.
        # `gen_gadgets.py --check` re-derives it in full (about a minute).
        ("gen_gadgets.py", "--check-inputs"),
    ],
)
def test_generated_tables_match_the_installed_libraries(script: str, flag: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), flag], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_allowlist_is_torchs_plus_import_time_additions() -> None:
    # A fresh process: other tests import torch submodules that add more user globals.
    code = (
        "import json, torch\n"
        "from torch._weights_only_unpickler import _get_allowed_globals as a, "
        "_get_user_allowed_globals as u\n"
        "print(json.dumps([sorted(a()), sorted(u())]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    allowed, user = json.loads(out.stdout)
    facts = load_facts(installed_torch_version())
    assert set(facts.allowed) == set(allowed)
    assert facts.user_allowed_after_import == frozenset(user)
    reference = ROOT.parent / "shared" / "reference" / "torch-2.13-allowed-globals.txt"
    if reference.exists():
        assert set(reference.read_text().split()[1:]) == set(facts.allowed)


def test_version_selection() -> None:
    assert pick_version("2.13.0") == "2.13.0"
    assert pick_version("2.99.1") == "2.13.0"  # newest table not newer than the request
    with pytest.raises(ValueError):
        pick_version("latest")


@pytest.mark.parametrize(
    "code",
    [
        "f8",
        "<f4",
        "f2",
        "i8",
        "<i4",
        "i2",
        "i1",
        "u1",
        "u2",
        "u4",
        "u8",
        "b1",
        "c8",
        "c16",
        "O8",
        "<U5",
        "|S3",
        "|V8",
        "<M8[ns]",
        "<m8[s]",
    ],
)
def test_numpy_dtype_classes_match_numpy(code: str) -> None:
    np = pytest.importorskip("numpy")
    expected = "numpy.dtypes." + type(np.dtype(code)).__name__
    assert numpy_dtype_class(code) == expected


def test_message_matches_torch_wording() -> None:
    assert unsupported_global_message("builtins.getattr").startswith(
        "Unsupported global: GLOBAL getattr was not an allowed global by default."
    )
    assert "add_safe_globals([argparse.Namespace])" in unsupported_global_message(
        "argparse.Namespace"
    )


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


# -- exact names ----------------------------------------------------------------------
def test_name_rule_is_exact() -> None:
    rule = NameRule(
        frozenset({"torch._utils._rebuild_tensor_v2"}), frozenset({"argparse.Namespace"})
    )
    assert rule.allows("torch._utils", "_rebuild_tensor_v2")
    assert rule.allows("torch", "_utils._rebuild_tensor_v2")  # torch resolves the key
    assert rule.allows("argparse", "Namespace")
    assert not rule.allows("argparse.Namespace", "__init__")
    assert not rule.allows("argparse", "Namespace.__init__")
    assert not rule.allows("argparse", "Namespace.x")  # plain names: one attribute only
    assert not rule.allows("torch._utils", "_rebuild_tensor_v2.__globals__")


def test_cpython_resolutions_follow_compat_pickle() -> None:
    assert cpython_resolutions("__builtin__", "set") == [("builtins", "set")]
    assert cpython_resolutions("commands", "getoutput") == [("subprocess", "getoutput")]
    assert ("itertools", "izip") in cpython_resolutions("itertools", "izip")  # both importable
    assert cpython_resolutions("argparse", "Namespace") == [("argparse", "Namespace")]


def test_every_split_of_torchs_keys_reaches_the_same_object() -> None:
    # NameRule lets torch's own keys through whatever the module/name split, as torch does;
    # CPython walks attributes instead, so every split must reach what the plain
    # ``module`` + ``name`` spelling reaches.
    import importlib

    pytest.importorskip("torch")
    from torch._weights_only_unpickler import _get_allowed_globals

    def walk(parts: list[str], i: int) -> object:
        obj = importlib.import_module(".".join(parts[:i]))
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj

    bad = []
    for key in _get_allowed_globals():
        parts = key.split(".")
        plain = walk(parts, len(parts) - 1)
        for i in range(1, len(parts) - 1):
            try:
                got = walk(parts, i)
            except (ImportError, AttributeError):
                continue
            if got is not plain:
                bad.append(key)
    assert bad == []


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


# -- the derived gadget table ----------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "through", "sink"),
    [
        ("subprocess.getoutput", "subprocess.Popen", "_posixsubprocess.fork_exec"),
        ("os.popen", "subprocess.Popen", "_posixsubprocess.fork_exec"),
        ("torch.jit.unsupported_tensor_ops.execWrapper", None, "builtins.exec"),
        ("torch.fx.graph_module.reduce_graph_module", "_exec_with_source", "builtins.exec"),
        ("torch.storage._load_from_bytes", "torch.serialization.load", "_pickle.Unpickler"),
        ("numpy.load", "numpy.lib._npyio_impl.load", "_pickle.load"),
        ("logging.FileHandler", "FileHandler._open", "builtins.open"),
        ("torch.ops.load_library", "torch._ops._Ops.load_library", "ctypes.CDLL"),
    ],
)
def test_derived_gadgets_explain_the_path_to_their_sink(name, through, sink) -> None:
    reason = derived_reason(name)
    assert reason is not None, name
    path = reason.partition(": ")[2]
    steps = path.split(" calls ")
    assert steps[0] == name and steps[-1] == sink, reason
    assert through is None or any(through in s for s in steps), reason


@pytest.mark.parametrize(
    "name",
    [
        "torch.nn.modules.linear.Linear",
        "torch.nn.modules.conv.Conv2d",
        "torch.nn.modules.container.Sequential",
        "torch.optim.adam.Adam",
        "torch.amp.grad_scaler.GradScaler",
        "collections.OrderedDict",
        "argparse.Namespace",
        "pathlib.PosixPath",
    ],
)
def test_benign_classes_are_not_derived_gadgets(name: str) -> None:
    assert derived_reason(name) is None, derived_reason(name)
