"""The sinks the gadget derivation (``scripts/gen_gadgets.py``) looks for.

A sink is a callable whose body the derivation cannot read (a C function, or Python
code whose danger is a call it makes on data, like an unpickler's REDUCE) and that acts
on the machine. Everything in the stdlib, torch and numpy that can reach one from a
pickle is derived from the sources; only these leaves are written by hand, each with
its reason.

``X.*`` entries cover what a class implemented in C does when built or called
(``_socket.socket.__init__``).
"""

from __future__ import annotations

CODE = "runs arbitrary Python code"
PROCESS = "starts processes or runs shell commands"
FILES = "writes, moves or deletes files"
NETWORK = "opens network connections"
IMPORT = "imports modules named by data"
NESTED = "loads a nested pickle or checkpoint, running whatever it contains"
NATIVE = "loads native code or touches raw memory"
COMPILE = "compiles source text into code objects"
SIGNAL = "signals other processes"

_PROCESS_CALLS = [
    "system",
    "execv",
    "execve",
    "fexecve",
    "fork",
    "forkpty",
    "posix_spawn",
    "posix_spawnp",
    "spawnv",
    "spawnve",
    "startfile",
]
_FILE_CALLS = [
    "remove",
    "unlink",
    "rmdir",
    "rename",
    "replace",
    "mkdir",
    "symlink",
    "link",
    "chmod",
    "lchmod",
    "fchmod",
    "chown",
    "lchown",
    "fchown",
    "truncate",
    "ftruncate",
    "mkfifo",
    "mknod",
    "setxattr",
    "removexattr",
]

SINKS: dict[str, str] = {
    "builtins.exec": CODE,
    "builtins.eval": CODE,
    "builtins.compile": COMPILE,
    "types.FunctionType": f"{CODE} (builds functions from code objects)",
    "types.LambdaType": f"{CODE} (builds functions from code objects)",
    "types.CodeType": f"{CODE} (builds code objects)",
    "_xxsubinterpreters.run_string": f"{CODE} (in a subinterpreter)",
    "_posixsubprocess.fork_exec": PROCESS,
    "_winapi.CreateProcess": PROCESS,
    **{f"posix.{n}": PROCESS for n in _PROCESS_CALLS},
    **{f"nt.{n}": PROCESS for n in _PROCESS_CALLS},
    **{f"posix.{n}": FILES for n in _FILE_CALLS},
    **{f"{m}.{n}": SIGNAL for m in ("posix", "nt") for n in ("kill", "killpg")},
    **{f"nt.{n}": FILES for n in _FILE_CALLS},
    "builtins.__import__": IMPORT,
    "importlib.import_module": IMPORT,
    "importlib.__import__": IMPORT,
    "importlib._bootstrap._gcd_import": IMPORT,
    "importlib.util.find_spec": f"{IMPORT} (imports the parent packages)",
    "_imp.create_dynamic": NATIVE,
    "_imp.exec_dynamic": NATIVE,
    "_socket.socket": NETWORK,
    "_socket.socket.*": NETWORK,
    "_socket.socketpair": NETWORK,
    "_socket.fromfd": NETWORK,
    "_socket.getaddrinfo": NETWORK,
    "_socket.gethostbyname": NETWORK,
    "_socket.gethostbyname_ex": NETWORK,
    "_socket.gethostbyaddr": NETWORK,
    "_socket.getnameinfo": NETWORK,
    "_pickle.load": NESTED,
    "_pickle.loads": NESTED,
    "_pickle.Unpickler": NESTED,
    "_pickle.Unpickler.*": NESTED,
    "pickle._Unpickler": f"{NESTED} (its REDUCE calls whatever the pickle names)",
    "marshal.load": f"{CODE} (loads code objects)",
    "marshal.loads": f"{CODE} (loads code objects)",
    "ctypes.CDLL": f"{NATIVE} (loads the named shared library)",
    "ctypes.PyDLL": f"{NATIVE} (loads the named shared library)",
    "ctypes.LibraryLoader.LoadLibrary": f"{NATIVE} (loads the named shared library)",
    "_ctypes.dlopen": NATIVE,
    "_ctypes.LoadLibrary": NATIVE,
    "_ctypes.CFuncPtr": f"{NATIVE} (calls a C function pointer)",
    "_ctypes.CFuncPtr.*": f"{NATIVE} (calls a C function pointer)",
    "_ctypes.PyObj_FromPtr": NATIVE,
    "_ctypes.call_function": NATIVE,
    "_ctypes.call_cdeclfunction": NATIVE,
    "torch._C.import_ir_module": f"{CODE} (loads TorchScript)",
    "torch._C.import_ir_module_from_buffer": f"{CODE} (loads TorchScript)",
    "torch._C._load_for_lite_interpreter": f"{CODE} (loads TorchScript)",
    "torch._C._load_for_lite_interpreter_from_buffer": f"{CODE} (loads TorchScript)",
    "torch._C._import_ir_module_from_package": f"{CODE} (loads TorchScript)",
}
# How bad each kind is: a name that reaches several sinks is explained by the worst.
SEVERITY = (CODE, PROCESS, NESTED, NATIVE, NETWORK, IMPORT, FILES, SIGNAL, COMPILE)

