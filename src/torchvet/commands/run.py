"""`torchvet run`: run a Python program with every unpickler guarded (torchvet.guard)."""

from __future__ import annotations

import argparse
import sys

from torchvet.commands.options import add_allow, describe

DESCRIPTION = """\
Run a Python script or module with torchvet.guard installed for the whole process:
any pickle load (pickle, torch.load(weights_only=False), numpy.load(allow_pickle=True),
joblib, pandas) that names a global outside torch's weights-only allowlist and
torchvet's catalog of inert data is refused with BlockedGlobalError before the global
is imported.

  torchvet run [--allow MODULE.NAME] -- script.py ARGS...
  torchvet run [--allow MODULE.NAME] -m package.module ARGS...
"""
EXIT_CODES = "exit codes: the program's own; 1 if it was stopped by the guard; 2 = usage error"


def configure(parser: argparse.ArgumentParser) -> None:
    describe(parser, DESCRIPTION, EXIT_CODES)
    add_allow(parser, "also allow this global (repeatable); known gadgets stay refused")
    parser.add_argument("-m", dest="module", metavar="MODULE", help="run a module as __main__")
    parser.add_argument("program", nargs=argparse.REMAINDER, help="script.py and its arguments")


def run(args: argparse.Namespace) -> int:
    from torchvet.errors import BlockedGlobalError
    from torchvet.guarding import run_guarded

    program = list(args.program)
    if program[:1] == ["--"]:
        program = program[1:]
    if args.module is None and not program:
        print(
            "torchvet run: give a script (torchvet run -- script.py) or -m module", file=sys.stderr
        )
        return 2
    try:
        return run_guarded(program, args.module, args.allow)
    except BlockedGlobalError as exc:
        print(f"torchvet run: {exc}", file=sys.stderr)
        return 1
