import { TillstreamError, syncUploadJobs, type SyncUploadJobs } from '@tillstream/contracts';
import { JobInvalid, TypedQueue, createRedis, createTypedWorker, type Redis, type RedisOptions, type Worker } from '@tillstream/queue';
import { withTransaction, type Pool, type PoolClient } from '@tillstream/db';
import type { Logger } from '@tillstream/observability';
import { HqRejected, HqUnavailable, PreparedJson, backoffMs, refusesContent, type HqClient, type RetrySettings } from './hq-client.ts';
import { backlog, batchRecordsJson, splitRefusedBatch, type Batch } from './outbox.ts';
import { sendReplay } from './replays.ts';

type BatchRow = { batch_id: string; first_id: string; last_id: string };

/** An outbox record HQ refused on its own: its id, HQ's status and code, and what HQ said. */
export interface RefusedRecord {
  outboxId: string;
  status: number;
  /** HQ's problem code ("PAYLOAD_TOO_LARGE", "CARD_NUMBER_DETECTED"), else "HTTP_<status>". */
  code: string;
  refusal: string;
}

export interface UploaderOptions {
  /** redis://<ACL user>@host:port (or rediss://); see redisConnection() for the password and CA. */
  redisUrl: string;
  /** User, password and TLS of the connection (secrets read by the service); the URL then carries none. */
  redisOptions?: RedisLogin;
  queueName: string;
  pool: Pool;
  hq: HqClient;
  storeId: string;
  logger: Logger;
  retry: RetrySettings;
  /** In the transaction that sets an outbox record aside (HQ refused it alone): quarantines it. */
  onSetAside?(client: PoolClient, refused: RefusedRecord): Promise<void>;
}

/**
 * Retry delay of a failed upload: the store-wide quiet the HQ client
 * started (HQ's Retry-After plus up to 20 %, or its backoff), else capped
 * exponential backoff with jitter on the job's own attempts.
 */
export function retryDelayMs(attemptsMade: number, err: unknown, retry: RetrySettings, random = Math.random): number {
  if (err instanceof HqUnavailable && err.retryAfterMs !== undefined) return Math.round(err.retryAfterMs * (1 + 0.2 * random()));
  return backoffMs(attemptsMade, retry, random);
}

/**
 * A Redis error as it may be logged: ioredis attaches the failed command with
 * its arguments, and for AUTH those are the user and the password.
 */
export function loggableRedisError(err: Error): { type: string; message: string } {
  return { type: err.name, message: err.message };
}

/** Redis refused the user (wrong password, disabled user) or a command or key outside its ACL. */
export function isRedisAuthError(err: Error): boolean {
  return /^(WRONGPASS|NOAUTH|NOPERM)\b/.test(err.message);
}

/** How sync logs in to Redis: its ACL user and password, and the server's CA for rediss://. */
export type RedisLogin = Pick<RedisOptions, 'username' | 'password' | 'tls'>;

/** Redis refused sync's login: configuration, not an outage; sync does not start on it. */
export class RedisLoginRefused extends TillstreamError {
  constructor(message: string) {
    super('REDIS_LOGIN_REFUSED', message);
    this.name = 'RedisLoginRefused';
  }
}

/**
 * Logs in once as the URL's user, on a connection of its own, and throws
 * {@link RedisLoginRefused} if Redis refuses (wrong password, disabled user):
 * sync then fails at start with a clear error instead of retrying a login
 * that cannot succeed. Redis away is not a refusal: sync starts without it
 * and uploads once it is back (issue 13 item 8). The password is never in the message.
 */
export async function checkRedisLogin(url: string, options: RedisLogin = {}, timeoutMs = 3000): Promise<void> {
  const u = new URL(url);
  const user = options.username ?? (decodeURIComponent(u.username) || 'default');
  const password = options.password ?? decodeURIComponent(u.password);
  if (!password) return;
  u.username = '';
  u.password = '';
  const redis = createRedis(u.toString(), 'probe', { ...(options.tls ? { tls: options.tls } : {}), connectTimeout: timeoutMs });
  redis.on('error', () => undefined); // Redis away: the uploader copes with that, as before
  try {
    await redis.connect();
    await redis.call('AUTH', user, password);
  } catch (err) {
    if (isRedisAuthError(err as Error)) {
      throw new RedisLoginRefused(`Redis refused the sync user "${user}" (${(err as Error).message.split(' ')[0]}): check REDIS_URL's user and REDIS_PASSWORD_FILE`);
    }
  } finally {
    redis.disconnect();
  }
}

/**
 * Upload jobs on BullMQ. A job's id is its batch id (or "replay-<request>"),
 * so enqueueing the same work twice is a no-op. Attempts are effectively
 * unlimited: an HQ outage of days only stretches the delays, up to maxMs.
 * Redis is only the trigger: the batches, and whether HQ acknowledged them,
 * live in PostgreSQL, and the sweeper re-enqueues whatever is unacknowledged.
 *
 * Order: a job uploads every unacknowledged batch before its own, oldest
 * first, so HQ receives each key's records in the order the store wrote
 * them whichever job runs first; it goes on past its own while it is at it
 * (up to 500 batches), so a backlog drains in one pipelined pass, the next
 * batch read from PostgreSQL while HQ applies the current one.
 */
