"""Policy tables against the installed torch and numpy; catalogs against the issue's list."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from torchvet.pickle.models import numpy_dtype_class
from torchvet.pickle.torchfacts import installed_torch_version, load_facts, pick_version
from torchvet.policy.catalog import gadget_reason, inert_reason, inert_type_reason
from torchvet.policy.judge import unsupported_global_message

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_table_matches_installed_torch() -> None:
    # The generator reads torch itself; --check fails when the shipped JSON drifted.
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_torch_policy.py"), "--check"],
        capture_output=True,
        text=True,
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
    "trace.Trace",
    "profile.run",
    "cProfile.run",
    "pdb.run",
    "bdb.Bdb",
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
]


@pytest.mark.parametrize("name", ISSUE_GADGETS)
def test_gadget_catalog_covers_the_advisories(name: str) -> None:
    assert gadget_reason(name), name


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
