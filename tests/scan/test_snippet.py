from torchvet.policy.snippet import allowlist_code


def test_snippet_is_valid_python_and_handles_numpy_spellings() -> None:
    code = allowlist_code(
        ["numpy.core.multiarray.scalar", "numpy.dtype", "argparse.Namespace", "builtins.int"],
        "ckpt.pt",
    )
    compile(code, "<snippet>", "exec")
    assert '(numpy._core.multiarray.scalar, "numpy.core.multiarray.scalar")' in code
    assert "import numpy._core.multiarray" in code and "\nimport numpy\n" not in code
    assert "    int,\n" in code
    assert "torch.load('ckpt.pt', weights_only=True)" in code


def test_snippet_runs_against_real_torch(tmp_path) -> None:
    import argparse

    import numpy as np
    import torch

    path = tmp_path / "c.pt"
    torch.save({"a": argparse.Namespace(x=1), "b": np.float64(1.5)}, path)
    from torchvet.scan import scan_file

    result = scan_file(path)
    scope: dict = {}
    exec(allowlist_code(result.allowlist, str(path)), scope)  # the printed advice works
    assert scope["obj"]["a"].x == 1 and scope["obj"]["b"] == 1.5
