#!/usr/bin/env bash
# Run the whole system locally: a virtualenv, a real Kafka broker, migrations, and every service (the
# registry, the six bureaus, the office) on its port (8001–8008, shared/services.py), each on its own
# SQLite database under .run/db. Stop it with scripts/down.sh.
#   KAFKA_PORT (9092): the broker's port, for a second copy beside a broker already on 9092; the services
#   are pointed at it (<SERVICE>_KAFKA_BOOTSTRAP_SERVERS, unless set) and down.sh stops that broker.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. scripts/services.sh

export KAFKA_PORT=${KAFKA_PORT:-9092}
scripts/kafka.sh start
mkdir -p .run/logs .run/pids .run/db
echo "$KAFKA_PORT" >.run/kafka.port   # for scripts/down.sh, which stops this broker

for entry in $SERVICES; do
  service=${entry%%:*}; port=${entry##*:}
  pid_file=.run/pids/$service.pid
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    echo "up: $service already running (pid $(cat "$pid_file"))"; continue
  fi
  # Without this a service would reach the broker on 9092, whatever KAFKA_PORT started.
  kafka_var="$(echo "$service" | tr '[:lower:]' '[:upper:]')_KAFKA_BOOTSTRAP_SERVERS"
  export "$kafka_var=${!kafka_var:-127.0.0.1:$KAFKA_PORT}"
  python -m shared.migrations "$service" >>.run/logs/migrations.log 2>&1
  nohup uvicorn --factory "services.$service.main:create_app" --host 127.0.0.1 --port "$port" \
    --no-access-log >>".run/logs/$service.log" 2>&1 &
  echo $! >"$pid_file"
done

for entry in $SERVICES; do
  service=${entry%%:*}; port=${entry##*:}
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$(cat ".run/pids/$service.pid")" 2>/dev/null; then
      echo "up: $service exited; see .run/logs/$service.log" >&2; tail -20 ".run/logs/$service.log" >&2; exit 1
    fi
    sleep 0.5
  done
done

echo
echo "All the services are up, on Kafka at 127.0.0.1:$KAFKA_PORT and SQLite under .run/db:"
for entry in $SERVICES; do
  service=${entry%%:*}; port=${entry##*:}
  printf '  %-11s http://127.0.0.1:%s/docs\n' "$service" "$port"
done
echo "Logs: .run/logs/    Stop everything: scripts/down.sh"
if [ "$KAFKA_PORT" != 9092 ]; then echo "For harbin-ops dlq: export HARBIN_KAFKA=127.0.0.1:$KAFKA_PORT"; fi
echo
echo "Bearer tokens for local use (development secret; mint others with: python -m shared.auth --help):"
python -m shared.auth --local
