import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { render } from '@testing-library/react';
import { ORDERS_PAGE_SIZE } from './queries';
import { ADMIN_TOKEN, devConfig, event, inventory, mockApi, order, renderApp } from './test-utils';

describe('sign-in', () => {
  it('signs in as a named user with the development issuer', async () => {
    const api = mockApi(({ method, url, body }) => {
      if (method === 'POST' && url.pathname === '/dev/token') {
        expect(body).toEqual({ username: 'alice', admin: false });
        return { body: { access_token: 'h.e30.s', token_type: 'Bearer', expires_in: 3600, user_id: 'u1' } };
      }
      if (url.pathname === '/api/orders') return { body: { orders: [], next_cursor: null } };
    });
    renderApp('/', { signedIn: false });
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('User name'), 'alice');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('No orders yet.')).toBeInTheDocument();
    expect(screen.getByLabelText('Signed in as')).toHaveTextContent('alice');
    const ordersCall = api.mock.calls.find(([url]) => String(url).startsWith('/api/orders'));
    expect((ordersCall![1]!.headers as Record<string, string>).Authorization).toBe('Bearer h.e30.s');
  });

  it('offers the Cognito hosted UI when configured so', async () => {
    mockApi(() => undefined);
    renderApp('/', {
      signedIn: false,
      config: { apiBaseUrl: 'https://api.example.com', auth: { mode: 'cognito', region: 'eu-west-1', userPoolId: 'p', clientId: 'c', domain: 'd' } },
    });
    expect(await screen.findByRole('button', { name: 'Sign in with Cognito' })).toBeInTheDocument();
    expect(screen.queryByLabelText('User name')).not.toBeInTheDocument();
  });

  it('goes back to sign-in when the API refuses the token', async () => {
    mockApi(({ url }) =>
      url.pathname === '/api/orders' ? { status: 401, body: { type: 'x', title: 'Unauthorized', status: 401, detail: 'token expired' } } : undefined,
    );
    renderApp('/orders');
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.getByText(/sign in again/i)).toBeInTheDocument();
    expect(sessionStorage.getItem('eventforge.session')).toBeNull();
  });

  it('signs out', async () => {
    mockApi(({ url }) => (url.pathname === '/api/orders' ? { body: { orders: [] } } : undefined));
    renderApp('/orders');
    await userEvent.click(await screen.findByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(sessionStorage.getItem('eventforge.session')).toBeNull();
  });

  it('shows why the runtime configuration could not be loaded', async () => {
    render(<App configLoader={() => Promise.reject(new Error('/config.json could not be loaded (404)'))} />);
    expect(await screen.findByRole('alert')).toHaveTextContent('/config.json could not be loaded');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeInTheDocument();
    void devConfig;
  });
});

