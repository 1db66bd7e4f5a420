"""`check` on whole repositories: what is skipped with a notice (files with no object, Helm chart
templates, other templates), what stays an error, --exclude, and no object at all (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .manifests import CONFIGMAP, SERVICE, stream
from .runner import check, script

VALUES = "replicaCount: 2\nimage: {repository: ghcr.io/example/app, tag: '1.0'}\n"
CHART = "apiVersion: v2\nname: app\nversion: 0.1.0\ntype: application\n"
TEMPLATE = """\
{{- if .Values.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  ports: [{port: 80}]
{{- end }}
"""


pytestmark = pytest.mark.usefixtures("in_tmp")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def checked(run_stdout: str) -> list[tuple[str, int]]:
    return [(e["file"], e["line"]) for e in json.loads(run_stdout)]


def test_toolhive_repository_as_it_is(toolhive: Path) -> None:
    """ToolHive's own examples, end-to-end tests and Helm charts, read in place: exit 0, a notice for
    each file with no object and for each chart's templates, every manifest checked."""
    run = script("-f", "examples", "-f", "test/e2e", "-f", "deploy", "-o", "json", cwd=toolhive / "repo")
    assert run.code == 0, run.stderr
    notices = run.stderr.splitlines()
    assert all(": skipped: " in line for line in notices), run.stderr
    assert (
        "deploy/charts/operator/templates: skipped: Helm chart templates; check the chart rendered: "
        "helm template deploy/charts/operator | mcp-admission check -f -"
    ) in notices
    assert (
        "deploy/charts/operator-crds/templates: skipped: Helm chart templates; check the chart " in run.stderr
    )
    for no_object in (
        "deploy/charts/operator/values.yaml",
        "deploy/charts/operator/Chart.yaml",
        "deploy/charts/operator/ci/default-values.yaml",
        "deploy/charts/operator/tests/naming_test.yaml",  # helm-unittest suites
        "examples/otel/otel-values.yaml",
        "examples/otel/grafana-dashboards/toolhive-mcp-otel-semconv-dashboard.json",
        "examples/vmcp-config.yaml",
    ):
        assert f"{no_object}: skipped: no Kubernetes object" in notices
    files = {file for file, _ in checked(run.stdout)}
    assert "deploy/keycloak/mcpserver-with-auth.yaml" in files
    # The chart's plain CRDs (not templates) are manifests: checked like any other.
    assert "deploy/charts/operator-crds/files/crds/toolhive.stacklok.dev_mcpservers.yaml" in files
    assert not any("/templates/" in file for file in files)
    assert len([f for f in files if f.startswith("test/e2e/")]) > 50


def test_files_without_objects_are_skipped_with_a_notice(tmp_path: Path) -> None:
    write(tmp_path / "k8s/app.yaml", stream(CONFIGMAP, SERVICE))
    write(tmp_path / "k8s/values.yaml", VALUES)
    write(tmp_path / "k8s/dashboard.json", json.dumps({"title": "MCP", "panels": [{"id": 1}]}))
    write(tmp_path / "k8s/list.yaml", "- a\n- b\n")
    write(tmp_path / "k8s/empty.yaml", "# nothing yet\n")
    run = check("-f", "k8s", "-o", "json")
    assert run.code == 0
    assert run.stderr.splitlines() == [
        "k8s/dashboard.json: skipped: no Kubernetes object",
        "k8s/empty.yaml: skipped: no Kubernetes object",
        "k8s/list.yaml: skipped: no Kubernetes object",
        "k8s/values.yaml: skipped: no Kubernetes object",
    ]
    assert checked(run.stdout) == [("k8s/app.yaml", 1), ("k8s/app.yaml", 6)]
    text = check("-f", "k8s")
    assert text.stdout.endswith("0 input errors, 4 inputs skipped\n")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("kind: Service\nmetadata: {name: x}\n", 1, "no apiVersion"),
        ("# a Service\napiVersion: v1\nmetadata: {name: x}\nspec: {}\n", 2, "no kind"),
        ("apiVersion: v1\nkind: ''\n", 1, "no kind"),
    ],
)
def test_a_broken_manifest_alone_in_its_file_stays_an_error(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    """A document with kind, or apiVersion and metadata, is a manifest gone wrong, not a config file."""
    write(tmp_path / "k8s/svc.yaml", text)
    write(tmp_path / "k8s/ok.yaml", CONFIGMAP)
    run = check("-f", "k8s")
    assert (run.code, run.stderr) == (2, f"k8s/svc.yaml:{line}: not a Kubernetes object: {message}\n")


def test_chart_yaml_has_an_api_version_but_is_no_manifest(tmp_path: Path) -> None:
    write(tmp_path / "Chart.yaml", CHART)
    write(tmp_path / "app.yaml", CONFIGMAP)
    run = check("-f", "Chart.yaml", "-f", "app.yaml")
    assert (run.code, run.stderr) == (0, "Chart.yaml: skipped: no Kubernetes object\n")


def test_beside_objects_every_other_document_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "mixed.yaml", stream(CONFIGMAP, VALUES, SERVICE))
    run = check("-f", "mixed.yaml", "-o", "json")
    assert (run.code, run.stderr) == (2, "mixed.yaml:6: not a Kubernetes object: no apiVersion\n")
    assert checked(run.stdout) == [("mixed.yaml", 1), ("mixed.yaml", 9)]


