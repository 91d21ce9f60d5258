import { describe, expect, it } from 'vitest';
import { order } from '../test-utils';
import { RECEIPT_WAIT_MS, stillChanging } from './OrderDetail';

describe('stillChanging', () => {
  const at = Date.parse('2026-11-25T08:00:00Z');
  const detail = (o: Parameters<typeof order>[0]) => ({ order: order({ updated_at: '2026-11-25T08:00:00Z', ...o }), history: [] });

  it('follows running orders and waits a while for the receipt', () => {
    expect(stillChanging(detail({ status: 'PENDING' }), at + 10 * RECEIPT_WAIT_MS)).toBe(true);
    expect(stillChanging(detail({ status: 'PROCESSING' }), at)).toBe(true);
    expect(stillChanging(detail({ status: 'CONFIRMED', receipt_key: null }), at + 1000)).toBe(true);
    expect(stillChanging(detail({ status: 'CONFIRMED', receipt_key: null }), at + RECEIPT_WAIT_MS)).toBe(false);
    expect(stillChanging(detail({ status: 'CONFIRMED', receipt_key: 'r.pdf' }), at)).toBe(false);
    expect(stillChanging(detail({ status: 'FAILED' }), at)).toBe(false);
  });
});
