{{/* Names and labels shared by every template. */}}
{{- define "dsql-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dsql-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dsql-operator.labels" -}}
app.kubernetes.io/name: {{ include "dsql-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "dsql-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dsql-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dsql-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dsql-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dsql-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "dsql-operator.clusterImage" -}}
{{- printf "%s:%s" .Values.clusterImage.repository (default .Chart.AppVersion .Values.clusterImage.tag) -}}
{{- end -}}

{{/* Rules on namespaced objects: a ClusterRole or per-namespace Roles share them. */}}
{{- define "dsql-operator.namespacedRules" -}}
- apiGroups: ["dsql.k8s.io"]
  resources: ["dsqlclusters"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["dsql.k8s.io"]
  resources: ["dsqlclusters/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["dsql.k8s.io"]
  resources: ["dsqlclusters/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "configmaps"]
  verbs: ["get", "list", "create", "patch", "delete"]
# Secrets are read by name and never listed or changed: generated once, deleted with the cluster.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "delete"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "create", "patch", "delete"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.rbac.certManager }}
- apiGroups: ["cert-manager.io"]
  resources: ["certificates"]
  verbs: ["get", "list", "create", "patch", "delete"]
{{- end }}
{{- end -}}
