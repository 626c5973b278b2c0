#!/bin/bash
# The compose deployment's broker (apache/kafka image): KRaft, one node, clients only over SASL_SSL
# (SCRAM-SHA-512, one principal per service), ACLs enforced. The same settings as scripts/kafka.sh's secured
# broker, which the test suite starts and checks (tests/platform/test_kafka_security.py).
#   Environment: HARBIN_KAFKA_<PRINCIPAL>_PASSWORD for admin, ops and every service; the broker's key and
#   certificate in /etc/kafka/tls (made by the kafka-tls step: python -m shared.kafka_security tls).
set -euo pipefail
DATA=/var/lib/kafka/data
PROPS=/tmp/server.properties
PRINCIPALS=(admin ops registry medical education housing employment utilities legal office)
password() { local name="HARBIN_KAFKA_${1^^}_PASSWORD"; [ -n "${!name:-}" ] || { echo "set $name" >&2; exit 1; }; echo "${!name}"; }

cat >"$PROPS" <<PROPS
process.roles=broker,controller
node.id=1
# The controller listener is on the loopback interface only: the broker talks to its own controller there
# (as ANONYMOUS, hence that super user), and nothing on the network can reach it.
controller.quorum.voters=1@127.0.0.1:9093
controller.listener.names=CONTROLLER
listeners=SASL_SSL://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=SASL_SSL://kafka:9092
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(password admin)";
ssl.keystore.type=PEM
ssl.keystore.location=/etc/kafka/tls/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/tls/ca.pem
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:ANONYMOUS
allow.everyone.if.no.acl.found=false
log.dirs=$DATA
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics are created by the kafka-setup step, each with its retention (shared/kafka.py); a typo creates none.
auto.create.topics.enable=false
log.retention.hours=-1
PROPS

# The principals' SCRAM credentials go in with the cluster's first metadata (a later change of password:
# kafka-configs.sh --alter --add-config 'SCRAM-SHA-512=[password=…]' as admin; docs/security.md).
if [ ! -f "$DATA/meta.properties" ]; then
  scram=()
  for principal in "${PRINCIPALS[@]}"; do
    scram+=(--add-scram "SCRAM-SHA-512=[name=$principal,password=$(password "$principal")]")
  done
  /opt/kafka/bin/kafka-storage.sh format --cluster-id "${CLUSTER_ID:?}" --config "$PROPS" --ignore-formatted "${scram[@]}"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$PROPS"
