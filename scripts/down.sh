#!/usr/bin/env bash
# Stop what scripts/up.sh started: the services, then Kafka. Data under .run/ is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/services.sh
for entry in $SERVICES; do
  service=${entry%%:*}
  pid_file=.run/pids/$service.pid
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    kill "$(cat "$pid_file")"
    for _ in $(seq 1 40); do kill -0 "$(cat "$pid_file")" 2>/dev/null || break; sleep 0.25; done
    echo "down: stopped $service"
  fi
  rm -f "$pid_file"
done
# The broker up.sh started, on the port it recorded (KAFKA_PORT overrides).
if [ -z "${KAFKA_PORT:-}" ] && [ -f .run/kafka.port ]; then KAFKA_PORT=$(cat .run/kafka.port); fi
KAFKA_PORT=${KAFKA_PORT:-9092} scripts/kafka.sh stop
rm -f .run/kafka.port
