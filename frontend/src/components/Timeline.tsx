import type { ApiEvent } from '../api/types';
import { describeDetail, eventInfo } from '../events';
import { dateTime } from '../format';

const KIND_TAG: Record<string, string | undefined> = {
  compensation: 'Compensation',
  failed: 'Compensation · final',
  declined: 'Failure',
  confirmed: 'Final',
  'dead-letter': 'DLQ',
  'delivery-failed': 'Delivery failed',
  delivery: 'Delivery',
};

export function Timeline({ events, labelledBy, running }: { events: ApiEvent[]; labelledBy: string; running?: boolean }) {
  if (events.length === 0) return <p className="state state--empty">No events yet.</p>;
  return (
    <ol className="timeline" aria-labelledby={labelledBy}>
      {events.map((event) => {
        const info = eventInfo(event.type);
        const tag = KIND_TAG[info.kind];
        const detail = describeDetail(event.detail);
        return (
          <li key={event.id} className={`timeline__item timeline__item--${info.kind}`} data-kind={info.kind} data-type={event.type}>
            <span className="timeline__dot" aria-hidden="true" />
            <div className="timeline__body">
              <p className="timeline__title">
                <strong>{info.label}</strong>
                {tag && <span className={`tag tag--${info.kind}`}>{tag}</span>}
              </p>
              <p className="timeline__meta muted">
                <code>{event.type}</code> · <time dateTime={event.occurred_at}>{dateTime(event.occurred_at)}</time>
              </p>
              {detail && <p className="timeline__detail small">{detail}</p>}
            </div>
          </li>
        );
      })}
      {running && (
        <li className="timeline__item timeline__item--pending" aria-live="polite">
          <span className="timeline__dot" aria-hidden="true" />
          <div className="timeline__body">
            <p className="timeline__title muted">Waiting for the next step…</p>
          </div>
        </li>
      )}
    </ol>
  );
}
