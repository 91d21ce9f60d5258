// End-to-end checks in a real browser (Debian's Chromium driven by playwright-core) against a
// running `cargo xtask dev`: EVENTFORGE_E2E_URL is its base URL, EVENTFORGE_CHROMIUM the browser.
// Every check runs and reports; the run fails when any check fails. Checks marked [saga] need
// the order saga and the processors running under `cargo xtask dev`.
// Screenshots of the key screens go to e2e/screenshots/ (not committed).
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const shots = join(here, 'screenshots');
const base = (process.env.EVENTFORGE_E2E_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
const executablePath = process.env.EVENTFORGE_CHROMIUM ?? '/usr/bin/chromium';
const SAGA_TIMEOUT = Number(process.env.EVENTFORGE_E2E_SAGA_TIMEOUT_MS ?? 30_000);
const UI_TIMEOUT = 10_000;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const DECLINED = { sku: 'MONITOR-27', quantity: 16 }; // 16 x 329.00 > the 5,000.00 payment limit

const user = `e2e-${Date.now().toString(36)}`;
const results = [];
const state = {};

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function check(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - started });
    console.log(`  ok    ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push({ name, ok: false, ms: Date.now() - started, error });
    console.log(`  FAIL  ${name}: ${error?.message ?? error}`);
    const file = `FAIL-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`;
    await page?.screenshot({ path: join(shots, file), fullPage: true }).catch(() => {});
  }
}

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function nav(label) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
}

/** Places an order through the form; returns its id from the URL of the detail page. */
async function placeOrder(lines) {
  await nav('New order');
  await page.getByLabel('Product 1').waitFor({ timeout: UI_TIMEOUT });
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) await page.getByRole('button', { name: 'Add item' }).click();
    await page.getByLabel(`Product ${i + 1}`).selectOption(lines[i].sku);
    await page.getByLabel(`Quantity ${i + 1}`).fill(String(lines[i].quantity));
  }
  await page.getByRole('button', { name: 'Place order' }).click();
  await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/, { timeout: UI_TIMEOUT });
  await page.getByRole('heading', { name: /^Order #/ }).waitFor({ timeout: UI_TIMEOUT });
  return page.url().split('/').pop();
}

async function waitForStatus(status) {
  try {
    await page.getByTestId('order-status').filter({ hasText: status }).waitFor({ timeout: SAGA_TIMEOUT });
  } catch (error) {
    const now = await page.getByTestId('order-status').textContent().catch(() => '?');
    const types = await timelineTypes().catch(() => []);
    throw new Error(
      `the order did not reach ${status} within ${SAGA_TIMEOUT / 1000} s: it is ${now}, history [${types.join(', ')}]` +
        (types.length <= 1 ? ' (is the saga running under `cargo xtask dev`?)' : ''),
    );
  }
}

async function timelineTypes() {
  return page.locator('ol.timeline > li[data-type]').evaluateAll((items) => items.map((li) => li.dataset.type));
}

async function noHorizontalScroll() {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert(scroll <= width + 1, `the page scrolls sideways at ${width}px (content is ${scroll}px wide)`);
}

await rm(shots, { recursive: true, force: true });
await mkdir(shots, { recursive: true });
console.log(`e2e against ${base} with ${executablePath} as ${user}`);

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
const page = await context.newPage();
const consoleErrors = [];
page.on('pageerror', (error) => consoleErrors.push(String(error)));

try {
  await check('the API serves the OpenAPI document the client was checked against', async () => {
    const response = await fetch(`${base}/openapi.json`);
    assert(response.ok, `GET /openapi.json: ${response.status}`);
    const live = await response.json();
    const snapshot = JSON.parse(await readFile(join(here, '../src/api/openapi.json'), 'utf8'));
    const wanted = Object.keys(snapshot.components?.schemas ?? {});
    const changed = wanted.filter(
      (name) => JSON.stringify(live.components?.schemas?.[name]) !== JSON.stringify(snapshot.components.schemas[name]),
    );
    assert(changed.length === 0, `schemas changed since src/api/openapi.json was taken: ${changed.join(', ')} (run npm run openapi:fetch)`);
  });

  await check('sign in as a named user through the development issuer', async () => {
    await page.goto(base + '/');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: UI_TIMEOUT });
    await shot('01-sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /user name/i }).waitFor({ timeout: UI_TIMEOUT });
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Orders' }).waitFor({ timeout: UI_TIMEOUT });
    await page.getByText('No orders yet.').waitFor({ timeout: UI_TIMEOUT });
    assert((await page.getByLabel('Signed in as').textContent()) === user, 'the header does not name the user');
    await shot('02-orders-empty');
  });

  await check('the form says what is missing, next to the fields, before anything is sent', async () => {
    await nav('New order');
    await page.getByLabel('Product 1').waitFor({ timeout: UI_TIMEOUT });
    const options = await page.getByLabel('Product 1').locator('option').count();
    assert(options > 1, 'no products to choose from');
    await page.getByLabel('Quantity 1').fill('0');
    await page.getByRole('button', { name: 'Place order' }).click();
    await page.getByRole('alert').first().waitFor({ timeout: UI_TIMEOUT });
    const quantity = page.getByLabel('Quantity 1');
    const quantityError = page.locator('#line-1-quantity-error');
    await quantityError.waitFor({ timeout: UI_TIMEOUT });
    assert((await quantity.getAttribute('aria-invalid')) === 'true', 'the quantity field is not marked invalid');
    assert((await quantityError.textContent()) === 'Enter a quantity of at least 1.', `unexpected: ${await quantityError.textContent()}`);
    const sku = page.getByLabel('Product 1');
    assert((await sku.getAttribute('aria-invalid')) === 'true', 'the product field is not marked invalid');
    assert((await page.locator('#line-1-sku-error').textContent()) === 'Choose a product.', 'the product error is not in plain words');
    assert(/\/orders\/new$/.test(page.url()), 'the form was left despite the errors');
    await shot('03-new-order-validation');
  });

  await check('create an order and see it in the timeline', async () => {
    state.okOrder = await placeOrder([{ sku: 'MONITOR-27', quantity: 1 }]);
    const types = await timelineTypes();
    assert(types.includes('order.created'), `the timeline lacks order.created: ${types.join(', ')}`);
    await shot('04-order-placed');
  });

  await check('[saga] the order reaches CONFIRMED through every saga step', async () => {
    assert(state.okOrder, 'no order was placed');
    await page.goto(`${base}/orders/${state.okOrder}`);
    await waitForStatus('CONFIRMED');
    const types = await timelineTypes();
    for (const type of ['order.created', 'order.validated', 'inventory.reserved', 'payment.charged', 'order.confirmed']) {
      assert(types.includes(type), `the timeline lacks ${type}: ${types.join(', ')}`);
    }
    assert((await page.locator('.timeline__item--confirmed').count()) === 1, 'the final state is not marked');
    state.confirmed = true;
    await shot('05-order-confirmed');
  });

  await check('[saga] download the PDF receipt', async () => {
    assert(state.confirmed, 'not tried: the order never reached CONFIRMED');
    if (!/\/orders\//.test(page.url())) await page.goto(`${base}/orders/${state.okOrder}`);
    const link = page.getByRole('link', { name: 'Download receipt (PDF)' });
    await link.waitFor({ timeout: SAGA_TIMEOUT });
    const href = await link.getAttribute('href');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: UI_TIMEOUT }), link.click()]);
    const file = join(shots, 'receipt.pdf');
    await download.saveAs(file);
    const bytes = await readFile(file);
    assert(bytes.subarray(0, 5).toString('latin1') === '%PDF-', `the receipt at ${href} is not a PDF`);
    await shot('06-receipt-ready');
  });

  await check('[saga] a confirmed order shows its trace with every saga step', async () => {
    assert(state.confirmed, 'not tried: the order never reached CONFIRMED');
    await page.goto(`${base}/orders/${state.okOrder}`);
    await waitForStatus('CONFIRMED');
    const trace = page.getByRole('list', { name: 'Trace' });
    const steps = ['validate-order', 'reserve-inventory', 'charge-payment', 'confirm-order'];
    // A step's span is recorded when the step ends, which may be just after the order is
    // confirmed; the page keeps refreshing the trace for a while after the order's last change.
    try {
      for (const step of steps) await trace.locator(`li[data-name="${step}"]`).waitFor({ timeout: UI_TIMEOUT });
    } catch {
      const section = (await page.getByTestId('order-trace').textContent().catch(() => '?')).replace(/\s+/g, ' ');
      throw new Error(`the trace lacks a saga step; it shows: ${section.slice(0, 300)}`);
    }
    const rows = await trace.locator('li[data-name]').evaluateAll((items) =>
      items.map((li) => ({
        name: li.dataset.name,
        kind: li.dataset.kind,
        failed: li.classList.contains('trace__span--failed'),
        duration: li.querySelector('.trace__duration')?.textContent ?? '',
        bar: li.querySelector('.trace__bar')?.getBoundingClientRect().width ?? 0,
      })),
    );
    // A step the saga retried (a transient error) has a row per attempt: its first attempt gives
    // the step's place, and one attempt at least succeeded.
    const names = rows.map((r) => r.name);
    const firsts = names.filter((name, i) => steps.includes(name) && names.indexOf(name) === i);
    assert(JSON.stringify(firsts) === JSON.stringify(steps), `the saga steps are not in the order they ran: ${names.join(', ')}`);
    for (const step of steps) {
      const attempts = rows.filter((r) => r.name === step);
      assert(attempts.every((r) => r.kind === 'step'), `${step} is not shown as a saga step: ${attempts.map((r) => r.kind).join(', ')}`);
      assert(attempts.some((r) => !r.failed), `${step} is shown as failed in a confirmed order`);
      for (const r of attempts) {
        assert(/^\d[\d,]*\.\d{2} ms$/.test(r.duration), `${step} has no duration in ms: "${r.duration}"`);
        assert(r.bar > 0, `${step} has no visible bar`);
      }
    }
    await page.getByTestId('order-trace').screenshot({ path: join(shots, '06a-order-trace.png') });
  });

  await check('[saga] a declined payment reaches FAILED with the compensation shown', async () => {
    state.failedOrder = await placeOrder([DECLINED]);
    await waitForStatus('FAILED');
    const types = await timelineTypes();
    for (const type of ['payment.declined', 'inventory.released', 'order.failed']) {
      assert(types.includes(type), `the timeline lacks ${type}: ${types.join(', ')}`);
    }
    const compensation = page.locator('.timeline__item--compensation');
    await compensation.first().waitFor({ timeout: UI_TIMEOUT });
    assert(/compensation/i.test(await compensation.first().textContent()), 'the compensation is not labelled');
    const style = await compensation.first().locator('.timeline__body').evaluate((el) => getComputedStyle(el).borderStyle);
    const stepStyle = await page.locator('.timeline__item--step .timeline__body').first().evaluate((el) => getComputedStyle(el).borderStyle);
    assert(style !== stepStyle, 'the compensation looks like any other step');
    await page.getByText('No receipt: the order failed.').waitFor({ timeout: UI_TIMEOUT });
    await shot('07-order-failed-compensation');
  });

  await check('the orders list shows the orders newest first', async () => {
    await nav('Orders');
    const rows = page.getByRole('list', { name: 'Orders, newest first' }).getByRole('link');
    await rows.first().waitFor({ timeout: UI_TIMEOUT });
    const hrefs = await rows.evaluateAll((links) => links.map((a) => a.getAttribute('href')));
    const expected = [state.failedOrder, state.okOrder].filter(Boolean).map((id) => `/orders/${id}`);
    assert(JSON.stringify(hrefs.slice(0, expected.length)) === JSON.stringify(expected), `unexpected order: ${hrefs.join(', ')}`);
    await shot('08-orders');
  });

  await check('the live events feed refreshes without a reload', async () => {
    await nav('Events');
    const feed = page.getByRole('list', { name: 'Recent events, newest first' });
    await feed.waitFor({ timeout: UI_TIMEOUT });
    const before = await feed.locator('li').count();
    assert(before > 0, 'the feed is empty');
    assert((await feed.locator('li[data-type="order.created"]').count()) > 0, 'the feed lacks order.created');
    // A new order placed behind the page's back appears on its own.
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('eventforge.session')).accessToken);
    const created = await fetch(`${base}/api/orders`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': `e2e-${Date.now()}` },
      body: JSON.stringify({ items: [{ sku: 'MONITOR-27', quantity: 1 }] }),
    });
    assert(created.status === 201, `POST /api/orders: ${created.status}`);
    const order = await created.json();
    state.apiOrder = order.id;
    await page.locator(`ul.feed li a[href="/orders/${order.id}"]`).first().waitFor({ timeout: UI_TIMEOUT });
    await shot('09-events');
  });

  await check('webhooks: an http URL is refused with the API\'s error', async () => {
    await nav('Webhooks');
    await page.getByText('No webhooks registered.').waitFor({ timeout: UI_TIMEOUT });
    await page.getByLabel('Webhook URL').fill('http://example.com/hook');
    await page.getByRole('button', { name: 'Register webhook' }).click();
    const error = page.locator('#webhook-url-error');
    await error.waitFor({ timeout: UI_TIMEOUT });
    assert(/https/i.test(await error.textContent()), `unexpected error: ${await error.textContent()}`);
    assert((await page.getByLabel('Webhook URL').getAttribute('aria-invalid')) === 'true', 'the URL field is not marked invalid');
    await shot('10-webhook-refused');
  });

  await check('webhooks: register https://example.com/hook, list it, delete it', async () => {
    if (!/\/webhooks$/.test(page.url())) await nav('Webhooks');
    await page.getByLabel('Webhook URL').fill('https://example.com/hook');
    await page.getByRole('button', { name: 'Register webhook' }).click();
    const list = page.getByRole('list', { name: 'Registered webhooks' });
    await list.getByText('https://example.com/hook').waitFor({ timeout: UI_TIMEOUT });
    await page.getByRole('status').filter({ hasText: 'Signing secret' }).waitFor({ timeout: UI_TIMEOUT });
    await shot('11-webhook-registered');
    await page.getByRole('button', { name: 'Delete webhook https://example.com/hook' }).click();
    await page.getByText('No webhooks registered.').waitFor({ timeout: UI_TIMEOUT });
  });

  await check('[saga] a webhook on 127.0.0.1 receives the confirmed order, signed, and the delivery is shown', async () => {
    // `cargo xtask test` runs dev with --allow-loopback-webhooks, so a receiver here is allowed.
    const received = [];
    const receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body });
        response.end('ok');
      });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const hook = `http://127.0.0.1:${receiver.address().port}/hook`;
    try {
      if (!/\/webhooks$/.test(page.url())) await nav('Webhooks');
      await page.getByLabel('Webhook URL').fill(hook);
      await page.getByRole('button', { name: 'Register webhook' }).click();
      await page.getByRole('list', { name: 'Registered webhooks' }).getByText(hook).waitFor({ timeout: UI_TIMEOUT });
      const orderId = await placeOrder([{ sku: 'MOUSE-01', quantity: 1 }]);
      await waitForStatus('CONFIRMED');
      const deadline = Date.now() + SAGA_TIMEOUT;
      while (!received.some((r) => r.body.includes(orderId)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const delivery = received.find((r) => r.body.includes(orderId));
      assert(delivery, `the receiver got no delivery about order ${orderId} (got ${received.length} requests)`);
      assert(/^v1=[0-9a-f]{64}$/.test(delivery.headers['x-eventforge-signature'] ?? ''), `unsigned delivery: ${JSON.stringify(delivery.headers)}`);
      assert(JSON.parse(delivery.body).type === 'order.confirmed', `delivered ${delivery.body}`);
      await nav('Webhooks');
      const deliveries = page.getByRole('list', { name: 'Webhook deliveries' });
      await deliveries.getByText(hook).first().waitFor({ timeout: SAGA_TIMEOUT });
      await deliveries.getByText('Webhook delivered').first().waitFor({ timeout: UI_TIMEOUT });
      await shot('11a-webhook-delivered');
      await page.getByRole('button', { name: `Delete webhook ${hook}` }).click();
      await page.getByText('No webhooks registered.').waitFor({ timeout: UI_TIMEOUT });
    } finally {
      receiver.close();
    }
  });

  await check('phone width: orders and an order fit the screen', async () => {
    await page.setViewportSize(PHONE);
    await nav('Orders');
    await page.getByRole('list', { name: 'Orders, newest first' }).waitFor({ timeout: UI_TIMEOUT });
    await noHorizontalScroll();
    await shot('12-phone-orders');
    const id = state.failedOrder ?? state.okOrder ?? state.apiOrder;
    await page.goto(`${base}/orders/${id}`);
    await page.getByRole('heading', { name: /^Order #/ }).waitFor({ timeout: UI_TIMEOUT });
    await noHorizontalScroll();
    await shot('13-phone-order');
    await nav('New order');
    await page.getByLabel('Product 1').waitFor({ timeout: UI_TIMEOUT });
    await noHorizontalScroll();
    await shot('14-phone-new-order');
    await page.setViewportSize(DESKTOP);
  });

  await check('every page loads directly (a reload or a bookmark), signed in and signed out', async () => {
    await page.setViewportSize(DESKTOP);
    const pages = [
      ['/orders', 'Orders'],
      ['/orders/new', 'New order'],
      ['/events', 'Events'],
      ['/webhooks', 'Webhooks'],
    ];
    if (state.okOrder) pages.push([`/orders/${state.okOrder}`, /^Order #/]);
    for (const [path, heading] of pages) {
      await page.goto(base + path);
      await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: UI_TIMEOUT });
    }
    const stranger = await browser.newContext({ viewport: DESKTOP });
    try {
      const fresh = await stranger.newPage();
      for (const [path] of pages) {
        await fresh.goto(base + path);
        await fresh.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: UI_TIMEOUT });
      }
    } finally {
      await stranger.close();
    }
  });

  await check('a refused token sends the user back to sign in', async () => {
    await page.setViewportSize(DESKTOP);
    await page.evaluate(() => {
      const session = JSON.parse(sessionStorage.getItem('eventforge.session'));
      sessionStorage.setItem('eventforge.session', JSON.stringify({ ...session, accessToken: 'not-a-token' }));
    });
    await page.goto(`${base}/orders`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: UI_TIMEOUT });
    await page.getByText(/sign in again/i).waitFor({ timeout: UI_TIMEOUT });
    await shot('15-session-expired');
  });

  await check('sign out', async () => {
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: UI_TIMEOUT });
    assert((await page.evaluate(() => sessionStorage.getItem('eventforge.session'))) === null, 'the token was kept');
  });

  await check('an administrator adds a product on the Catalogue page, and shoppers can order it', async () => {
    const admin = `${user}-admin`;
    await page.getByLabel('User name').fill(admin);
    await page.getByLabel(/admins group/).check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await nav('Catalogue');
    await page.getByRole('heading', { name: 'Catalogue' }).waitFor({ timeout: UI_TIMEOUT });
    const sku = `E2E-${Date.now().toString(36).toUpperCase()}`;
    await page.getByRole('textbox', { name: 'SKU', exact: true }).fill(sku);
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('E2E desk lamp');
    await page.getByRole('textbox', { name: 'Price', exact: true }).fill('12.50');
    await page.getByRole('textbox', { name: 'Stock', exact: true }).fill('7');
    await page.getByRole('button', { name: 'Save product' }).click();
    await page.getByRole('status').filter({ hasText: `${sku} saved: 7 in stock` }).waitFor({ timeout: UI_TIMEOUT });
    await page.getByRole('cell', { name: sku, exact: true }).waitFor({ timeout: UI_TIMEOUT });
    // The page survives a reload (a deep link to it).
    await page.reload();
    await page.getByRole('cell', { name: sku, exact: true }).waitFor({ timeout: UI_TIMEOUT });
    await shot('16-catalogue');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('User name').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Orders' }).waitFor({ timeout: UI_TIMEOUT });
    const links = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
    assert(!links.includes('Catalogue'), `a shopper is offered the catalogue: ${links.join(', ')}`);
    await nav('New order');
    await page.getByLabel('Product 1').waitFor({ timeout: UI_TIMEOUT });
    const offered = await page.getByLabel('Product 1').locator(`option[value="${sku}"]`).count();
    assert(offered === 1, `the new product ${sku} is not offered to shoppers`);
  });

  await check('no uncaught errors in the page', async () => {
    assert(consoleErrors.length === 0, consoleErrors.join('\n'));
  });
} finally {
  await browser.close();
}

const failed = results.filter((r) => !r.ok);
for (const r of failed) console.log(`  failed: ${r.name}\n    ${r.error?.stack?.split('\n').slice(0, 2).join('\n    ') ?? r.error}`);
console.log(`\nscreenshots in ${shots}`);
console.log(`e2e: ${results.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length ? 1 : 0);
