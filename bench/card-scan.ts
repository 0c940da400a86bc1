import { gtinCheckDigit } from '@tillstream/contracts';
import { containsCardNumber } from '@tillstream/http';
import { regexScan } from './fairness.ts';
import { table } from './harness.ts';

/** Median of `runs` timings of `fn`, in ms, after one warm-up. */
function timeMs(fn: () => void, runs = 7): number {
  fn();
  const times = Array.from({ length: runs }, () => {
    const t = performance.now();
    fn();
    return performance.now() - t;
  }).sort((a, b) => a - b);
  return Math.round(times[Math.floor(runs / 2)]! * 10) / 10;
}

/** A deterministic generator, so two runs scan the same look-alikes. */
function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/**
 * The card-number scan (issue 14: normalise, every 13-19 digit window, Luhn
 * and IIN ranges), in process: its cost per MiB of text split into 500
 * strings of 2 KiB (a full batch's worth), beside the older check that
 * joined only single spaces and dashes and had no IIN table (the peer); and
 * how often it refuses legitimate look-alikes, 20,000 random values per kind,
 * each scanned as one free-text field.
 */
export async function cardScanBench(): Promise<string> {
  const MB = 1024 * 1024;
  const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);
  const cases: Array<[string, string]> = [
    ['letters only', fill('abcdefgh')],
    ['"1 -1 -"', fill('1 -')],
    ['"1 1 1 1" (one long grouped run)', fill('1 ')],
    ['zeros (no IIN range starts)', fill('0')],
    ['fives (every window in an IIN range)', fill('5')],
    ['Luhn-invalid 16-digit runs', fill('4111111111111112x')],
    ['Arabic-Indic zeros and NBSP (NFKC path)', fill('\u0660\u0660\u0660\u00a0')],
  ];
  const cost = cases.map(([name, text]) => {
    const parts = Array.from({ length: 500 }, (_, i) => text.slice(i * 2098, (i + 1) * 2098));
    return { '1 MiB of': name, 'scan ms': timeMs(() => parts.forEach((t) => containsCardNumber(t))), 'older scan ms (peer)': timeMs(() => parts.forEach((t) => regexScan(t))) };
  });

  const random = seeded(42);
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join('');
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const int = (below: number) => Math.floor(random() * below);
  const gtin13 = () => {
    const body = String(300 + int(700)) + digits(9);
    return body + gtinCheckDigit(body);
  };
  const kinds: Record<string, () => string> = {
    'GTIN-13 (GS1 prefixes 300-999), one run': gtin13,
    'GTIN-13 printed "d dddddd dddddd"': () => {
      const g = gtin13();
      return `${g[0]} ${g.slice(1, 7)} ${g.slice(7)}`;
    },
    'epoch milliseconds': () => String(1_600_000_000_000 + int(300_000_000_000)),
    'epoch microseconds': () => String(1_600_000_000_000_000 + int(300_000_000_000_000)),
    'E.164 phone, "+cc ddd ddd dddd"': () => `+${1 + int(98)} ${digits(3)} ${digits(3)} ${digits(4)}`,
    'SQL timestamp with ms': () => `2026-${pad(1 + int(12))}-${pad(1 + int(28))} ${pad(int(24))}:${pad(int(60))}:${pad(int(60))}.${pad(int(1000), 3)}`,
    '"hh:mm:ss +01:00" then a GTIN-13': () => `${pad(int(24))}:${pad(int(60))}:${pad(int(60))} +01:00 ${gtin13()}`,
    'batch id "S001-<7 digits>-<7 digits>"': () => {
      const first = 1_000_000 + int(8_000_000);
      return `S001-${first}-${first + 4999}`;
    },
  };
  const N = 20_000;
  const refused = Object.entries(kinds).map(([kind, make]) => {
    let hits = 0;
    for (let i = 0; i < N; i++) if (containsCardNumber(make())) hits++;
    return { 'look-alike': kind, refused: `${hits} / ${N}`, '%': Math.round((10_000 * hits) / N) / 100 };
  });
  return `Scan cost, median of 7:\n${table(cost)}\n\nLegitimate look-alikes refused:\n${table(refused)}`;
}
