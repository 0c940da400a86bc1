import { Command, InvalidArgumentError } from 'commander';
import { KAFKA_PRINCIPALS, clusterPlacement, createKafkaClient, kafkaGrants, kafkaSecurityFromEnv, provisionKafka, type KafkaCluster } from '@tillstream/kafka';
import { createLogger } from '@tillstream/observability';
import { cliEnv } from '../env.ts';

function prefix(value: string): string {
  if (!/^[A-Za-z0-9._-]*$/.test(value)) throw new InvalidArgumentError('--prefix must be letters, digits, ".", "_" or "-" (the services\' TOPIC_PREFIX)');
  return value;
}

/**
 * Provisioning of a Kafka cluster: services create no topics and grant
 * themselves nothing, so a store's (or HQ's) topics and each service
 * principal's ACLs come from here (or from `npm run infra:up` locally, from
 * the compose init step in a deployment), from the one declaration
 * packages/kafka kafkaGrants.
 */
export function kafkaCommand(): Command {
  const kafka = new Command('kafka').description("provision a Kafka cluster: topics and each service principal's ACLs");
  kafka
    .command('provision')
    .description(
      "create the store cluster's topics (with --hq: HQ's) under the prefix, with their dead-letter topics, and grant each service principal " +
        'exactly its ACLs on them; idempotent. Connects to KAFKA_BROKERS (--hq: HQ_KAFKA_BROKERS) as KAFKA_SASL_USERNAME, a super user of the broker ' +
        '(with KAFKA_SASL_PASSWORD and KAFKA_TLS_CA_FILE). Topics are placed by the cluster\'s profile (store: replication factor 1; HQ: 3, ' +
        'min.insync.replicas 2, 12 partitions per topic), overridden by KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS and HQ_TOPIC_PARTITIONS; ' +
        'existing topics get their settings and, while empty, their partitions; other drift is reported',
    )
    .option('--hq', "provision HQ's cluster instead of the store's")
    .option('--prefix <prefix>', "topic prefix (the services' TOPIC_PREFIX / HQ_TOPIC_PREFIX)", prefix, '')
    .option('--print', 'print the ACLs it would grant and change nothing')
    .action(async (opts: { hq?: boolean; prefix: string; print?: boolean }) => {
      const cluster: KafkaCluster = opts.hq ? 'hq' : 'store';
      if (opts.print) {
        for (const principal of KAFKA_PRINCIPALS[cluster]) {
          for (const g of kafkaGrants(principal, opts.prefix)) console.log(`User:${principal}\t${g.resource}\t${g.pattern}\t${g.name}\t${g.operations.join(',')}`);
        }
        return;
      }
      const logger = createLogger({ name: 'cli', level: 'warn' });
      const client = createKafkaClient({
        brokers: opts.hq ? cliEnv.HQ_KAFKA_BROKERS : cliEnv.KAFKA_BROKERS,
        clientId: 'tillstream-cli',
        logger,
        security: kafkaSecurityFromEnv(cliEnv),
      });
      const placement = clusterPlacement(cluster, {
        replicationFactor: cliEnv.KAFKA_REPLICATION_FACTOR,
        minInsyncReplicas: cliEnv.KAFKA_MIN_INSYNC_REPLICAS,
        minPartitions: opts.hq ? cliEnv.HQ_TOPIC_PARTITIONS : undefined,
      });
      await provisionKafka({ kafka: client, logger, cluster, prefix: opts.prefix, placement });
      console.log(
        `kafka ${cluster} cluster provisioned${opts.prefix ? ` for prefix "${opts.prefix}"` : ''}: topics (replication factor ${placement.replicationFactor}, ` +
          `min.insync.replicas ${placement.minInsyncReplicas}${placement.minPartitions ? `, ${placement.minPartitions}+ partitions` : ''}) and ACLs of ${KAFKA_PRINCIPALS[cluster].join(', ')}`,
      );
    });
  return kafka;
}
