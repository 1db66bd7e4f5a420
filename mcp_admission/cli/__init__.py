"""`mcp-admission`: one console script, a subcommand per part.

Each subcommand's module declares its arguments with light imports only, and imports the part it runs
when it runs: `check` never loads FastAPI, uvicorn, cryptography or the kubernetes client. Only the
module of the command being run is imported at all (every one for `--help` or an unknown command), so
`check` starts without the other parts' settings models (bench/README.md, cold start).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from mcp_admission import exitcodes

COMMANDS = ("check", "serve", "reconcile", "certs", "audit", "webhooks")  # each a module of this package


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or, given a command, only its arguments (the others bare)."""
    parser = argparse.ArgumentParser(
        prog="mcp-admission",
        description="Admission webhook, reconciler and CI check for MCP servers on Kubernetes.",
        epilog=exitcodes.epilog(
            failed="the job ran and fails (findings that fail the run, or a failure while working)",
            unusable="it could not start: a bad option, configuration, input, certificate or kubeconfig",
        )
        + "\n\nEach COMMAND --help says what these mean for it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        if command in COMMANDS and name != command:  # never shown: a placeholder saves its imports
            commands.add_parser(name)
        else:
            import_module(f"{__name__}.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # The top-level parser's only option is --help: a command comes first, or all are needed.
    command = words[0] if words and not words[0].startswith("-") else None
    args = build_parser(command).parse_args(words)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
