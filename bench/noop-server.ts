// Baseline (a) of the ingest benchmark: express parsing a JSON POST and
// answering 201, nothing else. Run as its own process, like ingest.
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '256kb' }));
app.post('/v1/transactions', (req, res) => {
  res.status(201).json({ transactionId: (req.body as { transactionId?: string }).transactionId, partition: 0, offset: '0', receivedAt: new Date().toISOString() });
});
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.listen(Number(process.env.PORT ?? 18079), '127.0.0.1');
