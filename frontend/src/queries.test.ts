import { screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { OrderTrace, Span } from './api/types';
import { event, mockApi, order, renderApp } from './test-utils';
import { RECEIPT_WAIT_MS, TRACE_SETTLE_MS, stillChanging, traceStillChanging } from './queries';

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

  it('keeps the trace refreshing a little longer, for the processors that run after the order ends', () => {
    expect(traceStillChanging(undefined, at)).toBe(true);
    expect(traceStillChanging(detail({ status: 'PROCESSING' }), at + 10 * TRACE_SETTLE_MS)).toBe(true);
    expect(traceStillChanging(detail({ status: 'FAILED' }), at + 1000)).toBe(true);
    expect(traceStillChanging(detail({ status: 'FAILED' }), at + TRACE_SETTLE_MS)).toBe(false);
    expect(traceStillChanging(detail({ status: 'CONFIRMED', receipt_key: 'r.pdf' }), at + TRACE_SETTLE_MS)).toBe(false);
  });
});

const TRACE_ID = '6b06cad0e3019fffa2874524893d129c';

function span(name: string, kind: Span['kind'], started_at: string, duration_us: number, parent: string | null = 'root'): Span {
  return { trace_id: TRACE_ID, span_id: parent === null ? 'root' : `${name}-id`, parent_span_id: parent, name, kind, started_at, duration_us, error: null };
}

const request = span('POST /api/orders', 'request', '2026-11-25T07:00:00.000100Z', 811, null);
const steps = [
  span('validate-order', 'step', '2026-11-25T07:00:00.020000Z', 427),
  span('reserve-inventory', 'step', '2026-11-25T07:00:00.021000Z', 309),
  span('charge-payment', 'step', '2026-11-25T07:00:00.022000Z', 301),
  span('confirm-order', 'step', '2026-11-25T07:00:00.023000Z', 366),
];

function traceRowNames() {
  const list = screen.queryByRole('list', { name: 'Trace' });
  return list ? within(list).getAllByRole('listitem').map((li) => li.getAttribute('data-name')) : [];
}

describe('order detail: trace', () => {
  const final = order({ status: 'CONFIRMED', receipt_key: 'receipts/x.pdf' });
  const finalDetail = { order: final, history: [event('order.created'), event('order.confirmed')] };

  it('shows the order\'s spans, asking with the session\'s token', async () => {
    const trace: OrderTrace = { trace_id: TRACE_ID, spans: [request, ...steps] };
    const api = mockApi(({ url }) => {
      if (url.pathname === `/api/orders/${final.id}`) return { body: finalDetail };
      if (url.pathname === `/api/orders/${final.id}/trace`) return { body: trace };
    });
    renderApp(`/orders/${final.id}`);
    await screen.findByRole('list', { name: 'Trace' });
    expect(traceRowNames()).toEqual(['POST /api/orders', 'validate-order', 'reserve-inventory', 'charge-payment', 'confirm-order']);
    const call = api.mock.calls.find(([url]) => String(url) === `/api/orders/${final.id}/trace`);
    expect((call![1]!.headers as Record<string, string>).Authorization).toBe('Bearer token-1');
  });

  it('says "No trace recorded" for a 404, without an error', async () => {
    mockApi(({ url }) => {
      if (url.pathname === `/api/orders/${final.id}`) return { body: finalDetail };
      if (url.pathname === `/api/orders/${final.id}/trace`) {
        return { status: 404, body: { type: 'x', title: 'Not Found', status: 404, detail: 'the order has no trace' } };
      }
    });
    renderApp(`/orders/${final.id}`);
    expect(await screen.findByText('No trace recorded')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.queryByText(/the order has no trace/)).not.toBeInTheDocument();
  });

  it('points to AWS X-Ray when the API returns no spans', async () => {
    mockApi(({ url }) => {
      if (url.pathname === `/api/orders/${final.id}`) return { body: finalDetail };
      if (url.pathname === `/api/orders/${final.id}/trace`) return { body: { trace_id: '1-6744a1b0-0123456789abcdef01234567', spans: [] } };
    });
    renderApp(`/orders/${final.id}`);
    expect(await screen.findByText('Spans are in AWS X-Ray')).toBeInTheDocument();
    expect(screen.getByText('1-6744a1b0-0123456789abcdef01234567')).toBeInTheDocument();
  });

  it('shows an error with a retry when the trace cannot load', async () => {
    let fail = true;
    mockApi(({ url }) => {
      if (url.pathname === `/api/orders/${final.id}`) return { body: finalDetail };
      if (url.pathname === `/api/orders/${final.id}/trace`) {
        return fail
          ? { status: 500, body: { type: 'x', title: 'Internal Server Error', status: 500, detail: 'the trace store is down' } }
          : { body: { trace_id: TRACE_ID, spans: [request] } };
      }
    });
    renderApp(`/orders/${final.id}`);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('the trace store is down');
    fail = false;
    within(alert).getByRole('button', { name: 'Try again' }).click();
    await waitFor(() => expect(traceRowNames()).toEqual(['POST /api/orders']));
  });

  it('refreshes the trace while the order is running', async () => {
    let orderCalls = 0;
    let traceCalls = 0;
    const id = order().id;
    mockApi(({ url }) => {
      if (url.pathname === `/api/orders/${id}`) {
        orderCalls += 1;
        return orderCalls < 3
          ? { body: { order: order({ status: 'PROCESSING' }), history: [event('order.created')] } }
          : { body: { order: order({ status: 'CONFIRMED', receipt_key: 'r.pdf', updated_at: new Date().toISOString() }), history: [event('order.created'), event('order.confirmed')] } };
      }
      if (url.pathname === `/api/orders/${id}/trace`) {
        traceCalls += 1;
        if (traceCalls === 1) return undefined; // not recorded yet: 404
        return { body: { trace_id: TRACE_ID, spans: traceCalls === 2 ? [request, steps[0]] : [request, ...steps] } };
      }
    });
    renderApp(`/orders/${id}`);
    expect(await screen.findByText('No trace recorded')).toBeInTheDocument();
    await waitFor(() => expect(traceRowNames()).toEqual(['POST /api/orders', 'validate-order']), { timeout: 3000 });
    await waitFor(() => expect(traceRowNames()).toContain('confirm-order'), { timeout: 3000 });
  });
});
