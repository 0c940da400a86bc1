import { setImmediate as nextTurn } from 'node:timers/promises';
import { Router, type RequestHandler, type Response } from 'express';
import { IngestBatchRequest, MAX_BATCH_TRANSACTIONS, type IngestBatchResponse } from '@tillstream/contracts';
import { HttpProblem, cardNumberProblem, containsCardNumber, findCardNumber, jsonBody, requestIdOf, sendProblem, validationProblem } from '@tillstream/http';
import type { TerminalIdentity } from '@tillstream/db';
import type { CaptureItem, CaptureOutcome } from '../capture.ts';
import { serialize, validateTransaction, type ValidationContext } from '../validate.ts';
import type { IngestDeps } from '../app.ts';
import { terminalRateLimit, type TerminalLimiter } from '../rate-limit.ts';

/** How long a batch's validation holds the event loop before it lets other requests run, in ms. */
const YIELD_AFTER_MS = 1;

function reply(res: Response, outcome: CaptureOutcome): void {
  if ('receipt' in outcome) {
    if (outcome.status === 200) res.setHeader('Idempotent-Replayed', 'true');
    res.status(outcome.status).json(outcome.receipt);
  } else {
    sendProblem(res, outcome.problem, res.req);
  }
}

/**
 * POST /v1/transactions and POST /v1/transactions/batch. Authentication and
 * the terminal's request and byte budgets are checked before the body is
 * read; its transaction budget as soon as the body says how many it carries,
 * before any of them is validated.
 */
export function transactionsRouter(deps: IngestDeps, auth: RequestHandler, limiter: TerminalLimiter): Router {
  const router = Router();
  const { config, capture, metrics } = deps;
  const guards = (maxBodyBytes: number) => [auth, terminalRateLimit(limiter, maxBodyBytes)];
  const spendTransactions = (terminal: TerminalIdentity, count: number) => {
    const refused = limiter.spend(terminal.terminalId, 'transactions', count);
    if (refused) throw reject(refused);
  };
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

  router.post('/v1/transactions', ...guards(config.bodyLimitBytes), ...jsonBody({ limitBytes: config.bodyLimitBytes, onCardNumber }), async (req, res) => {
    const receivedAt = new Date();
    spendTransactions(req.terminal!, 1);
    const result = validateTransaction(req.body, context(req.terminal!));
    if (result instanceof HttpProblem) throw reject(result);
    const [outcome] = await capture.submit([{ tx: result, ...serialize(result), receivedAt, requestId: requestIdOf(req) }]);
    if ('receipt' in outcome!) {
      req.log.debug({ transactionId: result.transactionId, partition: outcome.receipt.partition, offset: outcome.receipt.offset }, outcome.status === 201 ? 'transaction captured' : 'transaction replayed');
    }
    reply(res, outcome!);
  });

  // A batch is a till's backlog: a card number in one sale refuses that sale alone (422 in its result),
  // never the batch, or the backlog behind it would be stuck. So the body parser leaves card numbers
  // to the route: the envelope is scanned whole, then each item as it is validated.
  router.post('/v1/transactions/batch', ...guards(config.batchBodyLimitBytes), ...jsonBody({ limitBytes: config.batchBodyLimitBytes, cardNumbers: false }), async (req, res) => {
    const receivedAt = new Date();
    const transactions = (req.body as { transactions?: unknown })?.transactions;
    const envelopeCard = findCardNumber(Array.isArray(transactions) ? { ...(req.body as object), transactions: [] } : req.body);
    if (envelopeCard) {
      onCardNumber();
      throw reject(cardNumberProblem(envelopeCard));
    }
    const count = Array.isArray(transactions) ? transactions.length : 0;
    if (count > MAX_BATCH_TRANSACTIONS) {
      throw reject(new HttpProblem('PAYLOAD_TOO_LARGE', `a batch carries at most ${MAX_BATCH_TRANSACTIONS} transactions; this one has ${count}`));
    }
    spendTransactions(req.terminal!, count);
    const parsed = IngestBatchRequest.safeParse(req.body);
    if (!parsed.success) throw reject(validationProblem(parsed.error));

    const ctx = context(req.terminal!);
    const results: IngestBatchResponse['results'] = new Array<IngestBatchResponse['results'][number]>(parsed.data.transactions.length);
    const items: CaptureItem[] = [];
    const indexes: number[] = [];
    let turnStarted = performance.now();
    for (const [index, body] of parsed.data.transactions.entries()) {
      // Validating and hashing a transaction takes 0.05 ms on a quiet core and 20 times that on a loaded one:
      // a batch gives the event loop back whenever it has held it for YIELD_AFTER_MS, so other tills' sales
      // wait at most that long per step behind a backlog, whatever the machine's load (a fixed count of
      // transactions per turn held it 5-100 ms; BENCHMARKS.md, fairness).
      if (performance.now() - turnStarted >= YIELD_AFTER_MS) {
        await nextTurn();
        turnStarted = performance.now();
      }
      const card = findCardNumber(body);
      if (card) onCardNumber();
      const result = card ? cardNumberProblem(['transactions', index, ...card]) : validateTransaction(body, ctx, ['transactions', index]);
      const transactionId = (body as { transactionId?: unknown })?.transactionId;
      if (result instanceof HttpProblem) {
        reject(result);
        // The id is echoed so the till can match the answer, unless it is where the card number is.
        const echo = typeof transactionId === 'string' && !containsCardNumber(transactionId) ? { transactionId: transactionId.slice(0, 64) } : {};
        results[index] = { index, ...echo, status: result.status, problem: result.body() };
      } else {
        items.push({ tx: result, ...serialize(result), receivedAt, requestId: requestIdOf(req) });
        indexes.push(index);
      }
    }
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
    req.log.info(summary, 'batch captured');
    res.status(200).json({ results, summary } satisfies IngestBatchResponse);
  });

  return router;
}
