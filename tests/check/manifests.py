"""Small manifests for the CLI tests, as text (the CLI reads files), each with a known decision."""

from __future__ import annotations

# A ToolHive backend StatefulSet: statefulset-dns sets serviceName mcp-search-headless (CREATE).
STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: search
  namespace: tools
  labels: {toolhive: "true", toolhive-name: search, toolhive-transport: sse, app: search}
spec:
  serviceName: SERVICE_NAME
  selector: {matchLabels: {app: search}}
  template:
    metadata: {labels: {app: search}}
    spec: {containers: [{name: mcp, image: example/search:1}]}
"""

# An opted-in Service with no affinity: session-affinity patches two fields.
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: notes
  labels: {mcp-admission.io/workload: "true"}
spec:
  selector: {app: notes}
  ports: [{port: 80}]
"""

# A stdio MCPServer asking for 3 replicas: stdio-replicas caps it to 1 (a fixed finding, never denied).
STDIO_SERVER = """\
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPServer
metadata: {name: files, namespace: tools}
spec: {image: example/files:1, replicas: 3}
"""

# An SSE MCPServer with 2 replicas and no Redis: session-storage warns (denies under enforce).
SSE_SERVER = """\
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPServer
metadata: {name: weather, namespace: tools}
spec: {image: example/weather:1, transport: sse, replicas: 2}
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: tools}
data: {a: "1"}
"""


def statefulset(service_name: str) -> str:
    return STATEFULSET.replace("SERVICE_NAME", service_name)


def stream(*docs: str) -> str:
    return "---\n".join(docs)
