{{/* The pool is the release; the EPP and its objects are "<release>-epp" (GIE names them likewise). */}}
{{- define "tokenroute.poolName" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tokenroute.eppName" -}}
{{- printf "%s-epp" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tokenroute.labels" -}}
app.kubernetes.io/part-of: tokenroute
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tokenroute.eppSelector" -}}
app.kubernetes.io/name: tokenroute-epp
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tokenroute.eppImage" -}}
{{- $img := .Values.inferenceExtension.image -}}
{{- printf "%s/%s:%s" $img.registry $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}

{{- define "tokenroute.hmacSecretName" -}}
{{- printf "%s-filter-hmac" (include "tokenroute.eppName" .) -}}
{{- end -}}

{{/*
The filter's HMAC key (base64): the value given, else the one already in the release's Secret
(kept across upgrades), else 32 new random bytes. Memoized in .Values (shared by every template
of the render), so the Secret, the EPP and the filter attachment carry the same key.
*/}}
{{- define "tokenroute.hmacKey" -}}
{{- if not .Values.filter.hmacKey -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "tokenroute.hmacSecretName" .) -}}
{{- if and $existing $existing.data (index $existing.data "key") -}}
{{- $_ := set .Values.filter "hmacKey" (index $existing.data "key" | b64dec) -}}
{{- else -}}
{{- $_ := set .Values.filter "hmacKey" (randBytes 32) -}}
{{- end -}}
{{- end -}}
{{- .Values.filter.hmacKey -}}
{{- end -}}

{{/* The filter's plugin configuration (docs/filter.md), as JSON. */}}
{{- define "tokenroute.filterConfig" -}}
{{- $models := dict -}}
{{- range $name, $tok := .Values.filter.models -}}
{{- $_ := set $models $name (dict "tokenizer" $tok) -}}
{{- end -}}
{{- dict "models" $models "blockSize" .Values.filter.blockSize "hmacKey" (include "tokenroute.hmacKey" .) | toJson -}}
{{- end -}}

{{- define "tokenroute.validate" -}}
{{- if not .Values.inferencePool.modelServers.matchLabels -}}
{{- fail "inferencePool.modelServers.matchLabels is required: the labels of the model-server pods" -}}
{{- end -}}
{{- if not (has .Values.provider.name (list "none" "istio" "envoy-gateway")) -}}
{{- fail (printf "provider.name must be none, istio or envoy-gateway, got %q" .Values.provider.name) -}}
{{- end -}}
{{- if gt (len .Values.inferencePool.targetPorts) 8 -}}
{{- fail "inferencePool.targetPorts: at most 8 ports (InferencePool API)" -}}
{{- end -}}
{{- if and .Values.filter.enabled (not .Values.filter.models) -}}
{{- fail "filter.models: name at least one served model and its tokenizer (or set filter.enabled=false)" -}}
{{- end -}}
{{- end -}}
