import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';
import type { OrderDetail } from '../api/types';
import { Timeline } from '../components/Timeline';
import { TraceTimeline } from '../components/TraceTimeline';
import { ErrorMessage, Loading, StatusBadge } from '../components/ui';
import { useApp } from '../context';
import { dateTime, money, shortId } from '../format';
import { useResource } from '../hooks';
import { Link } from '../router';

export const ORDER_POLL_MS = 1000;

/** How long after confirmation the page waits for the receipt (and deliveries) to show up. */
export const RECEIPT_WAIT_MS = 120_000;

/** Whether the page should keep asking: the saga is running, or a receipt is still to come. */
export function stillChanging(detail: OrderDetail, now = Date.now()): boolean {
  const { status, receipt_key, updated_at } = detail.order;
  if (status === 'PENDING' || status === 'PROCESSING') return true;
  const recent = now - Date.parse(updated_at) < RECEIPT_WAIT_MS;
  return status === 'CONFIRMED' && !receipt_key && recent;
}

/**
 * How long after the order's last change its trace is still refreshed: the processors (email,
 * receipt, webhook) record their spans after the order is confirmed or failed.
 */
export const TRACE_SETTLE_MS = 10_000;

/** Whether the trace may still gain spans: the order is, or has only just stopped, changing. */
export function traceStillChanging(detail: OrderDetail | undefined, now = Date.now()): boolean {
  if (!detail) return true;
  return stillChanging(detail, now) || now - Date.parse(detail.order.updated_at) < TRACE_SETTLE_MS;
}

function sameOrigin(url: string): boolean {
  try {
    return new URL(url, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

export function OrderDetailPage({ id }: { id: string }) {
  const { client } = useApp();
  const detail = useResource(() => client.order(id), [client, id], {
    pollMs: ORDER_POLL_MS,
    keepPolling: (d) => d !== undefined && stillChanging(d),
  });
  // Read when a trace poll returns, so the trace follows the order's latest state.
  const traceChanging = useRef(true);
  traceChanging.current = traceStillChanging(detail.data);
  const trace = useResource(() => client.trace(id), [client, id], {
    pollMs: ORDER_POLL_MS,
    keepPolling: () => traceChanging.current,
  });
  const receiptKey = detail.data?.order.receipt_key;
  const [receipt, setReceipt] = useState<{ url?: string; error?: unknown }>({});
  useEffect(() => {
    if (!receiptKey) return;
    let cancelled = false;
    client
      .receipt(id)
      .then((url) => !cancelled && setReceipt({ url }))
      .catch((error) => !cancelled && setReceipt({ error }));
    return () => {
      cancelled = true;
    };
  }, [client, id, receiptKey]);

  if (!detail.data) {
    if (detail.error) {
      const notFound = detail.error instanceof ApiError && (detail.error.status === 404 || detail.error.status === 400);
      return (
        <section>
          <h1>Order</h1>
          <ErrorMessage error={notFound ? new Error('No such order.') : detail.error} onRetry={notFound ? undefined : detail.reload} />
          <Link to="/orders">Back to orders</Link>
        </section>
      );
    }
    return <Loading label="Loading order…" />;
  }

  const { order, history } = detail.data;
  const running = order.status === 'PENDING' || order.status === 'PROCESSING';
  return (
    <section aria-labelledby="order-title" className="order-detail">
      <p>
        <Link to="/orders">← Orders</Link>
      </p>
      <div className="page-head">
        <h1 id="order-title">
          Order <span className="mono">#{shortId(order.id)}</span>
        </h1>
        <StatusBadge status={order.status} />
      </div>
      {detail.error !== undefined && (
        <p className="notice" role="status">
          Could not refresh: {detail.error instanceof Error ? detail.error.message : String(detail.error)}
        </p>
      )}
      <div className="order-detail__grid">
        <div className="card">
          <h2>Summary</h2>
          <dl className="facts">
            <dt>Status</dt>
            <dd aria-label="Order status" data-testid="order-final-state">
              {order.status}
              {running && <span className="muted"> — in progress…</span>}
            </dd>
            <dt>Total</dt>
            <dd>{money(order.total_minor, order.currency)}</dd>
            <dt>Placed</dt>
            <dd>
              <time dateTime={order.created_at}>{dateTime(order.created_at)}</time>
            </dd>
            <dt>Order id</dt>
            <dd className="mono small">{order.id}</dd>
          </dl>
          <table className="items">
            <caption className="visually-hidden">Items</caption>
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Qty</th>
                <th scope="col">Unit price</th>
              </tr>
            </thead>
            <tbody>
              {order.items.map((item) => (
                <tr key={item.sku}>
                  <td>{item.sku}</td>
                  <td>{item.quantity}</td>
                  <td>{money(item.unit_price_minor, order.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="receipt">
            <h3>Receipt</h3>
            {receipt.url ? (
              <a
                className="button"
                href={receipt.url}
                download
                {...(sameOrigin(receipt.url) ? {} : { target: '_blank', rel: 'noreferrer' })}
              >
                Download receipt (PDF)
              </a>
            ) : receipt.error ? (
              <ErrorMessage error={receipt.error} />
            ) : order.status === 'CONFIRMED' ? (
              <p className="muted" role="status">
                {receiptKey
                  ? 'Fetching the receipt link…'
                  : stillChanging(detail.data)
                    ? 'The receipt is being generated…'
                    : 'No receipt yet. Reload the page to check again.'}
              </p>
            ) : order.status === 'FAILED' ? (
              <p className="muted">No receipt: the order failed.</p>
            ) : (
              <p className="muted">A receipt is written once the order is confirmed.</p>
            )}
          </div>
        </div>
        <div className="card">
          <h2 id="timeline-title">Event history</h2>
          <Timeline events={history} labelledBy="timeline-title" running={running} />
        </div>
      </div>
      <section className="card trace-card" aria-labelledby="trace-title" data-testid="order-trace">
        <h2 id="trace-title">Trace</h2>
        {trace.data !== undefined ? (
          <>
            {trace.error !== undefined && (
              <p className="notice" role="status">
                Could not refresh the trace: {trace.error instanceof Error ? trace.error.message : String(trace.error)}
              </p>
            )}
            <TraceTimeline trace={trace.data} labelledBy="trace-title" />
          </>
        ) : trace.error !== undefined ? (
          <ErrorMessage error={trace.error} onRetry={trace.reload} />
        ) : (
          <Loading label="Loading trace…" />
        )}
      </section>
    </section>
  );
}
