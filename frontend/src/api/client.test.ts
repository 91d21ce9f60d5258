import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError } from './client';

function json(status: number, body: unknown, type = 'application/json') {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': type } });
}

describe('ApiClient', () => {
  it('sends the bearer token and the Idempotency-Key', async () => {
    const fetch = vi.fn(async () => json(201, { id: 'o1' }));
    const client = new ApiClient({ baseUrl: 'https://api.example.com/', token: () => 'tok', fetch });
    await client.createOrder({ items: [{ sku: 'A', quantity: 1 }] }, 'key-1');
    expect(fetch).toHaveBeenCalledWith('https://api.example.com/api/orders', {
      method: 'POST',
      headers: {
        Accept: 'application/json',
        'Content-Type': 'application/json',
        Authorization: 'Bearer tok',
        'Idempotency-Key': 'key-1',
      },
      body: '{"items":[{"sku":"A","quantity":1}]}',
    });
  });

  it('turns a problem body into an ApiError with field errors', async () => {
    const problem = {
      type: 'https://eventforge.dev/problems/validation',
      title: 'Invalid request',
      status: 422,
      detail: 'the order is invalid',
      errors: [{ field: 'items[0].quantity', message: 'must be 1 to 1000' }],
    };
    const client = new ApiClient({ baseUrl: '', fetch: vi.fn(async () => json(422, problem, 'application/problem+json')) });
    const error = await client.createOrder({ items: [] }, 'k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(422);
    expect((error as ApiError).message).toBe('the order is invalid');
    expect((error as ApiError).fieldErrors).toEqual(problem.errors);
  });

  it('reports a 401 so the user is asked to sign in again', async () => {
    const onUnauthorized = vi.fn();
    const client = new ApiClient({ baseUrl: '', onUnauthorized, fetch: vi.fn(async () => json(401, { title: 'Unauthorized', status: 401, detail: 'expired', type: 'x' })) });
    await expect(client.listOrders(10)).rejects.toThrow('expired');
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it('passes the cursor when paging and treats a missing receipt as none', async () => {
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(json(200, { orders: [], next_cursor: null }))
      .mockResolvedValueOnce(json(404, { title: 'Not Found', status: 404, detail: 'no receipt yet', type: 'x' }));
    const client = new ApiClient({ baseUrl: '', fetch });
    await client.listOrders(10, 'abc');
    expect(fetch.mock.calls[0][0]).toBe('/api/orders?limit=10&cursor=abc');
    expect(await client.receipt('o1')).toBeUndefined();
  });

  it('fetches an order\'s trace and treats a 404 as no trace', async () => {
    const trace = { trace_id: 't1', spans: [] };
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(json(200, trace))
      .mockResolvedValueOnce(json(404, { title: 'Not Found', status: 404, detail: 'no trace', type: 'x' }))
      .mockResolvedValueOnce(json(500, { title: 'Internal Server Error', status: 500, detail: 'down', type: 'x' }));
    const client = new ApiClient({ baseUrl: '', token: () => 'tok', fetch });
    expect(await client.trace('o/1')).toEqual(trace);
    expect(fetch.mock.calls[0][0]).toBe('/api/orders/o%2F1/trace');
    expect(fetch.mock.calls[0][1].headers.Authorization).toBe('Bearer tok');
    expect(await client.trace('o1')).toBeNull();
    await expect(client.trace('o1')).rejects.toThrow('down');
  });

  it('reports an unreachable API', async () => {
    const client = new ApiClient({ baseUrl: '', fetch: vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))) });
    await expect(client.webhooks()).rejects.toThrow(/cannot be reached/);
  });
});
