// The live events feed and the webhooks: refreshing without a reload, refusing an http URL, and a
// signed delivery to a receiver on this machine.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONFIRMED, SAGA_TIMEOUT, expect, nav, placeOrder, screenshot, test, waitForStatus } from './support';

test('the live events feed shows an order placed elsewhere without a reload', async ({ shopper, request }) => {
  await placeOrder(shopper, [CONFIRMED]);
  await nav(shopper, 'Events');
  const feed = shopper.getByRole('list', { name: 'Recent events, newest first' });
  await expect(feed.locator('li[data-type="order.created"]').first()).toBeVisible();
  const token = await shopper.evaluate(() => JSON.parse(sessionStorage.getItem('eventforge.session')!).accessToken);
  const created = await request.post('/api/orders', {
    headers: { Authorization: `Bearer ${token}`, 'Idempotency-Key': `e2e-${Date.now()}` },
    data: { items: [CONFIRMED] },
  });
  expect(created.status()).toBe(201);
  const { id } = await created.json();
  await expect(shopper.locator(`ul.feed li a[href="/orders/${id}"]`).first()).toBeVisible();
  await screenshot(shopper, '09-events');
});

test("an http webhook URL is refused with the API's reason next to the field", async ({ shopper }) => {
  await nav(shopper, 'Webhooks');
  await expect(shopper.getByText('No webhooks registered.')).toBeVisible();
  await shopper.getByLabel('Webhook URL').fill('http://example.com/hook');
  await shopper.getByRole('button', { name: 'Register webhook' }).click();
  await expect(shopper.locator('#webhook-url-error')).toContainText(/https/i);
  await expect(shopper.getByLabel('Webhook URL')).toHaveAttribute('aria-invalid', 'true');
  await screenshot(shopper, '10-webhook-refused');
});

test('a webhook is registered, listed with its secret shown once, and deleted', async ({ shopper }) => {
  await nav(shopper, 'Webhooks');
  await shopper.getByLabel('Webhook URL').fill('https://example.com/hook');
  await shopper.getByRole('button', { name: 'Register webhook' }).click();
  await expect(shopper.getByRole('list', { name: 'Registered webhooks' }).getByText('https://example.com/hook')).toBeVisible();
  await expect(shopper.getByRole('status').filter({ hasText: 'Signing secret' })).toBeVisible();
  await screenshot(shopper, '11-webhook-registered');
  await shopper.getByRole('button', { name: 'Delete webhook https://example.com/hook' }).click();
  await expect(shopper.getByText('No webhooks registered.')).toBeVisible();
});

test('a webhook on 127.0.0.1 receives the confirmed order, signed, and the delivery is shown', async ({ shopper }) => {
  // `cargo xtask test` runs dev with --allow-loopback-webhooks, so a receiver here is allowed.
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  try {
    await nav(shopper, 'Webhooks');
    await shopper.getByLabel('Webhook URL').fill(hook);
    await shopper.getByRole('button', { name: 'Register webhook' }).click();
    await expect(shopper.getByRole('list', { name: 'Registered webhooks' }).getByText(hook)).toBeVisible();
    const orderId = await placeOrder(shopper, [CONFIRMED]);
    await waitForStatus(shopper, 'CONFIRMED');
    await expect.poll(() => received.some((r) => r.body.includes(orderId)), { timeout: SAGA_TIMEOUT }).toBe(true);
    const delivery = received.find((r) => r.body.includes(orderId))!;
    expect(delivery.headers['x-eventforge-signature']).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(JSON.parse(delivery.body).type).toBe('order.confirmed');
    await nav(shopper, 'Webhooks');
    const deliveries = shopper.getByRole('list', { name: 'Webhook deliveries' });
    await expect(deliveries.getByText(hook).first()).toBeVisible({ timeout: SAGA_TIMEOUT });
    await expect(deliveries.getByText('Webhook delivered').first()).toBeVisible();
    await screenshot(shopper, '11a-webhook-delivered');
  } finally {
    receiver.close();
  }
});
