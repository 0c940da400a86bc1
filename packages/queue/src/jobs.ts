import type { EventEmitter } from 'node:events';
import { Queue, UnrecoverableError, Worker, type Job, type JobsOptions, type QueueOptions, type WorkerOptions } from 'bullmq';
import type { ErrorCode, JobCatalog, JobData } from '@tillstream/contracts';

export { Queue, QueueEvents, UnrecoverableError, Worker, type Job, type JobsOptions, type Processor, type QueueOptions, type WorkerOptions } from 'bullmq';

/**
 * Job data that does not match its queue's catalog: refused when it is
 * added, and, when a worker takes it, the job fails at once as poison
 * (an UnrecoverableError: BullMQ does not retry it, it stays in "failed"
 * to be seen) instead of being cast and misread. Never retriable.
 */
export class JobInvalid extends UnrecoverableError {
  // BullMQ needs an UnrecoverableError, so this cannot extend TillstreamError; it carries the same registry fields.
  readonly code: ErrorCode = 'JOB_INVALID';
  readonly retriable = false;

  constructor(message: string) {
    super(message);
    this.name = 'UnrecoverableError'; // what BullMQ checks to skip the retries
  }
}

/** `data` checked against job `name`'s schema in `catalog`; throws {@link JobInvalid}. */
export function parseJobData<C extends JobCatalog, N extends keyof C & string>(catalog: C, queue: string, name: N, data: unknown): JobData<C, N> {
  const schema = Object.hasOwn(catalog, name) ? catalog[name] : undefined;
  if (!schema) throw new JobInvalid(`queue ${queue} has no job named "${name}"`);
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`).join('; ');
    throw new JobInvalid(`job "${name}" on queue ${queue} does not match its schema: ${where}`);
  }
  return parsed.data as JobData<C, N>;
}

/** One job to add: a name of the catalog and its data. */
export type JobOf<C extends JobCatalog> = { [N in keyof C & string]: { name: N; data: JobData<C, N>; opts?: JobsOptions } }[keyof C & string];

/**
 * A BullMQ queue whose jobs are those of one catalog: every add is
 * validated first, so nothing outside the catalog's shapes reaches Redis.
 * `bull` is the queue itself, for what this wrapper does not cover.
 */
export class TypedQueue<C extends JobCatalog> {
  readonly bull: Queue;

  constructor(
    readonly name: string,
    readonly catalog: C,
    options: QueueOptions,
  ) {
    this.bull = new Queue(name, options);
    quietAfterClose(this.bull);
  }

  async add<N extends keyof C & string>(name: N, data: JobData<C, N>, opts?: JobsOptions): Promise<Job> {
    return this.bull.add(name, parseJobData(this.catalog, this.name, name, data), opts);
  }

  async addBulk(jobs: readonly JobOf<C>[]): Promise<Job[]> {
    return this.bull.addBulk(jobs.map((j) => ({ name: j.name, data: parseJobData(this.catalog, this.name, j.name, j.data), ...(j.opts ? { opts: j.opts } : {}) })));
  }

  async close(): Promise<void> {
    await this.bull.close();
  }
}

/** A handler per job name of the catalog, given the job's validated data. */
export type JobHandlers<C extends JobCatalog, R = unknown> = { [N in keyof C & string]: (data: JobData<C, N>, job: Job) => Promise<R> };

/**
 * A BullMQ worker for one catalog: each job's data is validated against its
 * name's schema before its handler sees it; a job that does not match (or
 * whose name the catalog lacks) fails as poison ({@link JobInvalid}), never
 * retried, never cast.
 */
export function createTypedWorker<C extends JobCatalog, R = unknown>(name: string, catalog: C, handlers: JobHandlers<C, R>, options: WorkerOptions): Worker {
  return quietAfterClose(new Worker(
    name,
    async (job: Job) => {
      const jobName = job.name as keyof C & string;
      const data = parseJobData(catalog, name, jobName, job.data);
      return handlers[jobName](data, job);
    },
    options,
  ));
}

/**
 * BullMQ's RedisConnection re-emits a failed first connect as 'error' from a
 * promise handler (`initializing.catch(err => this.emit('error', err))`),
 * but close() removes every listener first. Closing a worker or queue while
 * Redis is away (sync's stop during an outage) therefore let the late
 * ECONNREFUSED escape as an uncaught 'error' event and kill the process
 * with exit code 1 instead of a clean stop (seen in test/sync-redis-outage;
 * the upstream family of bugs: taskforcesh/bullmq#4656). An 'error' nobody
 * listens to any more is dropped here: its connection is already closed,
 * and while it is open the queue's or worker's own listeners get it as before.
 */
function quietAfterClose<T extends Queue | Worker>(owner: T): T {
  const connections = [(owner as unknown as { connection?: EventEmitter }).connection, (owner as unknown as { blockingConnection?: EventEmitter }).blockingConnection];
  for (const connection of connections) {
    if (!connection) continue;
    const emit = connection.emit.bind(connection);
    connection.emit = (event: string | symbol, ...args: unknown[]) => (event === 'error' && connection.listenerCount('error') === 0 ? false : emit(event, ...args));
  }
  return owner;
}