# Code that evaluates strings it builds or validates itself, never text from its caller:
# the derivation does not follow calls into these (it cannot see where a string
# comes from). Each with the reason it is not a gadget.
BARRIERS: dict[str, str] = {
    "ast.parse": "compiles text to a syntax tree only (no code object)",
    "ast.literal_eval": "parses literals only",
    "collections.namedtuple": "execs a class template over validated identifiers",
    "dataclasses._create_fn": "execs method templates over the dataclass's field names",
    "dataclasses._FuncBuilder": "execs method templates over the dataclass's field names",
    "inspect._signature_fromstr": "evals names in C functions' built-in signature text",
    "inspect.get_annotations": "evals annotations only when asked to (eval_str=True)",
    "typing.ForwardRef": "compiles and evals type annotations of classes, not data",
    "typing._eval_type": "evals type annotations of classes, not data",
    "typing.get_type_hints": "evals type annotations of classes, not data",
    "gettext.c2py": "execs a plural-forms expression after checking its grammar",
    "torch._dynamo.guards.get_guard_fail_reason_helper": "evals guards torch.compile generated",
}

# Openers write only in some modes: a call is a sink unless its mode is a literal that
# only reads. (callable -> index of its mode argument)
OPENERS: dict[str, int] = {
    "builtins.open": 1,
    "_io.open": 1,
    "_io.FileIO": 1,
    "posix.open": 1,
    "nt.open": 1,
}
OPENER_REASON = FILES + " (opens files for writing)"
# Callables harmless when their first argument is a literal (the code, the module name).
LITERAL_SAFE = frozenset(
    {
        "builtins.exec",
        "builtins.eval",
        "builtins.compile",
        "builtins.__import__",
        "importlib.import_module",
        "importlib.__import__",
        "importlib._bootstrap._gcd_import",
        "importlib.util.find_spec",
        "ctypes.CDLL",
        "ctypes.PyDLL",
        "ctypes.LibraryLoader.LoadLibrary",
    }
)
# Attributes that name an unpickler on any module object (``pickle_module.Unpickler``).
UNPICKLER_ATTRIBUTES = frozenset({"Unpickler", "_Unpickler"})


def barrier_reason(name: str) -> str | None:
    """Why calls into ``name`` (or a method of it) are not followed, or None."""
    for barrier, reason in BARRIERS.items():
        if name == barrier or name.startswith(barrier + "."):
            return reason
    return None


def sink_reason(name: str) -> str | None:
    """Why ``name`` is a sink, or None (exact names and ``X.*`` entries)."""
    reason = SINKS.get(name)
    if reason is not None:
        return reason
    module = name
    while "." in module:
        module = module.rsplit(".", 1)[0]
        reason = SINKS.get(module + ".*")
        if reason is not None:
            return reason
    return None
