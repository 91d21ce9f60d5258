// The last hour at a glance on the orders page: orders per status, and how long each saga step
// took. Chart.js draws them (only the parts registered here are bundled); each chart carries its
// figures as a table for screen readers, and the section loads after the page's first paint.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { Bar } from 'react-chartjs-2';
import { ACTIVITY_EVENTS, ACTIVITY_ORDERS, ACTIVITY_POLL_MS, useActivity } from '../queries';
import { ordersPerStatus, stepDurations } from '../stats';
import { ErrorMessage, Loading } from './ui';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

/** The badges' colours (styles.css), strong enough for bars on white. */
const STATUS_COLOURS = { PENDING: '#6b7390', PROCESSING: '#3b4fd8', CONFIRMED: '#157347', FAILED: '#b42318' };

const ms = (value: number) => `${value.toLocaleString('en', { maximumFractionDigits: 1 })} ms`;

export function ActivityCharts({ now = Date.now() }: { now?: number }) {
  const { orders, events } = useActivity();
  if (orders.error || events.error) {
    const error = orders.error ?? events.error;
    return <ErrorMessage error={error} onRetry={() => void Promise.all([orders.refetch(), events.refetch()])} />;
  }
  if (!orders.data || !events.data) return <Loading label="Loading the last hour…" />;

  const statuses = ordersPerStatus(orders.data.orders, now);
  const steps = stepDurations(events.data.events, now);
  const placed = statuses.reduce((sum, s) => sum + s.count, 0);
  if (placed === 0 && steps.length === 0) return <p className="muted">No orders in the last hour.</p>;

  return (
    <div className="charts">
      <figure className="chart">
        <figcaption>Orders per status</figcaption>
        <div className="chart__canvas">
          <Bar
            aria-label={`Orders placed in the last hour: ${statuses.map((s) => `${s.count} ${s.status.toLowerCase()}`).join(', ')}`}
            role="img"
            data={{
              labels: statuses.map((s) => s.status),
              datasets: [
                {
                  label: 'Orders',
                  data: statuses.map((s) => s.count),
                  backgroundColor: statuses.map((s) => STATUS_COLOURS[s.status]),
                },
              ],
            }}
            options={{
              maintainAspectRatio: false,
              animation: false,
              plugins: { legend: { display: false } },
              scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
            }}
          />
        </div>
        <table className="visually-hidden">
          <caption>Orders placed in the last hour, by status</caption>
          <tbody>
            {statuses.map((s) => (
              <tr key={s.status}>
                <th scope="row">{s.status}</th>
                <td>{s.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figure>
      <figure className="chart">
        <figcaption>Saga step durations (median and slowest)</figcaption>
        {steps.length === 0 ? (
          <p className="muted">No saga step finished in the last hour.</p>
        ) : (
          <>
            <div className="chart__canvas">
              <Bar
                aria-label={`Saga step durations in the last hour: ${steps.map((s) => `${s.label} median ${ms(s.medianMs)}, slowest ${ms(s.maxMs)}`).join('; ')}`}
                role="img"
                data={{
                  labels: steps.map((s) => s.label),
                  datasets: [
                    { label: 'Median', data: steps.map((s) => s.medianMs), backgroundColor: '#3b4fd8' },
                    { label: 'Slowest', data: steps.map((s) => s.maxMs), backgroundColor: '#9aa6f0' },
                  ],
                }}
                options={{
                  indexAxis: 'y',
                  maintainAspectRatio: false,
                  animation: false,
                  scales: { x: { beginAtZero: true, title: { display: true, text: 'milliseconds' } } },
                }}
              />
            </div>
            <table className="visually-hidden">
              <caption>Saga step durations in the last hour</caption>
              <thead>
                <tr>
                  <th scope="col">Step</th>
                  <th scope="col">Orders</th>
                  <th scope="col">Median</th>
                  <th scope="col">Slowest</th>
                </tr>
              </thead>
              <tbody>
                {steps.map((s) => (
                  <tr key={s.label}>
                    <th scope="row">{s.label}</th>
                    <td>{s.count}</td>
                    <td>{ms(s.medianMs)}</td>
                    <td>{ms(s.maxMs)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </figure>
      <p className="small muted chart__source">
        From your latest {ACTIVITY_ORDERS} orders and {ACTIVITY_EVENTS} events; refreshed every {ACTIVITY_POLL_MS / 1000} s.
      </p>
    </div>
  );
}