export class Uploader {
  private readonly queue: TypedQueue<SyncUploadJobs>;
  private readonly worker: Worker;
  private readonly connections: Redis[];
  /** Redis's refusal of the sync user (WRONGPASS, NOPERM), while it lasts; null once a connection is ready. */
  authError: string | null = null;

  constructor(private readonly options: UploaderOptions) {
    const connect = (enableOfflineQueue: boolean) => {
      const redis = createRedis(options.redisUrl, enableOfflineQueue ? 'worker' : 'queue', options.redisOptions);
      redis.on('error', (err) => {
        // A refused login is configuration, not an outage: say so plainly, once per connection attempt streak.
        if (isRedisAuthError(err)) {
          if (this.authError === null) options.logger.error({ err: err.message }, 'Redis refused the sync user: check REDIS_URL\'s user and REDIS_PASSWORD_FILE');
          this.authError = err.message;
        } else options.logger.debug({ err: loggableRedisError(err) }, 'redis connection error');
      });
      redis.on('ready', () => {
        this.authError = null;
      });
      return redis;
    };
    // The worker blocks on its connection: the queue gets its own. The queue's fails fast while
    // Redis is away (no offline queue): an enqueue then fails at once instead of waiting for ever,
    // and the sweeper enqueues again from PostgreSQL once Redis is back (issue 13 item 8).
    this.connections = [connect(false), connect(true)];
    this.queue = new TypedQueue(options.queueName, syncUploadJobs, { connection: this.connections[0]! });
    this.queue.bull.on('error', (err) => options.logger.debug({ err: loggableRedisError(err) }, 'upload queue error'));
    // Job data is validated against the catalog before a handler sees it; a job that does not match fails as poison.
    const handlers = {
      upload: (data: { batchId: string }) => this.upload(data.batchId),
      // "replay" jobs were enqueued by earlier versions; replays are now sent by the sweeper from PostgreSQL.
      replay: (data: Parameters<typeof sendReplay>[1]) => sendReplay(this.options, data),
    };
    this.worker = createTypedWorker(options.queueName, syncUploadJobs, handlers, {
      connection: this.connections[1]!,
      concurrency: 1,
      autorun: false,
      settings: { backoffStrategy: (attemptsMade, _type, err) => retryDelayMs(attemptsMade, err, options.retry) },
    });
    this.worker.on('failed', (job, err) => {
      if (err instanceof JobInvalid) {
        options.logger.error({ job: job?.id, err: err.message }, 'upload job is poison (its data does not match the job catalog); failed without retry (a later upload job takes its batch: each uploads every unacknowledged batch before its own)');
        return;
      }
      const level = err instanceof HqRejected ? 'error' : 'debug';
      options.logger[level]({ job: job?.id, attempt: job?.attemptsMade, err: err.message }, 'upload failed; will retry');
    });
    // A refused login is reported once by the connection's handler above; this would repeat it at every retry.
    this.worker.on('error', (err) => {
      if (!isRedisAuthError(err)) options.logger.warn({ err: loggableRedisError(err) }, 'upload worker error');
    });
  }

  start(): void {
    // run() rejects when its connection is dropped (close() while Redis is away): that is the end of the worker, not a crash.
    this.worker.run().catch((err: unknown) => this.options.logger.warn({ err: loggableRedisError(err as Error) }, 'upload worker stopped'));
  }

  private static readonly JOB = {
    attempts: Number.MAX_SAFE_INTEGER,
    backoff: { type: 'hq' },
    removeOnComplete: true,
    removeOnFail: false,
  } as const;

  /** Enqueues uploads of these batches; those already queued (same id) are left as they are. */
  async enqueue(batches: readonly Pick<Batch, 'batchId'>[]): Promise<void> {
    if (batches.length === 0) return;
    await this.queue.addBulk(batches.map((b) => ({ name: 'upload', data: { batchId: b.batchId }, opts: { ...Uploader.JOB, jobId: b.batchId } })));
  }

