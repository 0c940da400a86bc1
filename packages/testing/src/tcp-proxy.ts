import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

export interface TcpProxy {
  /** Local port that forwards to the target. */
  port: number;
  /** Simulates the target going away: drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Lets connections through again, on the same port. */
  restore(): Promise<void>;
  /**
   * Holds everything the clients send (connections stay open, nothing
   * reaches the target, so a request sent now never completes): a write
   * frozen mid-flight, deterministically. `cut()` then drops the held bytes
   * for good; `release()` lets them through.
   */
  hold(): void;
  release(): void;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a real service (PostgreSQL, Redis, a
 * broker), for fault injection that touches one test's connections only:
 * cutting it looks to the client exactly like the service dying
 * (connection reset, then connection refused). Closed when the test ends.
 */
export async function tcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let held = false;
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(target);
        const pair = { client, upstream };
        sockets.add(client).add(upstream);
        pairs.add(pair);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
          pairs.delete(pair);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        upstream.pipe(client);
        if (held) client.pause();
        else client.pipe(upstream);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  const close = async () => {
    held = false; // what was held is dropped with its connections
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  };
  await listen();
  onTestFinished(close);
  return {
    get port() {
      return port;
    },
    cut: close,
    restore: listen,
    hold: () => {
      held = true;
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        client.pause();
      }
    },
    release: () => {
      held = false;
      for (const { client, upstream } of pairs) client.pipe(upstream);
    },
  };
}
