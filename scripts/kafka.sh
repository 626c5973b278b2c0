#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft) on 127.0.0.1, from the broker's jars on Maven Central.
#   scripts/kafka.sh start | stop | status | topics
# Environment: KAFKA_PORT (9092; the controller listens on the next port), KAFKA_RUN_DIR (.run/kafka-<port>),
#              KAFKA_PARTITIONS (partitions of each topic when it is created; default in shared/services.py),
#              HARBIN_CACHE (~/.cache/harbin-assistance: where the jars are kept between runs).
# Secured (a test of authentication and ACLs; the compose deployment's broker is configured the same way):
#   KAFKA_SECURITY=sasl_ssl  SASL SCRAM-SHA-512 over TLS, ACLs enforced (StandardAuthorizer), nothing else;
#   KAFKA_SCRAM_USERS="admin:pw registry:pw …" the principals (the first, the admin, a super user);
#   the broker's certificate is signed by a CA made here (python -m shared.kafka_security tls), whose
#   certificate clients trust: $RUN_DIR/tls/ca.pem.
#   Topics and ACLs are then created by the admin: python -m shared.kafka_security setup.
set -euo pipefail
cd "$(dirname "$0")/.."

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' kafka/pom.xml)
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=$((PORT + 1))
RUN_DIR=${KAFKA_RUN_DIR:-$PWD/.run/kafka-$PORT}
CACHE=${HARBIN_CACHE:-$HOME/.cache/harbin-assistance}
LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
PID_FILE="$RUN_DIR/kafka.pid"
TOPIC_NAMES=$(python3 -m shared.services --topics)  # the topics, named once in shared/services.py
read -r -a TOPICS <<<"$TOPIC_NAMES"
PARTITIONS=$(python3 -m shared.services --partitions)  # KAFKA_PARTITIONS, else the default there
SECURITY=${KAFKA_SECURITY:-}
read -r -a SCRAM_USERS <<<"${KAFKA_SCRAM_USERS:-}"

log() { echo "kafka: $*" >&2; }

fetch() {
  if [ -f "$LIBS/.complete" ]; then return; fi
  command -v mvn >/dev/null || { log "Maven is needed to fetch Kafka's jars (apt-get install maven)"; exit 1; }
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  rm -rf "$LIBS"; mkdir -p "$LIBS"
  mvn -q -B -f kafka/pom.xml dependency:copy-dependencies -DoutputDirectory="$LIBS" -DincludeScope=runtime
  touch "$LIBS/.complete"
}

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

java_cp() { java -Xms64m -Xmx256m -Dlog4j2.configurationFile="$PWD/kafka/log4j2.properties" \
            -Dkafka.logs.dir="$RUN_DIR/logs" -cp "$LIBS/*" "$@"; }

listeners() {
  if [ "$SECURITY" != sasl_ssl ]; then
    cat <<PROPS
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
PROPS
    return
  fi
  [ ${#SCRAM_USERS[@]} -gt 0 ] || { log "KAFKA_SECURITY=sasl_ssl needs KAFKA_SCRAM_USERS"; exit 1; }
  local admin=${SCRAM_USERS[0]%%:*} admin_password=${SCRAM_USERS[0]#*:}
  python3 -m shared.kafka_security tls --dir "$RUN_DIR/tls" --host localhost --host 127.0.0.1 >&2
  # Clients reach only SASL_SSL; the controller listener stays on the loopback interface, where the broker
  # talks to its own controller (as ANONYMOUS, hence that super user: no one else can reach it).
  cat <<PROPS
listeners=SASL_SSL://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$PORT
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$admin" password="$admin_password";
ssl.keystore.type=PEM
ssl.keystore.location=$RUN_DIR/tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$RUN_DIR/tls/ca.pem
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:$admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
PROPS
}

configure() {
  mkdir -p "$RUN_DIR/data" "$RUN_DIR/logs"
  local security; security=$(listeners)
  cat > "$RUN_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
$security
log.dirs=$RUN_DIR/data
num.partitions=$PARTITIONS
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created explicitly, with their partitions and retention; a typo must not create one.
auto.create.topics.enable=false
log.retention.hours=-1
# Sized for a small machine (the compose file keeps the broker's defaults): the default 3 network,
# 8 I/O and 10 background threads only contend on two cores. With these and a one-thread GC the
# broker used 12 % less CPU in one pair of 10k-household benchmark runs (a small, uncertain gain).
num.network.threads=2
num.io.threads=2
background.threads=2
PROPS
  if [ ! -f "$RUN_DIR/data/meta.properties" ]; then
    # SCRAM credentials are written with the cluster's first metadata: the admin can then log in at once.
    local scram=() user
    for user in "${SCRAM_USERS[@]}"; do scram+=(--add-scram "SCRAM-SHA-512=[name=${user%%:*},password=${user#*:}]"); done
    java_cp kafka.tools.StorageTool format --cluster-id "$(java_cp kafka.tools.StorageTool random-uuid)" \
      --config "$RUN_DIR/server.properties" --ignore-formatted "${scram[@]}" >/dev/null
  fi
}

create_topics() {
  for topic in "${TOPICS[@]}"; do
    java_cp org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$PORT" --create --if-not-exists \
      --topic "$topic" --partitions "$PARTITIONS" --replication-factor 1 \
      --config retention.ms=-1 --config retention.bytes=-1 >/dev/null
  done
  log "topics ready: ${TOPICS[*]} ($PARTITIONS partitions each, kept forever)"
}

start() {
  if running; then log "already running on 127.0.0.1:$PORT (pid $(cat "$PID_FILE"))"; return; fi
  if listening; then log "something already listens on 127.0.0.1:$PORT; using it"; return; fi
  command -v java >/dev/null || { log "Java 17+ is needed"; exit 1; }
  fetch
  configure
  log "starting Apache Kafka $KAFKA_VERSION (KRaft) on 127.0.0.1:$PORT"
  nohup java -Xms128m -Xmx512m -XX:+UseParallelGC -XX:ParallelGCThreads=1 \
    -Dlog4j2.configurationFile="$PWD/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$RUN_DIR/logs" -cp "$LIBS/*" kafka.Kafka "$RUN_DIR/server.properties" \
    >"$RUN_DIR/logs/stdout.log" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 120); do
    if listening; then
      # A secured broker's topics and ACLs are the admin's to create (python -m shared.kafka_security setup).
      if [ "$SECURITY" != sasl_ssl ]; then create_topics; fi
      return
    fi
    if ! running; then log "broker exited; see $RUN_DIR/logs"; tail -20 "$RUN_DIR/logs/stdout.log" >&2; exit 1; fi
    sleep 0.5
  done
  log "broker did not open 127.0.0.1:$PORT within 60 s; see $RUN_DIR/logs"; exit 1
}

stop() {
  if ! running; then log "not running"; rm -f "$PID_FILE"; return; fi
  local pid; pid=$(cat "$PID_FILE")
  kill "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped"; return; }; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true; rm -f "$PID_FILE"; log "killed"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if running; then log "running on 127.0.0.1:$PORT (pid $(cat "$PID_FILE"))"; else log "not running"; exit 1; fi ;;
  topics) fetch; create_topics ;;
  fetch) fetch ;;
  *) echo "usage: $0 start|stop|status|topics|fetch" >&2; exit 2 ;;
esac
