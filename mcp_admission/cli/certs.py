"""`mcp-admission certs ...`: generate (offline), verify (offline), ensure (one in-cluster pass)."""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from mcp_admission import exitcodes, logs
from mcp_admission.certs.settings import CertSettings
from mcp_admission.cli import options
from mcp_admission.cli.config import load_config
from mcp_admission.cli.options import Option
from mcp_admission.configfile import ConfigError

if TYPE_CHECKING:
    from mcp_admission.certs.generate import Bundle

log = logging.getLogger("mcp_admission.certs")

# The certificate code (cryptography) and the kubernetes client are imported by the action that runs.
KEY_TYPES: tuple[str, ...] = get_args(CertSettings.model_fields["key_type"].annotation)

_DEFAULTS = CertSettings()
EXIT_CODES = exitcodes.epilog(
    failed="ensure: the cluster refused or failed a step (the message says which; run it again)",
    unusable="a bad option or configuration, unreadable or invalid certificate material (generate, "
    "verify: the message names the file and the problem), or an unusable kubeconfig",
)


_USES = "its certs: section supplies the defaults of the options below"


def _certs(flag: str, field: str, help: str, **declared: Any) -> Option:
    return Option(flag, help, setting=("certs", field), **declared)


_SERVICE = _certs("--service", "service", "Service name", default_help=str(_DEFAULTS.service), metavar="NAME")
_NAMESPACE = _certs(
    "--namespace", "namespace", "its namespace", default_help=str(_DEFAULTS.namespace), metavar="NS"
)
GENERATE = (
    _SERVICE,
    _NAMESPACE,
    Option("--out", "directory to write ca.crt, tls.crt, tls.key", metavar="DIR", required=True),
    _certs(
        "--extra-san",
        "extra_sans",
        "another DNS name or IP address for the certificate (repeatable), e.g. 127.0.0.1, localhost",
        action="append",
        metavar="NAME",
    ),
    _certs(
        "--key-type", "key_type", "key algorithm", default_help=str(_DEFAULTS.key_type), choices=KEY_TYPES
    ),
    _certs(
        "--rsa-bits",
        "rsa_bits",
        "RSA key size, 2048 or more",
        default_help=str(_DEFAULTS.rsa_bits),
        type=int,
        metavar="BITS",
    ),
    _certs(
        "--ca-days",
        "ca_validity_days",
        "CA validity in days",
        default_help=str(_DEFAULTS.ca_validity_days),
        metavar="DAYS",
        type=int,
    ),
    _certs(
        "--days",
        "validity_days",
        "serving certificate validity in days",
        default_help=str(_DEFAULTS.validity_days),
        metavar="DAYS",
        type=int,
    ),
    Option(
        "--ca-cert", "sign with this existing CA instead of making a new one (needs --ca-key)", metavar="FILE"
    ),
    Option("--ca-key", "the existing CA's private key", metavar="FILE"),
    Option(
        "--ca-key-out",
        "also write the new CA's private key here (mode 0600); by default it is not kept",
        metavar="FILE",
    ),
)
VERIFY = (
    Option("--dir", "directory with ca.crt, tls.crt, tls.key", metavar="DIR", required=True),
    Option("--service", "also check the names for this Service"),
    Option("--namespace", "namespace of --service", default_help="default"),
)
ENSURE = (
    replace(_NAMESPACE, help="namespace of the Secrets", default_help=str(_DEFAULTS.namespace)),
    replace(_SERVICE, help="the webhook's Service", default_help=str(_DEFAULTS.service)),
    options.KUBECONFIG,
    options.LOG_LEVEL,
)


