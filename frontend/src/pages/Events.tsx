import { useState } from 'react';
import { Link } from 'react-router';
import type { ApiEvent } from '../api/types';
import { Empty, ErrorMessage, Loading, RefreshFailed } from '../components/ui';
import { describeDetail, eventInfo, isAlarming } from '../events';
import { dateTime, shortId } from '../format';
import { FEED_POLL_MS, useEvents } from '../queries';

export function EventFeed({ events, compact }: { events: ApiEvent[]; compact?: boolean }) {
  return (
    <ul className={`feed${compact ? ' feed--compact' : ''}`} aria-label="Recent events, newest first">
      {events.map((event) => {
        const info = eventInfo(event.type);
        const alarming = isAlarming(event.type);
        const detail = describeDetail(event.detail);
        return (
          <li
            key={event.id}
            className={`feed__item feed__item--${info.kind}${alarming ? ' feed__item--alarm' : ''}`}
            data-type={event.type}
          >
            <div className="feed__head">
              {alarming && (
                <span className="tag tag--alarm">
                  <span className="visually-hidden">Problem: </span>
                  ⚠ {info.kind === 'dead-letter' ? 'DLQ' : 'Failed'}
                </span>
              )}
              <strong>{info.label}</strong>
              <time className="muted small" dateTime={event.occurred_at}>
                {dateTime(event.occurred_at)}
              </time>
            </div>
            <p className="small muted">
              <code>{event.type}</code>
              {event.order_id && (
                <>
                  {' · '}
                  <Link to={`/orders/${event.order_id}`}>order #{shortId(event.order_id)}</Link>
                </>
              )}
            </p>
            {!compact && detail && <p className="small feed__detail">{detail}</p>}
          </li>
        );
      })}
    </ul>
  );
}

export function EventsPage() {
  const feed = useEvents(50, FEED_POLL_MS);
  const [onlyProblems, setOnlyProblems] = useState(false);
  const all = feed.data?.events ?? [];
  const problems = all.filter((e) => isAlarming(e.type)).length;
  const events = onlyProblems ? all.filter((e) => isAlarming(e.type)) : all;
  return (
    <section aria-labelledby="events-title">
      <div className="page-head">
        <h1 id="events-title">Live events</h1>
        <p className="muted small" aria-live="polite">
          <span className="live-dot" aria-hidden="true" /> refreshing every {FEED_POLL_MS / 1000} s
          {problems > 0 && <strong className="text-alarm"> · {problems} problem{problems === 1 ? '' : 's'}</strong>}
        </p>
      </div>
      <label className="checkbox">
        <input type="checkbox" checked={onlyProblems} onChange={(e) => setOnlyProblems(e.target.checked)} /> Only problems
        (failed payments and deliveries, dead-lettered messages)
      </label>
      {feed.error && feed.data && <RefreshFailed error={feed.error} />}
      {!feed.data && feed.error && <ErrorMessage error={feed.error} onRetry={() => void feed.refetch()} />}
      {!feed.data && !feed.error && <Loading label="Loading events…" />}
      {feed.data && events.length === 0 && (
        <Empty>
          <p>{onlyProblems ? 'No problems among the recent events.' : 'No events yet. Place an order and watch it here.'}</p>
        </Empty>
      )}
      {events.length > 0 && <EventFeed events={events} />}
    </section>
  );
}
