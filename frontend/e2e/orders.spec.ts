// A shopper's orders, end to end: the form's checks, the saga to CONFIRMED and to FAILED with its
// compensation, the receipt, the trace, the list and the charts, on a desktop and on a phone.
import { readFile } from 'node:fs/promises';
import { CONFIRMED, DECLINED, PHONE, SAGA_STEPS, SAGA_TIMEOUT, expect, expectNoHorizontalScroll, nav, placeOrder, screenshot, test, timelineTypes, waitForStatus } from './support';

test('a new shopper has no orders', async ({ shopper, user }) => {
  await expect(shopper.getByText('No orders yet.')).toBeVisible();
  await expect(shopper.getByLabel('Signed in as')).toHaveText(user);
  await screenshot(shopper, '02-orders-empty');
});

test('the form says what is missing, next to the fields, before anything is sent', async ({ shopper }) => {
  await nav(shopper, 'New order');
  await expect(shopper.getByLabel('Product 1').locator('option').nth(1), 'no products to choose from').toBeAttached();
  let posted = false;
  shopper.on('request', (request) => (posted ||= request.method() === 'POST' && request.url().endsWith('/api/orders')));
  await shopper.getByLabel('Quantity 1').fill('0');
  await shopper.getByRole('button', { name: 'Place order' }).click();
  await expect(shopper.getByLabel('Quantity 1')).toHaveAttribute('aria-invalid', 'true');
  await expect(shopper.locator('#line-1-quantity-error')).toHaveText('Enter a quantity of at least 1.');
  await expect(shopper.getByLabel('Product 1')).toHaveAttribute('aria-invalid', 'true');
  await expect(shopper.locator('#line-1-sku-error')).toHaveText('Choose a product.');
  await expect(shopper).toHaveURL(/\/orders\/new$/);
  expect(posted, 'the form was sent despite the errors').toBe(false);
  await screenshot(shopper, '03-new-order-validation');
});

test('an order goes through every saga step to CONFIRMED, with its receipt and trace', async ({ shopper }) => {
  const id = await placeOrder(shopper, [CONFIRMED]);
  expect(await timelineTypes(shopper)).toContain('order.created');
  await waitForStatus(shopper, 'CONFIRMED');
  const types = await timelineTypes(shopper);
  for (const type of ['order.created', 'order.validated', 'inventory.reserved', 'payment.charged', 'order.confirmed']) {
    expect(types, `the timeline lacks ${type}`).toContain(type);
  }
  await expect(shopper.locator('.timeline__item--confirmed')).toHaveCount(1);
  await screenshot(shopper, '05-order-confirmed');

  // The receipt: a PDF, downloaded from the link the page offers.
  const link = shopper.getByRole('link', { name: 'Download receipt (PDF)' });
  await expect(link).toBeVisible({ timeout: SAGA_TIMEOUT });
  const [download] = await Promise.all([shopper.waitForEvent('download'), link.click()]);
  const bytes = await readFile(await download.path());
  expect(bytes.subarray(0, 5).toString('latin1'), `the receipt of ${id} is not a PDF`).toBe('%PDF-');

  // The trace: each saga step in the order it ran, with a duration and a visible bar. A step's
  // span is recorded when the step ends, which may be just after the order is confirmed; the page
  // keeps refreshing the trace for a while after the order's last change.
  const trace = shopper.getByRole('list', { name: 'Trace' });
  for (const step of SAGA_STEPS) await expect(trace.locator(`li[data-name="${step}"]`).first()).toBeVisible();
  const rows = await trace.locator('li[data-name]').evaluateAll((items) =>
    items.map((li) => ({
      name: (li as HTMLElement).dataset.name ?? '',
      kind: (li as HTMLElement).dataset.kind ?? '',
      failed: li.classList.contains('trace__span--failed'),
      duration: li.querySelector('.trace__duration')?.textContent ?? '',
      bar: li.querySelector('.trace__bar')?.getBoundingClientRect().width ?? 0,
    })),
  );
  // A step the saga retried (a transient error) has a row per attempt: its first attempt gives
  // the step's place, and one attempt at least succeeded.
  const names = rows.map((r) => r.name);
  expect(names.filter((name, i) => SAGA_STEPS.includes(name) && names.indexOf(name) === i)).toEqual(SAGA_STEPS);
  for (const step of SAGA_STEPS) {
    const attempts = rows.filter((r) => r.name === step);
    expect(attempts.map((r) => r.kind), `${step} is not shown as a saga step`).toEqual(attempts.map(() => 'step'));
    expect(attempts.some((r) => !r.failed), `${step} is shown as failed in a confirmed order`).toBe(true);
    for (const r of attempts) {
      expect(r.duration).toMatch(/^\d[\d,]*\.\d{2} ms$/);
      expect(r.bar, `${step} has no visible bar`).toBeGreaterThan(0);
    }
  }
  await screenshot(shopper, '06-order-trace');
});

