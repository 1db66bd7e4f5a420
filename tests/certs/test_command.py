"""`mcp-admission certs ...` as a user runs it: files written, one-line errors (exit 2), no tracebacks."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from mcp_admission.certs.generate import create_ca, generate_bundle, write_bundle
from mcp_admission.certs.pem import key_to_pem, signed_by, to_pem
from mcp_admission.cli import main

from ..conftest import ControlPlane
from .conftest import Cluster


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["certs", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, *argv)
    assert code == 2, out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcp-admission certs: ")
    return lines[0]


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_generate_writes_the_bundle_and_help_states_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tls"
    code, stdout, _ = run(
        capsys,
        "generate",
        "--service",
        "hook",
        "--namespace",
        "sys",
        "--out",
        str(out),
        "--extra-san",
        "127.0.0.1",
    )
    assert code == 0 and "hook.sys.svc.cluster.local, 127.0.0.1" in stdout
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {
        "ca.crt": 0o644,
        "tls.crt": 0o644,
        "tls.key": 0o600,
    }
    assert run(capsys, "verify", "--dir", str(out), "--service", "hook", "--namespace", "sys")[0] == 0

    with pytest.raises(SystemExit):
        main(["certs", "generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for stated in (
        "ECDSA P-256",
        "CA 3650 days",
        "serving certificate 180 days",
        "Kyverno",
        "cert-controller",
    ):
        assert stated in text


def test_generate_with_rsa_and_validity_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tls"
    argv = ["generate", "--out", str(out), "--key-type", "rsa", "--rsa-bits", "3072", "--days", "7"]
    assert run(capsys, *argv, "--ca-days", "30")[0] == 0
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    assert cert.public_key().key_size == 3072  # type: ignore[union-attr]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc < timedelta(days=7, minutes=6)
    assert ca.not_valid_after_utc - ca.not_valid_before_utc < timedelta(days=30, minutes=6)
    assert "--rsa-bits: Input should be greater than or equal to 2048" in _error(
        capsys, "generate", "--out", str(out), "--key-type", "rsa", "--rsa-bits", "1024"
    )


def test_generate_from_an_existing_ca(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    ca_key = tmp_path / "keys" / "ca.key"
    assert run(capsys, "generate", "--out", str(first), "--ca-key-out", str(ca_key))[0] == 0
    assert stat.S_IMODE(ca_key.stat().st_mode) == 0o600
    argv = ["generate", "--out", str(second), "--ca-cert", str(first / "ca.crt"), "--ca-key", str(ca_key)]
    assert run(capsys, *argv)[0] == 0
    ca = x509.load_pem_x509_certificate((first / "ca.crt").read_bytes())
    assert signed_by(x509.load_pem_x509_certificate((second / "tls.crt").read_bytes()), ca)
    assert (second / "ca.crt").read_bytes() == (first / "ca.crt").read_bytes()


def test_bad_ca_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    write_bundle(generate_bundle("mcp-admission", "mcp-admission"), out)
    before = _files(out)
    good = tmp_path / "ca.crt"
    key = tmp_path / "ca.key"
    ca, ca_key = create_ca("mcp-admission", "mcp-admission")
    good.write_bytes(to_pem(ca))
    key.write_bytes(key_to_pem(ca_key))
    corrupt = tmp_path / "corrupt.crt"
    corrupt.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    other_key = tmp_path / "other.key"
    other_key.write_bytes(key_to_pem(create_ca("x", "y")[1]))
    expired, expired_key = create_ca(
        "a", "b", validity=timedelta(days=1), now=datetime.now(UTC) - timedelta(days=3)
    )
    old = tmp_path / "expired.crt"
    old.write_bytes(to_pem(expired))
    old_key = tmp_path / "expired.key"
    old_key.write_bytes(key_to_pem(expired_key))

    cases = [
        (corrupt, key, "corrupt.crt certificate: not a valid PEM certificate"),
        (good, other_key, "the private key does not match the CA certificate"),
        (old, old_key, "expired on"),
        (good, tmp_path / "missing.key", "missing.key: cannot read the CA key: No such file or directory"),
    ]
    for cert_file, key_file, message in cases:
        line = _error(
            capsys, "generate", "--out", str(out), "--ca-cert", str(cert_file), "--ca-key", str(key_file)
        )
        assert message in line
        assert _files(out) == before  # nothing half-written
    assert "go together" in _error(capsys, "generate", "--out", str(out), "--ca-cert", str(good))


def test_verify_names_each_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = generate_bundle("hook", "sys"), generate_bundle("hook", "sys")
    write_bundle(one, tmp_path / "ok")
    assert run(capsys, "verify", "--dir", str(tmp_path / "ok"))[0] == 0

    mixed = tmp_path / "mixed"
    write_bundle(one, mixed)
    (mixed / "ca.crt").write_bytes(two.ca_cert_pem)
    assert "is signed by another CA" in _error(capsys, "verify", "--dir", str(mixed))
    (mixed / "ca.crt").write_bytes(one.ca_cert_pem)
    (mixed / "tls.key").write_bytes(two.key_pem)
    assert "the private key does not match the certificate" in _error(capsys, "verify", "--dir", str(mixed))
    (mixed / "tls.key").write_bytes(b"junk")
    assert "tls.crt key: not a valid PEM private key" in _error(capsys, "verify", "--dir", str(mixed))
    (mixed / "tls.key").write_bytes(one.key_pem)
    assert "does not name other" in _error(capsys, "verify", "--dir", str(mixed), "--service", "other")


def test_bad_configuration_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("certs:\n  renewShare: 2\n")
    line = _error(capsys, "generate", "--out", str(tmp_path / "x"), "--config", str(config))
    assert "certs.renewShare" in line
    assert "no usable Kubernetes client configuration" in _error(
        capsys, "ensure", "--kubeconfig", str(config)
    )


@pytest.mark.cluster
def test_ensure_from_the_command_line(
    cluster: Cluster, control_plane: ControlPlane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "certs:\n"
        f"  namespace: {cluster.namespace}\n"
        "  secretName: hook-tls\n"
        "  caSecretName: hook-ca\n"
        f"  webhookSelector: certs-test={cluster.label}\n"
    )
    argv = ["ensure", "--config", str(config), "--kubeconfig", str(control_plane.kubeconfig)]
    code, out, err = run(capsys, *argv)
    assert code == 0 and not out  # JSON log lines, like the servers beside it in the pod
    logged = [json.loads(line) for line in err.splitlines()]
    assert {line["action"] for line in logged if "action" in line} >= {
        f"created Secret {cluster.namespace}/hook-ca with a new CA",
        f"created Secret {cluster.namespace}/hook-tls with a new serving certificate",
    }
    assert logged[-1]["message"] == "certificates updated" and logged[-1]["servingExpires"]
    code, out, err = run(capsys, *argv)
    assert code == 0 and [json.loads(line)["message"] for line in err.splitlines()] == [
        "certificates in order"
    ]
    assert set(cluster.versions()) >= {"Secret/hook-tls", "Secret/hook-ca"}
