/**
 * The fairness bench's flooding terminal, as its own process: one terminal
 * posting 500-transaction batches (fresh ids each) as fast as it can. Apart
 * from the bench, so that building ~0.3 MB bodies hundreds of times a second
 * does not stall the event loop that times the five sellers' requests (in
 * one process, the flood slowed the measuring as much as the server).
 *
 *   node --import tsx bench/flood.ts <url> <token> <seconds> <connections>
 *
 * Prints one JSON line: { requests, statuses }.
 */
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { makeTransaction } from '@tillstream/testing';

export const FLOOD_BATCH = 500;

const PLACEHOLDER = '00000000-0000-4000-8000-000000000000';
const template = JSON.stringify({ transactions: Array.from({ length: FLOOD_BATCH }, () => ({ ...makeTransaction([{ sku: 'FLOOD' }], { terminalId: 'T6' }), transactionId: PLACEHOLDER })) });
const floodBatch = () => template.replaceAll(PLACEHOLDER, () => randomUUID());

export interface FloodResult {
  requests: number;
  statuses: Record<string, number>;
}

async function main(): Promise<void> {
  const [url, token, seconds, connections] = process.argv.slice(2);
  if (!url || !token || !seconds || !connections) {
    process.stderr.write('usage: flood.ts <url> <token> <seconds> <connections>\n');
    process.exit(2);
  }
  const result = await autocannon({
    url: `${url}/v1/transactions/batch`,
    method: 'POST',
    connections: Number(connections),
    duration: Number(seconds),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    requests: [{ setupRequest: (req) => ({ ...req, body: floodBatch() }) }],
  });
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, s]) => [code, s.count ?? 0]));
  process.stdout.write(`${JSON.stringify({ requests: result.requests.total, statuses } satisfies FloodResult)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
