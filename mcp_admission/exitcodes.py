"""The one exit-code convention of every subcommand (each --help states it with its own cases)."""

from __future__ import annotations

import sys

OK = 0  # the job is done and nothing fails it (check/audit: there may be warnings)
FAILED = 1  # the job ran and fails: findings that fail the run, or a failure while working
UNUSABLE = 2  # the job could not start: a bad flag, configuration, input, certificate or kubeconfig


def epilog(failed: str, unusable: str, ok: str = "success") -> str:
    """The exit-code section of a subcommand's --help."""
    return f"exit codes:\n  {OK}  {ok}\n  {FAILED}  {failed}\n  {UNUSABLE}  {unusable}"


def cannot_start(command: str, problem: object) -> int:
    """Says on stderr why `mcp-admission COMMAND` cannot do its job; returns UNUSABLE to exit with.

    The one way every subcommand says so: `mcp-admission <command>: <why>`, one line, no traceback.
    """
    return _say(command, problem, UNUSABLE)


def failed(command: str, problem: object) -> int:
    """The same line for a job that started and then failed; returns FAILED to exit with."""
    return _say(command, problem, FAILED)


def _say(command: str, problem: object, code: int) -> int:
    print(f"mcp-admission {command}: {problem}", file=sys.stderr)
    return code
