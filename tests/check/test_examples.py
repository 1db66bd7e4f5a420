"""The bundled examples (the README's first command) and the real ToolHive examples, read in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from .runner import check, script

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = "mcp_admission/examples"

EXPECTED_TEXT = f"""\
{EXAMPLES}/mcpserver-sse.yaml:3 MCPServer/mcp-tools/weather session-storage: spec.replicas 2 without \
sessionStorage redis: sessions are not shared
{EXAMPLES}/mcpserver-stdio.yaml:3 MCPServer/mcp-tools/filesystem stdio-replicas: spec.replicas 3 -> 1: \
a stdio server is one process
{EXAMPLES}/mcpserver-stdio.yaml:3 MCPServer/mcp-tools/filesystem patch: replace /spec/replicas
{EXAMPLES}/opt-in.yaml:3 StatefulSet/team-a/notes statefulset-dns: serviceName set to mcp-notes-headless \
for pod DNS
{EXAMPLES}/opt-in.yaml:3 StatefulSet/team-a/notes patch: replace /spec/serviceName
{EXAMPLES}/opt-in.yaml:46 Service/team-a/notes session-affinity: set sessionAffinity ClientIP (1800s) so \
MCP sessions stay on one pod
{EXAMPLES}/opt-in.yaml:46 Service/team-a/notes patch: replace /spec/sessionAffinity, add \
/spec/sessionAffinityConfig
{EXAMPLES}/toolhive-backend.yaml:5 StatefulSet/mcp-tools/search statefulset-dns: serviceName set to \
mcp-search-headless for pod DNS
{EXAMPLES}/toolhive-backend.yaml:5 StatefulSet/mcp-tools/search patch: replace /spec/serviceName
{EXAMPLES}/toolhive-backend.yaml:56 Service/mcp-tools/mcp-search session-affinity: set sessionAffinity \
ClientIP (1800s) so MCP sessions stay on one pod
{EXAMPLES}/toolhive-backend.yaml:56 Service/mcp-tools/mcp-search patch: replace /spec/sessionAffinity, \
add /spec/sessionAffinityConfig
12 objects checked: 5 patched, 6 warnings, 0 denied, 0 input errors
"""


def test_bundled_examples_with_the_console_script() -> None:
    """`mcp-admission check` with no -f, as the README's first command runs it from the checkout."""
    run = script(cwd=ROOT)
    assert (run.code, run.stderr) == (0, "")
    assert run.stdout == EXPECTED_TEXT


def test_bundled_examples_every_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    entries = check("-o", "json").json()
    decided = {
        (Path(e["file"]).name, e["kind"], e["name"]): ([op["path"] for op in e["patch"]], e["warnings"])
        for e in entries
    }
    untouched: tuple[list[str], list[dict[str, str]]] = ([], [])
    assert decided == {
        ("mcpserver-sse.yaml", "MCPServer", "weather"): (
            [],
            [
                {
                    "policy": "session-storage",
                    "message": "spec.replicas 2 without sessionStorage redis: sessions are not shared",
                }
            ],
        ),
        ("mcpserver-stdio.yaml", "MCPServer", "filesystem"): (
            ["/spec/replicas"],
            [{"policy": "stdio-replicas", "message": "spec.replicas 3 -> 1: a stdio server is one process"}],
        ),
        ("not-mcp.yaml", "ConfigMap", "web-config"): untouched,
        ("not-mcp.yaml", "Deployment", "web"): untouched,
        ("not-mcp.yaml", "Service", "web"): untouched,
        ("opt-in.yaml", "StatefulSet", "notes"): (
            ["/spec/serviceName"],
            [{"policy": "statefulset-dns", "message": "serviceName set to mcp-notes-headless for pod DNS"}],
        ),
        ("opt-in.yaml", "Service", "mcp-notes-headless"): untouched,  # headless: never ClientIP
        ("opt-in.yaml", "Service", "notes"): (
            ["/spec/sessionAffinity", "/spec/sessionAffinityConfig"],
            [
                {
                    "policy": "session-affinity",
                    "message": "set sessionAffinity ClientIP (1800s) so MCP sessions stay on one pod",
                }
            ],
        ),
        ("opt-in.yaml", "Deployment", "git-tools"): untouched,  # replicas 1: nothing to cap
        ("toolhive-backend.yaml", "StatefulSet", "search"): (
            ["/spec/serviceName"],
            [{"policy": "statefulset-dns", "message": "serviceName set to mcp-search-headless for pod DNS"}],
        ),
        ("toolhive-backend.yaml", "Service", "mcp-search-headless"): untouched,
        ("toolhive-backend.yaml", "Service", "mcp-search"): (
            ["/spec/sessionAffinity", "/spec/sessionAffinityConfig"],
            [
                {
                    "policy": "session-affinity",
                    "message": "set sessionAffinity ClientIP (1800s) so MCP sessions stay on one pod",
                }
            ],
        ),
    }


