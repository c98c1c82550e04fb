{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "commandbridge-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects. A release named after the chart is not repeated.
*/}}
{{- define "commandbridge-operator.fullname" -}}
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

{{- define "commandbridge-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "commandbridge-operator.labels" -}}
helm.sh/chart: {{ include "commandbridge-operator.chart" . }}
{{ include "commandbridge-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: commandbridge
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the operator's pods; they never change across upgrades.
*/}}
{{- define "commandbridge-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "commandbridge-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "commandbridge-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "commandbridge-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "commandbridge-operator.leaseName" -}}
{{- default (include "commandbridge-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
Image reference: by digest when one is given, else by tag (the chart's appVersion by default).
*/}}
{{- define "commandbridge-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}
