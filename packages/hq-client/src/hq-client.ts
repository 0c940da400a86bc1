import { Agent, fetch, type Dispatcher } from 'undici';
import { backoffDelay } from '@tillstream/backoff';
import { HqReadsV1, SyncLimitsV1, TillstreamError, type HqReads, type BatchResult, type Catalog, type DayManifest, type ManifestResult, type ReplayRequest, type SyncBatch, type SyncLimits } from '@tillstream/contracts';

/** HQ could not take the request now (unreachable, 5xx, 429, 409 in flight): try again, no sooner than `retryAfterMs` if HQ said so. */
export class HqUnavailable extends TillstreamError {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
    readonly status: number | undefined,
  ) {
    super('HQ_UNAVAILABLE', message);
    this.name = 'HqUnavailable';
  }
}

/**
 * Statuses by which HQ refuses what a batch carries (a record too large, a
 * value its validation rejects), not who sent it or how: 401/403 are
 * credentials, 404/405 a wrong endpoint, 415 a wrong content type, 408/409/429
 * mean later. A batch refused so is split to isolate the records refused.
 */
export function refusesContent(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 404, 405, 408, 409, 415, 429].includes(status);
}

/** HQ refused the request (4xx other than 409/429): a bug or a misconfiguration (credentials) that retrying alone will not fix. */
export class HqRejected extends TillstreamError {
  constructor(
    message: string,
    readonly status: number,
    readonly problem: unknown,
  ) {
    super('HQ_REJECTED', message);
    this.name = 'HqRejected';
  }
}

function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A request body already serialised as JSON. */
export class PreparedJson {
  constructor(readonly json: string) {}
}

export interface RetrySettings {
  baseMs: number;
  maxMs: number;
}

/** The retry schedule (@tillstream/backoff) in sync's settings: half to all of base * 2^(failures-1), at most maxMs. */
export function backoffMs(failures: number, retry: RetrySettings, random = Math.random): number {
  return backoffDelay(failures, { initialMs: retry.baseMs, maxMs: retry.maxMs, random });
}

/** The store's side of mutual TLS: its client certificate, and the CA HQ's server certificate must chain to. */
export interface HqTls {
  /** PEM client certificate (subject CN = the store id), issued by `tillstream store add`. */
  cert: string;
  key: string;
  /** PEM CA for HQ's server certificate; default Node's trusted CAs (with NODE_EXTRA_CA_CERTS). */
  ca?: string;
}

export interface HqClientOptions {
  url: string;
  storeId: string;
  token: string;
  /** Required for an https:// url: HQ refuses a store without its client certificate. */
  tls?: HqTls;
  timeoutMs: number;
  /** Store-wide backoff after HQ failed (unreachable, 5xx without Retry-After). */
  retry: RetrySettings;
  /** Told about every request's outcome: the store's sync status shows whether HQ is reachable. */
  onOutcome?(reachable: boolean, error?: string): void;
  /** Epoch milliseconds; default Date.now. Tests move it to end a quiet period without waiting it out. */
  now?: () => number;
}

/** The store's side of HQ's API. */
export class HqClient {
  /**
   * No request to HQ before then: HQ asked for quiet (Retry-After), or it
   * failed and the store backs off. Store-wide, so a queue of a thousand
   * waiting uploads still makes one request per backoff period, not one each.
   */
  private notBefore = 0;
  /** HQ failures in a row (reset by any answer that is not a failure). */
  private failures = 0;
  /** What HQ last said it takes in one upload (GET /limits); undefined until it said. */
  knownLimits: SyncLimits | undefined;

  private readonly now: () => number;

  /**
   * undici's own Agent (fetch with a dispatcher): Node's global fetch takes
   * no client certificate. One keep-alive pool, so a store's uploads share
   * their TLS sessions instead of a handshake each.
   */
  private readonly dispatcher: Dispatcher | undefined;

  constructor(private readonly options: HqClientOptions) {
    this.now = options.now ?? Date.now;
    if (options.tls) {
      const { cert, key, ca } = options.tls;
      this.dispatcher = new Agent({ connect: { cert, key, ...(ca ? { ca } : {}) } });
    }
  }

  /** Closes the connections to HQ (the service's stop, after the uploads were waited for or given up). */
  async close(): Promise<void> {
    await this.dispatcher?.destroy();
  }

  /**
   * While HQ is failing, one request at a time finds out whether it is back:
   * the store's chores run side by side (issue 13 item 8), and without this
   * each would ask at the end of every quiet, not one.
   */
  private probing = false;