test('a declined payment reaches FAILED with the compensation shown apart', async ({ shopper }) => {
  await placeOrder(shopper, [DECLINED]);
  await waitForStatus(shopper, 'FAILED');
  const types = await timelineTypes(shopper);
  for (const type of ['payment.declined', 'inventory.released', 'order.failed']) expect(types, `the timeline lacks ${type}`).toContain(type);
  const compensation = shopper.locator('.timeline__item--compensation').first();
  await expect(compensation).toContainText(/compensation/i);
  const style = await compensation.locator('.timeline__body').evaluate((el) => getComputedStyle(el).borderStyle);
  const stepStyle = await shopper.locator('.timeline__item--step .timeline__body').first().evaluate((el) => getComputedStyle(el).borderStyle);
  expect(style, 'the compensation looks like any other step').not.toBe(stepStyle);
  await expect(shopper.getByText('No receipt: the order failed.')).toBeVisible();
  await screenshot(shopper, '07-order-failed-compensation');
});

test("the orders list shows the orders newest first, and charts the last hour", async ({ shopper }) => {
  const confirmed = await placeOrder(shopper, [CONFIRMED]);
  await waitForStatus(shopper, 'CONFIRMED');
  const failed = await placeOrder(shopper, [DECLINED]);
  await waitForStatus(shopper, 'FAILED');
  await nav(shopper, 'Orders');
  const rows = shopper.getByRole('list', { name: 'Orders, newest first' }).getByRole('link');
  await expect(rows).toHaveCount(2);
  expect(await rows.evaluateAll((links) => links.map((a) => a.getAttribute('href')))).toEqual([`/orders/${failed}`, `/orders/${confirmed}`]);

  const statuses = shopper.getByRole('img', { name: /^Orders placed in the last hour/ });
  await expect(statuses).toHaveAccessibleName('Orders placed in the last hour: 0 pending, 0 processing, 1 confirmed, 1 failed');
  const steps = shopper.getByRole('img', { name: /^Saga step durations/ });
  for (const step of ['Validate', 'Reserve inventory', 'Charge payment', 'Confirm', 'Compensate']) {
    await expect(steps).toHaveAccessibleName(new RegExp(`${step} median [\\d.,]+ ms`));
  }
  // Chart.js drew something: the canvases are not blank.
  for (const chart of [statuses, steps]) {
    const inked = await chart.evaluate((canvas) => {
      const { data } = (canvas as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (canvas as HTMLCanvasElement).width, (canvas as HTMLCanvasElement).height);
      let count = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count++;
      return count;
    });
    expect(inked, 'a chart drew nothing').toBeGreaterThan(100);
  }
  await screenshot(shopper, '08-orders');
});

test('on a phone, the orders, an order and the form fit the screen', async ({ shopper }) => {
  const id = await placeOrder(shopper, [CONFIRMED]);
  await shopper.setViewportSize(PHONE);
  await nav(shopper, 'Orders');
  await expect(shopper.getByRole('list', { name: 'Orders, newest first' })).toBeVisible();
  await expectNoHorizontalScroll(shopper);
  await screenshot(shopper, '12-phone-orders');
  await shopper.goto(`/orders/${id}`);
  await expect(shopper.getByRole('heading', { level: 1, name: /^Order #/ })).toBeVisible();
  await expectNoHorizontalScroll(shopper);
  await nav(shopper, 'New order');
  await expect(shopper.getByLabel('Product 1')).toBeVisible();
  await expectNoHorizontalScroll(shopper);
});
