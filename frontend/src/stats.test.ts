import { describe, expect, it } from 'vitest';
import type { ApiEvent } from './api/types';
import { HOUR_MS, ordersPerStatus, stepDurations } from './stats';
import { order } from './test-utils';

const now = Date.parse('2026-12-04T12:00:00Z');
const at = (msAgo: number) => new Date(now - msAgo).toISOString();

function sagaEvent(orderId: string, type: string, msAgo: number): ApiEvent {
  return { id: `${orderId}-${type}-${msAgo}`, type, order_id: orderId, user_id: 'u1', occurred_at: at(msAgo), detail: {} };
}

describe('ordersPerStatus', () => {
  it('counts the orders placed in the last hour by status, listing every status', () => {
    const counts = ordersPerStatus(
      [
        order({ id: 'a', status: 'CONFIRMED', created_at: at(60_000) }),
        order({ id: 'b', status: 'CONFIRMED', created_at: at(HOUR_MS - 1) }),
        order({ id: 'c', status: 'FAILED', created_at: at(10_000) }),
        order({ id: 'd', status: 'CONFIRMED', created_at: at(HOUR_MS + 1) }),
      ],
      now,
    );
    expect(counts).toEqual([
      { status: 'PENDING', count: 0 },
      { status: 'PROCESSING', count: 0 },
      { status: 'CONFIRMED', count: 2 },
      { status: 'FAILED', count: 1 },
    ]);
  });
});

describe('stepDurations', () => {
  it('measures each step from the event that starts it to the one that ends it', () => {
    const events = [
      sagaEvent('o1', 'order.created', 1000),
      sagaEvent('o1', 'order.validated', 990),
      sagaEvent('o1', 'inventory.reserved', 960),
      sagaEvent('o1', 'payment.charged', 900),
      sagaEvent('o1', 'order.confirmed', 880),
      sagaEvent('o2', 'order.created', 500),
      sagaEvent('o2', 'order.validated', 470),
      sagaEvent('o2', 'inventory.reserved', 440),
      sagaEvent('o2', 'payment.declined', 420),
      sagaEvent('o2', 'order.failed', 400),
    ];
    expect(stepDurations(events, now)).toEqual([
      { label: 'Validate', count: 2, medianMs: 20, maxMs: 30 },
      { label: 'Reserve inventory', count: 2, medianMs: 30, maxMs: 30 },
      { label: 'Charge payment', count: 2, medianMs: 40, maxMs: 60 },
      { label: 'Confirm', count: 1, medianMs: 20, maxMs: 20 },
      { label: 'Compensate', count: 1, medianMs: 20, maxMs: 20 },
    ]);
  });

  it('leaves out steps that ended before the window, steps still running, and events of no order', () => {
    const events = [
      sagaEvent('old', 'order.created', HOUR_MS + 500),
      sagaEvent('old', 'order.validated', HOUR_MS + 100),
      sagaEvent('running', 'order.created', 100),
      { ...sagaEvent('x', 'message.dead_lettered', 50), order_id: null },
    ];
    expect(stepDurations(events, now)).toEqual([]);
  });

  it('counts a redelivered event from its first record', () => {
    const events = [
      sagaEvent('o1', 'order.created', 1000),
      sagaEvent('o1', 'order.validated', 900),
      sagaEvent('o1', 'order.validated', 100),
    ];
    expect(stepDurations(events, now)).toEqual([{ label: 'Validate', count: 1, medianMs: 100, maxMs: 100 }]);
  });
});
