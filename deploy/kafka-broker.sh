#!/bin/sh
# Starts a KRaft node (apache/kafka image, broker and controller in one JVM)
# the way packages/infra/src/broker.ts serverProperties does locally: clients
# only over SASL_SSL with SCRAM-SHA-512, the controller listener with SASL
# PLAIN (on loopback for a single node; over TLS between the nodes of a
# cluster), StandardAuthorizer denying whatever no ACL allows (the
# `kafka-*-provision` init step grants each service principal its ACLs).
# Used by docker-compose.yml (kafka-store, one node) and
# docker-compose.hq.yml (kafka-hq-1..3, a three-node cluster).
#
# Passwords are compose secrets (/run/secrets/kafka_<principal>), never in a
# committed file or the environment: server.properties is written here, at
# start, into the container's own /tmp with mode 0600.
#   KAFKA_CLUSTER_ID       fixed per broker (`kafka-storage.sh random-uuid`, once)
#   KAFKA_ADVERTISED_HOST  the broker's name on the compose network
#   KAFKA_PRINCIPALS       the service principals whose SCRAM credentials are created at format
# A node of a cluster also sets (defaults: one node):
#   KAFKA_NODE_ID                   1
#   KAFKA_CONTROLLER_QUORUM_VOTERS  1@localhost:9093 (a cluster: every node, id@host:9093)
#   KAFKA_CONTROLLER_LISTEN         localhost:9093 (a cluster: :9093, reached by the other nodes)
#   KAFKA_CONTROLLER_PROTOCOL       SASL_PLAINTEXT (loopback; a cluster: SASL_SSL, its traffic crosses the network)
#   KAFKA_REPLICATION_FACTOR        1 (defaults and internal topics: __consumer_offsets, __transaction_state)
#   KAFKA_MIN_INSYNC_REPLICAS       1
# Secrets are made with `openssl rand -hex 32` (no quote, comma or bracket
# can break the properties file or --add-scram).
set -eu
umask 077
: "${KAFKA_CLUSTER_ID:?}" "${KAFKA_ADVERTISED_HOST:?}" "${KAFKA_PRINCIPALS:?}"
node_id=${KAFKA_NODE_ID:-1}
voters=${KAFKA_CONTROLLER_QUORUM_VOTERS:-1@localhost:9093}
controller_listen=${KAFKA_CONTROLLER_LISTEN:-localhost:9093}
controller_protocol=${KAFKA_CONTROLLER_PROTOCOL:-SASL_PLAINTEXT}
replication=${KAFKA_REPLICATION_FACTOR:-1}
min_isr=${KAFKA_MIN_INSYNC_REPLICAS:-1}
secret() { tr -d '\r\n' < "/run/secrets/kafka_$1"; }
admin=$(secret admin)
controller=$(secret controller)
dir=/tmp/kafka
mkdir -p "$dir"
props="$dir/server.properties"

cat > "$props" <<PROPS
process.roles=broker,controller
node.id=${node_id}
controller.quorum.voters=${voters}
controller.listener.names=CONTROLLER
listeners=SASL_SSL://:9092,CONTROLLER://${controller_listen}
advertised.listeners=SASL_SSL://${KAFKA_ADVERTISED_HOST}:9092
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:${controller_protocol}
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${admin}";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="controller" password="${controller}" user_controller="${controller}";
ssl.keystore.type=PEM
ssl.keystore.location=/etc/kafka/secrets/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/secrets/ca.crt
ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller
log.dirs=/var/lib/kafka/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=${replication}
min.insync.replicas=${min_isr}
offsets.topic.replication.factor=${replication}
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=${replication}
transaction.state.log.min.isr=${min_isr}
transaction.state.log.num.partitions=5
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=33554432
PROPS

# The healthcheck's client (kafka-broker-api-versions.sh --command-config): admin over SASL_SSL to localhost.
cat > "$dir/admin.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${admin}";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/secrets/ca.crt
PROPS

# SCRAM credentials live in the cluster metadata: written by the first format
# (--ignore-formatted: a restart keeps the data and the credentials as they are).
set --
for principal in admin $KAFKA_PRINCIPALS; do
  set -- "$@" --add-scram "SCRAM-SHA-512=[name=${principal},password=$(secret "$principal")]"
done
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t "$KAFKA_CLUSTER_ID" -c "$props" "$@"
exec /opt/kafka/bin/kafka-server-start.sh "$props"
