import { Agent, request } from 'node:http';
import { percentile } from './harness.ts';

export interface OpenModelResult {
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
}

/**
 * Fixed-rate, open-model load: request i is due at start + i/rate whether or
 * not earlier ones have answered, and its latency counts from when it was
 * due (so a stalled server cannot hide its stall: no coordinated omission).
 *
 * autocannon's `overallRate` is not this: each connection sends its quota
 * for the second back to back and then waits for the next second
 * (lib/httpClient.js), so "500/s over 50 connections" is a burst of 50
 * concurrent streams at full speed at the top of every second.
 */
export async function openModelLoad(options: {
  url: string;
  rate: number;
  seconds: number;
  headers: Record<string, string>;
  /** Extra headers of request `index` (e.g. one terminal's token in turn). */
  headersOf?: (index: number) => Record<string, string>;
  /** The body of request `index` (0, 1, 2, ... in the order they are sent). */
  body: (index: number) => string;
  maxSockets?: number;
  /** Called as each answer arrives, with its body (e.g. to follow a request's effect downstream). */
  onAnswered?: (index: number, status: number, body: string) => void;
}): Promise<OpenModelResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 256 });
  const interval = 1000 / options.rate;
  const total = Math.round(options.rate * options.seconds);
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let finished = 0;
    const finish = () => {
      if (++finished === total) resolve();
    };
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) {
        const intended = start + sent * interval;
        const index = sent++;
        const payload = options.body(index);
        const req = request(options.url, { method: 'POST', agent, headers: { ...options.headers, ...options.headersOf?.(index), 'content-length': Buffer.byteLength(payload) } }, (res) => {
          const chunks: Buffer[] = [];
          if (options.onAnswered) res.on('data', (chunk: Buffer) => chunks.push(chunk));
          else res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - intended);
            if ((res.statusCode ?? 0) >= 300) non2xx++;
            options.onAnswered?.(index, res.statusCode ?? 0, Buffer.concat(chunks).toString());
            finish();
          });
        });
        req.on('error', () => {
          errors++;
          finish();
        });
        req.end(payload);
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
    };
    tick();
  });
  agent.destroy();
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    requests: total,
    rps: total / ((performance.now() - start) / 1000),
    p50: round(percentile(latencies, 50)),
    p90: round(percentile(latencies, 90)),
    p99: round(percentile(latencies, 99)),
    max: round(Math.max(...latencies)),
    non2xx,
    errors,
  };
}
