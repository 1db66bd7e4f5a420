"""`mcp-admission check`: the webhook's decisions, offline, for manifests in CI (the run itself is
mcp_admission.check.pipeline)."""

from __future__ import annotations

import argparse

from mcp_admission import exitcodes
from mcp_admission.cli import options
from mcp_admission.cli.reports import add_output_option, outputs
from mcp_admission.configfile import ConfigError, config_file
from mcp_admission.policies import PolicyConfig

EXIT_CODES = exitcodes.epilog(
    ok="nothing fails the run (there may be warnings and patches the webhook would make)",
    failed="a policy in enforce mode denies an object, or, under --strict, any warning",
    unusable="unusable input: a missing or unreadable file, a directory without manifests, no\n"
    "     Kubernetes object in any input, YAML that does not parse or has a key twice in a mapping\n"
    "     (reported as file:line), a document that is not a Kubernetes object beside objects or that\n"
    "     looks like a broken one, a bad configuration file, a report or mutated manifests that cannot be\n"
    "     written. Every good document is still checked and reported; 2 outranks 1.",
)
READING = """\
what is read:
  Files and directories (recursive: .yaml, .yml, .json; -f or plain PATH arguments), or - for stdin.
  An object is a mapping with apiVersion and kind; a List (any kind ending in List, with items)
  stands for its items, Lists in it too. Skipped with a one-line notice on stderr, not errors:
  - a file with no object at all (values.yaml, Chart.yaml, configs, dashboards, an empty file); but a
    document with kind, or with apiVersion and metadata, is a broken manifest (exit 2), and beside
    objects every other document is an error too;
  - a file whose YAML breaks on a line with {{ (a Go or Helm template);
  - a Helm chart's templates/ (beside a Chart.yaml): check the chart rendered,
    helm template CHART | mcp-admission check -f -
  No object in any input is exit 2 (a mistyped path must not pass), unless --allow-no-objects.

--exclude GLOB:
  Without '/', GLOB matches a file or directory name at any depth (values*.yaml, tests); with '/',
  the whole path, as given (deploy/charts/*/ci/*.yaml) or below the -f directory (charts/*/ci).
  * and ? stay within one path segment, ** spans any number of them, [abc] and [!abc] are classes.
  A directory that matches is left out whole.

"""


HELP = "check manifests against the policies, offline (for CI)"
DESCRIPTION = (
    "Run the webhook's decisions on manifests: each object is defaulted as the apiserver "
    "would, then mutated and validated. Objects are CREATEs, or UPDATEs when --old has them."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = options.command(subparsers, "check", HELP, READING + EXIT_CODES, DESCRIPTION)
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        metavar="PATH",
        help="a file, a directory (recursive: .yaml, .yml, .json) or - for stdin; repeatable. "
        "Default: the bundled example manifests",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="the same as -f PATH (as pre-commit passes)")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="leave out the files and directories GLOB matches (see below); repeatable",
    )
    parser.add_argument(
        "--allow-no-objects",
        action="store_true",
        help="no Kubernetes object in any input is not an error (pre-commit passes the changed files only)",
    )
    parser.add_argument(
        "--old",
        action="append",
        default=[],
        metavar="PATH",
        help="previous versions of the objects (same forms as -f): matching objects are checked as UPDATEs",
    )
    add_output_option(parser)
    parser.add_argument(
        "--write-mutated",
        metavar="DIR",
        help="write the input files with objects again, with the webhook's patches in them and nothing "
        "else (comments, order and quoting kept; nothing that only apiserver defaulting adds): under DIR at "
        "their input names (stdin as stdin.yaml), each written only if its content changes, so DIR may be "
        "the input's own directory (fixed in place) or a new one (a full copy); or as one stream to stdout "
        "with '-' (the report then goes to stderr)",
    )
    options.add_config(parser)
    parser.add_argument("-n", "--namespace", default="default", help="namespace of objects that name none")
    parser.add_argument("--strict", action="store_true", help="warnings fail the run (exit 1)")
    parser.set_defaults(func=run)


def _load_config(path: str | None) -> PolicyConfig:
    """The configuration file's, else the engine's defaults without importing the other parts' models
    (webhook, reconciler, certs): a share of check's start-up (bench/README.md)."""
    if config_file(path) is None:
        return PolicyConfig()
    from mcp_admission.cli.config import load_config  # the whole file: its other sections are checked too

    return load_config(path)


def run(args: argparse.Namespace) -> int:
    from mcp_admission.check import pipeline

    try:
        config = _load_config(args.config)
    except ConfigError as exc:
        return exitcodes.cannot_start("check", exc)
    given = (args.files or []) + args.paths
    problem = pipeline.stdin_problem(given, args.old)
    if problem is not None:
        return exitcodes.cannot_start("check", problem)
    chosen = outputs(args)
    if isinstance(chosen, str):
        return exitcodes.cannot_start("check", chosen)

    run_options = pipeline.Options(
        inputs=given,
        old=args.old,
        exclude=args.exclude,
        allow_no_objects=args.allow_no_objects,
        write_mutated=args.write_mutated,
        namespace=args.namespace,
        strict=args.strict,
        outputs=chosen,
    )
    outcome = pipeline.run(run_options, config)
    return outcome.report.exit_code if outcome.written else exitcodes.UNUSABLE
