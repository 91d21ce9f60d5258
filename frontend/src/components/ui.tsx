import type { ReactNode } from 'react';
import type { OrderStatus } from '../api/types';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="state state--loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

export function ErrorMessage({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="state state--error" role="alert">
      <p>{message}</p>
      {onRetry && (
        <button type="button" className="button button--secondary" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** A refresh that failed while the page still shows what it loaded before. */
export function RefreshFailed({ error, what }: { error: Error; what?: string }) {
  return (
    <p className="notice" role="status">
      Could not refresh{what ? ` ${what}` : ''}: {error.message}
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state--empty">{children}</div>;
}

export function StatusBadge({ status }: { status: OrderStatus }) {
  return (
    <span className={`badge badge--${status.toLowerCase()}`} data-testid="order-status">
      {status}
    </span>
  );
}
