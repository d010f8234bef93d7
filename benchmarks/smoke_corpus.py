"""Build a small labelled corpus for smoke-testing the scan benchmark harness.

Benign files come from real ``torch.save``; malicious ones are hand-assembled pickle
opcodes whose payload would only create a marker file. Nothing here ever unpickles or
loads a file: labels are known by construction.

Usage: python benchmarks/smoke_corpus.py OUT_DIR
writes OUT_DIR/files/* and OUT_DIR/labels.json (kept outside files/ so that directory
scans see only model files).
"""

from __future__ import annotations

import argparse
import io
import json
import pickletools
import random
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

MARKER = "/tmp/torchvet-smoke-marker"


# ---- hand-assembled pickles (never unpickled) ----------------------------------------


def _unicode(s: str) -> bytes:
    data = s.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _call_global_p2(module: str, name: str, *args: str) -> bytes:
    """Protocol-2 ops that push module.name(*args): GLOBAL, args, TUPLE, REDUCE."""
    body = b"(" + b"".join(_unicode(a) for a in args) + b"t"  # MARK ... TUPLE
    return f"c{module}\n{name}\n".encode() + body + b"R"


def _call_global_p4(module: str, name: str, *args: str) -> bytes:
    """Protocol-4 ops using STACK_GLOBAL, which older denylist scanners parse differently."""

    def short(s: str) -> bytes:
        data = s.encode()
        return b"\x8c" + bytes([len(data)]) + data  # SHORT_BINUNICODE

    body = b"(" + b"".join(short(a) for a in args) + b"t"
    return short(module) + short(name) + b"\x93" + body + b"R"


def _dict_with(key: str, value_ops: bytes, proto: int = 2) -> bytes:
    """A pickle whose result is {key: <value_ops>} — looks like a state dict."""
    return b"\x80" + bytes([proto]) + b"}" + _unicode(key) + value_ops + b"s."


def _os_system() -> bytes:
    return b"\x80\x02" + _call_global_p2("os", "system", f"touch {MARKER}") + b"."


def _builtins_eval_p4() -> bytes:
    expr = f"open({MARKER!r}, 'w').close()"
    return b"\x80\x04" + _call_global_p4("builtins", "eval", expr) + b"."


def _runpy_run_code() -> bytes:
    # runpy._run_code(code, globals) is exec() under a name few denylists carry.
    code = f"open({MARKER!r}, 'w').close()"
    ops = b"crunpy\n_run_code\n" + b"(" + _unicode(code) + b"}t" + b"R"
    return _dict_with("weight", ops)


def _subprocess_in_state_dict() -> bytes:
    return _dict_with("weight", _call_global_p2("subprocess", "call", "true"))


# ---- containers ------------------------------------------------------------------------


def _torch_zip_with_pickle(data_pkl: bytes) -> bytes:
    """Take a real torch.save zip and swap its data.pkl for the given pickle."""
    import torch

    buf = io.BytesIO()
    torch.save({"weight": torch.zeros(2)}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = data_pkl if info.filename.endswith("/data.pkl") else src.read(info)
            dst.writestr(info.filename, data)
    return out.getvalue()


def _legacy_with_pickle(main_pickle: bytes) -> bytes:
    """Legacy (non-zip) torch format: swap the 4th stacked pickle (the object)."""
    import torch

    buf = io.BytesIO()
    torch.save({"epoch": 1}, buf, _use_new_zipfile_serialization=False)
    raw = buf.getvalue()
    bounds, pos = [], 0
    while pos < len(raw) and len(bounds) < 5:
        stream = io.BytesIO(raw[pos:])
        end = pos
        for op, _arg, at in pickletools.genops(stream):
            if op.name == "STOP":
                end = pos + at + 1
                break
        bounds.append((pos, end))
        pos = end
    start, end = bounds[3]
    return raw[:start] + main_pickle + raw[end:]


def _torch_bytes(obj: object, **kwargs: object) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


# ---- the corpus ------------------------------------------------------------------------

Label = dict[str, bool]


def _lab(wo: bool, mal: bool, malformed: bool = False) -> Label:
    return {"weights_only_ok": wo, "malicious": mal, "malformed": malformed}


def build(out: Path) -> tuple[Path, Path]:
    """Write the corpus; return (files_dir, labels_path)."""
    import argparse as _argparse
    import collections

    import numpy as np
    import torch
    from safetensors.torch import save_file

    files = out / "files"
    files.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    linear = torch.nn.Linear(8, 4)
    state = linear.state_dict()
    ok_zip = _torch_bytes(state)

    makers: dict[str, tuple[Callable[[], bytes], Label]] = {
        # benign, loadable with weights_only=True
        "ok_state_dict.pt": (lambda: ok_zip, _lab(True, False)),
        "ok_ordered_dict.pth": (
            lambda: _torch_bytes(collections.OrderedDict(a=torch.ones(3), step=7, name="x")),
            _lab(True, False),
        ),
        "ok_legacy.pt": (
            lambda: _torch_bytes(state, _use_new_zipfile_serialization=False),
            _lab(True, False),
        ),
        "ok_tensor.bin": (lambda: _torch_bytes(torch.arange(10)), _lab(True, False)),
        "ok_nested.ckpt": (
            lambda: _torch_bytes(
                {"model": state, "optim": {"state": {}, "param_groups": [{"lr": 0.1}]}}
            ),
            _lab(True, False),
        ),
        # benign, but refused by weights_only=True
        "na_numpy.pt": (lambda: _torch_bytes({"a": np.arange(3)}), _lab(False, False)),
        "na_namespace.pt": (
            lambda: _torch_bytes({"args": _argparse.Namespace(lr=0.1)}),
            _lab(False, False),
        ),
        "na_module.pt": (lambda: _torch_bytes(linear), _lab(False, False)),
        # malicious (payload would only touch a marker file)
        "mal_os_system.pkl": (_os_system, _lab(False, True)),
        "mal_eval_proto4.pkl": (_builtins_eval_p4, _lab(False, True)),
        "mal_zip_runpy.pt": (
            lambda: _torch_zip_with_pickle(_runpy_run_code()),
            _lab(False, True),
        ),
        "mal_zip_subprocess.bin": (
            lambda: _torch_zip_with_pickle(_subprocess_in_state_dict()),
            _lab(False, True),
        ),
        "mal_legacy_os_system.pth": (
            lambda: _legacy_with_pickle(_os_system()),
            _lab(False, True),
        ),
        # malformed
        "bad_truncated_zip.pt": (lambda: ok_zip[: len(ok_zip) // 2], _lab(False, False, True)),
        "bad_garbage.pt": (lambda: random.Random(0).randbytes(4096), _lab(False, False, True)),
        "bad_truncated.pkl": (
            lambda: _dict_with("w", _unicode("x"))[:-3],
            _lab(False, False, True),
        ),
        "bad_empty.pth": (lambda: b"", _lab(False, False, True)),
    }
    labels: dict[str, Label] = {}
    for name, (make, label) in makers.items():
        (files / name).write_bytes(make())
        labels[name] = label
    save_file({"w": torch.ones(4)}, str(files / "ok.safetensors"))
    labels["ok.safetensors"] = _lab(True, False)

    labels_path = out / "labels.json"
    labels_path.write_text(json.dumps(labels, indent=1, sort_keys=True) + "\n")
    return files, labels_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    files, labels = build(parser.parse_args().out)
    print(f"{files}\n{labels}")


if __name__ == "__main__":
    main()
