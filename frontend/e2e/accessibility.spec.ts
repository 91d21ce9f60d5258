// Every page through axe-core (no serious or critical WCAG 2.1 A/AA violation) and the keyboard
// (every control reachable with Tab, its focus visible), and an order placed without a mouse.
import type { Locator, Page } from '@playwright/test';
import { CONFIRMED, DECLINED, expect, expectAccessible, expectKeyboardReachable, nav, placeOrder, signIn, test, waitForStatus } from './support';

test('the sign-in page, and its error state', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expectAccessible(page);
  await expectKeyboardReachable(page);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toBeVisible();
  await expectAccessible(page);
});

test('every signed-in page, empty and full', async ({ shopper }) => {
  const check = async (what: string) => {
    await test.step(what, async () => {
      await expectAccessible(shopper);
      await expectKeyboardReachable(shopper);
    });
  };
  await check('orders, empty');
  await nav(shopper, 'New order');
  await expect(shopper.getByLabel('Product 1')).toBeVisible();
  await check('new order');
  await shopper.getByRole('button', { name: 'Add item' }).click();
  await shopper.getByRole('button', { name: 'Place order' }).click();
  await expect(shopper.locator('#line-1-sku-error')).toBeVisible();
  await check('new order with its errors');
  await nav(shopper, 'Orders');

  await placeOrder(shopper, [DECLINED]);
  await waitForStatus(shopper, 'FAILED');
  await placeOrder(shopper, [CONFIRMED]);
  await waitForStatus(shopper, 'CONFIRMED');
  await expect(shopper.getByRole('link', { name: 'Download receipt (PDF)' })).toBeVisible();
  await check('a confirmed order with its trace');

  await nav(shopper, 'Orders');
  await expect(shopper.getByRole('img', { name: /^Saga step durations/ })).toBeVisible();
  await check('orders, with the charts');
  await nav(shopper, 'Events');
  await expect(shopper.getByRole('list', { name: 'Recent events, newest first' })).toBeVisible();
  await check('events');
  await nav(shopper, 'Webhooks');
  await shopper.getByLabel('Webhook URL').fill('http://example.com/hook');
  await shopper.getByRole('button', { name: 'Register webhook' }).click();
  await expect(shopper.locator('#webhook-url-error')).toBeVisible();
  await check('webhooks, with a refused URL');
  await shopper.goto('/no/such/page');
  await check('not found');
});

test('the catalogue page', async ({ page, user }) => {
  await signIn(page, `${user}-admin`, { admin: true });
  await nav(page, 'Catalogue');
  await expect(page.getByRole('table')).toBeVisible();
  await expectAccessible(page);
  await expectKeyboardReachable(page);
});

/** Presses Tab until `target` has the focus (at most 25 times). */
async function tabTo(page: Page, target: Locator) {
  for (let i = 0; i < 25 && !(await target.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(target).toBeFocused();
}

test('a shopper signs in and places an order with the keyboard alone', async ({ page, user }) => {
  await page.goto('/');
  await tabTo(page, page.getByLabel('User name'));
  await page.keyboard.type(user);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Orders' })).toBeVisible();

  // From the skip link through the navigation to "New order".
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  await tabTo(page, page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'New order' }));
  await page.keyboard.press('Enter');
  const product = page.getByLabel('Product 1');
  await expect(product).toBeVisible();
  await tabTo(page, product);
  await page.keyboard.press('ArrowDown');
  expect(await product.inputValue(), 'the arrow key chose no product').not.toBe('');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Quantity 1')).toBeFocused();
  await page.keyboard.press('Control+A');
  await page.keyboard.type('1');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name: /^Order #/ })).toBeVisible();
});