  /** `body` is sent as JSON; a `PreparedJson` is sent as it is (a batch body built by PostgreSQL). */
  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T | undefined }> {
    const quiet = this.notBefore - this.now();
    if (quiet > 0) throw new HqUnavailable(`not asking HQ again before ${new Date(this.notBefore).toISOString()} (backing off)`, quiet, undefined);
    if (this.failures === 0) return this.send<T>(method, path, body, headers);
    if (this.probing) throw new HqUnavailable('HQ failed last time; a request in flight is finding out whether it is back', this.options.retry.baseMs, undefined);
    this.probing = true;
    try {
      return await this.send<T>(method, path, body, headers);
    } finally {
      this.probing = false;
    }
  }

  private async send<T>(method: 'GET' | 'POST', path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: T | undefined }> {
    const { url, storeId, token, timeoutMs } = this.options;
    let res: Awaited<ReturnType<typeof fetch>>;
    try {
      res = await fetch(`${url}/v1/stores/${encodeURIComponent(storeId)}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: body instanceof PreparedJson ? body.json : JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
    } catch (err) {
      const message = `HQ unreachable: ${(err as Error).message}`;
      this.options.onOutcome?.(false, message);
      throw new HqUnavailable(message, this.backOff(), undefined);
    }
    const text = await res.text();
    let parsed: T | undefined;
    try {
      parsed = text ? (JSON.parse(text) as T) : undefined;
    } catch {
      parsed = undefined; // not JSON (a proxy's error page): the status decides
    }
    if (res.status === 409 || res.status === 429 || res.status >= 500) {
      const message = `HQ answered ${res.status} to ${method} ${path}`;
      const told = retryAfterMs(res.headers.get('retry-after'), this.now());
      this.options.onOutcome?.(false, message);
      // 409 is about one batch (a copy in flight); 429 and 5xx are about the whole store.
      if (res.status === 409) throw new HqUnavailable(message, told, res.status);
      throw new HqUnavailable(message, this.backOff(told), res.status);
    }
    this.failures = 0;
    if (res.status >= 400 && res.status !== 404) {
      const message = `HQ refused ${method} ${path} with ${res.status}: ${(parsed as { detail?: string } | undefined)?.detail ?? text}`;
      this.options.onOutcome?.(true, message);
      throw new HqRejected(message, res.status, parsed);
    }
    this.options.onOutcome?.(true);
    return { status: res.status, body: parsed };
  }

  /** Starts (or extends) the store-wide quiet after a failure: HQ's Retry-After if it sent one, else the backoff; returns its length. */
  private backOff(told?: number): number {
    this.failures += 1;
    const quiet = told ?? backoffMs(this.failures, this.options.retry);
    this.notBefore = Math.max(this.notBefore, this.now() + quiet);
    return quiet;
  }

  /** Uploads a batch: the object, or its JSON already serialised (`PreparedJson`, with its batch id). */
  async uploadBatch(batch: SyncBatch | { batchId: string; prepared: PreparedJson }): Promise<{ result: BatchResult; replayed: boolean }> {
    const body = 'prepared' in batch ? batch.prepared : batch;
    // HQ's request lines name the batch (its transactions' own ids travel inside it, as `requestId`).
    const { status, body: result } = await this.request<BatchResult>('POST', '/batches', body, { 'idempotency-key': batch.batchId, 'x-request-id': batch.batchId });
    if (status === 404) throw new HqRejected('HQ has no batch endpoint for this store', status, result);
    return { result: result!, replayed: status === 200 };
  }

  async sendManifest(manifest: DayManifest): Promise<ManifestResult> {
    return (await this.request<ManifestResult>('POST', '/manifests', manifest)).body!;
  }

  async heartbeat(backlog: SyncBatch['backlog']): Promise<void> {
    await this.request('POST', '/heartbeat', { backlog });
  }

  async replayRequests(): Promise<ReplayRequest[]> {
    return (await this.request<{ replayRequests: ReplayRequest[] }>('GET', '/replay-requests')).body?.replayRequests ?? [];
  }

  /** What HQ takes in one upload, or undefined from an HQ that does not publish it (404). */
  async limits(): Promise<SyncLimits | undefined> {
    const { status, body } = await this.request<unknown>('GET', '/limits');
    if (status !== 404) this.knownLimits = SyncLimitsV1.parse(body);
    return this.knownLimits;
  }

  /** What HQ's views read of the uploads, or undefined from an HQ that does not declare it (404: upload everything). */
  async reads(): Promise<HqReads | undefined> {
    const { status, body } = await this.request<unknown>('GET', '/reads');
    return status === 404 ? undefined : HqReadsV1.parse(body);
  }

  /** HQ's latest catalog, or undefined when HQ has not published one. */
  async catalog(): Promise<Catalog | undefined> {
    const { status, body } = await this.request<Catalog>('GET', '/catalog');
    return status === 404 ? undefined : body;
  }

  async acknowledgeCatalog(version: number): Promise<void> {
    await this.request('POST', '/catalog/acks', { version });
  }
}
