import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { Webhook } from '../api/types';
import { Empty, ErrorMessage, Loading } from '../components/ui';
import { describeDetail, eventInfo } from '../events';
import { dateTime } from '../format';
import { DELIVERIES_POLL_MS, useDeleteWebhook, useEvents, useRegisterWebhook, useWebhooks } from '../queries';

export function WebhooksPage() {
  const list = useWebhooks();
  const deliveries = useEvents(100, DELIVERIES_POLL_MS);
  const registerWebhook = useRegisterWebhook();
  const deleteWebhook = useDeleteWebhook();
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<Webhook>();
  const [deleteError, setDeleteError] = useState<unknown>();

  const register = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setCreated(undefined);
    try {
      const webhook = await registerWebhook.mutateAsync({ url: url.trim() });
      setCreated(webhook);
      setUrl('');
    } catch (e) {
      if (e instanceof ApiError && e.problem) {
        const fields = e.fieldErrors.map((f) => f.message);
        setError(fields.length ? fields.join(' ') : e.problem.detail || e.problem.title);
      } else {
        setError(e instanceof Error ? e.message : String(e));
      }
    }
  };

  const remove = async (id: string) => {
    setDeleteError(undefined);
    try {
      await deleteWebhook.mutateAsync(id);
      if (created?.id === id) setCreated(undefined);
    } catch (e) {
      setDeleteError(e);
    }
  };

  const webhookEvents = (deliveries.data?.events ?? []).filter((e) => e.type.startsWith('webhook.'));
  const webhooks = list.data?.webhooks ?? [];

  return (
    <section aria-labelledby="webhooks-title">
      <div className="page-head">
        <h1 id="webhooks-title">Webhooks</h1>
      </div>
      <form className="card webhook-form" onSubmit={register} noValidate>
        <div className="field">
          <label className="field__label" htmlFor="webhook-url">
            Webhook URL
          </label>
          <input
            id="webhook-url"
            type="url"
            inputMode="url"
            placeholder="https://example.com/hook"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'webhook-url-error' : 'webhook-url-hint'}
          />
          {error ? (
            <span id="webhook-url-error" className="field__error" role="alert">
              {error}
            </span>
          ) : (
            <span id="webhook-url-hint" className="field__hint">
              https only; receives order.confirmed and order.failed, signed with HMAC-SHA256.
            </span>
          )}
        </div>
        <button type="submit" className="button" disabled={registerWebhook.isPending}>
          {registerWebhook.isPending ? 'Registering…' : 'Register webhook'}
        </button>
      </form>
      {created && (
        <div className="notice notice--success" role="status">
          Registered <span className="mono">{created.url}</span>. Signing secret (shown only now):{' '}
          <code className="secret">{created.secret}</code>
        </div>
      )}
      {deleteError !== undefined && <ErrorMessage error={deleteError} />}
      <h2>Registered</h2>
      {!list.data && list.error && <ErrorMessage error={list.error} onRetry={() => void list.refetch()} />}
      {!list.data && !list.error && <Loading label="Loading webhooks…" />}
      {list.data && webhooks.length === 0 && (
        <Empty>
          <p>No webhooks registered.</p>
        </Empty>
      )}
      {webhooks.length > 0 && (
        <ul className="webhook-list" aria-label="Registered webhooks">
          {webhooks.map((webhook) => (
            <li key={webhook.id} className="card webhook">
              <div>
                <p className="mono webhook__url">{webhook.url}</p>
                <p className="small muted">
                  {webhook.event_types.join(', ')} · since {dateTime(webhook.created_at)}
                </p>
              </div>
              <button type="button" className="button button--danger" onClick={() => void remove(webhook.id)} aria-label={`Delete webhook ${webhook.url}`}>
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
      <h2>Deliveries</h2>
      {webhookEvents.length === 0 ? (
        <Empty>
          <p>No deliveries yet.</p>
        </Empty>
      ) : (
        <ul className="feed" aria-label="Webhook deliveries">
          {webhookEvents.map((event) => {
            const info = eventInfo(event.type);
            return (
              <li key={event.id} className={`feed__item feed__item--${info.kind}`}>
                <div className="feed__head">
                  <strong>{info.label}</strong>
                  <time className="muted small" dateTime={event.occurred_at}>
                    {dateTime(event.occurred_at)}
                  </time>
                </div>
                <p className="small">{describeDetail(event.detail)}</p>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
