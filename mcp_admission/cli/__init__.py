"""`mcp-admission`: one console script, a subcommand per part.

Each subcommand's module declares its arguments with light imports only, and imports the part it runs
when it runs: `check` never loads FastAPI, uvicorn, cryptography or the kubernetes client.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mcp_admission import exitcodes

from . import certs, check, reconcile, serve


def build_parser() -> argparse.ArgumentParser:
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
    for module in (check, serve, reconcile, certs):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
