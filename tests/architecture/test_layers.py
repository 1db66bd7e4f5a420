"""The layering contract holds for the whole package, and would catch an upward import."""

from __future__ import annotations

from .layers import sources, violations


def test_the_package_keeps_its_layers() -> None:
    modules, packages = sources()
    assert "mcp_admission.policies.engine.decide" in modules  # the mapped folders are read too
    assert "mcp_admission.webhook.admission" in modules
    problems = violations(modules, packages)
    assert not problems, "\n".join(map(str, problems))


def test_an_upward_import_is_caught() -> None:
    bad = {
        "mcp_admission.policies.engine.decide": "from mcp_admission.webhook.app import create_app\n",
        "mcp_admission.kube": "from mcp_admission.cli.config import load_config\n",
        "mcp_admission.check.checker": "import mcp_admission.reconciler.services\n",
        "mcp_admission.audit.auditor": "from mcp_admission.check.checker import identify\n",
        "mcp_admission.audit.pipeline": "from mcp_admission.check.admission import admit\n",
        "mcp_admission.report.result": "from mcp_admission.check.loader import Source\n",
        "mcp_admission.policies.session_affinity": "import time\n",
        "mcp_admission.somewhere": "",
        "mcp_admission.policies.engine.admit": "from mcp_admission.policies.registry import ALL_POLICIES\n",
        "mcp_admission.reconciler.services": "from mcp_admission.policies.statefulset_dns import ID\n",
        "mcp_admission.audit.lister": "from mcp_admission.policies import registry\n",
        "mcp_admission.report.operator": "from mcp_admission.policies.engine.workloads import mapping\n",
        "mcp_admission.policies": "__all__ = ['decide']\n",
        "mcp_admission.webhook.admission": "from mcp_admission.policies import decide\n",
    }
    found = {(v.module, v.why) for v in violations(bad)}
    assert found == {
        ("mcp_admission.policies.engine.decide", "imports a layer above its own"),
        ("mcp_admission.kube", "imports a layer above its own"),
        ("mcp_admission.check.checker", "adapters stay independent"),
        ("mcp_admission.audit.auditor", "adapters stay independent"),
        ("mcp_admission.audit.pipeline", "adapters stay independent"),
        ("mcp_admission.report.result", "imports a layer above its own"),
        ("mcp_admission.policies.session_affinity", "the engine stays pure"),
        ("mcp_admission.somewhere", "in no layer: add it to LAYERS"),
        ("mcp_admission.policies.engine.admit", "imports a layer above its own"),
        ("mcp_admission.reconciler.services", "adapters use the policies' public names"),
        ("mcp_admission.audit.lister", "adapters use the policies' public names"),
        ("mcp_admission.report.operator", "adapters use the policies' public names"),
    }


def test_relative_imports_resolve_inside_the_package() -> None:
    bad = {"mcp_admission.policies.engine.decide": "from ...webhook import app\n"}
    assert [v.imported for v in violations(bad)][:1] == ["mcp_admission.webhook"]
