// The orders page's charts, computed from what the API already returns: the caller's latest
// orders (their status) and latest events (when each saga step ended).
import type { ApiEvent, Order, OrderStatus } from './api/types';

export const HOUR_MS = 3_600_000;

export const STATUSES: OrderStatus[] = ['PENDING', 'PROCESSING', 'CONFIRMED', 'FAILED'];

/** How many of `orders` placed in the window ending at `now` are in each status (every status, in order). */
export function ordersPerStatus(orders: Order[], now: number, windowMs = HOUR_MS): { status: OrderStatus; count: number }[] {
  const since = now - windowMs;
  const recent = orders.filter((order) => Date.parse(order.created_at) >= since);
  return STATUSES.map((status) => ({ status, count: recent.filter((order) => order.status === status).length }));
}

/**
 * A saga step, as the pair of events that bound it: the step starts when `after` is recorded and
 * ends with the first of `ends`.
 */
export const SAGA_STEPS: { label: string; after: string; ends: string[] }[] = [
  { label: 'Validate', after: 'order.created', ends: ['order.validated'] },
  { label: 'Reserve inventory', after: 'order.validated', ends: ['inventory.reserved'] },
  { label: 'Charge payment', after: 'inventory.reserved', ends: ['payment.charged', 'payment.declined'] },
  { label: 'Confirm', after: 'payment.charged', ends: ['order.confirmed'] },
  { label: 'Compensate', after: 'payment.declined', ends: ['order.failed'] },
];

export interface StepDurations {
  label: string;
  /** How many orders in the window completed the step. */
  count: number;
  medianMs: number;
  maxMs: number;
}

/**
 * Each saga step's duration over the orders whose step ended in the window ending at `now`
 * (steps no order completed are left out).
 */
export function stepDurations(events: ApiEvent[], now: number, windowMs = HOUR_MS): StepDurations[] {
  const since = now - windowMs;
  const byOrder = new Map<string, Map<string, number>>();
  for (const event of events) {
    if (!event.order_id) continue;
    const times = byOrder.get(event.order_id) ?? new Map<string, number>();
    const at = Date.parse(event.occurred_at);
    // An event recorded twice (a redelivery) counts from its first record.
    times.set(event.type, Math.min(times.get(event.type) ?? at, at));
    byOrder.set(event.order_id, times);
  }
  return SAGA_STEPS.flatMap(({ label, after, ends }) => {
    const durations: number[] = [];
    for (const times of byOrder.values()) {
      const start = times.get(after);
      const end = ends.map((type) => times.get(type)).find((at) => at !== undefined);
      if (start === undefined || end === undefined || end < since) continue;
      durations.push(Math.max(0, end - start));
    }
    if (durations.length === 0) return [];
    durations.sort((a, b) => a - b);
    return [{ label, count: durations.length, medianMs: median(durations), maxMs: durations[durations.length - 1] }];
  });
}

function median(sorted: number[]): number {
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
