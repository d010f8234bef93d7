"""Options the commands share: help texts, exit codes, the report file."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchvet.cli import build_parser, main
from torchvet.commands.options import CannotWrite, exit_codes, open_output

MODEL = Path(__file__).resolve().parents[2] / "examples" / "models" / "safe_state_dict.pt"


def test_exit_codes_always_end_with_the_usage_error() -> None:
    assert exit_codes("ok", "found", "130 = stopped") == (
        "exit codes: 0 = ok, 1 = found, 2 = usage error, 130 = stopped"
    )
    for name, sub in build_parser()._subparsers._group_actions[0].choices.items():  # type: ignore[union-attr]
        if name != "rule":
            assert sub.epilog.startswith("exit codes: "), name


def test_an_unwritable_report_file_is_a_usage_error(tmp_path: Path, capsys) -> None:
    target = tmp_path / "missing" / "report.json"
    with pytest.raises(CannotWrite, match="cannot write"):
        open_output(str(target))
    for command in ("scan", "check"):
        assert main([command, "-o", str(target), str(MODEL)]) == 2
        assert f"cannot write {target}" in capsys.readouterr().err
