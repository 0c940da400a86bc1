import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface ProcessOptions {
  /** Where the process's stdout and stderr go; default: stderr inherited, stdout dropped. */
  logFile?: string;
  /** How long it may take to answer `readyUrl`; default 60 s. */
  timeoutMs?: number;
  /** Headers for `readyUrl`: /readyz wants a viewer's token ("authorization: Bearer ..."); /healthz nothing. */
  readyHeaders?: Record<string, string>;
  /** Extra node flags, e.g. ['--cpu-prof'] (not all are allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
}

/**
 * A service started as its own process, resolved once `readyUrl` answers
 * 2xx. A `.ts` script runs from source under tsx, with workspace packages
 * resolved to their sources too (the "development" export condition); a
 * built `.js` one (dist/main.js) under plain node, as production runs it. The demo runs the chain
 * this way; crash tests SIGKILL it; benchmarks keep the load generator off
 * its event loop.
 */
export async function startProcess(script: string, env: Record<string, string>, readyUrl: string, options: ProcessOptions = {}): Promise<ChildProcess> {
  const output = options.logFile ? openSync(options.logFile, 'a') : undefined;
  const runtime = script.endsWith('.ts') ? ['--conditions=development', '--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...runtime, script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', output ?? 'ignore', output ?? 'inherit'],
  });
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}${options.logFile ? `; see ${options.logFile}` : ''}`);
    try {
      if ((await fetch(readyUrl, { headers: options.readyHeaders ?? {} })).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${script} did not become ready at ${readyUrl}`);
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** SIGKILL: no cleanup, no flush, as a power cut or the OOM killer would. */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** A TCP port nobody listens on right now (for a child process that must be told its port). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
