import { afterEach, describe, expect, it } from 'vitest';
import { TillstreamError, deadLetterTopicName, hqSalesAggregates, hqTransactions, posTransactions, salesAggregates, type PosTransaction, type SalesAggregate } from '@tillstream/contracts';
import { capturingLogger, makeTransaction, readRecords, testKafka, uniqueName, waitFor } from '@tillstream/testing';
import {
  CLUSTER_PROFILES,
  ConfigResourceTypes,
  ConsumerRunner,
  HEADER,
  TypedProducer,
  deadLetterRetentionMs,
  requestBytesFor,
  ensureTopics,
  topicRecordCount,
  type ConsumedRecord,
  type ConsumerRunnerOptions,
  type Kafka,
} from '@tillstream/kafka';
import type { Logger } from '@tillstream/observability';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (stops.length) await stops.pop()!();
});

async function producerFor(kafka: Kafka, prefix: string, logger: Logger) {
  const producer = new TypedProducer({ kafka, logger, source: 'test', topicPrefix: prefix });
  await producer.connect();
  stops.push(() => producer.disconnect());
  return producer;
}

function runner(
  env: Awaited<ReturnType<typeof testKafka>>,
  producer: TypedProducer,
  handleBatch: ConsumerRunnerOptions<PosTransaction>['handleBatch'],
  extra: Partial<ConsumerRunnerOptions<PosTransaction>> = {},
) {
  const r = new ConsumerRunner<PosTransaction>({
    ...extra,
    kafka: env.kafka,
    logger: env.logger,
    groupId: extra.groupId ?? uniqueName('group'),
    spec: posTransactions,
    topicPrefix: env.prefix,
    deadLetterProducer: producer,
    handleBatch,
    retryBackoff: { initialMs: 20, maxMs: 100 },
  });
  stops.push(() => r.stop());
  return r;
}

