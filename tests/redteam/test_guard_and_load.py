"""Red team for torchvet.guard and torchvet.load.

Each technique below once ran its payload through ``guard()`` or ``torchvet.load`` (see
docs/guard.md, "Ways through the guard, closed"). Every file is loaded by the real loaders
in forked children of one subprocess, with a harmless payload that creates a marker
file: the marker must never appear under the guard or torchvet.load, while an unguarded
control load shows that the payload is real. The same files must scan as unknown or
dangerous.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus.containers import write_torch_zip
from tests.corpus.pickle_asm import Asm
from torchvet.scan import scan_file

pytest.importorskip("torch")
pytest.importorskip("omegaconf")
ROOT = Path(__file__).resolve().parents[2]
USERLIB = "def note(path):\n    with open(path, 'w') as f:\n        f.write('x')\n"


def _py(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


# -- techniques: each returns the pickle's bytes for its marker ---------------------------
def dunder_loader_set_data(marker: Path) -> bytes:
    """``numpy.dtypes.__loader__.set_data(path, data)``: the old ``numpy.dtypes.*`` entry."""
    a = Asm(4).sglobal("numpy.dtypes", "__loader__.set_data")
    return a.string(str(marker)).bytes_(b"x").tuple2().reduce().stop().bytes()


def dunder_builtins_exec(marker: Path) -> bytes:
    """``numpy.dtypes.__builtins__.get('exec')(source)``."""
    a = Asm(4).sglobal("numpy.dtypes", "__builtins__.get").string("exec").tuple1().reduce()
    return a.string(_py(marker)).tuple1().reduce().stop().bytes()


def dotted_text_global(marker: Path) -> bytes:
    """The same chain through the text GLOBAL opcode (walked too once PROTO is 4)."""
    a = Asm(4).global_("numpy.dtypes", "__builtins__.get").string("exec").tuple1().reduce()
    return a.string(_py(marker)).tuple1().reduce().stop().bytes()


def split_dotted(marker: Path) -> bytes:
    """Another split of the same path: module ``numpy``, name ``dtypes.__loader__...``."""
    a = Asm(4).sglobal("numpy", "dtypes.__loader__.set_data")
    return a.string(str(marker)).bytes_(b"x").tuple2().reduce().stop().bytes()


def annotations_eval(marker: Path) -> bytes:
    """BUILD sets an allowed dataclass's ``__annotations__``; OmegaConf evals them."""
    a = Asm(2).global_("omegaconf.base", "Metadata").put(1)
    a.none().empty_dict().string("__annotations__").empty_dict()
    a.string("ref_type").string(_py(marker)).setitem().setitem().tuple2().build().pop()
    a.global_("omegaconf.dictconfig", "DictConfig").get(1).tuple1().reduce()
    return a.stop().bytes()


def user_allowed_writer(marker: Path) -> bytes:
    """A callable the user allowed writes a file: the side-effect watch refuses it."""
    return Asm(2).call("redteam_userlib", "note", str(marker)).stop().bytes()


PICKLES = {
    "dunder-loader-set-data": dunder_loader_set_data,
    "dunder-builtins-exec": dunder_builtins_exec,
    "dotted-text-global": dotted_text_global,
    "split-dotted": split_dotted,
    "annotations-eval": annotations_eval,
    "user-allowed-writer": user_allowed_writer,
}


def legacy_dump_patches(marker: Path) -> bytes:
    """torch's legacy loader writes ``<container>.patch`` for a ``('module', ...)``
    persistent id when ``container.dump_patches``: BUILD sets it, and ``__name__`` (the
    path), on an allowed function."""
    a = Asm(2).global_("torch._utils", "_rebuild_tensor_v2").put(1)
    a.none().empty_dict().string("dump_patches").bool_(True).setitem()
    a.string("__name__").string(str(marker)).setitem().tuple2().build().pop()
    a.mark().string("module").get(1).string("f.py").string("print('hi')\n").tuple()
    a.binpersid().stop()
    header = [
        Asm(2).value(0x1950A86A20F9469CFC6C).stop().bytes(),
        Asm(2).value(1001).stop().bytes(),
        Asm(2).value({"protocol_version": 1001, "little_endian": True}).stop().bytes(),
    ]
    return b"".join([*header, a.bytes(), Asm(2).value([]).stop().bytes()])


# -- the loaders, run in forked children of one subprocess ---------------------------------
DRIVER = r"""
import io, json, os, pickle, sys, traceback, warnings
warnings.simplefilter("ignore")
import joblib, numpy, pandas, torch, omegaconf
import torchvet

LOADERS = {
    "pickle": lambda p: pickle.load(open(p, "rb")),
    "pickle-python": lambda p: pickle._Unpickler(open(p, "rb")).load(),
    "numpy": lambda p: numpy.load(p, allow_pickle=True),
    "joblib": joblib.load,
    "pandas": pandas.read_pickle,
    "torch": lambda p: torch.load(p, weights_only=False),
    "torchvet.load": None,
}

def torchvet_load(path, allow):
    try:
        return torchvet.load(path, allow=allow)
    except torchvet.UnsafeCheckpointError as err:
        # Follow whatever the refusal advises: its allowlist, then its printed code.
        if err.allowlist:
            from torchvet.policy.snippet import allowlist_code
            try:
                torchvet.load(path, allow=list(allow) + err.allowlist)
            finally:
                exec(allowlist_code(err.allowlist, path), {})
        raise

def run(job):
    path, loader, mode, allow, cwd = job
    os.chdir(cwd)
    if loader == "torchvet.load":
        return torchvet_load(path, allow)
    if mode == "guard":
        with torchvet.guard(allow=allow):
            return LOADERS[loader](path)
    return LOADERS[loader](path)

results = []
for job in json.loads(sys.stdin.read()):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            run(job)
            out = "loaded"
        except BaseException as exc:
            chain, e = [], exc
            while e is not None and len(chain) < 5:
                chain.append(type(e).__name__)
                e = e.__cause__ or e.__context__
            out = " <- ".join(chain)
        os.write(w, out.encode()[:500])
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    results.append(os.read(r, 1000).decode())
    os.close(r)
print(json.dumps(results))
"""


