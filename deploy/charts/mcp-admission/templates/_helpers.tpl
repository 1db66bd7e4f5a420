{{/* Hand-written: the names, labels and configuration every template uses. */}}

{{/* The prefix of every object's name: deploy/'s "mcp-admission" for a release of that name. */}}
{{- define "mcp-admission.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Added to deploy/base's labels (app.kubernetes.io/name, component), never to selectors. */}}
{{- define "mcp-admission.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "mcp-admission.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* policy/v1 from 1.21; 1.20 has policy/v1beta1 only (same fields). */}}
{{- define "mcp-admission.pdbApiVersion" -}}
{{- if semverCompare ">=1.21-0" .Capabilities.KubeVersion.Version -}}policy/v1{{- else -}}policy/v1beta1{{- end -}}
{{- end -}}

{{/*
The configuration file the pods read, as JSON (JSON is YAML; Helm holds integers of values files as
float64, which toYaml would write as 3.407872e+06): .Values.config with the names that follow the
release filled in where not set, and the release's namespace among excludedNamespaces.
*/}}
{{- define "mcp-admission.config" -}}
{{- $full := include "mcp-admission.fullname" . -}}
{{- $c := deepCopy (.Values.config | default dict) -}}
{{- $certs := merge (get $c "certs" | default dict) (dict
    "service" $full
    "namespace" .Release.Namespace
    "secretName" (printf "%s-tls" $full)
    "caSecretName" (printf "%s-ca" $full)
    "mutatingWebhookConfiguration" $full
    "validatingWebhookConfiguration" $full) -}}
{{- if ne $certs.namespace .Release.Namespace -}}
{{- fail (printf "config.certs.namespace: %q, but this release installs the webhook's Service and Secrets in its own namespace %q: leave it unset (or install with -n %s)" $certs.namespace .Release.Namespace $certs.namespace) -}}
{{- end -}}
{{- $_ := set $c "certs" $certs -}}
{{- $webhook := get $c "webhook" | default dict -}}
{{- if and (hasKey $webhook "metricsPort") (eq (int $webhook.metricsPort) 0) -}}
{{- fail "config.webhook.metricsPort: 0, but the webhook pods' probes use that port (plain HTTP, so a TLS handshake flood cannot fail them): keep a port" -}}
{{- end -}}
{{- $reconciler := merge (get $c "reconciler" | default dict) (dict
    "leaseName" (printf "%s-reconciler" $full)
    "leaseNamespace" .Release.Namespace) -}}
{{- $_ := set $c "reconciler" $reconciler -}}
{{- $excluded := list "kube-system" -}}
{{- if hasKey $c "excludedNamespaces" -}}{{- $excluded = $c.excludedNamespaces | default list -}}{{- end -}}
{{- $_ := set $c "excludedNamespaces" (append $excluded .Release.Namespace | uniq) -}}
{{- $_ := set $c "workloads" (merge (get $c "workloads" | default dict) (dict "optInLabel" "mcp-admission.io/workload" "selectors" list)) -}}
{{- toJson $c -}}
{{- end -}}

{{/* The opt-in label goes into CEL as a string literal: it must be a label key (as the product checks). */}}
{{- define "mcp-admission.checkOptInLabel" -}}
{{- if not (regexMatch "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$" .) -}}
{{- fail (printf "config.workloads.optInLabel: %q is not a label key" .) -}}
{{- end -}}
{{- end -}}