describe('kafka package against the real store broker', () => {
  it('produces a validated POS transaction and consumes it back, with a receipt that points at it', async () => {
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const tx = makeTransaction([{ sku: 'BREAD', quantity: 2, unitPrice: 180 }]);
    const [receipt] = await producer.send(posTransactions, [{ storeId: 'S001', data: tx as PosTransaction }]);

    const received: ConsumedRecord<PosTransaction>[] = [];
    await runner(env, producer, async (records) => void received.push(...records)).start();
    await waitFor(() => received.length === 1, { message: 'the transaction to be consumed' });

    const record = received[0]!;
    expect(record.envelope.data.transactionId).toBe(tx.transactionId);
    expect(record.envelope.data.totals.grand).toBe(360);
    expect(record.envelope.schema).toBe('pos.transaction.v1');
    expect(record.key).toBe('S001:T01');
    expect(record.headers[HEADER.schema]).toBe('pos.transaction.v1');
    expect({ partition: record.partition, offset: record.offset }).toEqual({ partition: receipt!.partition, offset: receipt!.offset });
  });

  it('gives each record of one send its own partition and offset', async () => {
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const txs = ['T01', 'T02', 'T03', 'T01', 'T04', 'T02'].map((terminalId) => makeTransaction([{ sku: 'A' }], { terminalId }));
    const receipts = await producer.send(posTransactions, txs.map((data) => ({ storeId: 'S001', data: data as PosTransaction })));
    const records = await readRecords(env.kafka, `${env.prefix}pos.transactions.v1`, { atLeast: txs.length });
    for (const [i, tx] of txs.entries()) {
      const found = records.find((r) => JSON.parse(r.value).data.transactionId === tx.transactionId)!;
      expect({ partition: found.partition, offset: found.offset }).toEqual({ partition: receipts[i]!.partition, offset: receipts[i]!.offset });
    }
  });

  it('produces one send larger than the broker accepts in one request (HQ applying a 2,000-record batch) as several requests, in order', async () => {
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    // ~3 MB on one partition (one terminal): one request would be refused with MESSAGE_TOO_LARGE (1 MiB).
    const txs = Array.from({ length: 2000 }, () => makeTransaction(Array.from({ length: 6 }, (_, l) => ({ sku: `SKU-${l}`, category: 'c'.repeat(60) }))));
    const receipts = await producer.send(posTransactions, txs.map((data) => ({ storeId: 'S001', data: data as PosTransaction })));
    expect(receipts.map((r) => Number(r.offset))).toEqual(txs.map((_, i) => i));
    const records = await readRecords(env.kafka, `${env.prefix}pos.transactions.v1`, { atLeast: txs.length });
    expect(records.reduce((n, r) => n + r.value.length, 0)).toBeGreaterThan(2 * 1024 * 1024);
    expect(records.map((r) => (JSON.parse(r.value) as { data: PosTransaction }).data.transactionId)).toEqual(txs.map((tx) => tx.transactionId));
  });

  it("produces to a topic in requests of its spec's max.message.bytes, and in the default size where the broker's topic lacks the setting", async () => {
    // ~5 MB of windows on sales.aggregates' one partition: a few requests of the spec's size (3 MiB of its 4 MiB, by
    // requestSized's generous estimate), many more of the broker's default size.
    const windows: SalesAggregate[] = Array.from({ length: 9000 }, (_, i) => ({
      storeId: 'S001',
      granularity: '5m',
      windowStart: new Date(Date.UTC(2026, 2, 4, 8, 0) + 300_000 * (i % 100)).toISOString(),
      businessDay: null,
      dimension: 'sku',
      member: `SKU-${String(i).padStart(5, '0')}-${'x'.repeat(54)}`,
      figures: { units: 1, gross: 100, discounts: 0, net: 100, tax: 10, transactions: 1, items: 1, returns: 0, returnsUnits: 0, returnsAmount: 0 },
      revision: 1,
      updatedAt: '2026-03-04T10:00:00.000Z',
    }));
    const events = windows.map((data) => ({ storeId: 'S001', data }));
    expect(requestBytesFor(salesAggregates)).toBe(3 * 1024 * 1024);
    expect(requestBytesFor(posTransactions)).toBe(768 * 1024);
    expect(requestBytesFor(hqSalesAggregates)).toBe(768 * 1024);
    const produceRequests = (producer: TypedProducer) => {
      const counted = { n: 0 };
      producer.producer.on(producer.producer.events.REQUEST, (e) => {
        if (e.payload.apiName === 'Produce') counted.n++;
      });
      return counted;
    };
    const { logger, lines: logs } = capturingLogger('kafka-test');

    const requestsMade = { provisioned: 0, unprovisioned: 0 };
    for (const provisioned of [true, false]) {
      // Without the setting: the topic as a release before it created it, not yet reconciled by `tillstream kafka provision`.
      const spec = provisioned ? salesAggregates : { ...salesAggregates, config: { 'min.cleanable.dirty.ratio': '0.1' } };
      const env = await testKafka({ specs: [spec] });
      const producer = await producerFor(env.kafka, env.prefix, logger);
      const requests = produceRequests(producer);
      const receipts = await producer.send(salesAggregates, events);
      requestsMade[provisioned ? 'provisioned' : 'unprovisioned'] = requests.n;
      expect(receipts.map((r) => Number(r.offset))).toEqual(windows.map((_, i) => i));
      const records = await readRecords(env.kafka, `${env.prefix}${salesAggregates.name}`, { atLeast: windows.length });
      expect(records.reduce((n, r) => n + r.value.length, 0)).toBeGreaterThan(4.5 * 1024 * 1024);
      expect(records.map((r) => (JSON.parse(r.value) as { data: SalesAggregate }).data.member)).toEqual(windows.map((w) => w.member));
      const refusals = () => logs.filter((l) => l.includes('refused a request within the topic'));
      if (provisioned) expect(refusals()).toHaveLength(0);
      else {
        // The first request was refused whole and its records went again in requests of the default size; the next
        // send uses that size from the start (a second refusal would fail it).
        expect(refusals()).toHaveLength(1);
        await producer.send(salesAggregates, events.slice(0, 2000));
        expect(refusals()).toHaveLength(1);
        expect(await topicRecordCount(env.kafka, `${env.prefix}${salesAggregates.name}`)).toBe(windows.length + 2000);
      }
    }
    // Requests of 3 MiB against 768 KiB: 4 against 13 (and the refused one) here, as requestSized cuts them.
    expect(requestsMade.provisioned).toBeLessThan((requestsMade.unprovisioned - 1) / 2);

    // Across partitions a refused request may have been written in part, and kafkajs takes back every partition's
    // sequence numbers: no fallback there, the send fails as any failed send does.
    const env = await testKafka({ specs: [{ ...salesAggregates, partitions: 2, config: { 'min.cleanable.dirty.ratio': '0.1' } }] });
    const producer = await producerFor(env.kafka, env.prefix, logger);
    // Two partitions in one request, the first's batch over the broker's 1 MiB.
    const messages = Array.from({ length: 3000 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(700, 'x'), partition: i === 0 ? 1 : 0 }));
    await expect(producer.sendRaw(`${env.prefix}${salesAggregates.name}`, messages, 3 * 1024 * 1024)).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
    expect(logs.filter((l) => l.includes('refused a request within the topic'))).toHaveLength(1);
  });

  it('refuses to produce an event that does not match its schema, and writes nothing', async () => {
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const good = makeTransaction();
    const bad = { ...makeTransaction(), totals: { gross: 1, discount: 0, tax: 0, net: 1, grand: 1 } };
    await expect(
      producer.send(posTransactions, [{ storeId: 'S001', data: good as PosTransaction }, { storeId: 'S001', data: bad as PosTransaction }]),
    ).rejects.toMatchObject({ code: 'EVENT_INVALID' });
    expect(await topicRecordCount(env.kafka, `${env.prefix}pos.transactions.v1`)).toBe(0);
  });

  it('writes every envelope as JSON.stringify would, from data or from data already serialised with its key, and validates serialised data unless told it is', async () => {
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const topic = `${env.prefix}pos.transactions.v1`;
    const [a, b, c, d] = ['T01', 'T02', 'T03', 'T04'].map((terminalId) => makeTransaction([{ sku: 'PAIN-CHOC', category: 'Pâtisserie "fine" \\ 😀' }], { terminalId }) as PosTransaction);
    const json = (tx: PosTransaction) => ({ dataJson: JSON.stringify(tx), key: posTransactions.key(tx) });
    await producer.send(posTransactions, [
      { storeId: 'S001', data: a! },
      { storeId: 'S002', data: b!, headers: { 'x-extra': 'yes' } },
    ]);
    await producer.send(posTransactions, [{ storeId: 'S001', ...json(c!) }], { dataValidated: true });
    await producer.send(posTransactions, [{ storeId: 'S001', ...json(d!) }]);
    // Serialised data that does not match is refused like any other, unless the caller vouches for it.
    const bad = { ...makeTransaction(), totals: { gross: 1, discount: 0, tax: 0, net: 1, grand: 1 } } as PosTransaction;
    await expect(producer.send(posTransactions, [{ storeId: 'S001', ...json(bad) }])).rejects.toMatchObject({ code: 'EVENT_INVALID' });

    const records = await readRecords(env.kafka, topic, { atLeast: 4 });
    expect(records).toHaveLength(4);
    for (const [i, tx] of [a!, b!, c!, d!].entries()) {
      const record = records.find((r) => (JSON.parse(r.value) as { data: PosTransaction }).data.transactionId === tx.transactionId)!;
      const envelope = JSON.parse(record.value) as { eventId: string; storeId: string; producedAt: string };
      expect(record.value).toBe(JSON.stringify({ schema: 'pos.transaction.v1', eventId: envelope.eventId, storeId: i === 1 ? 'S002' : 'S001', source: 'test', producedAt: envelope.producedAt, data: tx }));
      expect(envelope.eventId).toMatch(/^[0-9a-f-]{36}$/);
      expect(record.key).toBe(posTransactions.key(tx));
      expect(record.headers[HEADER.schema]).toBe('pos.transaction.v1');
      expect(record.headers['x-extra']).toBe(i === 1 ? 'yes' : undefined);
    }
    expect(new Set(records.map((r) => (JSON.parse(r.value) as { eventId: string }).eventId)).size).toBe(4);
  });

  it('sends a record that does not match the schema to the dead-letter topic with its error, and moves on', async () => {
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const topic = `${env.prefix}pos.transactions.v1`;
    const invalid = JSON.stringify({ schema: 'pos.transaction.v1', data: { transactionId: 'not-a-uuid' } });
    const tx = makeTransaction([], { terminalId: 'T01' });
    // Same key, so the poison sits before the valid record on one partition.
    await producer.sendRaw(topic, [{ key: 'S001:T01', value: invalid }, { key: 'S001:T01', value: 'not json {' }]);
    await producer.send(posTransactions, [{ storeId: 'S001', data: makeTransaction([{ sku: 'A' }], { transactionId: tx.transactionId }) as PosTransaction }]);

    const handled: string[] = [];
    const skipped: string[] = [];
    await runner(env, producer, async (records) => void handled.push(...records.map((r) => r.envelope.data.transactionId)), {
      onDeadLettered: async ({ nextOffset }) => void skipped.push(nextOffset),
    }).start();
    await waitFor(() => handled.length === 1, { message: 'the valid record behind the poison' });
    expect(handled).toEqual([tx.transactionId]);
    expect(skipped).toEqual(['1', '2']); // a handler keeping offsets in PostgreSQL stores these, so a restart skips the poison

    const dead = await readRecords(env.kafka, deadLetterTopicName(topic), { atLeast: 2 });
    expect(dead.map((d) => d.value)).toEqual([invalid, 'not json {']);
    expect(dead[0]!.headers[HEADER.errorCode]).toBe('EVENT_INVALID');
    expect(dead[0]!.headers[HEADER.errorMessage]).toMatch(/data\.transactionId/);
    expect(dead[1]!.headers[HEADER.errorCode]).toBe('RECORD_NOT_JSON');
    expect(dead[0]!.headers[HEADER.originalTopic]).toBe(topic);
    expect(dead[0]!.key).toBe('S001:T01');
  });

  it('hands a record replayed for another consumer group to no handler but its own, and moves past it', async () => {
    // dlq replay re-produces a dead letter to its topic: every group but the one that dead-lettered it booked the original already.
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const [forOther, forUs, plain] = [1, 2, 3].map(() => makeTransaction([{ sku: 'A' }]) as PosTransaction);
    const group = uniqueName('group');
    await producer.send(posTransactions, [{ storeId: 'S001', data: forOther!, headers: { [HEADER.replayFor]: 'some-other-group' } }]);
    await producer.send(posTransactions, [{ storeId: 'S001', data: forUs!, headers: { [HEADER.replayFor]: group } }]);
    await producer.send(posTransactions, [{ storeId: 'S001', data: plain! }]);
    const handled: string[] = [];
    const skipped: string[] = [];
    const r = new ConsumerRunner<PosTransaction>({
      kafka: env.kafka,
      logger: env.logger,
      groupId: group,
      spec: posTransactions,
      topicPrefix: env.prefix,
      deadLetterProducer: producer,
      handleBatch: async (records) => void handled.push(...records.map((x) => x.envelope.data.transactionId)),
      onSkipped: async ({ nextOffset }) => void skipped.push(nextOffset),
    });
    stops.push(() => r.stop());
    await r.start();
    await waitFor(() => handled.length === 2, { message: 'the records for this group' });
    expect(handled).toEqual([forUs!.transactionId, plain!.transactionId]);
    expect(skipped).toEqual(['1']);
  });

  it("takes ingest's POS records as validated by ingest, and validates in full whatever else reaches the topic", async () => {
    // Ingest parsed the document with the topic's schema before producing it; a consumer checks the envelope's frame, not the schema again.
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const ingest = new TypedProducer({ kafka: env.kafka, logger: env.logger, source: 'ingest', topicPrefix: env.prefix });
    await ingest.connect();
    stops.push(() => ingest.disconnect());
    const topic = `${env.prefix}pos.transactions.v1`;
    const group = uniqueName('group');
    // Balanced as the schema wants, except the totals: what only the full schema notices.
    const unbalanced = (id: number) => ({ ...makeTransaction([{ sku: `U${id}` }]), totals: { gross: 1, discount: 0, tax: 0, net: 1, grand: 1 } }) as PosTransaction;
    const [fromIngest, fromOther, replayed, unframed, good] = [1, 2, 3, 4, 5].map(unbalanced);
    await ingest.send(posTransactions, [{ storeId: 'S001', data: fromIngest!, dataJson: JSON.stringify(fromIngest) }], { dataValidated: true });
    await producer.send(posTransactions, [{ storeId: 'S001', data: fromOther!, dataJson: JSON.stringify(fromOther) }], { dataValidated: true });
    await ingest.send(posTransactions, [{ storeId: 'S001', data: replayed!, dataJson: JSON.stringify(replayed), headers: { [HEADER.replayFor]: group } }], { dataValidated: true });
    // Ingest's source in the envelope but not written by a producer that names the schema in the header (or a frame that is not ingest's).
    const envelope = { schema: 'pos.transaction.v1', eventId: crypto.randomUUID(), storeId: 'S001', source: 'ingest', producedAt: new Date().toISOString() };
    await producer.sendRaw(topic, [
      { key: 'S001:T01', value: JSON.stringify({ ...envelope, data: unframed }) },
      { key: 'S001:T01', value: JSON.stringify({ ...envelope, data: [good] }), headers: { [HEADER.schema]: 'pos.transaction.v1' } },
    ]);
    const valid = makeTransaction([{ sku: 'LAST' }]) as PosTransaction;
    await ingest.send(posTransactions, [{ storeId: 'S001', data: valid }]);

    const handled: string[] = [];
    const r = new ConsumerRunner<PosTransaction>({
      kafka: env.kafka,
      logger: env.logger,
      groupId: group,
      spec: posTransactions,
      topicPrefix: env.prefix,
      deadLetterProducer: producer,
      handleBatch: async (records) => void handled.push(...records.map((x) => x.envelope.data.transactionId)),
      retryBackoff: { initialMs: 20, maxMs: 100 },
    });
    stops.push(() => r.stop());
    await r.start();
    await waitFor(() => handled.includes(valid.transactionId), { message: 'the last record' });
    expect(handled).toEqual([fromIngest!.transactionId, valid.transactionId]);
    const dead = await readRecords(env.kafka, deadLetterTopicName(topic), { atLeast: 4 });
    expect(dead.map((d) => d.headers[HEADER.errorCode])).toEqual(['EVENT_INVALID', 'EVENT_INVALID', 'EVENT_INVALID', 'EVENT_INVALID']);
    expect(dead.map((d) => d.headers[HEADER.originalOffset])).toEqual(['1', '2', '3', '4']);
  });

  it('dead-letters only the record a handler can never process, and handles the rest of its batch', async () => {
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const txs = [1, 2, 3, 4].map((n) => makeTransaction([{ sku: `SKU-${n}` }]));
    const poison = txs[2]!.transactionId;
    await producer.send(posTransactions, txs.map((data) => ({ storeId: 'S001', data: data as PosTransaction })));

    const handled = new Set<string>();
    await runner(env, producer, async (records) => {
      if (records.some((r) => r.envelope.data.transactionId === poison)) {
        throw new TillstreamError('WRONG_STORE', 'transaction of another store', { retriable: false });
      }
      for (const r of records) handled.add(r.envelope.data.transactionId);
    }).start();

    const dead = await readRecords(env.kafka, deadLetterTopicName(`${env.prefix}pos.transactions.v1`), { atLeast: 1 });
    await waitFor(() => handled.size === 3, { message: 'the three healthy records' });
    expect(JSON.parse(dead[0]!.value).data.transactionId).toBe(poison);
    expect(dead[0]!.headers[HEADER.errorCode]).toBe('WRONG_STORE');
    expect(handled.has(poison)).toBe(false);
  });

  it('retries a retriable failure (database down) until it succeeds, without dead-lettering or skipping', async () => {
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const tx = makeTransaction();
    await producer.send(posTransactions, [{ storeId: 'S001', data: tx as PosTransaction }]);

    let attempts = 0;
    const handled: string[] = [];
    await runner(env, producer, async (records) => {
      attempts++;
      if (attempts <= 4) throw new TillstreamError('DATABASE_UNAVAILABLE', 'connection refused', { retriable: true });
      handled.push(...records.map((r) => r.envelope.data.transactionId));
    }).start();

    await waitFor(() => handled.length === 1, { message: 'the record after the outage' });
    expect(handled).toEqual([tx.transactionId]);
    expect(attempts).toBe(5);
    expect(await topicRecordCount(env.kafka, deadLetterTopicName(`${env.prefix}pos.transactions.v1`), { missing: 'empty' })).toBe(0);
  });

  it('stops with a chunk still being booked after its batch returned, and the next member resumes at the stored offset: nothing lost, nothing twice', async () => {
    const env = await testKafka({ specs: [posTransactions] });
    const producer = await producerFor(env.kafka, env.prefix, env.logger);
    const send = (n: number) => producer.send(posTransactions, Array.from({ length: n }, () => ({ storeId: 'S001', data: makeTransaction() as PosTransaction })));
    // Effects and offsets in one step, as a handler's database transaction keeps them.
    let stored: string | undefined;
    const handled: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inHand!: () => void;
    const firstChunk = new Promise<void>((resolve) => (inHand = resolve));
    const handle: ConsumerRunnerOptions<PosTransaction>['handleBatch'] = async (records, ctx) => {
      if (handled.length === 0) {
        inHand();
        await gate;
      }
      handled.push(...records.map((r) => r.envelope.data.transactionId));
      stored = ctx.nextOffset;
    };
    const groupId = uniqueName('group');
    const options = { groupId, storedOffset: async () => stored };
    await send(10);
    const first = runner(env, producer, handle, options);
    await first.start();
    await firstChunk;
    // More arrives while the first fetch's (only, so last) chunk is in hand: kafkajs fetches past it meanwhile.
    await send(10);
    const stopped = first.stop();
    release();
    await stopped;

    await runner(env, producer, handle, options).start();
    await waitFor(() => stored === '20', { message: 'the second member booking up to the end' });
    expect(new Set(handled).size).toBe(20);
    expect(handled).toHaveLength(20);
  });

  it("keeps dead letters at least as long as the POS topic's records, also on dead-letter topics created before that rule", async () => {
    // Dead-letter topics kept 30 days while the POS topic keeps 35: a sale dead-lettered early in a month-old backlog was gone before it could be replayed.
    const env = await testKafka();
    const dlq = deadLetterTopicName(`${env.prefix}${posTransactions.name}`);
    const admin = env.kafka.admin();
    await admin.connect();
    stops.push(() => admin.disconnect());
    await admin.createTopics({ topics: [{ topic: dlq, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: String(30 * 86_400_000) }] }] });
    await ensureTopics({ placement: CLUSTER_PROFILES.store, kafka: env.kafka, logger: env.logger, prefix: env.prefix, specs: [posTransactions, salesAggregates] });
    const retention = async (topic: string) => {
      const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }] });
      return Number(resources[0]!.configEntries.find((c) => c.configName === 'retention.ms')!.configValue);
    };
    // A broker answers describeConfigs from the metadata it has applied, which may trail the alteration just
    // committed (KRaft): the assertion is the setting once in force, read until it is.
    for (const topic of [dlq, deadLetterTopicName(`${env.prefix}${salesAggregates.name}`)]) {
      await waitFor(async () => (await retention(topic)) >= posTransactions.retentionMs, { timeoutMs: 30_000, message: `${topic} to keep records ${posTransactions.retentionMs} ms` });
    }
    expect(deadLetterRetentionMs(hqTransactions)).toBe(hqTransactions.retentionMs);
  });
});
