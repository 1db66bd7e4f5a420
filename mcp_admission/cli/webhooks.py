"""`mcp-admission webhooks`: the two webhook configurations for a configuration file, as YAML."""

from __future__ import annotations

import argparse
import sys

from mcp_admission import exitcodes
from mcp_admission.cli import options
from mcp_admission.cli.config import Config, load_config
from mcp_admission.configfile import ConfigError

EXIT_CODES = exitcodes.epilog(
    failed="not used: the command only prints",
    unusable="a bad option or configuration file (the message names the file and the key)",
)


HELP = "print the webhook configurations for a configuration file (what deploy/ installs)"
DESCRIPTION = (
    "Print the MutatingWebhookConfiguration and ValidatingWebhookConfiguration for a\n"
    "configuration file: rules from the registered policies, namespaces from excludedNamespaces and,\n"
    "for Kubernetes 1.30+, matchConditions (CEL) with which the apiserver sends only the writes the\n"
    "engine decides: MCP workloads by its own rules, workloads.optInLabel and workloads.selectors\n"
    "included. Render again after changing those.\n\n"
    "deploy/components/webhooks/webhooks.yaml is this for deploy/base/config.yaml,\n"
    "deploy/components/legacy/webhooks.yaml the same with --legacy, and\n"
    "deploy/overlays/admission-policies/admission-policies.yaml the same with --admission-policies."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = options.command(subparsers, "webhooks", HELP, EXIT_CODES, DESCRIPTION)
    options.add_config(parser, "its certs: section names the webhook's Service and the two configurations")
    parser.add_argument(
        "--legacy",
        action="store_true",
        help="for Kubernetes 1.20-1.29: no matchConditions (every write of the kinds the rules name is "
        "sent), and namespaces labelled mcp-admission.io/ignore=true are left out as well",
    )
    parser.add_argument(
        "--admission-policies",
        action="store_true",
        help="for Kubernetes 1.36+: print MutatingAdmissionPolicies and ValidatingAdmissionPolicies (with "
        "their bindings) instead, which the apiserver applies itself: no webhook pod in the path "
        "(deploy/overlays/admission-policies). Each policy's mode and settings are baked in; `off` "
        "renders nothing",
    )
    parser.set_defaults(func=run)


def rendering(config: Config, legacy: bool = False, policies: bool = False) -> str:
    """What the command prints for `config`."""
    from mcp_admission.deploy import Names, admission_policies, render

    if policies:
        return admission_policies.render(config)

    certs = config.certs
    names = Names(
        certs.service,
        certs.namespace,
        certs.mutating_webhook_configuration,
        certs.validating_webhook_configuration,
    )
    return render(config, names, legacy)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return exitcodes.cannot_start("webhooks", exc)
    if args.legacy and args.admission_policies:
        return exitcodes.cannot_start("webhooks", "--legacy and --admission-policies exclude each other")
    sys.stdout.write(rendering(config, args.legacy, args.admission_policies))
    return exitcodes.OK
