// The Tillstream image's HEALTHCHECK: GET /healthz on the service's own
// listener. The port and the scheme are the service's, read the way the
// service reads them: its env schema (dist/env.js) gives PORT's default,
// and TLS_CERT_FILE set means HTTPS (verified with NODE_EXTRA_CA_CERTS, the
// chain CA the compose files hand every service). An image without a
// service (the operator CLI's: no PORT in its settings) is always healthy.
/* global process, fetch, AbortSignal, URL */
/* eslint-disable no-restricted-properties -- an entry point: it reads the service's environment as the service's main.ts does */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// main.js beside this file links to the service's dist/main.js (Dockerfile).
const envFile = join(dirname(realpathSync(fileURLToPath(new URL('main.js', import.meta.url)))), 'env.js');
const schemas = existsSync(envFile) ? Object.values(await import(pathToFileURL(envFile).href)) : [];
const port = schemas.map((s) => s?.shape?.PORT).find(Boolean)?.parse(process.env.PORT);
if (port === undefined) process.exit(0);
const host = ['0.0.0.0', '::', undefined].includes(process.env.HOST) ? '127.0.0.1' : process.env.HOST;
const scheme = process.env.TLS_CERT_FILE ? 'https' : 'http';
try {
  const res = await fetch(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
