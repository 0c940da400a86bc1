import { randomBytes } from 'node:crypto';

/**
 * A name no other test (or test run) uses: every test owns its topics,
 * groups, queues and databases, so tests run in parallel and leave nothing
 * shared behind. Lower-case letters, digits and "_" fit every namespace
 * (PostgreSQL identifiers, Kafka topics, BullMQ queues).
 */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`.toLowerCase();
}