_VERIFY_HELP = "check ca.crt, tls.crt and tls.key in a directory: pair, CA, names, expiry"
_ENSURE_HELP = "in-cluster, one pass: create or renew the CA and serving Secrets, inject the caBundle"
_ENSURE_DESCRIPTION = (
    "Keep the CA and serving certificate in Secrets of the product's namespace, renew what "
    "is due (CA rotation keeps the old CA trusted during an overlap), and write the caBundle into "
    "this product's webhook configurations. Safe to run from several places at once. `serve "
    "--manage-certs` runs the same pass at start and periodically."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = options.command(
        subparsers,
        "certs",
        help="make, check and rotate the webhook's TLS certificates (no cert-manager needed)",
        description="Certificates for the admission webhook: a CA and a serving certificate for its Service.",
        epilog=EXIT_CODES,
    )
    commands = parser.add_subparsers(dest="certs_command", required=True, metavar="ACTION")

    gen = options.command(
        commands,
        "generate",
        help="write a new CA and serving certificate to a directory",
        epilog=EXIT_CODES,
        description="Write ca.crt, tls.crt and tls.key (mode 0600) for SERVICE in NAMESPACE, each replaced\n"
        "atomically. The certificate names SERVICE, SERVICE.NS, SERVICE.NS.svc and\n"
        "SERVICE.NS.svc.cluster.local, plus every --extra-san.\n\n"
        f"Defaults: ECDSA P-256; CA {_DEFAULTS.ca_validity_days} days (10 years, like Gatekeeper's\n"
        "cert-controller: a CA change needs every apiserver to trust the new CA, so make it rare);\n"
        f"serving certificate {_DEFAULTS.validity_days} days (between Kyverno's 150 and cert-controller's\n"
        "365: `certs ensure` renews it with a third of its life, 60 days, left; the server reloads it).",
    )
    options.add(gen, GENERATE)
    options.add_config(gen, _USES)
    gen.set_defaults(func=run_generate)

    verify = options.command(commands, "verify", _VERIFY_HELP, EXIT_CODES)
    options.add(verify, VERIFY)
    verify.set_defaults(func=run_verify)

    ensure = options.command(commands, "ensure", _ENSURE_HELP, EXIT_CODES, _ENSURE_DESCRIPTION)
    options.add(ensure, ENSURE)
    options.add_config(ensure, _USES)
    ensure.set_defaults(func=run_ensure)


def _settings(args: argparse.Namespace, table: tuple[Option, ...]) -> CertSettings:
    """The config file's certs: section with the options given on top; ConfigError names a bad option."""
    return options.resolve(load_config(args.config).certs, table, args, os.environ)


def _read(path: str, what: str) -> bytes:
    from mcp_admission.certs.pem import CertError

    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CertError(f"{path}: cannot read {what}: {exc.strerror}") from None


def _signed_with(args: argparse.Namespace, settings: CertSettings) -> Bundle:
    """A serving certificate signed by the CA given on the command line."""
    from mcp_admission.certs.generate import Bundle, issue_for
    from mcp_admission.certs.pem import load_ca

    ca_pem = _read(args.ca_cert, "the CA certificate")
    ca, ca_key = load_ca(ca_pem, _read(args.ca_key, "the CA key"), args.ca_cert)
    cert, key = issue_for(settings, ca, ca_key)
    return Bundle.of(ca, ca_key, cert, key)


def run_generate(args: argparse.Namespace) -> int:
    from mcp_admission.certs.generate import bundle_for, service_names, write_bundle, write_files
    from mcp_admission.certs.pem import CertError

    if bool(args.ca_cert) != bool(args.ca_key):
        return exitcodes.cannot_start("certs", "--ca-cert and --ca-key go together")
    if args.ca_cert and args.ca_key_out:
        return exitcodes.cannot_start(
            "certs", "--ca-key-out is for a new CA; with --ca-cert the CA key stays where it is"
        )
    try:
        settings = _settings(args, GENERATE)
        bundle = _signed_with(args, settings) if args.ca_cert else bundle_for(settings)
        if args.ca_key_out:
            out = Path(args.ca_key_out)
            write_files(out.parent, {out.name: (bundle.ca_key_pem, 0o600)})
        write_bundle(bundle, args.out)
    except (CertError, ConfigError) as exc:
        return exitcodes.cannot_start("certs", exc)
    names = ", ".join(service_names(settings.service, settings.namespace, settings.extra_sans))
    print(f"wrote {os.path.join(args.out, 'ca.crt')}, tls.crt, tls.key for {names}")
    return exitcodes.OK


def run_verify(args: argparse.Namespace) -> int:
    from mcp_admission.certs.generate import normal_name, service_names
    from mcp_admission.certs.pem import CertError, cert_names, check_pair, check_signed, describe, expired

    directory = Path(args.dir)
    try:
        chain, _ = check_pair(
            _read(str(directory / "tls.crt"), "the certificate"),
            _read(str(directory / "tls.key"), "the key"),
            str(directory / "tls.crt"),
        )
        leaf = chain[0]
        ca = check_signed(
            chain, _read(str(directory / "ca.crt"), "the CA bundle"), str(directory / "tls.crt")
        )
        if expired(leaf):
            raise CertError(f"{directory / 'tls.crt'}: expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
        if args.service:
            wanted = {normal_name(n) for n in service_names(args.service, args.namespace or "default")}
            missing = sorted(wanted - cert_names(leaf))
            if missing:
                raise CertError(f"{directory / 'tls.crt'}: does not name {', '.join(missing)}")
    except CertError as exc:
        return exitcodes.cannot_start("certs", exc)
    print(
        f"ok: {describe(leaf)} signed by {describe(ca)}; expires {leaf.not_valid_after_utc:%Y-%m-%d}, "
        f"CA expires {ca.not_valid_after_utc:%Y-%m-%d}; names: {', '.join(sorted(cert_names(leaf)))}"
    )
    return exitcodes.OK


def run_ensure(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry

    from mcp_admission.certs.manager import COMPONENT as CERTS_COMPONENT
    from mcp_admission.certs.manager import CertManager
    from mcp_admission.certs.metrics import CertMetrics
    from mcp_admission.certs.pem import CertError
    from mcp_admission.kube import Kube, KubeError, api_client

    try:
        logs.configure(options.log_level(args, os.environ))
        settings = _settings(args, ENSURE)
        client = api_client(args.kubeconfig, component=CERTS_COMPONENT)
    except (ConfigError, KubeError) as exc:
        return exitcodes.cannot_start("certs", exc)
    try:
        with client:
            # One pass, no metrics endpoint: its counts go to a registry nobody serves.
            result = CertManager(settings, Kube(client), CertMetrics(CollectorRegistry())).ensure_once()
    except (CertError, KubeError) as exc:
        log.error("certificate pass failed: %s", exc)
        return exitcodes.FAILED
    # Logged, not printed: this is the webhook pods' init container, whose neighbours log JSON.
    for action in result.actions:
        log.info("certificates: %s", action, extra={"fields": {"action": action}})
    expiry = {
        "servingExpires": f"{result.serving_expires:%Y-%m-%d}",
        "caExpires": f"{result.ca_expires:%Y-%m-%d}",
    }
    if result.retire_at:
        expiry["caOverlapEnds"] = f"{result.retire_at:%Y-%m-%dT%H:%M}Z"
    log.info("certificates %s", "updated" if result.changed else "in order", extra={"fields": expiry})
    return exitcodes.OK
