// Signing in and out, deep links, and the API document the client was generated from.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIRMED, expect, newUserName, placeOrder, screenshot, signIn, test } from './support';

const here = dirname(fileURLToPath(import.meta.url));

test('the API serves the OpenAPI document the client was generated from', async ({ request }) => {
  const response = await request.get('/openapi.json');
  expect(response.ok()).toBe(true);
  const live = await response.json();
  const snapshot = JSON.parse(await readFile(join(here, '../src/api/openapi.json'), 'utf8'));
  const changed = Object.keys(snapshot.components?.schemas ?? {}).filter(
    (name) => JSON.stringify(live.components?.schemas?.[name]) !== JSON.stringify(snapshot.components.schemas[name]),
  );
  expect(changed, 'schemas changed since src/api/openapi.json was taken (run npm run openapi:fetch)').toEqual([]);
});

test('sign in asks for a user name first, then opens the orders', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await screenshot(page, '01-sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert').filter({ hasText: /user name/i })).toBeVisible();
  const user = newUserName();
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Orders' })).toBeVisible();
  await expect(page.getByLabel('Signed in as')).toHaveText(user);
});

test('every page loads directly (a reload or a bookmark), signed in and signed out', async ({ shopper, browser }) => {
  const id = await placeOrder(shopper, [CONFIRMED]);
  const pages: [string, string | RegExp][] = [
    ['/', 'Orders'],
    ['/orders', 'Orders'],
    ['/orders/new', 'New order'],
    [`/orders/${id}`, /^Order #/],
    ['/events', 'Live events'],
    ['/webhooks', 'Webhooks'],
    ['/catalogue', 'Catalogue'],
    ['/no/such/page', 'Not found'],
  ];
  for (const [path, heading] of pages) {
    await shopper.goto(path);
    await expect(shopper.getByRole('heading', { level: 1, name: heading }), `${path} signed in`).toBeVisible();
  }
  const stranger = await browser.newContext();
  try {
    const fresh = await stranger.newPage();
    for (const [path] of pages) {
      await fresh.goto(path);
      await expect(fresh.getByRole('heading', { name: 'Sign in' }), `${path} signed out`).toBeVisible();
    }
  } finally {
    await stranger.close();
  }
});

test('a shopper who opens the catalogue is told it is for administrators', async ({ shopper }) => {
  await shopper.goto('/catalogue');
  await expect(shopper.getByRole('alert')).toHaveText(/Only members of the admins group/);
  const links = await shopper.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
  expect(links).not.toContain('Catalogue');
});

test('a refused token sends the user back to sign in, saying why', async ({ shopper }) => {
  await shopper.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('eventforge.session')!);
    sessionStorage.setItem('eventforge.session', JSON.stringify({ ...session, accessToken: 'not-a-token' }));
  });
  await shopper.goto('/orders');
  await expect(shopper.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expect(shopper.getByText(/sign in again/i)).toBeVisible();
  await screenshot(shopper, '15-session-expired');
});

test('signing out forgets the token', async ({ shopper, user }) => {
  await shopper.getByRole('button', { name: 'Sign out' }).click();
  await expect(shopper.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  expect(await shopper.evaluate(() => sessionStorage.getItem('eventforge.session'))).toBeNull();
  // Signing in again as someone else shows nothing of the first user's.
  await signIn(shopper, `${user}-next`);
  await expect(shopper.getByText('No orders yet.')).toBeVisible();
});
