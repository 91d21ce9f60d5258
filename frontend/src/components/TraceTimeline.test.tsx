import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { OrderTrace, Span } from '../api/types';
import { MIN_BAR_PERCENT, TraceTimeline, epochMicros } from './TraceTimeline';

const TRACE_ID = '6b06cad0e3019fffa2874524893d129c';
const ROOT = '16ae9ed0dc704370';

function span(name: string, kind: Span['kind'], started_at: string, duration_us: number, more: Partial<Span> = {}): Span {
  return {
    trace_id: TRACE_ID,
    span_id: `${name}-id`,
    parent_span_id: ROOT,
    name,
    kind,
    started_at,
    duration_us,
    error: null,
    ...more,
  };
}

/** A confirmed order's trace as `cargo xtask dev` records it (times and durations from a real run). */
const confirmed: OrderTrace = {
  trace_id: TRACE_ID,
  spans: [
    span('POST /api/orders', 'request', '2026-11-25T11:47:28.63471Z', 811, { span_id: ROOT, parent_span_id: null }),
    span('webhook-processor', 'consumer', '2026-11-25T11:47:28.659208Z', 192),
    span('validate-order', 'step', '2026-11-25T11:47:28.659587Z', 427),
    span('reserve-inventory', 'step', '2026-11-25T11:47:28.660332Z', 309),
    span('charge-payment', 'step', '2026-11-25T11:47:28.660973Z', 301),
    span('confirm-order', 'step', '2026-11-25T11:47:28.661601Z', 366),
    span('email-processor', 'consumer', '2026-11-25T11:47:28.662410Z', 215),
    span('receipt-processor', 'consumer', '2026-11-25T11:47:28.662530Z', 4_812),
  ],
};

function renderTrace(trace: OrderTrace | null) {
  return render(
    <section>
      <h2 id="trace-title">Trace</h2>
      <TraceTimeline trace={trace} labelledBy="trace-title" />
    </section>,
  );
}

function rows() {
  return within(screen.getByRole('list', { name: 'Trace' })).getAllByRole('listitem');
}

function row(name: string) {
  const found = rows().find((li) => li.getAttribute('data-name') === name);
  if (!found) throw new Error(`no row for ${name}`);
  return found;
}

function bar(name: string) {
  return row(name).querySelector<HTMLElement>('.trace__bar')!;
}

