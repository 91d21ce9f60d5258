import { lazy, Suspense } from 'react';
import { Link } from 'react-router';
import { Empty, ErrorMessage, Loading, RefreshFailed, StatusBadge } from '../components/ui';
import { dateTime, money, shortId } from '../format';
import { useOrders } from '../queries';

// Chart.js is most of the charts' weight: it loads after the list, not before it.
const ActivityCharts = lazy(() => import('../components/ActivityCharts').then((m) => ({ default: m.ActivityCharts })));

export function OrdersPage() {
  const list = useOrders();
  const orders = list.data?.pages.flatMap((page) => page.orders) ?? [];
  const error = list.error ?? undefined;

  return (
    <section aria-labelledby="orders-title">
      <div className="page-head">
        <h1 id="orders-title">Orders</h1>
        <div className="page-head__actions">
          <button type="button" className="button button--secondary" onClick={() => void list.refetch()} disabled={list.isPending}>
            Refresh
          </button>
          <Link to="/orders/new" className="button">
            New order
          </Link>
        </div>
      </div>
      {error !== undefined && orders.length > 0 && !list.isFetchNextPageError && <RefreshFailed error={error} />}
      {error !== undefined && (orders.length === 0 || list.isFetchNextPageError) && (
        <ErrorMessage error={error} onRetry={() => void (list.isFetchNextPageError ? list.fetchNextPage() : list.refetch())} />
      )}
      {orders.length === 0 && list.isPending && <Loading label="Loading orders…" />}
      {orders.length === 0 && list.isSuccess && (
        <Empty>
          <p>No orders yet.</p>
          <Link to="/orders/new" className="button">
            Place your first order
          </Link>
        </Empty>
      )}
      {orders.length > 0 && (
        <section className="card activity" aria-labelledby="activity-title">
          <h2 id="activity-title">The last hour</h2>
          <Suspense fallback={<Loading label="Loading the charts…" />}>
            <ActivityCharts />
          </Suspense>
        </section>
      )}
      {orders.length > 0 && (
        <ul className="order-list" aria-label="Orders, newest first">
          {orders.map((order) => (
            <li key={order.id} className="order-row card">
              <Link to={`/orders/${order.id}`} className="order-row__link">
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
      {list.hasNextPage && orders.length > 0 && (
        <div className="pager">
          <button type="button" className="button button--secondary" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
            {list.isFetchingNextPage ? 'Loading…' : 'Load more'}
          </button>
        </div>
      )}
    </section>
  );
}
