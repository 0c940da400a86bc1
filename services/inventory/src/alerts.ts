import type { AlertType, StockState } from '@tillstream/contracts';

/**
 * Stock alert states with hysteresis. Quantities are integer thousandths.
 *
 * Getting worse alerts at once: on hand at or below the reorder point is LOW,
 * zero is OUT, below zero is NEGATIVE. Getting better needs a margin for
 * LOW: a SKU leaves LOW only once on hand is above reorder point + band
 * (band = `bandPercent` of the reorder point, at least one unit), so a SKU
 * hovering at its reorder point (sold, returned, sold) alerts once, not on
 * every sale. OUT and NEGATIVE end as soon as there is stock (that is news:
 * BACK_IN_STOCK).
 */

export const SEVERITY: Record<StockState, number> = { OK: 0, LOW: 1, OUT: 2, NEGATIVE: 3 };

const ALERT_OF: Record<Exclude<StockState, 'OK'>, AlertType> = {
  LOW: 'LOW_STOCK',
  OUT: 'OUT_OF_STOCK',
  NEGATIVE: 'NEGATIVE_STOCK',
};

export interface AlertPolicy {
  /** Band above the reorder point a LOW SKU must clear to be OK again, in percent of the reorder point. */
  bandPercent: number;
}

/** The state on-hand stock alone gives, without hysteresis. */
export function rawState(onHandMilli: number, reorderPointMilli: number | null): StockState {
  if (onHandMilli < 0) return 'NEGATIVE';
  if (onHandMilli === 0) return 'OUT';
  if (reorderPointMilli !== null && onHandMilli <= reorderPointMilli) return 'LOW';
  return 'OK';
}

export interface Transition {
  state: StockState;
  /** The alert this change raises, if any. */
  alert?: AlertType;
}

/** The next state of a SKU from its current state and on-hand stock. */
export function nextState(current: StockState, onHandMilli: number, reorderPointMilli: number | null, policy: AlertPolicy): Transition {
  const raw = rawState(onHandMilli, reorderPointMilli);
  if (SEVERITY[raw] > SEVERITY[current]) return { state: raw, alert: ALERT_OF[raw as Exclude<StockState, 'OK'>] };
  if (SEVERITY[raw] === SEVERITY[current]) return { state: current };
  // Getting better.
  let state = raw;
  if (raw === 'OK' && reorderPointMilli !== null) {
    const band = Math.max(1000, Math.ceil((reorderPointMilli * policy.bandPercent) / 100));
    if (onHandMilli <= reorderPointMilli + band) state = 'LOW';
  }
  if (SEVERITY[state] >= SEVERITY[current]) return { state: current };
  const wasOut = current === 'OUT' || current === 'NEGATIVE';
  const backInStock = wasOut && (state === 'OK' || state === 'LOW');
  return backInStock ? { state, alert: 'BACK_IN_STOCK' } : { state };
}
