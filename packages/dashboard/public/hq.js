// HQ dashboard: chain sales by store (chart), each store's sync health and
// lag, reconciliation per store and business day, every store's quarantine.
// Snapshot from HQ's GET /v1/dashboard: { today, days, sales, health, reconciliation, quarantine },
// shaped as HqDashboardSnapshot in packages/contracts/src/read-api.ts.
'use strict';

const palette = ['#2e90fa', '#f79009', '#12b76a', '#9e77ed', '#f04438', '#0ba5ec', '#ee46bc', '#667085'];
const salesChart = Live.chart('sales-chart', {
  type: 'bar',
  options: { animation: false, responsive: true, scales: { y: { ticks: { callback: (v) => Live.money(v) } } }, plugins: { legend: { position: 'bottom' } } },
});

Live.connect((s) => {
  Live.set('day', `business day ${s.today}`);
  const today = s.sales.filter((r) => r.businessDay === s.today);
  Live.set('chain-net', Live.money(today.reduce((n, r) => n + r.net, 0)));
  Live.set('chain-transactions', Live.number(today.reduce((n, r) => n + r.transactions, 0)));
  Live.set('chain-stores', String(today.length));

  const stores = [...new Set(s.sales.map((r) => r.storeId))].sort();
  salesChart(
    s.days,
    stores.map((store, i) => ({
      label: store,
      backgroundColor: palette[i % palette.length],
      data: s.days.map((day) => s.sales.find((r) => r.storeId === store && r.businessDay === day)?.net ?? 0),
    })),
  );
  Live.rows(
    'stores-today',
    today.map((r) => [r.storeId, { text: Live.money(r.net), n: true, testid: `net-${r.storeId}` }, { text: Live.number(r.transactions), n: true, testid: `tx-${r.storeId}` }, { text: Live.number(r.returns), n: true }]),
    'no sales today yet',
  );
  Live.rows(
    'health',
    s.health.map((h) => [
      h.storeId,
      { text: h.status === 'offline' ? `offline ${Live.number(h.offlineSeconds / 60)} min` : 'online', cls: `status ${h.status}` },
      Live.ago(h.lastSeenAt),
      { text: Live.number(h.backlogRecords), n: true },
      { text: `${Live.number(h.syncLagSeconds)} s`, n: true },
    ]),
    'no store has reported yet',
  );
  Live.rows(
    'reconciliation',
    s.reconciliation.map((r) => [
      r.storeId,
      r.businessDay,
      { text: r.status, cls: `status ${r.status}`, testid: `rec-${r.storeId}-${r.businessDay}` },
      { text: Live.number(r.transactions), n: true },
      (r.status === 'gaps'
        ? `${r.details?.missing?.length ?? 0} range(s) missing, ${r.openReplays} replay(s) open`
        : r.status === 'mismatch'
          ? `${(r.details?.differences?.length ?? 0) + (r.details?.unexpected?.length ?? 0)} difference(s)`
          : r.status === 'pending'
            ? 'waiting for HQ to book the day'
            : '') + (r.status !== 'pending' && r.details?.quarantined?.length ? `; quarantined: ${r.details.quarantined.join(', ')}` : ''),
    ]),
    'no manifests yet',
  );
  Live.set('quarantine-open', `${Live.number(s.quarantine.open)} open`);
  Live.rows(
    'quarantine',
    s.quarantine.entries.map((q) => [
      q.storeId,
      { text: q.entryId, testid: `quarantine-${q.storeId}-${q.entryId}` },
      Live.ago(q.quarantinedAt),
      q.service,
      { text: q.code, cls: 'status LOW' },
      q.transactionId ?? '-',
      q.message,
    ]),
    'no store has anything in quarantine',
  );
});
