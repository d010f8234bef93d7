"""Command-line entry point: argument parsing and exit codes only.

Each sub-command lives in ``torchvet.commands.<name>`` and exposes
``configure(parser)`` and ``run(args) -> int``. Modules are imported only when
their command runs, so ``torchvet lint`` never pays for the scanner and vice versa.

Exit codes (all commands): 0 = nothing found / success, 1 = findings (or a
failed conversion), 2 = usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from torchvet import __version__

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("torchvet.commands.scan", "predict what torch.load would do with model files"),
    "lint": ("torchvet.commands.lint", "find (and fix) serialization API misuse in code and docs"),
    "convert": (
        "torchvet.commands.convert",
        "rewrite a checkpoint as safetensors without running it",
    ),
    "check": ("torchvet.commands.check", "lint the code and scan the model files under PATH"),
    "rule": ("torchvet.commands.rule", "show a lint rule's documentation (all rules without CODE)"),
    "run": ("torchvet.commands.run", "run a Python program with unsafe unpickling blocked"),
}

EPILOG = "exit codes: 0 = all clear, 1 = findings or failure, 2 = usage error"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchvet",
        description="Vet PyTorch model files and the code that loads them.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"torchvet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
        if only is None or only == name:
            importlib.import_module(module_name).configure(sp)
    parser.set_defaults(_subparsers=sub.choices)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Only the chosen command's module is imported (keeps start-up small).
    chosen = next((a for a in argv if a in COMMANDS), None)
    wants_global_help = not chosen or any(a in ("-h", "--help") for a in argv[: argv.index(chosen)])
    parser = build_parser(None if wants_global_help else chosen)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # The command's own usage, not the top-level one: that is where the flag went wrong.
        command_parser = args._subparsers.get(args.command) if args.command else None
        (command_parser or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        print("torchvet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
