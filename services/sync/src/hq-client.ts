import type { BatchResult, Catalog, DayManifest, ManifestResult, ReplayRequest, SyncBatch } from '@tillstream/contracts';

/** HQ could not take the request now (unreachable, 5xx, 429, 409 in flight): try again, no sooner than `retryAfterMs` if HQ said so. */
export class HqUnavailable extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'HqUnavailable';
  }
}

/** HQ refused the request (4xx other than 409/429): a bug or a misconfiguration (credentials) that retrying alone will not fix. */
export class HqRejected extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly problem: unknown,
  ) {
    super(message);
    this.name = 'HqRejected';
  }
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export interface HqClientOptions {
  url: string;
  storeId: string;
  token: string;
  timeoutMs: number;
  /** Told about every request's outcome: the store's sync status shows whether HQ is reachable. */
  onOutcome?(reachable: boolean, error?: string): void;
}

/** The store's side of HQ's API. */
export class HqClient {
  /** HQ asked for quiet until then (Retry-After): every request of this store waits, not only the one that was told. */
  private notBefore = 0;

  constructor(private readonly options: HqClientOptions) {}

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T | undefined }> {
    const { url, storeId, token, timeoutMs } = this.options;
    const quiet = this.notBefore - Date.now();
    if (quiet > 0) throw new HqUnavailable(`HQ asked to retry after ${new Date(this.notBefore).toISOString()}`, quiet, undefined);
    let res: Response;
    try {
      res = await fetch(`${url}/v1/stores/${encodeURIComponent(storeId)}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const message = `HQ unreachable: ${(err as Error).message}`;
      this.options.onOutcome?.(false, message);
      throw new HqUnavailable(message, undefined, undefined);
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as T) : undefined;
    if (res.status === 409 || res.status === 429 || res.status >= 500) {
      const message = `HQ answered ${res.status} to ${method} ${path}`;
      const after = retryAfterMs(res.headers.get('retry-after'));
      // 409 is about one batch (a copy in flight); 429 and 503 are about the whole store.
      if (after !== undefined && res.status !== 409) this.notBefore = Math.max(this.notBefore, Date.now() + after);
      this.options.onOutcome?.(false, message);
      throw new HqUnavailable(message, after, res.status);
    }
    if (res.status >= 400 && res.status !== 404) {
      const message = `HQ refused ${method} ${path} with ${res.status}: ${(parsed as { detail?: string } | undefined)?.detail ?? text}`;
      this.options.onOutcome?.(true, message);
      throw new HqRejected(message, res.status, parsed);
    }
    this.options.onOutcome?.(true);
    return { status: res.status, body: parsed };
  }

  async uploadBatch(batch: SyncBatch): Promise<{ result: BatchResult; replayed: boolean }> {
    const { status, body } = await this.request<BatchResult>('POST', '/batches', batch, { 'idempotency-key': batch.batchId });
    if (status === 404) throw new HqRejected('HQ has no batch endpoint for this store', status, body);
    return { result: body!, replayed: status === 200 };
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

  /** HQ's latest catalog, or undefined when HQ has not published one. */
  async catalog(): Promise<Catalog | undefined> {
    const { status, body } = await this.request<Catalog>('GET', '/catalog');
    return status === 404 ? undefined : body;
  }

  async acknowledgeCatalog(version: number): Promise<void> {
    await this.request('POST', '/catalog/acks', { version });
  }
}
