import type { CSSProperties } from 'react';
import type { OrderTrace, Span, SpanKind } from '../api/types';
import { millis } from '../format';

/** The narrowest bar, in percent of the trace: a 0.3 ms step in a 30 ms trace must stay visible. */
export const MIN_BAR_PERCENT = 1;

const KIND_LABEL: Record<SpanKind, string> = {
  request: 'Request',
  step: 'Saga step',
  consumer: 'Processor',
};

/**
 * Microseconds since the epoch of an RFC 3339 time. `Date.parse` keeps only milliseconds, and the
 * saga's steps are a few hundred microseconds long, so the fraction is read separately.
 */
export function epochMicros(iso: string): number {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(iso);
  if (!match) return Date.parse(iso) * 1000;
  const seconds = Date.parse(match[1] + match[3]);
  const fraction = Number((match[2] ?? '').padEnd(6, '0').slice(0, 6));
  return seconds * 1000 + fraction;
}

export interface TraceRow {
  span: Span;
  /** 0 for a span without a (known) parent, its parent's depth + 1 otherwise. */
  depth: number;
  parentName?: string;
  /** Microseconds from the trace's first start to this span's start. */
  offsetUs: number;
  /** Where the bar starts and how wide it is, in percent of the whole trace. */
  left: number;
  width: number;
}

/** The spans as timeline rows: sorted by start (ties keep the API's order), with depth and bar geometry. */
export function traceRows(spans: Span[]): TraceRow[] {
  const starts = new Map(spans.map((span) => [span, epochMicros(span.started_at)]));
  const startOf = (span: Span) => {
    const start = starts.get(span) ?? NaN;
    return Number.isFinite(start) ? start : 0;
  };
  const sorted = spans.map((span, index) => ({ span, index })).sort((a, b) => startOf(a.span) - startOf(b.span) || a.index - b.index);
  const byId = new Map(spans.map((span) => [span.span_id, span]));

  const depths = new Map<string, number>();
  const depthOf = (span: Span): number => {
    // Walks up the parents; a parent that is missing or a cycle (a bad trace) ends the walk.
    const seen = new Set<string>();
    let depth = 0;
    let current = span;
    while (current.parent_span_id) {
      seen.add(current.span_id);
      const parent = byId.get(current.parent_span_id);
      if (!parent || seen.has(parent.span_id)) break;
      const known = depths.get(parent.span_id);
      if (known !== undefined) return known + depth + 1;
      depth += 1;
      current = parent;
    }
    return depth;
  };

  const first = sorted.length ? Math.min(...sorted.map(({ span }) => startOf(span))) : 0;
  const last = sorted.length ? Math.max(...sorted.map(({ span }) => startOf(span) + Math.max(0, span.duration_us))) : 0;
  const total = Math.max(1, last - first);

  return sorted.map(({ span }) => {
    const depth = depthOf(span);
    depths.set(span.span_id, depth);
    const offsetUs = startOf(span) - first;
    const width = Math.max(MIN_BAR_PERCENT, (Math.max(0, span.duration_us) / total) * 100);
    const left = Math.max(0, Math.min((offsetUs / total) * 100, 100 - width));
    const parent = span.parent_span_id ? byId.get(span.parent_span_id) : undefined;
    return { span, depth, parentName: parent?.name, offsetUs, left, width };
  });
}

export function spanFailed(span: Span): boolean {
  return span.error !== null && span.error !== undefined;
}

/**
 * An order's trace as a waterfall: one row per span, earliest first, indented under the span that
 * caused it, with a bar placed and sized by its start and duration within the whole trace.
 * `trace` null means the order has none; no spans means they were sent to AWS X-Ray.
 */
export function TraceTimeline({ trace, labelledBy }: { trace: OrderTrace | null; labelledBy: string }) {
  if (trace === null) {
    return <p className="state state--empty">No trace recorded</p>;
  }
  if (trace.spans.length === 0) {
    return (
      <div className="state state--empty trace__xray">
        <p>Spans are in AWS X-Ray</p>
        <p className="small">
          Trace id <code className="trace__id">{trace.trace_id}</code>
        </p>
      </div>
    );
  }
  const rows = traceRows(trace.spans);
  const failures = rows.filter((row) => spanFailed(row.span)).length;
  return (
    <>
      <p className="trace__summary muted small">
        {rows.length} {rows.length === 1 ? 'span' : 'spans'} · trace <code className="trace__id">{trace.trace_id}</code>
        {failures > 0 && (
          <span className="text-alarm">
            {' '}
            · {failures} failed
          </span>
        )}
      </p>
      <ol className="trace" aria-labelledby={labelledBy}>
        {rows.map(({ span, depth, parentName, offsetUs, left, width }) => {
          const isFailed = spanFailed(span);
          return (
            <li
              key={span.span_id}
              className={`trace__span trace__span--${span.kind}${isFailed ? ' trace__span--failed' : ''}`}
              data-name={span.name}
              data-kind={span.kind}
              data-depth={depth}
              style={{ '--depth': depth } as CSSProperties}
            >
              <p className="trace__label">
                <span className="trace__name">{span.name}</span>
                {parentName && <span className="visually-hidden"> (within {parentName})</span>}
                <span className={`tag tag--span-${span.kind}`}>{KIND_LABEL[span.kind] ?? span.kind}</span>
                {isFailed && <span className="tag tag--declined">Failed</span>}
              </p>
              <p className="trace__timing small">
                <span className="trace__duration" aria-label="Duration">
                  {millis(span.duration_us)}
                </span>
                <span className="muted trace__offset">
                  {' '}
                  <span className="visually-hidden">starting </span>+{millis(offsetUs)}
                </span>
              </p>
              <div className="trace__track" aria-hidden="true">
                <span className="trace__bar" style={{ left: `${left}%`, width: `${width}%` }} />
              </div>
              {isFailed && <p className="trace__error small">Error: {span.error || 'failed'}</p>}
            </li>
          );
        })}
      </ol>
    </>
  );
}