describe('orders', () => {
  it('lists orders and pages with the cursor', async () => {
    const first = order({ id: 'aaaaaaaa-0000-4000-8000-000000000001', status: 'CONFIRMED' });
    const second = order({ id: 'bbbbbbbb-0000-4000-8000-000000000002', status: 'FAILED' });
    mockApi(({ url }) => {
      if (url.pathname !== '/api/orders') return undefined;
      return url.searchParams.get('cursor') === 'c1'
        ? { body: { orders: [second], next_cursor: null } }
        : { body: { orders: [first], next_cursor: 'c1' } };
    });
    renderApp('/orders');
    const list = await screen.findByRole('list', { name: 'Orders, newest first' });
    expect(within(list).getAllByRole('link')).toHaveLength(1);
    await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(within(list).getAllByRole('link')).toHaveLength(2));
    expect(within(list).getByText('FAILED')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
  });

  it("charts the last hour's orders per status and saga step durations, with the figures as tables", async () => {
    const now = Date.now();
    const placed = new Date(now - 60_000).toISOString();
    const confirmed = order({ id: 'aaaaaaaa-0000-4000-8000-000000000001', status: 'CONFIRMED', created_at: placed });
    const failed = order({ id: 'bbbbbbbb-0000-4000-8000-000000000002', status: 'FAILED', created_at: placed });
    const step = (type: string, msAfter: number) => ({
      ...event(type, {}, confirmed.id),
      occurred_at: new Date(now - 60_000 + msAfter).toISOString(),
    });
    mockApi(({ url }) => {
      if (url.pathname === '/api/orders') return { body: { orders: [confirmed, failed], next_cursor: null } };
      if (url.pathname === '/api/events') {
        expect(url.searchParams.get('limit')).toBe('100');
        return { body: { events: [step('order.created', 0), step('order.validated', 12), step('inventory.reserved', 40)] } };
      }
      return undefined;
    });
    renderApp('/orders');
    const statuses = await screen.findByRole('table', { name: 'Orders placed in the last hour, by status' });
    expect(within(statuses).getByRole('row', { name: 'CONFIRMED 1' })).toBeInTheDocument();
    expect(within(statuses).getByRole('row', { name: 'FAILED 1' })).toBeInTheDocument();
    const steps = screen.getByRole('table', { name: 'Saga step durations in the last hour' });
    expect(within(steps).getByRole('row', { name: 'Validate 1 12 ms 12 ms' })).toBeInTheDocument();
    expect(within(steps).getByRole('row', { name: 'Reserve inventory 1 28 ms 28 ms' })).toBeInTheDocument();
    expect(within(steps).queryByRole('row', { name: /Charge payment/ })).not.toBeInTheDocument();
    expect(screen.getByRole('img', { name: /Orders placed in the last hour: 0 pending, 0 processing, 1 confirmed, 1 failed/ })).toBeInTheDocument();
  });

  it('shows an error with a retry when the list cannot load', async () => {
    mockApi(({ url }) => (url.pathname === '/api/orders' ? { status: 500, body: { type: 'x', title: 'Internal', status: 500, detail: 'boom' } } : undefined));
    renderApp('/orders');
    expect(await screen.findByRole('alert')).toHaveTextContent('boom');
  });

  it('checks the form before sending and says what is missing in plain words', async () => {
    const api = mockApi(({ url }) => (url.pathname === '/api/inventory' ? { body: inventory } : undefined));
    renderApp('/orders/new');
    const user = userEvent.setup();
    await user.selectOptions(await screen.findByLabelText('Product 1'), 'MONITOR-27');
    await user.clear(screen.getByLabelText('Quantity 1'));
    await user.type(screen.getByLabelText('Quantity 1'), '21');
    await user.click(screen.getByRole('button', { name: 'Add item' }));
    await user.click(screen.getByRole('button', { name: 'Place order' }));
    const quantity = screen.getByLabelText('Quantity 1');
    await waitFor(() => expect(quantity).toHaveAttribute('aria-invalid', 'true'));
    expect(quantity).toHaveAccessibleDescription('Only 20 left in stock.');
    expect(screen.getByLabelText('Product 2')).toHaveAccessibleDescription('Choose a product.');
    expect(screen.getByRole('alert')).toHaveTextContent('2 items need your attention');
    expect(api.mock.calls.some(([, init]) => init?.method === 'POST')).toBe(false);
  });

  it("puts the API's field errors next to the fields in a shopper's words, and keeps the form", async () => {
    const posts: Array<{ body: unknown; key: string }> = [];
    mockApi(({ method, url, body, headers }) => {
      if (url.pathname === '/api/inventory') return { body: inventory };
      if (method === 'POST' && url.pathname === '/api/orders') {
        posts.push({ body, key: headers['Idempotency-Key'] });
        return {
          status: 422,
          body: {
            type: 'https://eventforge.dev/problems/validation',
            title: 'Invalid order',
            status: 422,
            detail: 'the order has 1 problem',
            errors: [{ field: 'items[1].sku', message: 'there is no product KEYBOARD' }],
          },
        };
      }
    });
    renderApp('/orders/new');
    const user = userEvent.setup();
    await user.selectOptions(await screen.findByLabelText('Product 1'), 'MONITOR-27');
    await user.click(screen.getByRole('button', { name: 'Add item' }));
    await user.selectOptions(screen.getByLabelText('Product 2'), 'KEYBOARD');
    await user.click(screen.getByRole('button', { name: 'Place order' }));
    const product = screen.getByLabelText('Product 2');
    await waitFor(() => expect(product).toHaveAttribute('aria-invalid', 'true'));
    expect(product).toHaveAccessibleDescription('This product is no longer available: choose another.');
    expect(screen.getByRole('alert')).toHaveTextContent('Invalid order');
    expect(posts[0].body).toEqual({ items: [{ sku: 'MONITOR-27', quantity: 1 }, { sku: 'KEYBOARD', quantity: 1 }] });
    // The same request again keeps its Idempotency-Key; a changed one gets a new key.
    await user.click(screen.getByRole('button', { name: 'Place order' }));
    await user.type(screen.getByLabelText('Quantity 1'), '5');
    await user.click(screen.getByRole('button', { name: 'Place order' }));
    await waitFor(() => expect(posts).toHaveLength(3));
    expect(posts[1].key).toBe(posts[0].key);
    expect(posts[2].key).not.toBe(posts[0].key);
  });

  it('serves a page seen moments ago from the cache, and a new order refreshes what it changed', async () => {
    const placed = order({ id: 'cccccccc-0000-4000-8000-000000000003' });
    let orders: ReturnType<typeof order>[] = [];
    let stock = 100;
    const asked = { orders: 0, inventory: 0 };
    mockApi(({ method, url }) => {
      if (url.pathname === '/api/inventory') {
        asked.inventory += 1;
        return { body: { items: [{ ...inventory.items[1], stock }] } };
      }
      if (method === 'POST' && url.pathname === '/api/orders') {
        orders = [placed];
        stock -= 3;
        return { status: 201, body: placed };
      }
      if (url.pathname === '/api/orders') {
        // The list's page, not the charts' (which ask for the most the API gives).
        if (url.searchParams.get('limit') === String(ORDERS_PAGE_SIZE)) asked.orders += 1;
        return { body: { orders, next_cursor: null } };
      }
      if (url.pathname === `/api/orders/${placed.id}`) return { body: { order: placed, history: [event('order.created')] } };
      if (url.pathname === '/api/events') return { body: { events: [] } };
    });
    renderApp('/orders');
    const user = userEvent.setup();
    expect(await screen.findByText('No orders yet.')).toBeInTheDocument();
    const nav = () => within(screen.getByRole('navigation', { name: 'Main' }));
    await user.click(nav().getByRole('link', { name: 'New order' }));
    await user.selectOptions(await screen.findByLabelText('Product 1'), 'KEYBOARD');
    await user.clear(screen.getByLabelText('Quantity 1'));
    await user.type(screen.getByLabelText('Quantity 1'), '3');
    await user.click(screen.getByRole('button', { name: 'Place order' }));
    await screen.findByRole('heading', { name: /Order #/ });
    // Both were loaded moments ago (fresh in the cache): only the order's invalidation of them
    // makes the pages ask again.
    await user.click(nav().getByRole('link', { name: 'Orders' }));
    const list = await screen.findByRole('list', { name: 'Orders, newest first' });
    expect(within(list).getAllByRole('link')).toHaveLength(1);
    await user.click(nav().getByRole('link', { name: 'New order' }));
    expect(await screen.findByRole('option', { name: /97 in stock/ })).toBeInTheDocument();
    expect(asked).toEqual({ orders: 2, inventory: 2 });
  });

  it('places an order and opens it', async () => {
    const placed = order();
    mockApi(({ method, url }) => {
      if (url.pathname === '/api/inventory') return { body: inventory };
      if (method === 'POST' && url.pathname === '/api/orders') return { status: 201, body: placed };
      if (url.pathname === `/api/orders/${placed.id}`) return { body: { order: placed, history: [event('order.created')] } };
    });
    renderApp('/orders/new');
    const user = userEvent.setup();
    await user.selectOptions(await screen.findByLabelText('Product 1'), 'KEYBOARD');
    await user.clear(screen.getByLabelText('Quantity 1'));
    await user.type(screen.getByLabelText('Quantity 1'), '3');
    expect(screen.getByTestId('order-total')).toHaveTextContent('$147.00');
    await user.click(screen.getByRole('button', { name: 'Place order' }));
    expect(await screen.findByRole('heading', { name: /Order #55555555/ })).toBeInTheDocument();
    expect(window.location.pathname).toBe(`/orders/${placed.id}`);
    expect(screen.getByText('Order placed')).toBeInTheDocument();
  });
});

describe('order detail', () => {
  it('shows a declined order with its compensation in a distinct style', async () => {
    const failed = order({ status: 'FAILED', total_minor: 526400 });
    mockApi(({ url }) =>
      url.pathname === `/api/orders/${failed.id}`
        ? {
            body: {
              order: failed,
              history: [
                event('order.created'),
                event('order.validated'),
                event('inventory.reserved'),
                event('payment.declined', { reason: 'over the limit' }),
                event('inventory.released'),
                event('order.failed', { reason: 'payment declined' }),
              ],
            },
          }
        : undefined,
    );
    const { container } = renderApp(`/orders/${failed.id}`);
    expect(await screen.findByText('Stock released (compensation)')).toBeInTheDocument();
    expect(screen.getByTestId('order-status')).toHaveTextContent('FAILED');
    const items = container.querySelectorAll('ol.timeline > li');
    expect(Array.from(items, (li) => li.getAttribute('data-kind'))).toEqual([
      'step', 'step', 'step', 'declined', 'compensation', 'failed',
    ]);
    expect(items[4]).toHaveTextContent('Compensation');
    expect(screen.getByText('reason: over the limit')).toBeInTheDocument();
    expect(screen.getByText('No receipt: the order failed.')).toBeInTheDocument();
  });

  it('offers the receipt once the order has one', async () => {
    const confirmed = order({ status: 'CONFIRMED', receipt_key: 'receipts/x.pdf' });
    mockApi(({ url }) => {
      if (url.pathname === `/api/orders/${confirmed.id}`) {
        return { body: { order: confirmed, history: [event('order.created'), event('order.confirmed'), event('receipt.generated')] } };
      }
      if (url.pathname === `/api/orders/${confirmed.id}/receipt`) return { body: { url: '/files/receipts/x.pdf' } };
    });
    renderApp(`/orders/${confirmed.id}`);
    const link = await screen.findByRole('link', { name: 'Download receipt (PDF)' });
    expect(link).toHaveAttribute('href', '/files/receipts/x.pdf');
    expect(link).toHaveAttribute('download');
  });

  it('follows a running order until it is confirmed', async () => {
    let calls = 0;
    const id = order().id;
    mockApi(({ url }) => {
      if (url.pathname !== `/api/orders/${id}`) return undefined;
      calls += 1;
      return calls < 2
        ? { body: { order: order({ status: 'PROCESSING' }), history: [event('order.created')] } }
        : { body: { order: order({ status: 'CONFIRMED', receipt_key: null, updated_at: new Date().toISOString() }), history: [event('order.created'), event('order.confirmed')] } };
    });
    renderApp(`/orders/${id}`);
    expect(await screen.findByText('Waiting for the next step…')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('order-status')).toHaveTextContent('CONFIRMED'), { timeout: 3000 });
    expect(screen.getByText('The receipt is being generated…')).toBeInTheDocument();
  });
});

describe('events and webhooks', () => {
  it('highlights dead-lettered messages and failed deliveries in the feed', async () => {
    mockApi(({ url }) =>
      url.pathname === '/api/events'
        ? {
            body: {
              events: [
                event('message.dead_lettered', { queue: 'webhook-dlq' }),
                event('webhook.delivery_failed', { url: 'https://example.com/hook', status: 500 }),
                event('order.confirmed'),
              ],
            },
          }
        : undefined,
    );
    renderApp('/events');
    const feed = await screen.findByRole('list', { name: 'Recent events, newest first' });
    const items = within(feed).getAllByRole('listitem');
    expect(items[0]).toHaveClass('feed__item--alarm');
    expect(items[0]).toHaveTextContent('DLQ');
    expect(items[1]).toHaveClass('feed__item--alarm');
    expect(items[2]).not.toHaveClass('feed__item--alarm');
    expect(screen.getByText(/2 problems/)).toBeInTheDocument();
    await userEvent.click(screen.getByLabelText(/Only problems/));
    expect(within(feed).getAllByRole('listitem')).toHaveLength(2);
  });

  it('registers, lists and deletes webhooks, showing the API\'s errors', async () => {
    let hooks: Array<{ id: string; url: string; event_types: string[]; created_at: string }> = [];
    mockApi(({ method, url, body }) => {
      if (url.pathname === '/api/events') return { body: { events: [event('webhook.delivered', { url: 'https://example.com/hook', status: 200 })] } };
      if (url.pathname === '/api/webhooks' && method === 'GET') return { body: { webhooks: hooks } };
      if (url.pathname === '/api/webhooks' && method === 'POST') {
        const target = (body as { url: string }).url;
        if (!target.startsWith('https://')) {
          return { status: 422, body: { type: 'x', title: 'Invalid webhook', status: 422, detail: 'invalid', errors: [{ field: 'url', message: 'the URL must use https' }] } };
        }
        const hook = { id: 'w1', user_id: 'u1', url: target, event_types: ['order.confirmed', 'order.failed'], created_at: '2026-11-25T07:00:00Z' };
        hooks = [hook];
        return { status: 201, body: { ...hook, secret: 's3cret' } };
      }
      if (url.pathname === '/api/webhooks/w1' && method === 'DELETE') {
        hooks = [];
        return { status: 204 };
      }
    });
    renderApp('/webhooks');
    const user = userEvent.setup();
    expect(await screen.findByText('No webhooks registered.')).toBeInTheDocument();
    await user.type(screen.getByLabelText('Webhook URL'), 'http://example.com/hook');
    await user.click(screen.getByRole('button', { name: 'Register webhook' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('the URL must use https');
    expect(screen.getByLabelText('Webhook URL')).toHaveAttribute('aria-invalid', 'true');
    await user.clear(screen.getByLabelText('Webhook URL'));
    await user.type(screen.getByLabelText('Webhook URL'), 'https://example.com/hook');
    await user.click(screen.getByRole('button', { name: 'Register webhook' }));
    const list = await screen.findByRole('list', { name: 'Registered webhooks' });
    expect(within(list).getByText('https://example.com/hook')).toBeInTheDocument();
    expect(screen.getByText('s3cret')).toBeInTheDocument();
    expect(within(await screen.findByRole('list', { name: 'Webhook deliveries' })).getByText(/status: 200/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Delete webhook https://example.com/hook' }));
    expect(await screen.findByText('No webhooks registered.')).toBeInTheDocument();
  });
});

describe('Cognito sign-in', () => {
  const cognito = {
    apiBaseUrl: 'https://api.example.com',
    auth: { mode: 'cognito' as const, region: 'eu-west-1', userPoolId: 'p', clientId: 'client123', domain: 'auth.example.com' },
  };

  it('exchanges the code on /callback and opens the orders', async () => {
    sessionStorage.setItem('eventforge.pkce', JSON.stringify({ verifier: 'v'.repeat(43), state: 's1' }));
    const claims = btoa(JSON.stringify({ username: 'carol', exp: Math.floor(Date.now() / 1000) + 3600 }));
    const api = mockApi(({ method, url, body }) => {
      if (method === 'POST' && url.href === 'https://auth.example.com/oauth2/token') {
        void body;
        return { body: { access_token: `h.${claims}.s`, expires_in: 3600, token_type: 'Bearer' } };
      }
      if (url.href.startsWith('https://api.example.com/api/orders')) return { body: { orders: [] } };
    });
    renderApp('/callback?code=c0de&state=s1', { signedIn: false, config: cognito });
    expect(await screen.findByText('No orders yet.')).toBeInTheDocument();
    expect(screen.getByLabelText('Signed in as')).toHaveTextContent('carol');
    expect(window.location.pathname).toBe('/orders');
    const tokenCall = api.mock.calls.find(([url]) => String(url).endsWith('/oauth2/token'))!;
    const form = new URLSearchParams(tokenCall[1]!.body as URLSearchParams);
    expect(form.get('code_verifier')).toBe('v'.repeat(43));
    expect(form.get('redirect_uri')).toBe(`${window.location.origin}/callback`);
  });

  it('explains a callback without a matching sign-in', async () => {
    mockApi(() => undefined);
    renderApp('/callback?code=c0de&state=forged', { signedIn: false, config: cognito });
    expect(await screen.findByRole('alert')).toHaveTextContent(/no sign-in in progress/);
  });
});

describe('catalogue (admins)', () => {
  it('is in the navigation for members of the admins group only', async () => {
    mockApi(({ url }) => (url.pathname === '/api/orders' ? { body: { orders: [] } } : undefined));
    const { unmount } = renderApp('/orders');
    await screen.findByText('No orders yet.');
    expect(screen.queryByRole('link', { name: 'Catalogue' })).not.toBeInTheDocument();
    unmount();
    renderApp('/orders', { accessToken: ADMIN_TOKEN });
    expect(await screen.findByRole('link', { name: 'Catalogue' })).toBeInTheDocument();
  });

  it('lists the products and saves a new one with the price in minor units', async () => {
    const saved: unknown[] = [];
    mockApi(({ method, url, body }) => {
      if (method === 'GET' && url.pathname === '/api/admin/inventory') return { body: inventory };
      if (method === 'PUT' && url.pathname === '/api/admin/inventory/LAMP-01') {
        saved.push(body);
        return { status: 201, body: { sku: 'LAMP-01', ...(body as object) } };
      }
    });
    renderApp('/catalogue', { accessToken: ADMIN_TOKEN });
    expect(await screen.findByText('27" Monitor')).toBeInTheDocument();
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('SKU'), 'LAMP-01');
    await user.type(screen.getByLabelText('Name'), 'Desk lamp');
    await user.type(screen.getByLabelText('Price'), '34.5');
    await user.clear(screen.getByLabelText('Currency'));
    await user.type(screen.getByLabelText('Currency'), 'eur');
    await user.type(screen.getByLabelText('Stock'), '12');
    await user.click(screen.getByRole('button', { name: 'Save product' }));
    expect(await screen.findByRole('status')).toHaveTextContent('LAMP-01 saved: 12 in stock');
    expect(saved).toEqual([{ name: 'Desk lamp', unit_price_minor: 3450, currency: 'EUR', stock: 12 }]);
  });

  it('says what is missing before sending anything', async () => {
    const api = mockApi(({ url }) => (url.pathname === '/api/admin/inventory' ? { body: { items: [] } } : undefined));
    renderApp('/catalogue', { accessToken: ADMIN_TOKEN });
    expect(await screen.findByText(/nothing can be ordered/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Save product' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Enter a SKU.');
    expect(alert).toHaveTextContent('Enter a price such as 12.50.');
    expect(api.mock.calls.some(([, init]) => init?.method === 'PUT')).toBe(false);
  });

  it('explains a refusal in plain words', async () => {
    mockApi(({ url }) =>
      url.pathname === '/api/admin/inventory'
        ? { status: 403, body: { type: 'x', title: 'Forbidden', status: 403, detail: 'only members of the admins group may manage the catalogue' } }
        : undefined,
    );
    renderApp('/catalogue');
    expect(await screen.findByRole('alert')).toHaveTextContent('Only members of the admins group manage the catalogue');
  });
});
