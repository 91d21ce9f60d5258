// How each event type is shown: the saga's steps, its compensation, the final states, and the
// fan-out's deliveries (webhooks, receipts, email) including dead-lettered messages.

export type EventKind =
  | 'step'
  | 'compensation'
  | 'declined'
  | 'confirmed'
  | 'failed'
  | 'delivery'
  | 'delivery-failed'
  | 'dead-letter'
  | 'info';

export interface EventInfo {
  label: string;
  kind: EventKind;
}

const KNOWN: Record<string, EventInfo> = {
  'order.created': { label: 'Order placed', kind: 'step' },
  'order.validated': { label: 'Validated', kind: 'step' },
  'inventory.reserved': { label: 'Stock reserved', kind: 'step' },
  'payment.charged': { label: 'Payment charged', kind: 'step' },
  'payment.declined': { label: 'Payment declined', kind: 'declined' },
  'order.confirmed': { label: 'Order confirmed', kind: 'confirmed' },
  'inventory.released': { label: 'Stock released (compensation)', kind: 'compensation' },
  'order.failed': { label: 'Order failed (compensation)', kind: 'failed' },
  'receipt.generated': { label: 'Receipt generated', kind: 'delivery' },
  'email.sent': { label: 'Email sent', kind: 'delivery' },
  'email.skipped': { label: 'No email: no verified address', kind: 'delivery-failed' },
  'webhook.delivered': { label: 'Webhook delivered', kind: 'delivery' },
  'webhook.failed': { label: 'Webhook delivery failed', kind: 'delivery-failed' },
  'message.dead_lettered': { label: 'Message dead-lettered (DLQ)', kind: 'dead-letter' },
};

export function eventInfo(type: string): EventInfo {
  const known = KNOWN[type];
  if (known) return known;
  const failed = /(failed|failure|rejected|exhausted|dead)/.test(type);
  if (type.startsWith('webhook.')) {
    return { label: `Webhook ${type.slice('webhook.'.length).replace(/[_-]/g, ' ')}`, kind: failed ? 'delivery-failed' : 'delivery' };
  }
  if (type.startsWith('email.') || type.startsWith('receipt.')) {
    return { label: type, kind: failed ? 'delivery-failed' : 'delivery' };
  }
  return { label: type, kind: failed ? 'delivery-failed' : 'info' };
}

/** Whether an event is a problem worth highlighting in the feed. */
export function isAlarming(type: string): boolean {
  const kind = eventInfo(type).kind;
  return kind === 'dead-letter' || kind === 'delivery-failed' || kind === 'declined' || kind === 'failed';
}

/** A short, readable line from an event's detail object. */
export function describeDetail(detail: unknown): string {
  if (detail === null || detail === undefined) return '';
  if (typeof detail !== 'object') return String(detail);
  const parts: string[] = [];
  for (const [key, value] of Object.entries(detail as Record<string, unknown>)) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'object') {
      if (Array.isArray(value) && value.every((v) => typeof v === 'object' && v && 'sku' in v)) {
        parts.push(`${key}: ${value.map((v) => `${(v as { quantity?: number }).quantity ?? '?'} × ${(v as { sku: string }).sku}`).join(', ')}`);
      } else {
        parts.push(`${key}: ${JSON.stringify(value)}`);
      }
    } else {
      parts.push(`${key}: ${String(value)}`);
    }
  }
  return parts.join(' · ');
}
