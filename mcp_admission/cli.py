"""`mcp-admission`: one console script, a subcommand per part. Each part registers its own."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from certs.command import register as register_certs
from mcp_admission.check.command import register as register_check
from reconciler.command import register as register_reconcile
from webhook.command import register as register_serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-admission",
        description="Admission webhook, reconciler and CI check for MCP servers on Kubernetes.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in (register_check, register_serve, register_reconcile, register_certs):
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
