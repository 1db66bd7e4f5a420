"""No environment variable the product reads can be one the kubelet puts there (issue: every install
crash-looped on MCP_ADMISSION_PORT=tcp://…, our own Service's link variable)."""

from __future__ import annotations

import ast
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcp_admission import environment
from tests.support import service_link_variables

from .layers import sources

OURS = re.compile(r"MCP_ADMISSION_[A-Z0-9_]+")

# DNS-1035 Service names and IANA port names, as the apiserver accepts them.
service_names = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
port_names = st.from_regex(r"[a-z]([-a-z0-9]{0,12}[a-z0-9])?", fullmatch=True)
ports = st.lists(
    st.fixed_dictionaries(
        {"port": st.integers(1, 65535), "protocol": st.sampled_from(["TCP", "UDP", "SCTP"])},
        optional={"name": port_names},
    ),
    min_size=1,
    max_size=4,
)


def _service(name: str, service_ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"ports": service_ports}}


def test_no_variable_we_read_has_a_service_link_shape() -> None:
    assert not [name for name in environment.READ if environment.injectable(name)]


@given(st.lists(st.tuples(service_names, ports), min_size=1, max_size=5))
def test_the_rule_covers_every_variable_the_kubelet_makes(services: list[tuple[str, list[Any]]]) -> None:
    made = service_link_variables(_service(name, service_ports) for name, service_ports in services)
    assert made and all(environment.injectable(name) for name in made)
    assert not set(made) & set(environment.READ)


def test_the_rule_would_have_caught_the_crash_loop() -> None:
    ours = service_link_variables([_service("mcp-admission", [{"name": "https", "port": 443}])])
    assert ours["MCP_ADMISSION_PORT"] == "tcp://10.96.0.10:443"  # what every pod of ours was given
    assert environment.injectable("MCP_ADMISSION_PORT")
    assert environment.injectable("MCP_ADMISSION_METRICS_PORT")  # a Service named mcp-admission-metrics


def test_every_variable_named_in_the_package_is_declared_in_one_place() -> None:
    """A literal MCP_ADMISSION_* anywhere in the code is one of environment.READ (docstrings aside)."""
    named: dict[str, set[str]] = {}
    for module, source in sources()[0].items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and OURS.fullmatch(node.value):
                named.setdefault(node.value, set()).add(module)
    assert named, "the scan finds the declarations themselves"
    assert set(named) <= set(environment.READ), named
    assert {m for modules in named.values() for m in modules} == {"mcp_admission.environment"}
