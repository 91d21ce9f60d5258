// What the browser tests share: a signed-in shopper per test, the steps a shopper takes, and the
// accessibility checks (axe-core, keyboard) every page goes through.
import AxeBuilder from '@axe-core/playwright';
import { test as base, expect, type Page } from '@playwright/test';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How long the saga may take to bring an order to its final state under `cargo xtask dev`. */
export const SAGA_TIMEOUT = Number(process.env.EVENTFORGE_E2E_SAGA_TIMEOUT_MS ?? 30_000);
export const PHONE = { width: 390, height: 844 };
/** 40 x 129.00 is over the 5,000.00 payment limit: the payment is declined (and the stock released). */
export const DECLINED = { sku: 'KEYBOARD-01', quantity: 40 };
/** An order the saga confirms: the product with the most stock, so reruns on one database do not run out. */
export const CONFIRMED = { sku: 'CABLE-USBC', quantity: 1 };
export const SAGA_STEPS = ['validate-order', 'reserve-inventory', 'charge-payment', 'confirm-order'];

const screenshots = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

/** A user name no earlier run has used, so each test starts with no orders. */
export function newUserName(role = 'e2e'): string {
  return `${role}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Signs in through the sign-in page with the development issuer. */
export async function signIn(page: Page, user: string, { admin = false } = {}) {
  await page.goto('/');
  await page.getByLabel('User name').fill(user);
  if (admin) await page.getByLabel(/admins group/).check();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Orders' })).toBeVisible();
}

export const test = base.extend<{ user: string; shopper: Page }>({
  // eslint-disable-next-line no-empty-pattern
  user: async ({}, use) => use(newUserName()),
  /** The page, signed in as a new user. */
  shopper: async ({ page, user }, use) => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    await signIn(page, user);
    await use(page);
    expect(errors, 'uncaught errors in the page').toEqual([]);
  },
});
export { expect };

export async function nav(page: Page, label: string) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: label, exact: true }).click();
}

/** Places an order through the form; returns its id, from the URL of the order's page. */
export async function placeOrder(page: Page, lines: { sku: string; quantity: number }[]): Promise<string> {
  await nav(page, 'New order');
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) await page.getByRole('button', { name: 'Add item' }).click();
    await page.getByLabel(`Product ${i + 1}`).selectOption(lines[i].sku);
    await page.getByLabel(`Quantity ${i + 1}`).fill(String(lines[i].quantity));
  }
  await page.getByRole('button', { name: 'Place order' }).click();
  await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 1, name: /^Order #/ })).toBeVisible();
  return page.url().split('/').pop()!;
}

export async function timelineTypes(page: Page): Promise<string[]> {
  return page.locator('ol.timeline > li[data-type]').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.type ?? ''));
}

/** Waits for the order on the page to reach `status`, saying where it stopped if it does not. */
export async function waitForStatus(page: Page, status: string) {
  await expect(page.getByTestId('order-status'), {
    message: `the order did not reach ${status} (is the saga running under \`cargo xtask dev\`?)`,
  }).toHaveText(status, { timeout: SAGA_TIMEOUT });
}

export async function expectNoHorizontalScroll(page: Page) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  expect(scroll, `the page scrolls sideways at ${width}px`).toBeLessThanOrEqual(width + 1);
}

/** A picture of the page for people to look at, under e2e/screenshots/ (not committed). */
export async function screenshot(page: Page, name: string) {
  await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** axe-core over the page as it is now (WCAG 2.1 A and AA): no serious or critical violation. */
export async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact}: ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(serious, `accessibility violations on ${page.url()}`).toEqual([]);
}

/**
 * Tabs through the page from the top and checks that every visible control (link, button, field)
 * takes the keyboard focus on the way, and that the focus is always visible where it lands.
 */
export async function expectKeyboardReachable(page: Page) {
  const controls = await page.evaluate(() => {
    const selector = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled])';
    return Array.from(document.querySelectorAll<HTMLElement>(selector))
      .filter((el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
      .map((el, i) => {
        el.dataset.e2eControl = String(i);
        return { id: String(i), name: el.getAttribute('aria-label') ?? el.textContent?.trim() ?? el.id ?? el.tagName };
      });
  });
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.locator('body').focus();
  const reached = new Set<string>();
  for (let i = 0; i < controls.length + 10 && reached.size < controls.length; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return undefined;
      const style = getComputedStyle(el);
      const visible = el.matches(':focus-visible') && (style.outlineStyle !== 'none' || style.boxShadow !== 'none');
      return { id: el.dataset.e2eControl, visible, name: el.getAttribute('aria-label') ?? el.textContent?.trim() };
    });
    if (!focused?.id) continue;
    expect(focused.visible, `the focus on "${focused.name}" cannot be seen`).toBe(true);
    reached.add(focused.id);
  }
  const missed = controls.filter((c) => !reached.has(c.id)).map((c) => c.name);
  expect(missed, 'controls the keyboard cannot reach').toEqual([]);
}
