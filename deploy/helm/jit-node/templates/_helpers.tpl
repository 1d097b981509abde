{{/* Names, labels and the pieces every pod of the node shares. */}}

{{- define "jit.name" -}}
{{- printf "%s" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "jit.country" -}}
{{- required "country is required (values-nl.yaml sets NL)" .Values.country | upper -}}
{{- end -}}

{{- define "jit.labels" -}}
app.kubernetes.io/part-of: jit-node
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
jit.example/country: {{ include "jit.country" . | lower }}
{{- end -}}

{{/* Selector labels of one component: jit.selector (dict "root" $ "component" "tasks") */}}
{{- define "jit.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "jit.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{ $img.repository }}@{{ $img.digest }}
{{- else -}}
{{ $img.repository }}:{{ required "image.tag or image.digest is required" $img.tag }}
{{- end -}}
{{- end -}}

{{- define "jit.natsImage" -}}
{{- $img := .Values.nats.image -}}
{{- if $img.digest -}}
{{ $img.repository }}@{{ $img.digest }}
{{- else -}}
{{ $img.repository }}:{{ $img.tag }}
{{- end -}}
{{- end -}}

{{- define "jit.natsHeadless" -}}
{{ include "jit.name" . }}-nats
{{- end -}}

{{/* The NATS URLs a service is given: every server of the cluster, so a client moves to a survivor. */}}
{{- define "jit.natsUrls" -}}
{{- $root := . -}}
{{- $scheme := ternary "tls" "nats" .Values.tls.enabled -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.nats.replicas) -}}
{{- $urls = append $urls (printf "%s://%s-%d.%s.%s.svc:%d" $scheme (include "jit.natsHeadless" $root) $i (include "jit.natsHeadless" $root) $root.Release.Namespace (int $root.Values.nats.clientPort)) -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{/* Environment every service process shares (README.md, "Every service"). No secret values. */}}
{{- define "jit.commonEnv" -}}
- name: JIT_STATE_DIR
  value: /var/lib/jit
- name: JIT_NODE_JURISDICTION
  value: {{ include "jit.country" . | quote }}
- name: JIT_FEDERATION_PEERS
  value: {{ join "," .Values.peers | upper | quote }}
- name: JIT_RETENTION_YEARS
  value: {{ .Values.retention.years | quote }}
- name: JIT_RETENTION_SCAN_SECONDS
  value: {{ .Values.retention.scanSeconds | quote }}
- name: JIT_FEDERATION_RETENTION_DAYS
  value: {{ .Values.federation.retentionDays | quote }}
- name: JIT_FEDERATION_FORWARD_TIMEOUT_SECONDS
  value: {{ .Values.federation.forwardTimeoutSeconds | quote }}
- name: JIT_NATS_URL
  value: {{ include "jit.natsUrls" . | quote }}
- name: JIT_NATS_STREAM_REPLICAS
  value: {{ .Values.nats.streamReplicas | quote }}
- name: JIT_OIDC_ISSUER
  value: {{ required "oidc.issuer is required" .Values.oidc.issuer | quote }}
- name: JIT_OIDC_ISSUERS
  value: {{ .Values.oidc.issuers | quote }}
- name: JIT_OIDC_AUDIENCE
  value: {{ .Values.oidc.audience | quote }}
- name: JIT_OIDC_CLIENTS
  value: {{ .Values.oidc.clients | quote }}
- name: JIT_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: JIT_OTEL_EXPORTER
  value: {{ .Values.telemetry.exporter | quote }}
{{- if .Values.telemetry.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.telemetry.otlpEndpoint | quote }}
{{- end }}
{{- if .Values.tls.enabled }}
- name: JIT_TLS_CERT_FILE
  value: /etc/jit/tls/tls.crt
- name: JIT_TLS_KEY_FILE
  value: /etc/jit/tls/tls.key
- name: JIT_TLS_CA_FILE
  value: /etc/jit/tls/ca.crt
- name: JIT_NATS_TLS_CA_FILE
  value: /etc/jit/tls/ca.crt
{{- include "jit.clientTlsEnv" . }}
{{- end }}
{{- end -}}

{{/* With mutual TLS on the gRPC ports: the certificate a caller presents (the node's own: it is issued
   for both server and client use), and the switch that makes the ports require one. Keycloak's CA. */}}
{{- define "jit.clientTlsEnv" -}}
{{- if .Values.tls.clientAuth }}
- name: JIT_TLS_CLIENT_AUTH
  value: "true"
- name: JIT_TLS_CLIENT_CERT_FILE
  value: /etc/jit/tls/tls.crt
- name: JIT_TLS_CLIENT_KEY_FILE
  value: /etc/jit/tls/tls.key
{{- end }}
{{- if .Values.tls.keycloakSignedByNodeCa }}
- name: JIT_OIDC_CA_FILE
  value: /etc/jit/tls/ca.crt
{{- end }}
{{- end -}}

{{/* One service's own environment: jit.serviceEnv (dict "root" $ "name" "tasks" "svc" $svc) */}}
{{- define "jit.serviceEnv" -}}
{{- $p := printf "JIT_%s_" (upper .name) -}}
- name: {{ $p }}LISTEN
  value: {{ printf "0.0.0.0:%d" (int .svc.port) | quote }}
- name: {{ $p }}MIGRATE_ON_START
  value: {{ (not .root.Values.database.migrateJob) | quote }}
- name: {{ $p }}PROCESSES
  value: {{ (.svc.processes | default 1) | quote }}
{{- if .root.Values.database.existingSecret }}
- name: {{ $p }}DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.database.existingSecret }}
      key: {{ .name }}-url
{{- end }}
- name: JIT_NATS_CREDENTIALS_DIR
  value: /etc/jit/nats-users
{{- /* The node's key-encryption key: every service seals its case content under keys it wraps. */}}
- name: JIT_KEK_FILE
  value: /etc/jit/kek/kek
{{- if has .name (list "evidence" "messaging") }}
- name: {{ $p }}BLOB_DIR
  value: /var/lib/jit/blobs
{{- end }}
{{- end -}}

{{- define "jit.podSecurity" -}}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* NetworkPolicy pieces: the cluster's DNS, and a list of CIDRs as peers. */}}
{{- define "jit.np.dns" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end -}}
{{- define "jit.np.cidrs" -}}
{{- range . }}
- ipBlock: {cidr: {{ . | quote }}}
{{- end }}
{{- end -}}
