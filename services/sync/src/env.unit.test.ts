import { describe, expect, it } from 'vitest';
import { syncEnv } from './env.ts';

const BASE = { STORE_ID: 'S001', HQ_TOKEN: 'st_token' };
const issues = (env: Record<string, string>) => {
  const parsed = syncEnv.safeParse({ ...BASE, ...env });
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('sync configuration: the link to HQ', () => {
  it('takes https:// with the store client certificate, and plain http:// only to a loopback address', () => {
    const cert = { HQ_CLIENT_CERT_FILE: '/run/secrets/hq_client_cert', HQ_CLIENT_KEY_FILE: '/run/secrets/hq_client_key' };
    expect(issues({ HQ_URL: 'https://hq.example.com:8443', ...cert })).toEqual([]);
    expect(issues({ HQ_URL: 'http://127.0.0.1:8090' })).toEqual([]);
    expect(issues({ HQ_URL: 'http://[::1]:8090' })).toEqual([]);
    expect(issues({ HQ_URL: 'http://hq.example.com:8090' })).toEqual(['HQ_URL: must be https:// (plain http:// only to a loopback address)']);
    expect(issues({ HQ_URL: 'http://10.0.0.9:8090' })).toEqual(['HQ_URL: must be https:// (plain http:// only to a loopback address)']);
    expect(issues({ HQ_URL: 'https://hq.example.com:8443' })).toEqual([expect.stringMatching(/^HQ_CLIENT_CERT_FILE: HQ over https:\/\/ needs the store's client certificate/)]);
    expect(issues({ HQ_URL: 'https://hq.example.com:8443', HQ_CLIENT_CERT_FILE: cert.HQ_CLIENT_CERT_FILE })).toHaveLength(1);
  });
});
