import { Link } from 'react-router';
import { ApiError } from '../api/client';
import { Timeline } from '../components/Timeline';
import { TraceTimeline } from '../components/TraceTimeline';
import { ErrorMessage, Loading, RefreshFailed, StatusBadge } from '../components/ui';
import { dateTime, money, shortId } from '../format';
import { stillChanging, useOrder, useReceipt, useTrace } from '../queries';

function sameOrigin(url: string): boolean {
  try {
    return new URL(url, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

export function OrderDetailPage({ id }: { id: string }) {
  const detail = useOrder(id);
  const trace = useTrace(id, detail.data);
  const receiptKey = detail.data?.order.receipt_key;
  const receipt = useReceipt(id, receiptKey);

  if (!detail.data) {
    if (detail.error) {
      const notFound = detail.error instanceof ApiError && (detail.error.status === 404 || detail.error.status === 400);
      return (
        <section>
          <h1>Order</h1>
          <ErrorMessage error={notFound ? new Error('No such order.') : detail.error} onRetry={notFound ? undefined : () => void detail.refetch()} />
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
      {detail.error && <RefreshFailed error={detail.error} />}
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
            {receipt.data ? (
              <a
                className="button"
                href={receipt.data}
                download
                {...(sameOrigin(receipt.data) ? {} : { target: '_blank', rel: 'noreferrer' })}
              >
                Download receipt (PDF)
              </a>
            ) : receipt.error ? (
              <ErrorMessage error={receipt.error} onRetry={() => void receipt.refetch()} />
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
            {trace.error && <RefreshFailed error={trace.error} what="the trace" />}
            <TraceTimeline trace={trace.data} labelledBy="trace-title" />
          </>
        ) : trace.error ? (
          <ErrorMessage error={trace.error} onRetry={() => void trace.refetch()} />
        ) : (
          <Loading label="Loading trace…" />
        )}
      </section>
    </section>
  );
}
