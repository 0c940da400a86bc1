import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { onTestFinished } from 'vitest';
import { spkiOf, testServerSpki } from './tls.ts';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's Chromium, installed with apt-get when missing (the test machines
 * run as root; elsewhere install the `chromium` package first).
 */
export async function ensureChromium(): Promise<void> {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
  const run = promisify(execFile);
  await run('apt-get', ['update', '-q'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'chromium'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024 });
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`);
}

/**
 * Headless Chromium driven by playwright-core, closed when the test ends.
 * It trusts the run's server certificate's key and the keys of
 * `serverCertFiles` (a server certificate a test's process made itself, as
 * the demo does), and no other.
 */
export async function testBrowser(options: { serverCertFiles?: string[] } = {}): Promise<Browser> {
  await ensureChromium();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // This machine's network is closed: without these Chromium keeps dialling Google's hosts.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // The services serve HTTPS with the run's server certificate: Chromium (its own trust store, not
      // NODE_EXTRA_CA_CERTS) trusts exactly that key, and every other certificate error still fails.
      `--ignore-certificate-errors-spki-list=${[testServerSpki(), ...(options.serverCertFiles ?? []).map(spkiOf)].join(',')}`,
    ],
  });
  onTestFinished(() => browser.close());
  return browser;
}

/** Signs a browser page in to a dashboard with a person's token (the form at `url`), and waits for the page behind it. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.getByTestId('token').fill(token);
  await Promise.all([page.waitForURL(`${url}/`), page.getByTestId('sign-in').click()]);
}
