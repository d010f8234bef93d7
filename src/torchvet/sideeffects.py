"""Refuse side effects while an unpickler runs code for a guarded load.

The name allowlist (``torchvet.guard``, torch's weights-only unpickler) decides which
objects a pickle may touch. It cannot see what allowed code then does with the data:
BUILD sets attributes of allowed classes too (``setattr(cls, "__annotations__", ...)``
turns OmegaConf's ``get_type_hints`` into ``eval``; ``dump_patches`` makes torch's legacy
loader write a patch file). So, as a second line, the audit hook also watches CPython's
audit events for file writes, processes, network and code compilation, and refuses them
while they happen *inside* an unpickler's load: between the load call and its return,
outside the import of a module (importing an allowed module runs that module's own
code). A load is recognised by the Python frame that called it, recorded at its first
``pickle.find_class`` event (or explicitly, by ``torchvet.load`` around ``torch.load``).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import pickle
import threading
from collections.abc import Iterator
from types import FrameType

_PICKLE_FILE = pickle.__file__
_IMPORT_FILES = frozenset(
    {"<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>"}
)
_MAX_MARKS = 64
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

FILE_EVENTS = frozenset(
    {
        "os.remove",
        "os.rmdir",
        "os.rename",
        "os.mkdir",
        "os.symlink",
        "os.link",
        "os.chmod",
        "os.chown",
        "os.chflags",
        "os.lchflags",
        "os.truncate",
        "os.utime",
        "os.mkfifo",
        "os.mknod",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.copymode",
        "shutil.copystat",
        "shutil.copytree",
        "shutil.move",
        "shutil.chown",
        "shutil.make_archive",
        "shutil.unpack_archive",
    }
)
PROCESS_EVENTS = frozenset(
    {
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.startfile",
        "os.kill",
        "os.killpg",
        "subprocess.Popen",
    }
)
NETWORK_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyaddr",
        "urllib.Request",
        "webbrowser.open",
    }
)
CODE_EVENTS = frozenset({"compile", "exec", "ctypes.dlopen", "ctypes.call_function"})
WATCHED = FILE_EVENTS | PROCESS_EVENTS | NETWORK_EVENTS | CODE_EVENTS | {"open"}


def side_effect(event: str, args: tuple) -> str | None:
    """What an audit event does to the machine, or None when it only reads."""
    if event == "open":
        mode, flags = (*args, None, None, None)[1:3]
        writes = isinstance(mode, str) and any(c in mode for c in "wax+")
        if writes or (isinstance(flags, int) and flags & _WRITE_FLAGS):
            return f"opens {args[0]!r} for writing"
        return None
    if event in FILE_EVENTS:
        return f"changes files ({event} {args[0]!r})" if args else f"changes files ({event})"
    if event in PROCESS_EVENTS:
        return f"starts or signals processes ({event})"
    if event in NETWORK_EVENTS:
        return f"uses the network ({event})"
    if event in CODE_EVENTS:
        return f"compiles, runs or loads code ({event})"
    return None


class _Marks(threading.local):
    def __init__(self) -> None:
        # (frame id, code id, instruction) of callers paused in an unpickler's load.
        self.calls: dict[tuple[int, int, int], None] = {}


_marks = _Marks()
# Frames (id, code id) inside which every call is a load: torchvet.load around torch.load.
_explicit: contextvars.ContextVar[frozenset[tuple[int, int]]] = contextvars.ContextVar(
    "torchvet_explicit_loads", default=frozenset()
)


def mark_load(frame: FrameType | None) -> None:
    """Record the caller of the unpickler that raised ``pickle.find_class`` from ``frame``."""
    while frame is not None and (
        frame.f_code.co_name == "find_class" or frame.f_code.co_filename == _PICKLE_FILE
    ):
        frame = frame.f_back
    if frame is None:
        return
    calls = _marks.calls
    calls[(id(frame), id(frame.f_code), frame.f_lasti)] = None
    if len(calls) > _MAX_MARKS:
        del calls[next(iter(calls))]


def inside_load(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs under an unpickler's load, outside any import."""
    calls = _marks.calls
    explicit = _explicit.get()
    if not calls and not explicit:
        return False
    while frame is not None:
        code = frame.f_code
        if code.co_filename in _IMPORT_FILES:
            return False
        if (id(frame), id(code)) in explicit or (id(frame), id(code), frame.f_lasti) in calls:
            return True
        frame = frame.f_back
    return False


def explicit_active() -> bool:
    return bool(_explicit.get())


@contextlib.contextmanager
def loading(frame: FrameType) -> Iterator[None]:
    """Everything ``frame`` calls inside this block is a load (used by torchvet.load)."""
    token = _explicit.set(_explicit.get() | {(id(frame), id(frame.f_code))})
    try:
        yield
    finally:
        _explicit.reset(token)
