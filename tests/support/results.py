"""What every scan result promises, whatever the file (the contract of torchvet.results)."""

from __future__ import annotations

from torchvet.results import ScanResult, Verdict, worst

# Verdicts that say torch.load(weights_only=True) refuses the file: torch has an error.
_TORCH_REFUSES = {Verdict.NEEDS_ALLOWLIST, Verdict.UNSUPPORTED, Verdict.MALFORMED}


def assert_consistent(result: ScanResult) -> None:
    """The verdict is the worst of the findings'; a safe file has no torch error; a file
    torch refuses for its form or content says torch's error; an allowlist comes with
    needs-allowlist and only with it."""
    assert result.verdict is worst(f.verdict for f in result.findings), result.findings
    if result.verdict is Verdict.SAFE:
        assert result.torch_error is None, result.torch_error
    if result.verdict in _TORCH_REFUSES:
        assert result.torch_error, (result.verdict, result.findings)
    assert bool(result.allowlist) == (result.verdict is Verdict.NEEDS_ALLOWLIST), result
