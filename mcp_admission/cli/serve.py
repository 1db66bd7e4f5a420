"""`mcp-admission serve`: flags, then MCP_ADMISSION_* variables (named in mcp_admission.environment), then
the config file's `webhook:` section."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from mcp_admission import environment, exitcodes, logs
from mcp_admission.cli.config import Config, load_config
from mcp_admission.configfile import ConfigError, with_overrides
from mcp_admission.webhook.settings import WebhookSettings

log = logging.getLogger("mcp_admission.webhook")

# WebhookSettings field → (flag, environment variable, argparse type, help)
OPTIONS: dict[str, tuple[str, str, Any, str]] = {
    "host": ("--host", environment.SERVE_HOST, str, "address to listen on (default 0.0.0.0)"),
    "port": ("--port", environment.SERVE_PORT, int, "HTTPS port for /mutate, /validate, /healthz, /readyz"),
    "metrics_port": (
        "--metrics-port",
        environment.SERVE_METRICS_PORT,
        int,
        "plain-HTTP /metrics port, 0: off",
    ),
    "cert_file": (
        "--cert-file",
        environment.SERVE_CERT_FILE,
        str,
        "serving certificate (PEM), reloaded on change",
    ),
    "key_file": ("--key-file", environment.SERVE_KEY_FILE, str, "its private key (PEM)"),
    "drain_seconds": (
        "--drain-seconds",
        environment.SERVE_DRAIN_SECONDS,
        int,
        "seconds to keep answering on SIGTERM, closing each connection after its answer, 0: none",
    ),
    "grace_period": (
        "--grace-period",
        environment.SERVE_GRACE_PERIOD,
        int,
        "then seconds to finish requests in flight",
    ),
    "max_body_bytes": ("--max-body-bytes", environment.SERVE_MAX_BODY_BYTES, int, "larger bodies get 413"),
}
DEV_SANS = ("localhost", "127.0.0.1", "::1")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the admission webhook (HTTPS) and its metrics endpoint",
        description="Run the admission webhook. Each option falls back to its environment variable, then "
        "to the `webhook:` section of the configuration file.",
        epilog=exitcodes.epilog(
            failed="the server failed while running (TLS refused the certificate, the port is taken)",
            unusable="a bad option, configuration, log level or unreadable certificate/key file",
            ok="stopped by SIGTERM or SIGINT after finishing its requests",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help=f"configuration file (env {environment.CONFIG})")
    for flag, env, kind, text in OPTIONS.values():
        parser.add_argument(flag, type=kind, default=None, help=f"{text} (env {env})")
    logs.add_level_option(parser)
    parser.add_argument(
        "--manage-certs",
        action="store_true",
        help="in-cluster: also keep the CA and serving certificate Secrets and the caBundle up to date "
        "(the `certs:` section; the same work as `mcp-admission certs ensure`, repeated)",
    )
    parser.add_argument(
        "--kubeconfig", help="with --manage-certs: kubeconfig (default: in-cluster, else ~/.kube)"
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="development only: make a throwaway CA and serving certificate for localhost/127.0.0.1 in a "
        "temporary directory, listen on 127.0.0.1, and print where the CA is",
    )
    parser.set_defaults(func=run)


def resolve_settings(
    base: WebhookSettings, args: argparse.Namespace, environ: Mapping[str, str]
) -> WebhookSettings:
    """The settings in force; a bad value raises ConfigError naming the flag or variable it came from."""
    overrides: dict[str, object] = {}
    names: dict[str, str] = {}
    for field, (flag, env, _, _) in OPTIONS.items():
        if getattr(args, field) is not None:
            overrides[field], names[field] = getattr(args, field), flag
        elif environ.get(env):
            overrides[field], names[field] = environ[env], env
    return with_overrides(base, overrides, names)


def _configure(args: argparse.Namespace) -> tuple[Config, WebhookSettings]:
    """The configuration and the settings in force; ConfigError names what is wrong and where."""
    config = load_config(args.config)
    base = config.webhook
    if args.dev:  # different defaults only: the flags and variables still win
        # No drain: no apiserver to drain a connection pool from, and Ctrl+C should stop at once.
        base = base.model_copy(update={"host": "127.0.0.1", "drain_seconds": 0})
    return config, resolve_settings(base, args, os.environ)


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
        logs.configure(logs.level_from(args.log_level, os.environ))
        config, settings = _configure(args)
    except ConfigError as exc:
        return exitcodes.cannot_start("serve", exc)
    with ExitStack() as stack:
        if args.dev:
            directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="mcp-admission-dev-"))
            try:
                settings = _dev_certificates(settings, directory)
            except CertError as exc:
                print(f"mcp-admission serve --dev: {exc}", file=sys.stderr)
                return exitcodes.FAILED
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
            print(f"mcp-admission serve: {exc}", file=sys.stderr)
            return exitcodes.FAILED
    return exitcodes.OK
