{{/*
Names and labels, the prometheus-community way.
*/}}
{{- define "nce.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nce.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "nce.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride }}
{{- end }}

{{- define "nce.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nce.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nce.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "nce.labels" -}}
helm.sh/chart: {{ include "nce.chart" . }}
{{ include "nce.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: exporter
app.kubernetes.io/part-of: {{ include "nce.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "nce.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nce.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "nce.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/* Where the configuration file and the web config are mounted. */}}
{{- define "nce.configDir" -}}/etc/nats-connectivity-exporter{{- end }}
{{- define "nce.webConfigDir" -}}/etc/nats-connectivity-exporter/web{{- end }}

{{/* http or https, from what the web config turns on. */}}
{{- define "nce.scheme" -}}
{{- if .Values.webConfig.tls }}https{{ else }}http{{ end }}
{{- end }}

{{/* "true" in mode agent (a DaemonSet running `agent`), else empty; an unknown mode fails here. */}}
{{- define "nce.agentMode" -}}
{{- if not (has .Values.mode (list "deployment" "agent")) }}
{{- fail (printf "mode %v: deployment or agent" .Values.mode) }}
{{- end }}
{{- if eq .Values.mode "agent" }}true{{ end }}
{{- end }}

{{/*
Kubernetes features. Each is "true" or empty.
Log following needs a selector: without one the exporter follows no pods, so it needs no access.
The agent reads only pods (its node's, in every namespace); the other features are `serve`'s.
*/}}
{{- define "nce.feature.logs" -}}
{{- if and (not (include "nce.agentMode" .)) .Values.rbac.logs (dig "logs" "selector" "" (.Values.config | default dict)) }}true{{ end }}
{{- end }}

{{- define "nce.feature.diagnostics" -}}
{{- if and (not (include "nce.agentMode" .)) .Values.rbac.diagnostics }}true{{ end }}
{{- end }}

{{- define "nce.feature.audit" -}}
{{- if and (not (include "nce.agentMode" .)) .Values.rbac.audit }}true{{ end }}
{{- end }}

{{- define "nce.feature.agent" -}}
{{- include "nce.agentMode" . }}
{{- end }}

{{- define "nce.kubeAccess" -}}
{{- if or (include "nce.feature.logs" .) (include "nce.feature.diagnostics" .) (include "nce.feature.audit" .) (include "nce.feature.agent" .) }}true{{ end }}
{{- end }}

{{- define "nce.automountToken" -}}
{{- if kindIs "bool" .Values.serviceAccount.automountServiceAccountToken }}
{{- .Values.serviceAccount.automountServiceAccountToken }}
{{- else }}
{{- if include "nce.kubeAccess" . }}true{{ else }}false{{ end }}
{{- end }}
{{- end }}

{{/* The namespaces of log following (config.logs.namespaces). */}}
{{- define "nce.logNamespaces" -}}
{{- toYaml (dig "logs" "namespaces" list (.Values.config | default dict)) }}
{{- end }}

{{/*
The namespaces the rules are granted in: rbac.namespaces, else config.logs.namespaces; an empty list (or
rbac.clusterWide) means cluster-wide. Log following across all namespaces cannot work with namespaced rules: that combination fails here.
*/}}
{{- define "nce.rbacNamespaces" -}}
{{- if or .Values.rbac.clusterWide (include "nce.agentMode" .) }}
{{- toYaml list }}
{{- else }}
{{- $logNamespaces := include "nce.logNamespaces" . | fromYamlArray }}
{{- $namespaces := .Values.rbac.namespaces | default $logNamespaces }}
{{- if and (include "nce.feature.logs" .) $namespaces }}
{{- if not $logNamespaces }}
{{- fail "rbac.namespaces limits access to some namespaces but config.logs.namespaces is empty (follow pods in all namespaces): list the namespaces in config.logs.namespaces too, or leave rbac.namespaces empty" }}
{{- end }}
{{- range $logNamespaces }}
{{- if not (has . $namespaces) }}
{{- fail (printf "config.logs.namespaces has %s, which rbac.namespaces leaves out" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- toYaml $namespaces }}
{{- end }}
{{- end }}

{{/*
The API permissions of each feature: group, resource, verbs. This table is the one place they are written; the
README's RBAC list and tests/deploy/test_rbac.py say the same.
*/}}
{{- define "nce.permissions" -}}
agent:
  - {group: "", resource: pods, verbs: [get, list, watch]}
logs:
  - {group: "", resource: pods, verbs: [get, list, watch]}
  - {group: "", resource: pods/log, verbs: [get]}
diagnostics:
  - {group: "", resource: services, verbs: [get]}
  - {group: discovery.k8s.io, resource: endpointslices, verbs: [list]}
  - {group: "", resource: pods, verbs: [list]}
  - {group: networking.k8s.io, resource: networkpolicies, verbs: [list]}
  - {group: "", resource: namespaces, verbs: [get]}
audit:
  - {group: "", resource: configmaps, verbs: [list]}
  - {group: "", resource: services, verbs: [list]}
  - {group: apps, resource: deployments, verbs: [list]}
  - {group: apps, resource: statefulsets, verbs: [list]}
  - {group: apps, resource: daemonsets, verbs: [list]}
  - {group: batch, resource: cronjobs, verbs: [list]}
{{- end }}

{{/*
RBAC rules for a list of features: one rule per API group and resource, the verbs of every feature merged.
Call with (dict "features" (list "logs" ...) "context" $).
*/}}
{{- define "nce.rules" -}}
{{- $permissions := include "nce.permissions" .context | fromYaml }}
{{- $merged := dict }}
{{- range $feature := .features }}
{{- range $permission := get $permissions $feature }}
{{- $key := printf "%s:%s" $permission.group $permission.resource }}
{{- $verbs := get $merged $key | default list }}
{{- $_ := set $merged $key (concat $verbs $permission.verbs | uniq | sortAlpha) }}
{{- end }}
{{- end }}
{{- range $key := keys $merged | sortAlpha }}
{{- $parts := splitList ":" $key }}
- apiGroups: [{{ index $parts 0 | quote }}]
  resources: [{{ index $parts 1 | quote }}]
  verbs: [{{ range $index, $verb := get $merged $key }}{{ if $index }}, {{ end }}{{ $verb | quote }}{{ end }}]
{{- end }}
{{- end }}

{{/* The enabled features, as a YAML list. */}}
{{- define "nce.features" -}}
{{- $features := list }}
{{- if include "nce.feature.logs" . }}{{ $features = append $features "logs" }}{{ end }}
{{- if include "nce.feature.diagnostics" . }}{{ $features = append $features "diagnostics" }}{{ end }}
{{- if include "nce.feature.audit" . }}{{ $features = append $features "audit" }}{{ end }}
{{- if include "nce.feature.agent" . }}{{ $features = append $features "agent" }}{{ end }}
{{- toYaml $features }}
{{- end }}

{{/* The scrape settings the ServiceMonitor and the PodMonitor share, after `port`. Call with the monitor's values as "monitor". */}}
{{- define "nce.scrapeEndpoint" -}}
{{- $monitor := .monitor }}
path: /metrics
scheme: {{ $monitor.scheme | default (include "nce.scheme" .context) }}
{{- with $monitor.interval }}
interval: {{ . }}
{{- end }}
{{- with $monitor.scrapeTimeout }}
scrapeTimeout: {{ . }}
{{- end }}
honorLabels: {{ $monitor.honorLabels }}
{{- with $monitor.tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $monitor.basicAuth }}
basicAuth:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $monitor.relabelings }}
relabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $monitor.metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The NATS pods' monitoring ports the exporter connects to, as a YAML list: the servers' view's when its source is
`monitor`, each target's cluster probes' (/healthz) when `cluster.enabled` and `cluster.monitor_port` is not 0,
plus networkPolicy.nats.monitorPorts. Defaults as in exporter/config/server_view.py and cluster.py (8222).
*/}}
{{- define "nce.natsMonitorPorts" -}}
{{- $config := .Values.config | default dict }}
{{- $ports := list }}
{{- $view := get $config "server_view" | default dict }}
{{- if eq (toString (get $view "source")) "monitor" }}
{{- $ports = append $ports (printf "%05d" (int (dig "monitor_port" 8222 $view))) }}
{{- end }}
{{- range $target := get $config "targets" | default list }}
{{- $cluster := get $target "cluster" | default dict }}
{{- if get $cluster "enabled" }}
{{- $port := int (dig "monitor_port" 8222 $cluster) }}
{{- if $port }}{{ $ports = append $ports (printf "%05d" $port) }}{{ end }}
{{- end }}
{{- end }}
{{- range .Values.networkPolicy.nats.monitorPorts | default list }}
{{- $ports = append $ports (printf "%05d" (int .)) }}
{{- end }}
{{- /* zero-padded so that the alphabetical sort is the numeric one */}}
{{- range $ports | sortAlpha | uniq }}
- {{ atoi . }}
{{- else }}
[]
{{- end }}
{{- end }}
