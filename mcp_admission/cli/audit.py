"""`mcp-admission audit`: the webhook's decisions on what already runs in a cluster, read-only."""

from __future__ import annotations

import argparse

from mcp_admission import exitcodes
from mcp_admission.audit.lister import DEFAULT_PAGE_SIZE
from mcp_admission.cli import options
from mcp_admission.cli.config import load_config
from mcp_admission.cli.reports import add_output_option, outputs
from mcp_admission.configfile import ConfigError

EXIT_CODES = exitcodes.epilog(
    ok="nothing fails the run (there may be warnings and patches the webhook would make)",
    failed="a policy in enforce mode would deny an object, or, under --strict, any warning",
    unusable="unusable: a bad configuration file or -o, no usable kubeconfig or context, a request the\n"
    "     apiserver refused or did not answer (401; 403, naming the permission the audit lacks), or a\n"
    "     report file that cannot be written. Everything that could be read is still reported; 2\n"
    "     outranks 1.",
)


HELP = "report what the policies would patch, warn about or deny in a live cluster (read-only)"
DESCRIPTION = (
    "Read every object of the kinds the policies cover (Services, StatefulSets,\n"
    "Deployments, ToolHive's resources) from a cluster, page by page, and decide each as the webhook\n"
    "would decide an UPDATE of it to itself: what the webhook would patch, warn about or deny on its\n"
    "next write. Writes nothing to the cluster (RBAC: get/list, deploy/base/rbac-audit.yaml). The\n"
    "report lists MCP workloads, located by the apiserver path they were listed from; other objects\n"
    "are only counted. Namespaces in excludedNamespaces are skipped. It also says which admission\n"
    "the cluster runs: mcp-admission's webhook configurations, its admission policies (1.36+),\n"
    "both or neither (listing those needs list on them in admissionregistration.k8s.io, which the\n"
    "shipped ClusterRole does not grant; without it the line says so)."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = options.command(subparsers, "audit", HELP, EXIT_CODES, DESCRIPTION)
    options.KUBECONFIG.add_to(parser)
    parser.add_argument("--context", help="the kubeconfig context to use (default: its current context)")
    parser.add_argument("-n", "--namespace", help="audit this namespace only (default: all namespaces)")
    options.add_config(parser)
    add_output_option(parser)
    parser.add_argument("--strict", action="store_true", help="warnings fail the run (exit 1)")
    parser.add_argument(
        "--page-size",
        type=_positive,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"objects per list request (default {DEFAULT_PAGE_SIZE}); memory is bounded by a page",
    )
    parser.set_defaults(func=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    # Imported here, when auditing: the other subcommands need none of the kubernetes client.
    from mcp_admission.audit import pipeline
    from mcp_admission.kube import Kube, KubeError, api_client

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return exitcodes.cannot_start("audit", exc)
    chosen = outputs(args)
    if isinstance(chosen, str):
        return exitcodes.cannot_start("audit", chosen)
    try:
        kube = Kube(
            api_client(args.kubeconfig, pool_size=1, context=args.context, component="mcp-admission-audit")
        )
    except KubeError as exc:
        return exitcodes.cannot_start("audit", exc)
    run_options = pipeline.Options(args.namespace, args.page_size, args.strict, chosen)
    outcome = pipeline.run(kube, config, run_options)
    return outcome.report.exit_code if outcome.written else exitcodes.UNUSABLE
