"""What the end-to-end tests drive: kubectl as a user runs it, the rendered deploy/ overlays, and the
product's own commands as processes on loopback. No test logic here, only plumbing."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mcp_admission.policies import POLICY_IDS
from tests.check.runner import console_script

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("base", "overlays/default", "overlays/cert-manager", "overlays/legacy", "overlays/local")
MODERN = ("overlays/default", "overlays/cert-manager")  # Kubernetes 1.30+: matchConditions
LEGACY = ("overlays/legacy", "overlays/local")  # 1.20-1.29: what the test control plane (1.20) runs
# Rendering needs kustomize v4+ (components, inline patches), which kubectl 1.21+ embeds; the control
# plane's kubectl v1.20.2 embeds kustomize v2 and is only used to talk to the apiserver.
RENDER_KUBECTL = os.environ.get("MCP_ADMISSION_RENDER_KUBECTL") or "kubectl"
LOCAL_PORT = 8443  # the port deploy/overlays/local names
WARNING = "Warning: "

Obj = dict[str, Any]


def render(overlay: str) -> list[Obj]:
    """`kubectl kustomize deploy/<overlay>`, as objects."""
    argv = [RENDER_KUBECTL, "kustomize", str(DEPLOY / overlay)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise AssertionError(
            f"no {RENDER_KUBECTL}: set MCP_ADMISSION_RENDER_KUBECTL to kubectl 1.21+"
        ) from None
    assert proc.returncode == 0, (
        f"{' '.join(argv)} failed (needs kubectl 1.21+: set MCP_ADMISSION_RENDER_KUBECTL):\n{proc.stderr}"
    )
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def find(objs: Sequence[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def config_text(objs: Sequence[Obj]) -> str:
    """The configuration file the overlay ships (the generated ConfigMap's config.yaml)."""
    (cm,) = [o for o in find(objs, "ConfigMap") if o["metadata"]["name"].startswith("mcp-admission-config")]
    text: str = cm["data"]["config.yaml"]
    return text


def point_local_webhooks(objs: Sequence[Obj], port: int, ca_pem: bytes) -> list[Obj]:
    """The local overlay with the webhooks at `port` and trusting `ca_pem`: what a developer edits."""
    ca_bundle = base64.b64encode(ca_pem).decode()
    out: list[Obj] = json.loads(json.dumps(list(objs)))
    for obj in out:
        if obj["kind"] in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            for hook in obj["webhooks"]:
                config = hook["clientConfig"]
                prefix = f"https://127.0.0.1:{LOCAL_PORT}/"
                assert config["url"].startswith(prefix), config
                config["url"] = f"https://127.0.0.1:{port}/" + config["url"].removeprefix(prefix)
                config["caBundle"] = ca_bundle
    return out


def dump(objs: Sequence[Obj]) -> str:
    return yaml.safe_dump_all(objs, sort_keys=False)


def policy_warnings(stderr: str) -> list[str]:
    """The warnings kubectl printed that come from our policies ('Warning: <policy id>: ...')."""
    texts = [line.removeprefix(WARNING) for line in stderr.splitlines() if line.startswith(WARNING)]
    return [t for t in texts if t.split(":", 1)[0] in POLICY_IDS]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def warnings(self) -> list[str]:
        return policy_warnings(self.stderr)

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Kubectl:
    """The control plane's kubectl (v1.20.2) with its admin kubeconfig."""

    binary: str
    kubeconfig: Path

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> Result:
        argv = [self.binary, "--kubeconfig", str(self.kubeconfig), *args]
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return result

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        ns = ["-n", namespace] if namespace else []
        result = self("get", kind, name, *ns, "-o", "json", "--ignore-not-found")
        return json.loads(result.stdout) if result.stdout.strip() else None


@dataclass
class Process:
    """One `mcp-admission` command running in the background, its output in a log file."""

    args: list[str]
    log: Path
    env: dict[str, str] | None = None  # the whole environment; None: this process's
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [console_script(), *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
            )

    @property
    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def stop(self, timeout: float = 15.0, sig: signal.Signals = signal.SIGTERM) -> int | None:
        """SIGTERM (as the kubelet does), SIGKILL if it does not exit in time; the exit code.
        `sig=SIGINT` stops `serve` without SIGTERM's drain, where the drain is not what a test is about."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def json_lines(self, start: int = 0) -> Iterator[Obj]:
        """Its structured log lines from byte offset `start` (other lines skipped)."""
        with self.log.open("rb") as f:
            f.seek(start)
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    yield entry

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    """One `mcp-admission` command to completion (`env`: its whole environment)."""
    argv = [console_script(), *args]
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60, env=env)
    return Result(proc.returncode, proc.stdout, proc.stderr)
