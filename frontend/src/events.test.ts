import { describe, expect, it } from 'vitest';
import { describeDetail, eventInfo, isAlarming } from './events';
import { groupFieldErrors } from './pages/NewOrder';

describe('event presentation', () => {
  it('tells saga steps, compensation, final states and deliveries apart', () => {
    expect(eventInfo('inventory.reserved').kind).toBe('step');
    expect(eventInfo('inventory.released').kind).toBe('compensation');
    expect(eventInfo('order.failed').kind).toBe('failed');
    expect(eventInfo('order.confirmed').kind).toBe('confirmed');
    expect(eventInfo('payment.declined').kind).toBe('declined');
    expect(eventInfo('webhook.delivered')).toEqual({ label: 'Webhook delivered', kind: 'delivery' });
    expect(eventInfo('webhook.delivery_failed').kind).toBe('delivery-failed');
    expect(eventInfo('webhook.failed')).toEqual({ label: 'Webhook delivery failed', kind: 'delivery-failed' });
    expect(eventInfo('email.sent').kind).toBe('delivery');
    expect(eventInfo('email.skipped').kind).toBe('delivery-failed');
    expect(eventInfo('message.dead_lettered').kind).toBe('dead-letter');
    expect(eventInfo('payment.settled')).toEqual({ label: 'payment.settled', kind: 'info' });
  });

  it('highlights only problems', () => {
    expect(isAlarming('message.dead_lettered')).toBe(true);
    expect(isAlarming('webhook.delivery_failed')).toBe(true);
    expect(isAlarming('order.failed')).toBe(true);
    expect(isAlarming('order.confirmed')).toBe(false);
    expect(isAlarming('webhook.delivered')).toBe(false);
  });

  it('summarises details', () => {
    expect(describeDetail({ items: [{ sku: 'A', quantity: 2 }], total_minor: 5, none: null })).toBe('items: 2 × A · total_minor: 5');
    expect(describeDetail({ nested: { a: 1 } })).toBe('nested: {"a":1}');
    expect(describeDetail(null)).toBe('');
  });
});

describe('groupFieldErrors', () => {
  it('puts item errors on their line and field, and keeps the rest', () => {
    const { lines, other } = groupFieldErrors([
      { field: 'items[0].quantity', message: 'too many' },
      { field: 'items[0].quantity', message: 'out of stock' },
      { field: 'items[2].sku', message: 'unknown' },
      { field: 'items[1]', message: 'duplicate' },
      { field: 'items', message: 'at most 50' },
    ]);
    expect(lines.get(0)).toEqual({ quantity: 'too many out of stock' });
    expect(lines.get(2)).toEqual({ sku: 'unknown' });
    expect(lines.get(1)).toEqual({ line: 'duplicate' });
    expect(other).toEqual(['items: at most 50']);
  });
});