def test_helm_chart_templates_one_notice_per_chart(tmp_path: Path) -> None:
    write(tmp_path / "charts/app/Chart.yaml", CHART)
    write(tmp_path / "charts/app/values.yaml", VALUES)
    write(tmp_path / "charts/app/templates/service.yaml", TEMPLATE)
    write(tmp_path / "charts/app/templates/sub/configmap.yaml", CONFIGMAP)  # parses, still a template
    write(tmp_path / "charts/app/crds/crd.yaml", CONFIGMAP.replace("settings", "crd"))
    write(tmp_path / "charts/app/charts/db/Chart.yaml", CHART.replace("app", "db"))
    write(tmp_path / "charts/app/charts/db/templates/db.yaml", TEMPLATE)
    run = check("-f", "charts", "-o", "json")
    assert run.code == 0
    assert run.stderr.splitlines() == [
        "charts/app/Chart.yaml: skipped: no Kubernetes object",
        "charts/app/charts/db/Chart.yaml: skipped: no Kubernetes object",
        "charts/app/charts/db/templates: skipped: Helm chart templates; check the chart rendered: "
        "helm template charts/app/charts/db | mcp-admission check -f -",
        "charts/app/templates: skipped: Helm chart templates; check the chart rendered: "
        "helm template charts/app | mcp-admission check -f -",
        "charts/app/values.yaml: skipped: no Kubernetes object",
    ]
    assert checked(run.stdout) == [("charts/app/crds/crd.yaml", 1)]


def test_chart_templates_given_one_by_one_as_pre_commit_does(tmp_path: Path) -> None:
    write(tmp_path / "app/Chart.yaml", CHART)
    write(tmp_path / "app/templates/a.yaml", TEMPLATE)
    write(tmp_path / "app/templates/b.yaml", CONFIGMAP)
    write(tmp_path / "k8s/cm.yaml", CONFIGMAP)
    run = check("-f", "app/templates", "app/templates/a.yaml", "app/templates/b.yaml", "k8s/cm.yaml")
    assert (run.code, run.stderr) == (
        0,
        "app/templates: skipped: Helm chart templates; check the chart rendered: "
        "helm template app | mcp-admission check -f -\n",
    )


def test_a_template_outside_a_chart(tmp_path: Path) -> None:
    write(tmp_path / "k8s/service.yaml", TEMPLATE)
    write(tmp_path / "k8s/cm.yaml", CONFIGMAP)
    run = check("-f", "k8s")
    assert run.code == 0
    assert run.stderr == (
        "k8s/service.yaml: skipped: a template ({{ }}), not YAML: check what it renders to: "
        "helm template CHART | mcp-admission check -f -\n"
    )


