// Store dashboard: today's sales against the same weekday last week, top
// sellers, what to order today (with why), low and out-of-stock items, the
// latest stock alerts, anomalies, the link to HQ, the quarantine; and, for a
// store manager only, the loss-prevention alerts (read by the page itself
// from the store API's GET /v1/loss-prevention/alerts with the manager's
// session: staff data never goes into the snapshot every viewer receives). Snapshot
// from the store API's GET /v1/dashboard (null parts: that service is away),
// shaped as StoreDashboardSnapshot in packages/contracts/src/read-api.ts (trends'
// and sync's own answer shapes; test/openapi.test.ts checks real ones).
'use strict';

const hours = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
const hourlyChart = Live.chart('hourly-chart', {
  type: 'line',
  options: { animation: false, responsive: true, scales: { y: { ticks: { callback: (v) => Live.money(v) } } }, plugins: { legend: { position: 'bottom' } } },
});
/** Cumulative net by hour of the day (windows without sales are absent from the API). */
function cumulative(points) {
  const byHour = new Array(24).fill(0);
  for (const p of points ?? []) byHour[new Date(p.windowStart).getUTCHours()] += p.net;
  let sum = 0;
  return byHour.map((n) => (sum += n));
}

const signalNames = {
  POST_VOID: 'post-voids',
  LINE_VOID: 'line voids',
  RETURN_WITHOUT_ORIGINAL: 'returns without receipt',
  NO_SALE: 'no-sales',
  TRAINING_MODE: 'training mode',
  REFUND_AFTER_SALE: 'refunds just after own sale',
};
const percent = (rate) => `${Live.number(rate * 100, 1)} %`;
/** Loss-prevention alerts, read at most every 5 s while snapshots arrive; a viewer's 403 ends it (the role does not change in a session). */
const lossPrevention = { next: 0, allowed: true };
async function refreshLossPrevention() {
  if (!lossPrevention.allowed || Date.now() < lossPrevention.next) return;
  lossPrevention.next = Date.now() + 5000;
  try {
    const res = await fetch('/v1/loss-prevention/alerts?limit=20', { credentials: 'same-origin' });
    if (res.status === 403) {
      lossPrevention.allowed = false;
      Live.set('lossprev-note', 'for store managers only');
      Live.rows('lossprev', [], 'sign in as a store manager to see them');
      return;
    }
    if (!res.ok) throw new Error(String(res.status));
    const { alerts } = await res.json();
    Live.set('lossprev-note', `${Live.number(alerts.length)} latest`);
    Live.rows(
      'lossprev',
      alerts.map((a, i) => [
        a.businessDay,
        { text: `${a.dimension === 'OPERATOR' ? 'operator' : 'till'} ${a.member}`, testid: `lossprev-${i}` },
        signalNames[a.signal] ?? a.signal,
        `${a.comparison === 'PEERS' ? 'peers' : 'own history'}, ${a.scope === 'DAY' ? 'day' : '7 days'}`,
        { text: Live.number(a.observed.count), n: true },
        { text: percent(a.observed.rate), n: true },
        { text: percent(a.baseline.median), n: true },
        { text: Live.money(a.observed.amount), n: true },
        { text: Live.number(a.score, 1), n: true, cls: 'status LOW' },
      ]),
      'no one stands out',
    );
  } catch {
    Live.rows('lossprev', [], 'loss prevention unavailable');
  }
}

