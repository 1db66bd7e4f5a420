"""`mcp-admission certs ...`: generate (offline), verify (offline), ensure (one in-cluster pass)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from mcp_admission import exitcodes, logs
from mcp_admission.certs.settings import CertSettings
from mcp_admission.cli.config import load_config
from mcp_admission.configfile import ConfigError, with_overrides

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


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: $MCP_ADMISSION_CONFIG, else built-in defaults); "
        "its certs: section supplies the defaults of the options below",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "certs",
        help="make, check and rotate the webhook's TLS certificates (no cert-manager needed)",
        description="Certificates for the admission webhook: a CA and a serving certificate for its Service.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="certs_command", required=True, metavar="ACTION")

    gen = commands.add_parser(
        "generate",
        help="write a new CA and serving certificate to a directory",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write ca.crt, tls.crt and tls.key (mode 0600) for SERVICE in NAMESPACE, each replaced\n"
        "atomically. The certificate names SERVICE, SERVICE.NS, SERVICE.NS.svc and\n"
        "SERVICE.NS.svc.cluster.local, plus every --extra-san.\n\n"
        f"Defaults: ECDSA P-256; CA {_DEFAULTS.ca_validity_days} days (10 years, like Gatekeeper's\n"
        "cert-controller: a CA change needs every apiserver to trust the new CA, so make it rare);\n"
        f"serving certificate {_DEFAULTS.validity_days} days (between Kyverno's 150 and cert-controller's\n"
        "365: `certs ensure` renews it with a third of its life, 60 days, left; the server reloads it).",
    )
    gen.add_argument("--service", help=f"Service name (default: {_DEFAULTS.service})")
    gen.add_argument("--namespace", help=f"its namespace (default: {_DEFAULTS.namespace})")
    gen.add_argument(
        "--out", required=True, metavar="DIR", help="directory to write ca.crt, tls.crt, tls.key"
    )
    gen.add_argument(
        "--extra-san",
        action="append",
        default=None,
        metavar="NAME",
        help="another DNS name or IP address for the certificate (repeatable), e.g. 127.0.0.1, localhost",
    )
    gen.add_argument("--key-type", choices=KEY_TYPES, help=f"key algorithm (default: {_DEFAULTS.key_type})")
    gen.add_argument(
        "--rsa-bits", type=int, help=f"RSA key size, 2048 or more (default: {_DEFAULTS.rsa_bits})"
    )
    gen.add_argument(
        "--ca-days", type=int, help=f"CA validity in days (default: {_DEFAULTS.ca_validity_days})"
    )
    gen.add_argument(
        "--days", type=int, help=f"serving certificate validity in days (default: {_DEFAULTS.validity_days})"
    )
    gen.add_argument(
        "--ca-cert",
        metavar="FILE",
        help="sign with this existing CA instead of making a new one (needs --ca-key)",
    )
    gen.add_argument("--ca-key", metavar="FILE", help="the existing CA's private key")
    gen.add_argument(
        "--ca-key-out",
        metavar="FILE",
        help="also write the new CA's private key here (mode 0600); by default it is not kept",
    )
    _config_option(gen)
    gen.set_defaults(func=run_generate)

    verify = commands.add_parser(
        "verify",
        help="check ca.crt, tls.crt and tls.key in a directory: pair, CA, names, expiry",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("--dir", required=True, metavar="DIR", help="directory with ca.crt, tls.crt, tls.key")
    verify.add_argument("--service", help="also check the names for this Service")
    verify.add_argument("--namespace", help="namespace of --service")
    verify.set_defaults(func=run_verify)

    ensure = commands.add_parser(
        "ensure",
        help="in-cluster, one pass: create or renew the CA and serving Secrets, inject the caBundle",
        description="Keep the CA and serving certificate in Secrets of the product's namespace, renew what "
        "is due (CA rotation keeps the old CA trusted during an overlap), and write the caBundle into "
        "this product's webhook configurations. Safe to run from several places at once. `serve "
        "--manage-certs` runs the same pass at start and periodically.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ensure.add_argument("--namespace", help=f"namespace of the Secrets (default: {_DEFAULTS.namespace})")
    ensure.add_argument("--service", help=f"the webhook's Service (default: {_DEFAULTS.service})")
    ensure.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig (default: in-cluster, else ~/.kube)")
    _config_option(ensure)
    logs.add_level_option(ensure)
    ensure.set_defaults(func=run_ensure)


_OPTIONS = {
    "service": "--service",
    "namespace": "--namespace",
    "extra_sans": "--extra-san",
    "key_type": "--key-type",
    "rsa_bits": "--rsa-bits",
    "ca_validity_days": "--ca-days",
    "validity_days": "--days",
}


def _settings(args: argparse.Namespace, **overrides: object) -> CertSettings:
    """The config file's certs: section with the given options on top; ConfigError names a bad option."""
    return with_overrides(load_config(args.config).certs, overrides, _OPTIONS)


def _fail(message: str, code: int = exitcodes.UNUSABLE) -> int:
    print(f"mcp-admission certs: {message}", file=sys.stderr)
    return code


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
        return _fail("--ca-cert and --ca-key go together")
    if args.ca_cert and args.ca_key_out:
        return _fail("--ca-key-out is for a new CA; with --ca-cert the CA key stays where it is")
    try:
        settings = _settings(
            args,
            service=args.service,
            namespace=args.namespace,
            extra_sans=tuple(args.extra_san) if args.extra_san else None,
            key_type=args.key_type,
            rsa_bits=args.rsa_bits,
            ca_validity_days=args.ca_days,
            validity_days=args.days,
        )
        bundle = _signed_with(args, settings) if args.ca_cert else bundle_for(settings)
        if args.ca_key_out:
            out = Path(args.ca_key_out)
            write_files(out.parent, {out.name: (bundle.ca_key_pem, 0o600)})
        write_bundle(bundle, args.out)
    except (CertError, ConfigError) as exc:
        return _fail(str(exc))
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
        return _fail(str(exc))
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
        logs.configure(logs.level_from(args.log_level, os.environ))
        settings = _settings(args, namespace=args.namespace, service=args.service)
        client = api_client(args.kubeconfig, component=CERTS_COMPONENT)
    except (ConfigError, KubeError) as exc:
        return _fail(str(exc))
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
