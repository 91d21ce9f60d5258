import { useCallback, useEffect, useState } from 'react';
import type { Order } from '../api/types';
import { Empty, ErrorMessage, Loading, StatusBadge } from '../components/ui';
import { useApp } from '../context';
import { dateTime, money, shortId } from '../format';
import { Link } from '../router';

export const PAGE_SIZE = 10;
export const LIST_POLL_MS = 3000;

export function OrdersPage() {
  const { client } = useApp();
  const [orders, setOrders] = useState<Order[]>([]);
  const [cursor, setCursor] = useState<string | null>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();

  const load = useCallback(
    async (after?: string) => {
      setLoading(true);
      setError(undefined);
      try {
        const page = await client.listOrders(PAGE_SIZE, after);
        setOrders((previous) => (after ? [...previous, ...page.orders] : page.orders));
        setCursor(page.next_cursor ?? null);
      } catch (e) {
        setError(e);
      } finally {
        setLoading(false);
      }
    },
    [client],
  );

  useEffect(() => {
    void load();
  }, [load]);

  // While an order is still running, refresh the first page: new statuses, and orders placed elsewhere.
  const running = orders.some((o) => o.status === 'PENDING' || o.status === 'PROCESSING');
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(async () => {
      try {
        const page = await client.listOrders(PAGE_SIZE);
        setOrders((previous) => {
          const fresh = new Set(page.orders.map((o) => o.id));
          return [...page.orders, ...previous.filter((o) => !fresh.has(o.id))];
        });
      } catch {
        // The next tick, or the Refresh button, tries again.
      }
    }, LIST_POLL_MS);
    return () => clearInterval(timer);
  }, [client, running]);

  return (
    <section aria-labelledby="orders-title">
      <div className="page-head">
        <h1 id="orders-title">Orders</h1>
        <div className="page-head__actions">
          <button type="button" className="button button--secondary" onClick={() => void load()} disabled={loading}>
            Refresh
          </button>
          <Link to="/orders/new" className="button">
            New order
          </Link>
        </div>
      </div>
      {error !== undefined && <ErrorMessage error={error} onRetry={() => void load(orders.length ? cursor ?? undefined : undefined)} />}
      {orders.length === 0 && loading && <Loading label="Loading orders…" />}
      {orders.length === 0 && !loading && error === undefined && (
        <Empty>
          <p>No orders yet.</p>
          <Link to="/orders/new" className="button">
            Place your first order
          </Link>
        </Empty>
      )}
      {orders.length > 0 && (
        <ul className="order-list" aria-label="Orders, newest first">
          {orders.map((order) => (
            <li key={order.id} className="order-row card">
              <Link to={`/orders/${order.id}`} className="order-row__link" aria-label={`Order ${shortId(order.id)}, ${order.status}, ${money(order.total_minor, order.currency)}`}>
                <span className="order-row__id mono">#{shortId(order.id)}</span>
                <span className="order-row__items">
                  {order.items.map((item) => `${item.quantity} × ${item.sku}`).join(', ')}
                </span>
                <span className="order-row__total">{money(order.total_minor, order.currency)}</span>
                <StatusBadge status={order.status} />
                <time className="order-row__time muted" dateTime={order.created_at}>
                  {dateTime(order.created_at)}
                </time>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {cursor && orders.length > 0 && (
        <div className="pager">
          <button type="button" className="button button--secondary" onClick={() => void load(cursor)} disabled={loading}>
            {loading ? 'Loading…' : 'Load more'}
          </button>
        </div>
      )}
    </section>
  );
}
