{{/* Names, labels and shared pod parts of the hopsharbor chart. */}}

{{- define "hopsharbor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "hopsharbor.fullname" -}}
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

{{- define "hopsharbor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hopsharbor.labels" -}}
helm.sh/chart: {{ include "hopsharbor.chart" . }}
{{ include "hopsharbor.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hopsharbor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hopsharbor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: call with (dict "root" $ "component" "connector"). */}}
{{- define "hopsharbor.componentLabels" -}}
{{ include "hopsharbor.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "hopsharbor.componentSelectorLabels" -}}
{{ include "hopsharbor.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "hopsharbor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hopsharbor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hopsharbor.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}

{{/* Where the Secrets are mounted; the processes read the files named by HOPSHARBOR_*_FILE. */}}
{{- define "hopsharbor.secretsDir" -}}/var/run/secrets/hopsharbor{{- end }}

{{/*
The ConfigMap data of one component: `config`, then the component's own `config`, then its
metrics endpoint, each key prefixed with HOPSHARBOR_. Call with (dict "root" $ "component" "worker").
*/}}
{{- define "hopsharbor.configData" -}}
{{- $c := index .root.Values .component }}
{{- $data := dict }}
{{- range $k, $v := .root.Values.config }}{{ $_ := set $data $k $v }}{{ end }}
{{- range $k, $v := $c.config }}{{ $_ := set $data $k $v }}{{ end }}
{{- /* Listen on the pod's address: the kubelet probes and Prometheus scrapes from outside. */}}
{{- $_ := set $data "METRICS_HOST" "0.0.0.0" }}
{{- $_ := set $data "METRICS_PORT" $c.metricsPort }}
{{- range $k := keys $data | sortAlpha }}
{{- if regexMatch "(?i)(PASSWORD|SECRET|TOKEN)$" $k }}
{{- fail (printf "config key %s looks like a secret: use secrets.* (a Secret mounted as a file) instead" $k) }}
{{- end }}
HOPSHARBOR_{{ $k | upper }}: {{ index $data $k | toString | quote }}
{{- end }}
{{- end }}

{{/* Pod template parts shared by connector and worker. Call with (dict "root" $ "component" "worker"). */}}
{{- define "hopsharbor.podSpecCommon" -}}
{{- $root := .root }}
serviceAccountName: {{ include "hopsharbor.serviceAccountName" $root }}
automountServiceAccountToken: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* httpGet /healthz on the metrics port, with the timing of one probe's values. */}}
{{- define "hopsharbor.probe" -}}
httpGet:
  path: /healthz
  port: metrics
{{- toYaml . | nindent 0 }}
{{- end }}
