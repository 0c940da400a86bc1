import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureKafkaCredentials, readKafkaCredentials } from './kafka-security.ts';

describe('ensureKafkaCredentials', () => {
  it('gives callers that race on an empty state directory the passwords the brokers are formatted with', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillstream-kafka-credentials-'));
    try {
      // `infra up` starts the store and HQ brokers side by side, and each asks for the credentials.
      const raced = await Promise.all([1, 2, 3].map(() => ensureKafkaCredentials(dir)));
      const onDisk = readKafkaCredentials(dir);
      expect(Object.keys(onDisk.passwords).length).toBeGreaterThan(1);
      for (const credentials of raced) expect(credentials).toEqual(onDisk);
      expect(await ensureKafkaCredentials(dir)).toEqual(onDisk);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
