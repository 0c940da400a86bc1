// Shared by both dashboards: the live connection and small rendering helpers.
// Figures arrive as server-sent events (GET /v1/dashboard/events); the page
// never reloads. Money is in minor units (pence, cents) as the APIs give it.
'use strict';

// eslint-disable-next-line no-redeclare, @typescript-eslint/no-unused-vars -- the page's other scripts use it
const Live = {
  money(minor, currency = 'GBP') {
    return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format((minor ?? 0) / 100);
  },
  number(n, digits = 0) {
    return new Intl.NumberFormat('en-GB', { maximumFractionDigits: digits }).format(n ?? 0);
  },
  ago(iso) {
    if (!iso) return 'never';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 90 ? `${s} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
  },
  /** Fills a table body: rows of cells; a cell is text, or {text, cls, n (numeric)}. */
  rows(id, rows, empty = 'nothing yet') {
    const body = document.getElementById(id);
    body.replaceChildren(
      ...(rows.length === 0
        ? [Object.assign(document.createElement('tr'), { innerHTML: `<td class="empty" colspan="9">${empty}</td>` })]
        : rows.map((cells) => {
            const tr = document.createElement('tr');
            for (const cell of cells) {
              const td = document.createElement('td');
              const c = typeof cell === 'object' && cell !== null ? cell : { text: cell };
              td.textContent = String(c.text ?? '');
              if (c.cls) td.className = c.cls;
              if (c.n) td.classList.add('n');
              if (c.testid) td.dataset.testid = c.testid;
              tr.append(td);
            }
            return tr;
          })),
    );
  },
  set(id, text) {
    document.getElementById(id).textContent = text;
  },
  /** A Chart.js chart created once and updated in place on every snapshot. */
  chart(id, config) {
    let chart;
    return (labels, datasets) => {
      if (!chart) chart = new Chart(document.getElementById(id), { ...config, data: { labels, datasets } });
      else {
        chart.data.labels = labels;
        chart.data.datasets = datasets;
        chart.update('none');
      }
    };
  },
  /** Calls render(snapshot) with every snapshot the service pushes. */
  connect(render) {
    const status = document.getElementById('live');
    const source = new EventSource('/v1/dashboard/events');
    source.addEventListener('snapshot', (event) => {
      const snapshot = JSON.parse(event.data);
      render(snapshot);
      window.__snapshot = snapshot;
      status.textContent = `live, updated ${new Date().toLocaleTimeString('en-GB')}`;
      status.classList.add('on');
    });
    source.onerror = () => {
      status.textContent = 'reconnecting...';
      status.classList.remove('on');
    };
  },
};