describe('TraceTimeline', () => {
  it('lists one row per span, earliest start first, whatever order the spans come in', () => {
    const shuffled = { ...confirmed, spans: [...confirmed.spans].reverse() };
    renderTrace(shuffled);
    expect(rows().map((li) => li.getAttribute('data-name'))).toEqual([
      'POST /api/orders',
      'webhook-processor',
      'validate-order',
      'reserve-inventory',
      'charge-payment',
      'confirm-order',
      'email-processor',
      'receipt-processor',
    ]);
  });

  it('orders spans by their microseconds, which Date.parse would lose', () => {
    // Both start within the same millisecond: only the microseconds tell them apart.
    const trace = {
      trace_id: TRACE_ID,
      spans: [
        span('later', 'step', '2026-11-25T11:47:28.660900Z', 10),
        span('earlier', 'step', '2026-11-25T11:47:28.6601Z', 10),
      ],
    };
    renderTrace(trace);
    expect(rows().map((li) => li.getAttribute('data-name'))).toEqual(['earlier', 'later']);
    expect(epochMicros('2026-11-25T11:47:28.659208Z') - epochMicros('2026-11-25T11:47:28.63471Z')).toBe(24_498);
    expect(epochMicros('2026-11-25T12:47:28.5+01:00')).toBe(epochMicros('2026-11-25T11:47:28.500000Z'));
  });

  it('indents each span one level below the span that caused it', () => {
    const trace = {
      trace_id: TRACE_ID,
      spans: [
        span('POST /api/orders', 'request', '2026-11-25T11:47:28.000000Z', 900, { span_id: ROOT, parent_span_id: null }),
        span('charge-payment', 'step', '2026-11-25T11:47:28.001000Z', 500),
        span('receipt-processor', 'consumer', '2026-11-25T11:47:28.002000Z', 300, { parent_span_id: 'charge-payment-id' }),
        span('orphan', 'consumer', '2026-11-25T11:47:28.003000Z', 300, { parent_span_id: 'not-in-this-trace' }),
      ],
    };
    renderTrace(trace);
    expect(rows().map((li) => [li.getAttribute('data-name'), li.getAttribute('data-depth')])).toEqual([
      ['POST /api/orders', '0'],
      ['charge-payment', '1'],
      ['receipt-processor', '2'],
      ['orphan', '0'],
    ]);
    expect(row('receipt-processor').style.getPropertyValue('--depth')).toBe('2');
    // Screen readers hear the nesting rather than see the indentation.
    expect(row('receipt-processor')).toHaveTextContent('(within charge-payment)');
    expect(row('POST /api/orders')).not.toHaveTextContent('within');
  });

  it('shows each duration in milliseconds and the kind of work', () => {
    renderTrace(confirmed);
    expect(within(row('validate-order')).getByLabelText('Duration')).toHaveTextContent(/^0\.43 ms$/);
    expect(within(row('POST /api/orders')).getByLabelText('Duration')).toHaveTextContent(/^0\.81 ms$/);
    expect(within(row('receipt-processor')).getByLabelText('Duration')).toHaveTextContent(/^4\.81 ms$/);
    expect(row('POST /api/orders')).toHaveTextContent('Request');
    expect(row('validate-order')).toHaveTextContent('Saga step');
    expect(row('email-processor')).toHaveTextContent('Processor');
    // Offsets from the trace's start: validate-order began 24.877 ms after the request.
    expect(row('validate-order')).toHaveTextContent('+24.88 ms');
    expect(screen.getByText(TRACE_ID)).toBeInTheDocument();
  });

  it('places and sizes each bar by its start and duration within the whole trace', () => {
    const trace = {
      trace_id: TRACE_ID,
      spans: [
        span('POST /api/orders', 'request', '2026-11-25T11:47:28.000000Z', 100_000, { span_id: ROOT, parent_span_id: null }),
        span('charge-payment', 'step', '2026-11-25T11:47:28.050000Z', 25_000),
        span('confirm-order', 'step', '2026-11-25T11:47:28.150000Z', 50_000),
        span('tiny', 'consumer', '2026-11-25T11:47:28.100000Z', 1),
        span('tiny-at-the-end', 'consumer', '2026-11-25T11:47:28.200000Z', 0),
      ],
    };
    renderTrace(trace);
    // The trace spans 200 ms: from the request's start to confirm-order's end.
    expect(bar('POST /api/orders').style.left).toBe('0%');
    expect(bar('POST /api/orders').style.width).toBe('50%');
    expect(bar('charge-payment').style.left).toBe('25%');
    expect(bar('charge-payment').style.width).toBe('12.5%');
    expect(bar('confirm-order').style.left).toBe('75%');
    expect(bar('confirm-order').style.width).toBe('25%');
    // Tiny spans keep a visible width, and stay inside the track.
    expect(bar('tiny').style.left).toBe('50%');
    expect(bar('tiny').style.width).toBe(`${MIN_BAR_PERCENT}%`);
    expect(bar('tiny-at-the-end').style.left).toBe(`${100 - MIN_BAR_PERCENT}%`);
    expect(bar('tiny-at-the-end').style.width).toBe(`${MIN_BAR_PERCENT}%`);
  });

  it('marks a failed span in its own style and says what went wrong', () => {
    const failed: OrderTrace = {
      trace_id: TRACE_ID,
      spans: [
        ...confirmed.spans.slice(0, 4),
        span('charge-payment', 'step', '2026-11-25T11:47:28.660973Z', 301, { error: 'PaymentDeclined: over the limit' }),
      ],
    };
    renderTrace(failed);
    const charge = row('charge-payment');
    expect(charge).toHaveClass('trace__span--failed');
    expect(within(charge).getByText('Failed')).toBeInTheDocument();
    expect(within(charge).getByText('Error: PaymentDeclined: over the limit')).toBeInTheDocument();
    for (const name of ['POST /api/orders', 'validate-order', 'reserve-inventory']) {
      expect(row(name)).not.toHaveClass('trace__span--failed');
      expect(row(name)).not.toHaveTextContent('Error');
    }
    expect(screen.getByText(/1 failed/)).toBeInTheDocument();
  });

  it('says quietly that there is no trace when the order has none', () => {
    renderTrace(null);
    expect(screen.getByText('No trace recorded')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.queryByRole('list')).not.toBeInTheDocument();
  });

  it('points to AWS X-Ray with the trace id when the API keeps no spans', () => {
    renderTrace({ trace_id: '1-6744a1b0-0123456789abcdef01234567', spans: [] });
    expect(screen.getByText('Spans are in AWS X-Ray')).toBeInTheDocument();
    expect(screen.getByText('1-6744a1b0-0123456789abcdef01234567')).toBeInTheDocument();
    expect(screen.queryByRole('list')).not.toBeInTheDocument();
  });
});
