"""The judge's words: torch's own messages for refused globals."""

from __future__ import annotations

from torchvet.policy.judge import unsupported_global_message


def test_message_matches_torch_wording() -> None:
    assert unsupported_global_message("builtins.getattr").startswith(
        "Unsupported global: GLOBAL getattr was not an allowed global by default."
    )
    assert "add_safe_globals([argparse.Namespace])" in unsupported_global_message(
        "argparse.Namespace"
    )