  /** Jobs by state, or null while Redis is away (the status page answers without it). */
  async counts(): Promise<Record<string, number> | null> {
    if (this.connections[0]!.status !== 'ready') return null;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 1000)));
    try {
      return await Promise.race([this.queue.bull.getJobCounts('waiting', 'active', 'delayed', 'failed'), late]);
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops taking jobs and closes the queue; if Redis does not answer within
   * `deadlineMs` (it is away) the connections are dropped: a job left
   * active is picked up again as stalled, and the sweeper re-enqueues from
   * PostgreSQL whatever HQ has not acknowledged, so nothing is lost.
   */
  async close(deadlineMs: number): Promise<void> {
    const graceful = (async () => {
      await this.worker.close();
      await this.queue.close();
    })();
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([graceful.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs)))]).catch(() => false);
    clearTimeout(timer);
    if (!closed) this.options.logger.warn({ deadlineMs }, 'Redis did not answer the upload queue\'s close; dropping its connections');
    graceful.catch(() => undefined); // settles (or not) after the connections are dropped
    for (const c of this.connections) c.disconnect();
  }

  /**
   * Makes sure HQ has this batch: uploads every unacknowledged batch in
   * outbox order, this one and all before it at least, and the ones after
   * it too while it is at it (their own jobs then find them acknowledged).
   * The next batch is read while HQ applies the current one. A batch HQ
   * refuses for its content is split (or, alone, set aside) and the upload
   * goes on with its halves and everything after it.
   */
  private async upload(batchId: string): Promise<void> {
    for (;;) {
      const { rows } = await this.options.pool.query<BatchRow>(
        'SELECT batch_id, first_id, last_id FROM sync_batches WHERE acked_at IS NULL AND refused_at IS NULL ORDER BY first_id LIMIT 500',
      );
      if (rows.length > 0 && (await this.uploadInOrder(rows)) === 'refused') continue;
      if (rows.length < 500 || rows.some((r) => r.batch_id === batchId)) return;
    }
  }

  /**
   * Uploads these batches in order, each acknowledged before the next is
   * sent; the next is read while HQ applies the current one. Stops at a
   * batch HQ refused for its content ('refused'), once it is split or set aside.
   */
  private async uploadInOrder(rows: readonly BatchRow[]): Promise<'done' | 'refused'> {
    const { pool, hq } = this.options;
    let { records: behind, oldestAt } = await backlog(pool);
    const prepare = (row: BatchRow) => batchRecordsJson(pool, { firstId: row.first_id, lastId: row.last_id });
    let next: Promise<{ json: string; count: number }> | undefined = prepare(rows[0]!);
    for (const [i, row] of rows.entries()) {
      const records = await next!;
      next = i + 1 < rows.length ? prepare(rows[i + 1]!) : undefined;
      next?.catch(() => undefined); // awaited on the next turn; a failure there is that turn's
      const prepared = new PreparedJson(`{"batchId":${JSON.stringify(row.batch_id)},"records":${records.json},"backlog":${JSON.stringify({ records: behind, oldestAt })}}`);
      try {
        // Over the limit HQ published (a batch cut before HQ lowered it, a record larger than it): HQ's 413, without the upload.
        const bytes = Buffer.byteLength(prepared.json);
        if (bytes > (hq.knownLimits?.batchBodyBytes ?? Infinity)) {
          const limit = (await hq.limits())?.batchBodyBytes ?? Infinity; // HQ may have raised it since: refuse only against what it says now
          if (bytes > limit) throw new HqRejected(`not sent: the batch body is ${bytes} bytes and HQ takes at most ${limit}`, 413, { code: 'PAYLOAD_TOO_LARGE' });
        }
        const { replayed } = await hq.uploadBatch({ batchId: row.batch_id, prepared });
        await pool.query('UPDATE sync_batches SET acked_at = now(), attempts = attempts + 1, last_error = NULL WHERE batch_id = $1', [row.batch_id]);
        behind = Math.max(0, behind - records.count);
        if (behind === 0) oldestAt = null;
        this.options.logger.debug({ batch: row.batch_id, records: records.count, replayed }, 'batch acknowledged by HQ');
      } catch (err) {
        await pool.query('UPDATE sync_batches SET attempts = attempts + 1, last_error = $2 WHERE batch_id = $1', [row.batch_id, (err as Error).message]);
        if (!(err instanceof HqRejected && refusesContent(err.status))) throw err;
        await this.refused(row, err);
        return 'refused';
      }
    }
    return 'done';
  }

  /** HQ refused this batch for what it carries: split it in two, or set its one record aside. */
  private async refused(row: BatchRow, err: HqRejected): Promise<void> {
    const { pool, storeId, logger } = this.options;
    const refusal = err.message;
    const problemCode = (err.problem as { code?: unknown } | undefined)?.code;
    const code = typeof problemCode === 'string' ? problemCode : `HTTP_${err.status}`;
    const outcome = await withTransaction(pool, async (client) => {
      const done = await splitRefusedBatch(client, storeId, row.batch_id, refusal);
      if (done === 'set-aside') await this.options.onSetAside?.(client, { outboxId: row.first_id, status: err.status, code, refusal });
      return done;
    });
    if (outcome === 'split') logger.warn({ batch: row.batch_id, status: err.status, refusal }, 'HQ refused a batch; split in two to isolate the records it refuses');
    if (outcome === 'set-aside') logger.error({ batch: row.batch_id, status: err.status, refusal }, 'HQ refused an outbox record; set aside in quarantine, the upload goes on without it');
  }
}
