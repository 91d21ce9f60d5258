import { render } from '@testing-library/react';
import { vi } from 'vitest';
import { App } from './App';
import type { ApiEvent, Order, RuntimeConfig } from './api/types';
import { saveSession } from './auth/session';

export type Handler = (request: { method: string; url: URL; body?: unknown; headers: Record<string, string> }) =>
  | { status?: number; body?: unknown }
  | undefined;

/** Replaces fetch with `handler`; unknown requests get a 404 problem. Returns the mock. */
export function mockApi(handler: Handler) {
  const mock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), 'http://localhost');
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    const result = handler({ method: init.method ?? 'GET', url, body, headers: (init.headers ?? {}) as Record<string, string> });
    if (!result) {
      return new Response(JSON.stringify({ type: 'x', title: 'Not Found', status: 404, detail: `no ${url.pathname}` }), { status: 404 });
    }
    const status = result.status ?? 200;
    return new Response(status === 204 ? null : JSON.stringify(result.body ?? {}), { status });
  });
  vi.stubGlobal('fetch', mock);
  return mock;
}

export const devConfig: RuntimeConfig = { apiBaseUrl: '', auth: { mode: 'dev' } };

/** An unsigned token whose claims say the user is in the `admins` group. */
export const ADMIN_TOKEN = `h.${btoa(JSON.stringify({ username: 'olivia', 'cognito:groups': ['admins'] }))}.s`;

export function renderApp(path: string, { signedIn = true, config = devConfig, accessToken = 'token-1' } = {}) {
  window.history.replaceState(null, '', path);
  if (signedIn) saveSession({ accessToken, username: 'alice', expiresAt: Date.now() + 3_600_000 });
  return render(<App configLoader={async () => config} />);
}

export function order(overrides: Partial<Order> = {}): Order {
  return {
    id: '11111111-2222-4333-8444-555555555555',
    user_id: 'u1',
    items: [{ sku: 'MONITOR-27', quantity: 1, unit_price_minor: 32900 }],
    currency: 'USD',
    total_minor: 32900,
    status: 'PENDING',
    created_at: '2026-11-25T07:00:00Z',
    updated_at: '2026-11-25T07:00:00Z',
    idempotency_key: 'k',
    receipt_key: null,
    ...overrides,
  };
}

let n = 0;
export function event(type: string, detail: Record<string, unknown> = {}, orderId = order().id): ApiEvent {
  n += 1;
  return { id: `e${n}`, type, order_id: orderId, user_id: 'u1', occurred_at: `2026-11-25T07:00:${String(n % 60).padStart(2, '0')}Z`, detail };
}

export const inventory = {
  items: [
    { sku: 'MONITOR-27', name: '27" Monitor', unit_price_minor: 32900, currency: 'USD', stock: 20 },
    { sku: 'KEYBOARD', name: 'Keyboard', unit_price_minor: 4900, currency: 'USD', stock: 100 },
  ],
};
