import { describe, expect, it } from 'vitest';
import { refusesContent } from './hq-client.ts';
import { batchLimits } from './sweeper.ts';

describe('what a batch may carry', () => {
  it('is the configured caps until HQ said its limits, then below them, leaving room for the envelope', () => {
    const configured = { batchRecords: 2000, batchBytes: 8 * 1024 * 1024 };
    expect(batchLimits(configured, undefined)).toEqual({ records: 2000, bytes: 8 * 1024 * 1024 });
    expect(batchLimits(configured, { batchBodyBytes: 64 * 1024, batchRecords: 5000 })).toEqual({ records: 2000, bytes: 63 * 1024 });
    expect(batchLimits(configured, { batchBodyBytes: 32 * 1024 * 1024, batchRecords: 500 })).toEqual({ records: 500, bytes: 8 * 1024 * 1024 });
  });

  it('splits a batch only for refusals of its content: credentials, endpoints, media type and "later" are not the records\' fault', () => {
    expect([400, 413, 422].map(refusesContent)).toEqual([true, true, true]);
    expect([401, 403, 404, 405, 408, 409, 415, 429, 500, 503].map(refusesContent)).toEqual(Array(10).fill(false));
  });
});
