"""The derived gadget table: each derived name explains its path to a sink."""

from __future__ import annotations

import pytest

from torchvet.policy.gadgets import derived_reason


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
