"""`mcp-admission serve`: flags, then MCP_ADMISSION_* variables (named in mcp_admission.environment), then
the config file's `webhook:` section."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from mcp_admission import environment, exitcodes, logs
from mcp_admission.cli import options
from mcp_admission.cli.config import Config, load_config
from mcp_admission.cli.options import Option
from mcp_admission.configfile import ConfigError
from mcp_admission.webhook.settings import WebhookSettings

log = logging.getLogger("mcp_admission.webhook")


def _setting(field: str, env: str, kind: type, metavar: str, text: str, default: str | None = None) -> Option:
    """A `webhook:` setting that --FIELD, then the variable `env`, override."""
    flag = "--" + field.replace("_", "-")
    setting = ("webhook", field)
    return Option(flag, text, setting, env, kind, metavar, default_help=default)


OPTIONS = (
    _setting("host", environment.SERVE_HOST, str, "ADDRESS", "address to listen on", default="0.0.0.0"),
    _setting(
        "port", environment.SERVE_PORT, int, "PORT", "HTTPS port for /mutate, /validate, /healthz, /readyz"
    ),
    _setting("metrics_port", environment.SERVE_METRICS_PORT, int, "PORT", "plain-HTTP /metrics port, 0: off"),
    _setting(
        "cert_file", environment.SERVE_CERT_FILE, str, "FILE", "serving certificate (PEM), reloaded on change"
    ),
    _setting("key_file", environment.SERVE_KEY_FILE, str, "FILE", "its private key (PEM)"),
    _setting(
        "drain_seconds",
        environment.SERVE_DRAIN_SECONDS,
        int,
        "SECONDS",
        "to keep answering on SIGTERM, closing each connection after its answer, 0: none",
    ),
    _setting(
        "grace_period", environment.SERVE_GRACE_PERIOD, int, "SECONDS", "then to finish requests in flight"
    ),
    _setting("max_body_bytes", environment.SERVE_MAX_BODY_BYTES, int, "BYTES", "larger bodies get 413"),
    options.LOG_LEVEL,
    Option(
        "--manage-certs",
        "in-cluster: also keep the CA and serving certificate Secrets and the caBundle up to date "
        "(the `certs:` section; the same work as `mcp-admission certs ensure`, repeated)",
        action="store_true",
    ),
    replace(options.KUBECONFIG, help="with --manage-certs: kubeconfig file"),
    Option(
        "--dev",
        "development only: make a throwaway CA and serving certificate for localhost/127.0.0.1 in a "
        "temporary directory, listen on 127.0.0.1, and print where the CA is",
        action="store_true",
    ),
)
DEV_SANS = ("localhost", "127.0.0.1", "::1")


HELP = "run the admission webhook (HTTPS) and its metrics endpoint"
DESCRIPTION = (
    "Run the admission webhook. Each option falls back to its environment variable, then "
    "to the `webhook:` section of the configuration file."
)
EXIT_CODES = exitcodes.epilog(
    failed="the server failed while running (TLS refused the certificate, the port is taken)",
    unusable="a bad option, configuration, log level or unreadable certificate/key file",
    ok="stopped by SIGTERM or SIGINT after finishing its requests",
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = options.command(commands, "serve", HELP, EXIT_CODES, DESCRIPTION)
    options.add_config(parser, "its webhook: section supplies the defaults of the options below")
    options.add(parser, OPTIONS)
    parser.set_defaults(func=run)


def _configure(args: argparse.Namespace) -> tuple[Config, WebhookSettings]:
    """The configuration and the settings in force; ConfigError names what is wrong and where."""
    config = load_config(args.config)
    base = config.webhook
    if args.dev:  # different defaults only: the flags and variables still win
        # No drain: no apiserver to drain a connection pool from, and Ctrl+C should stop at once.
        base = base.model_copy(update={"host": "127.0.0.1", "drain_seconds": 0})
    return config, options.resolve(base, OPTIONS, args, os.environ)


def _dev_certificates(settings: WebhookSettings, directory: str) -> WebhookSettings:
    from mcp_admission.certs.generate import generate_bundle, write_bundle

    write_bundle(generate_bundle("mcp-admission", "dev", extra_sans=DEV_SANS), directory)
    ca = Path(directory, "ca.crt")
    print(
        f"mcp-admission serve --dev: throwaway CA at {ca} (deleted on exit)\n"
        f"  try: curl --cacert {ca} https://127.0.0.1:{settings.port}/healthz",
        file=sys.stderr,
        flush=True,
    )
    return settings.model_copy(
        update={"cert_file": str(Path(directory, "tls.crt")), "key_file": str(Path(directory, "tls.key"))}
    )


def run(args: argparse.Namespace) -> int:
    # Imported here, when serving: the other subcommands need none of the server's stack.
    from prometheus_client import REGISTRY

    from mcp_admission.certs.metrics import CertMetrics
    from mcp_admission.certs.pem import CertError
    from mcp_admission.policies import ALL_POLICIES
    from mcp_admission.webhook.server import Companion, WebhookServer, run_until_stopped

    try:
        logs.configure(options.log_level(args, os.environ))
        config, settings = _configure(args)
    except ConfigError as exc:
        return exitcodes.cannot_start("serve", exc)
    with ExitStack() as stack:
        if args.dev:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="mcp-admission-dev-"))
            try:
                settings = _dev_certificates(settings, directory)
            except CertError as exc:
                return exitcodes.failed("serve --dev", exc)
        for path in (settings.cert_file, settings.key_file):
            if not os.access(path, os.R_OK):
                return exitcodes.cannot_start("serve", f"cannot read {path} (see --cert-file/--key-file)")
        cert_metrics = CertMetrics(REGISTRY)  # the reloader's and the certificate manager's
        companions: list[Companion] = []
        if args.manage_certs:
            from mcp_admission.certs.manager import COMPONENT as CERTS_COMPONENT
            from mcp_admission.certs.manager import CertManager
            from mcp_admission.kube import Kube, KubeError, api_client

            try:
                client = stack.enter_context(api_client(args.kubeconfig, component=CERTS_COMPONENT))
            except KubeError as exc:
                return exitcodes.cannot_start("serve --manage-certs", exc)
            companions.append(CertManager(config.certs, Kube(client), cert_metrics).run)
        server = WebhookServer(
            config,
            settings,
            policies=ALL_POLICIES,
            companions=companions,
            registry=REGISTRY,
            cert_metrics=cert_metrics,
        )
        log.info(
            "starting",
            extra={
                "fields": {"host": settings.host, "port": settings.port, "metricsPort": settings.metrics_port}
            },
        )
        try:
            run_until_stopped(server)
        except (OSError, CertError) as exc:  # e.g. a certificate/key pair that TLS refuses
            return exitcodes.failed("serve", exc)
    return exitcodes.OK
