import { Router, type RequestHandler, type Response } from 'express';
import { IngestBatchRequest, MAX_BATCH_TRANSACTIONS, type IngestBatchResponse } from '@tillstream/contracts';
import { HttpProblem, jsonBody, sendProblem, validationProblem } from '@tillstream/http';
import type { TerminalIdentity } from '@tillstream/db';
import type { CaptureItem, CaptureOutcome } from '../capture.ts';
import { serialize, validateTransaction, type ValidationContext } from '../validate.ts';
import type { IngestDeps } from '../app.ts';

function reply(res: Response, outcome: CaptureOutcome): void {
  if ('receipt' in outcome) {
    if (outcome.status === 200) res.setHeader('Idempotent-Replayed', 'true');
    res.status(outcome.status).json(outcome.receipt);
  } else {
    sendProblem(res, outcome.problem, res.req);
  }
}

/** POST /v1/transactions and POST /v1/transactions/batch; `guards` (auth, rate limit) run before the body is read. */
export function transactionsRouter(deps: IngestDeps, guards: RequestHandler[]): Router {
  const router = Router();
  const { config, capture, metrics } = deps;
  const onCardNumber = () => metrics.cardNumbers.inc();
  const context = (terminal: TerminalIdentity): ValidationContext => ({
    terminal,
    now: new Date(),
    retentionDays: config.retentionDays,
    maxClockSkewMinutes: config.maxClockSkewMinutes,
  });
  const reject = (problem: HttpProblem) => {
    metrics.rejected.inc({ code: problem.code });
    return problem;
  };

  router.post('/v1/transactions', ...guards, ...jsonBody({ limitBytes: config.bodyLimitBytes, onCardNumber }), async (req, res) => {
    const receivedAt = new Date();
    const result = validateTransaction(req.body, context(req.terminal!));
    if (result instanceof HttpProblem) throw reject(result);
    const [outcome] = await capture.submit([{ tx: result, ...serialize(result), receivedAt }]);
    reply(res, outcome!);
  });

  router.post('/v1/transactions/batch', ...guards, ...jsonBody({ limitBytes: config.batchBodyLimitBytes, onCardNumber }), async (req, res) => {
    const receivedAt = new Date();
    const count = Array.isArray((req.body as { transactions?: unknown })?.transactions) ? (req.body as { transactions: unknown[] }).transactions.length : 0;
    if (count > MAX_BATCH_TRANSACTIONS) {
      throw reject(new HttpProblem('PAYLOAD_TOO_LARGE', `a batch carries at most ${MAX_BATCH_TRANSACTIONS} transactions; this one has ${count}`));
    }
    const parsed = IngestBatchRequest.safeParse(req.body);
    if (!parsed.success) throw reject(validationProblem(parsed.error));

    const ctx = context(req.terminal!);
    const results: IngestBatchResponse['results'] = new Array<IngestBatchResponse['results'][number]>(parsed.data.transactions.length);
    const items: CaptureItem[] = [];
    const indexes: number[] = [];
    parsed.data.transactions.forEach((body, index) => {
      const result = validateTransaction(body, ctx, ['transactions', index]);
      const transactionId = (body as { transactionId?: unknown })?.transactionId;
      if (result instanceof HttpProblem) {
        reject(result);
        results[index] = { index, ...(typeof transactionId === 'string' ? { transactionId: transactionId.slice(0, 64) } : {}), status: result.status, problem: result.body() };
      } else {
        items.push({ tx: result, ...serialize(result), receivedAt });
        indexes.push(index);
      }
    });
    const outcomes = await capture.submit(items);
    outcomes.forEach((outcome, i) => {
      const index = indexes[i]!;
      const transactionId = items[i]!.tx.transactionId;
      results[index] = 'receipt' in outcome
        ? { index, transactionId, status: outcome.status, receipt: outcome.receipt }
        : { index, transactionId, status: outcome.status, problem: outcome.problem.body() };
    });
    const summary = { created: 0, replayed: 0, failed: 0 };
    for (const r of results) {
      if (r.status === 201) summary.created++;
      else if (r.status === 200) summary.replayed++;
      else summary.failed++;
    }
    res.status(200).json({ results, summary } satisfies IngestBatchResponse);
  });

  return router;
}