def test_template_markers_in_strings_are_plain_manifests(tmp_path: Path) -> None:
    """Alerting rules and the like carry {{ }} in strings: still manifests, still checked, and a real
    YAML error in them (not on a {{ line) is still an error."""
    rules = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: rules}\ndata:\n"
        '  summary: "{{ $labels.instance }} is down"\n  body: |\n    {{ .Value }}\n'
    )
    write(tmp_path / "rules.yaml", rules)
    ok = check("-f", "rules.yaml", "-o", "json")
    assert (ok.code, checked(ok.stdout)) == (0, [("rules.yaml", 1)])
    write(tmp_path / "rules.yaml", stream(rules, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n"))
    broken = check("-f", "rules.yaml")
    assert broken.code == 2 and broken.stderr.startswith("rules.yaml:12: not valid YAML:")


def test_no_object_in_any_input_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path / "values.yaml", VALUES)
    write(tmp_path / "conf/app.json", "{}")
    run = check("-f", "values.yaml", "conf")
    assert run.code == 2
    assert run.stderr.splitlines() == [
        "values.yaml: skipped: no Kubernetes object",
        "conf/app.json: skipped: no Kubernetes object",
        "values.yaml: no Kubernetes object found in any input",
        "conf: no Kubernetes object found in any input",
    ]
    allowed = check("-f", "values.yaml", "conf", "--allow-no-objects")
    assert allowed.code == 0


def test_no_object_in_the_old_versions_is_exit_2(tmp_path: Path) -> None:
    write(tmp_path / "new.yaml", CONFIGMAP)
    write(tmp_path / "old.yaml", VALUES)
    run = check("-f", "new.yaml", "--old", "old.yaml")
    assert run.code == 2
    assert run.stderr.endswith("old.yaml: no Kubernetes object found in any --old input\n")


def test_exclude_names_and_paths(tmp_path: Path) -> None:
    for path in (
        "deploy/app.yaml",
        "deploy/app-values.yaml",
        "deploy/tests/t.yaml",
        "deploy/charts/a/ci/x.yaml",
        "deploy/charts/a/crd.yaml",
        "deploy/charts/b/ci/y.yaml",
        "deploy/charts/b/deep/er/ci/z.yaml",
    ):
        write(tmp_path / path, CONFIGMAP.replace("settings", Path(path).stem))

    def files(*excludes: str) -> set[str]:
        args = [item for glob in excludes for item in ("--exclude", glob)]
        run = check("-f", "deploy", *args, "-o", "json")
        assert run.code == 0, run.stderr
        return {file.removeprefix("deploy/") for file, _ in checked(run.stdout)}

    everything = files()
    assert len(everything) == 7
    assert files("*-values.yaml", "tests") == everything - {"app-values.yaml", "tests/t.yaml"}
    all_ci = {"charts/a/ci/x.yaml", "charts/b/ci/y.yaml", "charts/b/deep/er/ci/z.yaml"}
    assert files("deploy/charts/**/ci") == everything - all_ci  # as given
    assert files("charts/**/ci") == everything - all_ci  # below the -f directory
    assert files("./charts/*/ci/") == everything - all_ci | {"charts/b/deep/er/ci/z.yaml"}  # * is one segment
    assert files("charts/[!a]/**") == everything - {"charts/b/ci/y.yaml", "charts/b/deep/er/ci/z.yaml"}
    assert files("charts/?/c*.yaml", "app?yaml") == everything - {"charts/a/crd.yaml", "app.yaml"}


def test_exclude_everything_is_no_object_found(tmp_path: Path) -> None:
    write(tmp_path / "k8s/a.yaml", CONFIGMAP)
    run = check("-f", "k8s", "--exclude", "*.yaml")
    assert (run.code, run.stderr) == (2, "k8s: no Kubernetes object found in any input\n")
    given = check("-f", "k8s/a.yaml", "--exclude", "k8s/*")
    assert (given.code, given.stderr) == (2, "k8s/a.yaml: no Kubernetes object found in any input\n")


def test_stdin_is_never_excluded(tmp_path: Path) -> None:
    run = check("-f", "-", "--exclude", "*", "--exclude", "**", stdin=CONFIGMAP.encode())
    assert run.code == 0, run.stderr
