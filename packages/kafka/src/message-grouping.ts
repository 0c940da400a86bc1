import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 groups a produce call's messages by partition with
 * `reduce`, copying the partition's array for every message
 * (`[...current, message]`): quadratic in the messages per partition. For a
 * trends publishing round (a request holds up to 1 MiB: some 1,400 window
 * events of ~730 bytes) that was 950 ms of a 300,000-line catch-up's
 * profile, 576,204 events: 1.6 µs per event
 * (BENCHMARKS.md, issue 19). `groupMessagesPerPartition` builds the same
 * object in one pass.
 *
 * kafkajs' producer takes the function from `require()` when it is first
 * loaded, so the module's cached exports must be replaced before that: this
 * module is the first import of client.ts (and so of @tillstream/kafka, the
 * only importer of kafkajs). If the producer was loaded already,
 * `useLinearMessageGrouping` says so and kafkajs' own stays.
 */

interface GroupingInput<M> {
  topic: string;
  partitionMetadata: readonly unknown[];
  messages: readonly M[];
  partitioner: (args: { topic: string; partitionMetadata: readonly unknown[]; message: M }) => number;
}

type Grouping = <M>(input: GroupingInput<M>) => Record<number, M[]>;

const require = createRequire(import.meta.url);
const GROUPING_MODULE = 'kafkajs/src/producer/groupMessagesPerPartition.js';
const SEND_MESSAGES_MODULE = 'kafkajs/src/producer/sendMessages.js';
const PATCHED = Symbol.for('tillstream.kafkajs.linearMessageGrouping');

/** kafkajs' own, kept for the unit test's comparison. */
export const kafkajsGroupMessagesPerPartition: Grouping = require(GROUPING_MODULE) as Grouping;

/** The messages by the partition the partitioner gives each, in their order: kafkajs' result, in one pass. */
export function groupMessagesPerPartition<M>({ topic, partitionMetadata, messages, partitioner }: GroupingInput<M>): Record<number, M[]> {
  const result: Record<number, M[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) (result[partitioner({ topic, partitionMetadata, message })] ??= []).push(message);
  return result;
}

/** Puts groupMessagesPerPartition in kafkajs' place; true if it is in place (now or before). */
export function useLinearMessageGrouping(): boolean {
  const cached = require.cache[require.resolve(GROUPING_MODULE)];
  if (!cached) return false;
  if ((cached.exports as { [PATCHED]?: true })[PATCHED]) return true;
  if (require.cache[require.resolve(SEND_MESSAGES_MODULE)]) return false; // the producer holds kafkajs' function already
  cached.exports = Object.assign(groupMessagesPerPartition, { [PATCHED]: true as const });
  return true;
}

useLinearMessageGrouping();