def test_toolhive_examples_in_place(toolhive: Path) -> None:
    """The real examples: every object is found at its apiVersion line; as shipped none asks for what a policy
    changes (one replica each; the chainsaw Services are partial objects without ToolHive's labels)."""
    run = check("-f", toolhive / "examples", "-o", "json")
    assert (run.code, run.stderr) == (0, "")
    entries = run.json()
    found = [(Path(e["file"]).name, e["line"], e["kind"], e["namespace"], e["name"]) for e in entries]
    assert found == [
        (
            "chainsaw-st-sse__assert-mcpserver-headless-svc.yaml",
            1,
            "Service",
            "toolhive-system",
            "mcp-st-sse-headless",
        ),
        ("chainsaw-st-sse__assert-mcpserver-svc.yaml", 1, "Service", "toolhive-system", "mcp-st-sse"),
        (
            "ex-external-auth__mcpremoteproxy_with_bearer_token.yaml",
            8,
            "Secret",
            "default",
            "api-bearer-token",
        ),
        (
            "ex-external-auth__mcpremoteproxy_with_bearer_token.yaml",
            19,
            "MCPExternalAuthConfig",
            "default",
            "api-bearer-auth",
        ),
        (
            "ex-external-auth__mcpremoteproxy_with_bearer_token.yaml",
            33,
            "MCPOIDCConfig",
            "default",
            "api-proxy-oidc",
        ),
        (
            "ex-external-auth__mcpremoteproxy_with_bearer_token.yaml",
            45,
            "MCPRemoteProxy",
            "default",
            "api-proxy",
        ),
        (
            "ex-mcp-servers__mcpserver_with_resource_overrides.yaml",
            1,
            "MCPServer",
            "toolhive-system",
            "github-with-overrides",
        ),
        ("ex-mcp-servers__mcpserver_yardstick_sse.yaml", 1, "MCPServer", "toolhive-system", "yardstick"),
        ("ex-mcp-servers__mcpserver_yardstick_stdio.yaml", 1, "MCPServer", "toolhive-system", "yardstick"),
        ("ex-virtual-mcps__vmcp_simple_discovered.yaml", 19, "MCPGroup", "default", "my-services"),
        ("ex-virtual-mcps__vmcp_simple_discovered.yaml", 29, "MCPServer", "default", "yardstick-simple"),
        ("ex-virtual-mcps__vmcp_simple_discovered.yaml", 50, "VirtualMCPServer", "default", "simple-vmcp"),
    ]
    assert all(e["patch"] == [] and e["warnings"] == [] and e["denial"] is None for e in entries)
    assert {e["operation"] for e in entries} == {"CREATE"}


def test_toolhive_stdio_example_scaled_up_from_stdin(toolhive: Path) -> None:
    """The real stdio example piped in with replicas added (as `kustomize build | check -f -` would)."""
    text = (toolhive / "examples/ex-mcp-servers__mcpserver_yardstick_stdio.yaml").read_text()
    text = text.replace("  proxyPort: 8080\n", "  proxyPort: 8080\n  replicas: 3\n")
    run = script("-f", "-", stdin=text.encode())
    assert run.code == 0
    assert run.stdout.splitlines()[:2] == [
        "stdin:1 MCPServer/toolhive-system/yardstick stdio-replicas: spec.replicas 3 -> 1: a stdio server is "
        "one process",
        "stdin:1 MCPServer/toolhive-system/yardstick patch: replace /spec/replicas",
    ]