def _run(jobs: list[tuple], tmp_path: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(tmp_path)])}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER],
        input=json.dumps([[str(x) if isinstance(x, Path) else x for x in j] for j in jobs]),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Write every file, load it every way (guarded, torchvet.load, unguarded control)."""
    tmp = tmp_path_factory.mktemp("redteam")
    (tmp / "redteam_userlib.py").write_text(USERLIB)
    files, jobs, markers = {}, [], {}

    def add(name: str, path: Path, marker: Path, loader: str, mode: str, allow=()) -> None:
        cwd = tmp / "cwd" / f"{len(jobs)}"
        cwd.mkdir(parents=True)
        jobs.append((path, loader, mode, list(allow), cwd))
        markers[len(jobs) - 1] = (name, loader, mode, marker)

    for name, make in PICKLES.items():
        allow = ["redteam_userlib.note"] if name == "user-allowed-writer" else []
        plain, control = tmp / f"{name}.pkl", tmp / f"{name}.control.pkl"
        plain.write_bytes(make(tmp / f"{name}.marker"))
        control.write_bytes(make(tmp / f"{name}.control"))
        zipped = tmp / f"{name}.pt"
        write_torch_zip(zipped, [("data.pkl", make(tmp / f"{name}.zip-marker"))])
        files[name] = [plain, zipped]
        for loader in ("pickle", "pickle-python", "numpy", "joblib", "pandas"):
            add(name, plain, tmp / f"{name}.marker", loader, "guard", allow)
        add(name, zipped, tmp / f"{name}.zip-marker", "torch", "guard", allow)
        add(name, zipped, tmp / f"{name}.zip-marker", "torchvet.load", "load", allow)
        add(name, control, tmp / f"{name}.control", "pickle", "unguarded")
    legacy, control = tmp / "legacy-dump-patches.pt", tmp / "legacy-dump-patches.control.pt"
    legacy.write_bytes(legacy_dump_patches(tmp / "legacy-marker"))
    control.write_bytes(legacy_dump_patches(tmp / "legacy-control"))
    files["legacy-dump-patches"] = [legacy]
    for loader, mode in (("torch", "guard"), ("torchvet.load", "load")):
        add("legacy-dump-patches", legacy, tmp / "legacy-marker.patch", loader, mode)
    add("legacy-dump-patches", control, tmp / "legacy-control.patch", "torch", "unguarded")
    results = _run(jobs, tmp)
    return {"files": files, "results": results, "markers": markers}


def test_unguarded_control_loads_run_every_payload(outcome: dict) -> None:
    controls = {i: m for i, m in outcome["markers"].items() if m[2] == "unguarded"}
    assert len(controls) == len(PICKLES) + 1
    missing = [m[0] for m in controls.values() if not m[3].exists()]
    assert not missing, f"payloads that do not fire even unguarded: {missing}"


def test_guard_and_torchvet_load_never_run_a_payload(outcome: dict) -> None:
    fired = [
        (name, loader, outcome["results"][i])
        for i, (name, loader, mode, marker) in outcome["markers"].items()
        if mode != "unguarded" and marker.exists()
    ]
    assert not fired


def test_every_guarded_load_is_stopped_by_torchvet(outcome: dict) -> None:
    # Not merely failing for another reason: the guard or torchvet.load said no.
    stopped_by_other = [
        (name, loader, outcome["results"][i])
        for i, (name, loader, mode, _) in outcome["markers"].items()
        if mode != "unguarded"
        and not any(k in outcome["results"][i] for k in ("Blocked", "UnsafeCheckpoint"))
    ]
    assert not stopped_by_other


def test_the_files_scan_unknown_or_dangerous(outcome: dict) -> None:
    verdicts = {
        str(path.name): scan_file(path).verdict.value
        for paths in outcome["files"].values()
        for path in paths
    }
    assert verdicts and all(v in ("unknown", "dangerous") for v in verdicts.values()), verdicts
    assert verdicts["dunder-loader-set-data.pkl"] == "dangerous"
    assert verdicts["annotations-eval.pkl"] == "dangerous"
    assert verdicts["legacy-dump-patches.pt"] == "dangerous"


def test_allow_refuses_names_that_are_not_exact(tmp_path: Path) -> None:
    import torchvet

    path = tmp_path / "x.pt"
    write_torch_zip(path, [("data.pkl", dunder_loader_set_data(tmp_path / "m"))])
    for name in ("numpy.dtypes.__loader__.set_data", "numpy.dtypes.__builtins__"):
        with pytest.raises(ValueError, match="not an exact"):
            torchvet.load(path, allow=[name])
    assert not (tmp_path / "m").exists()