Live.connect((s) => {
  void refreshLossPrevention();
  Live.set('day', `business day ${s.businessDay}`);
  const f = s.summary;
  Live.set('net', f ? Live.money(f.net) : 'sales service unavailable');
  Live.set('transactions', f ? Live.number(f.transactions) : '-');
  Live.set('units', f ? Live.number(f.units, 3) : '-');
  Live.set('basket', f && f.transactions ? Live.money(f.net / f.transactions) : '-');
  Live.set('returns', f ? Live.number(f.returns) : '-');

  const nowHour = new Date().getUTCHours();
  hourlyChart(hours, [
    { label: `today (${s.businessDay})`, borderColor: '#2e90fa', backgroundColor: '#2e90fa', data: cumulative(s.hourly.today).map((v, h) => (h <= nowHour ? v : null)) },
    { label: `same weekday last week (${s.lastWeekDay})`, borderColor: '#98a2b3', backgroundColor: '#98a2b3', borderDash: [6, 4], data: cumulative(s.hourly.lastWeek) },
  ]);
  Live.rows(
    'top',
    (s.top ?? []).map((t, i) => [{ text: t.sku, testid: `top-${i}` }, { text: Live.number(t.units, 3), n: true }, { text: Live.money(t.revenue), n: true }]),
    s.top ? 'no sales today yet' : 'sales service unavailable',
  );
  // The suggested orders as GET /v1/inventory/replenishment?due=today gives them, each with its why.
  const quantity = (n) => (n === null ? '-' : Live.number(n, 3));
  Live.rows(
    'replenishment',
    s.replenishment.map((r) => [
      { text: r.description ? `${r.sku} (${r.description})` : r.sku },
      { text: Live.number(r.quantity, 3), n: true, testid: `order-${r.sku}` },
      { text: quantity(r.why.onHand), n: true },
      { text: quantity(r.why.onOrder), n: true },
      { text: quantity(r.why.reorderPoint), n: true },
      { text: quantity(r.why.orderUpTo), n: true },
      { text: r.why.note, testid: `why-${r.sku}` },
    ]),
    'nothing to order today',
  );
  Live.rows(
    'stock',
    s.stock.map((i) => [i.sku, { text: i.state, cls: `status ${i.state}`, testid: `stock-${i.sku}` }, { text: Live.number(i.onHand, 3), n: true }, { text: i.settings.reorderPoint ?? '-', n: true }]),
    'every item is in stock',
  );
  const alertNames = { LOW_STOCK: 'low', OUT_OF_STOCK: 'out of stock', NEGATIVE_STOCK: 'negative', BACK_IN_STOCK: 'back in stock' };
  Live.rows(
    'alerts',
    s.alerts.map((a, i) => [
      Live.ago(a.at),
      a.sku,
      { text: alertNames[a.type] ?? a.type, cls: `status ${a.state}`, testid: `alert-${i}` },
      { text: Live.number(a.onHand, 3), n: true },
    ]),
    'no stock alerts',
  );
  Live.rows(
    'anomalies',
    (s.anomalies ?? []).map((a) => [
      new Date(a.windowStart).toISOString().slice(0, 16).replace('T', ' '),
      a.kind === 'STORE_REVENUE' ? 'store revenue' : `units of ${a.member}`,
      { text: a.kind === 'STORE_REVENUE' ? Live.money(a.observed) : Live.number(a.observed, 3), n: true },
      { text: a.kind === 'STORE_REVENUE' ? Live.money(a.baselineMedian) : Live.number(a.baselineMedian, 3), n: true },
      { text: a.direction.toLowerCase(), cls: `status ${a.direction === 'HIGH' ? 'ok' : 'LOW'}` },
    ]),
    s.anomalies ? 'nothing unusual' : 'sales service unavailable',
  );
  Live.set('quarantine-open', `${Live.number(s.quarantine.open)} open`);
  Live.rows(
    'quarantine',
    s.quarantine.entries.map((q) => [
      { text: q.id, testid: `quarantine-${q.id}` },
      Live.ago(q.quarantinedAt),
      q.service,
      { text: q.code, cls: 'status LOW' },
      q.transactionId ?? '-',
      q.message,
    ]),
    'nothing in quarantine',
  );
  const y = s.sync;
  Live.rows(
    'sync',
    y
      ? [
          ['HQ', { text: y.hq.reachable === false ? 'unreachable' : y.hq.reachable ? 'reachable' : 'not tried yet', cls: `status ${y.hq.reachable === false ? 'unreachable' : 'ok'}`, testid: 'sync-hq' }],
          ['waiting for HQ', { text: `${Live.number(y.backlog.records)} records`, testid: 'sync-backlog' }],
          ['oldest unsynced', y.backlog.oldestAt ? Live.ago(y.backlog.oldestAt) : 'none'],
          ['last upload', Live.ago(y.lastSuccessAt)],
        ]
      : [],
    'sync service unavailable',
  );
});
