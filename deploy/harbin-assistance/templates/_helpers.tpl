{{/* The prefix of every object's name: the release's, unless overridden. */}}
{{- define "harbin.fullname" -}}
{{- .Values.fullnameOverride | default .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* A service's settings: the defaults, overridden by its own entry. Call with (list $ name). */}}
{{- define "harbin.service" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- toYaml (mergeOverwrite (deepCopy $root.Values.defaults) (deepCopy (index $root.Values.services $name))) -}}
{{- end -}}

{{- define "harbin.selector" -}}
app.kubernetes.io/name: harbin-assistance
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{- define "harbin.labels" -}}
{{ include "harbin.selector" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: harbin-assistance
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "harbin.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The consumer group of a service: its name, after the topic prefix (shared/consumer.py). */}}
{{- define "harbin.consumerGroup" -}}
{{ .root.Values.topicPrefix }}{{ .service }}
{{- end -}}

{{/*
The environment of a service's containers (the app's and its migration Job's). Each setting has the
service's prefix (shared/settings.py); the database password and the token secret come from Secrets.
Call with (dict "root" $ "service" name "spec" settings).
*/}}
{{- define "harbin.env" -}}
{{- $root := .root -}}
{{- $name := .service -}}
{{- $prefix := upper $name -}}
{{- $pg := $root.Values.postgres -}}
- name: SERVICE
  value: {{ $name }}
- name: {{ $prefix }}_ENVIRONMENT
  value: {{ $root.Values.environment | quote }}
- name: {{ $prefix }}_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ printf "%s%s" $pg.passwordSecretPrefix $name }}
      key: {{ $pg.passwordSecretKey }}
- name: {{ $prefix }}_DATABASE_URL
  value: {{ printf "postgresql+asyncpg://%s:$(%s_DB_PASSWORD)@%s:%v/%s%s" $name $prefix $pg.host $pg.port $name $pg.options | quote }}
- name: {{ $prefix }}_DATABASE_POOL_SIZE
  value: {{ .spec.databasePoolSize | quote }}
- name: {{ $prefix }}_KAFKA_BOOTSTRAP_SERVERS
  value: {{ $root.Values.kafka.bootstrapServers | quote }}
{{- $kafka := $root.Values.kafka }}
- name: {{ $prefix }}_KAFKA_SECURITY_PROTOCOL
  value: {{ $kafka.securityProtocol | quote }}
{{- if hasPrefix "SASL_" $kafka.securityProtocol }}
- name: {{ $prefix }}_KAFKA_SASL_MECHANISM
  value: {{ $kafka.saslMechanism | quote }}
- name: {{ $prefix }}_KAFKA_USERNAME
  value: {{ $name }}
- name: {{ $prefix }}_KAFKA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ printf "%s%s" $kafka.passwordSecretPrefix $name }}
      key: {{ $kafka.passwordSecretKey }}
{{- end }}
{{- if has $kafka.securityProtocol (list "SSL" "SASL_SSL") }}
- name: {{ $prefix }}_KAFKA_CA_FILE
  value: /etc/kafka/tls/ca.crt
{{- end }}
- name: {{ $prefix }}_KAFKA_PARTITIONS
  value: {{ $root.Values.kafka.partitions | quote }}
- name: {{ $prefix }}_KAFKA_REPLICATION_FACTOR
  value: {{ $root.Values.kafka.replicationFactor | quote }}
{{- with $root.Values.topicPrefix }}
- name: {{ $prefix }}_TOPIC_PREFIX
  value: {{ . | quote }}
{{- end }}
- name: {{ $prefix }}_LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
{{- with $root.Values.otlpEndpoint }}
- name: {{ $prefix }}_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: {{ $prefix }}_JWT_ALGORITHM
  value: {{ $root.Values.jwt.algorithm | quote }}
{{- if eq $root.Values.jwt.algorithm "RS256" }}
- name: {{ $prefix }}_JWT_JWKS
  value: {{ $root.Values.jwt.jwksUrl | default "/etc/harbin/jwks/jwks.json" | quote }}
{{- else }}
- name: {{ $prefix }}_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.jwt.secretName }}
      key: {{ $root.Values.jwt.secretKey }}
{{- end }}
- name: {{ $prefix }}_AUDIT_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.auditKeySecret }}
      key: {{ $root.Values.auditKeySecretKey }}
{{- if has $name (list "registry" "office") }}
- name: {{ $prefix }}_SEAL_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ $root.Values.sealKeysSecret }}
      key: {{ $root.Values.sealKeysSecretKey }}
{{- end }}
{{- range $key, $value := .spec.env }}
- name: {{ printf "%s_%s" $prefix (upper $key) }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* What the containers mount: /tmp, the brokers' CA, the issuer's public keys (each when used). */}}
{{- define "harbin.volumes" -}}
- name: tmp
  emptyDir: {}
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.caSecret }}
    items:
      - key: {{ .Values.kafka.caSecretKey }}
        path: ca.crt
{{- end }}
{{- if and (eq .Values.jwt.algorithm "RS256") (not .Values.jwt.jwksUrl) }}
- name: jwks
  configMap:
    name: {{ required "jwt.jwksUrl or jwt.jwksConfigMap: where the issuer's public keys are, for RS256" .Values.jwt.jwksConfigMap }}
    items:
      - key: jwks.json
        path: jwks.json
{{- end }}
{{- end -}}

{{- define "harbin.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if has .Values.kafka.securityProtocol (list "SSL" "SASL_SSL") }}
- name: kafka-ca
  mountPath: /etc/kafka/tls
  readOnly: true
{{- end }}
{{- if and (eq .Values.jwt.algorithm "RS256") (not .Values.jwt.jwksUrl) }}
- name: jwks
  mountPath: /etc/harbin/jwks
  readOnly: true
{{- end }}
{{- end -}}

{{/* Pod security the image allows: it runs as uid 10001 and writes nothing but /tmp. */}}
{{- define "harbin.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "harbin.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* What the chart cannot allow, said before anything is applied. */}}
{{- define "harbin.checks" -}}
{{- $partitions := int .Values.kafka.partitions -}}
{{- if lt $partitions 1 }}{{ fail "kafka.partitions must be at least 1" }}{{ end -}}
{{- if gt (int .Values.autoscaling.maxReplicas) $partitions -}}
{{- fail (printf "autoscaling.maxReplicas (%v) is above kafka.partitions (%v): a replica beyond the partitions holds none and only slows every rebalance" .Values.autoscaling.maxReplicas $partitions) -}}
{{- end -}}
{{- if gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas) -}}
{{- fail "autoscaling.minReplicas is above autoscaling.maxReplicas" -}}
{{- end -}}
{{- if not (has .Values.kafka.topics.create (list "job" "strimzi" "none")) -}}
{{- fail "kafka.topics.create is job, strimzi or none" -}}
{{- end -}}
{{- if not (has .Values.kafka.securityProtocol (list "PLAINTEXT" "SSL" "SASL_PLAINTEXT" "SASL_SSL")) -}}
{{- fail "kafka.securityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL" -}}
{{- end -}}
{{- if not (has .Values.autoscaling.kind (list "keda" "hpa")) -}}
{{- fail "autoscaling.kind is keda or hpa" -}}
{{- end -}}
{{- end -}}
