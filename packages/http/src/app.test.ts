import { Agent, request } from 'node:http';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { listen } from './app.ts';

describe('listen().close', () => {
  it('stops even while a keep-alive client keeps sending requests back to back, answering what is in progress', async () => {
    const app = express();
    app.get('/x', (_req, res) => void setTimeout(() => res.json({ ok: true }), 5));
    const server = await listen(app, '127.0.0.1', 0);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const statuses: number[] = [];
    let sending = true;
    let warmedUp: () => void = () => undefined;
    const fourAnswered = new Promise<void>((resolve) => (warmedUp = resolve));
    const client = (async () => {
      while (sending) {
        const status = await new Promise<number>((resolve) => {
          const req = request(`${server.url}/x`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', () => resolve(0));
          req.end();
        });
        statuses.push(status);
        if (statuses.length === 4) warmedUp();
        if (status === 0) sending = false; // the server went away
      }
    })();
    await fourAnswered; // the client is in its back-to-back stride on one kept-alive connection
    const outcome = await Promise.race([server.close().then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still open after 5 s'), 5000))]);
    sending = false;
    await client;
    agent.destroy();
    expect(outcome).toBe('closed');
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(3);
    expect(statuses.every((s) => s === 200 || s === 0)).toBe(true);
  });
});
