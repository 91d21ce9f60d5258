// The catalogue, for members of the admins group: a product added there can be ordered.
import { expect, nav, screenshot, signIn, test } from './support';

test('an administrator adds a product on the Catalogue page, and shoppers can order it', async ({ page, user }) => {
  await signIn(page, `${user}-admin`, { admin: true });
  await nav(page, 'Catalogue');
  await expect(page.getByRole('heading', { level: 1, name: 'Catalogue' })).toBeVisible();
  const sku = `E2E-${Date.now().toString(36).toUpperCase()}`;
  await page.getByRole('textbox', { name: 'SKU', exact: true }).fill(sku);
  await page.getByRole('textbox', { name: 'Name', exact: true }).fill('E2E desk lamp');
  await page.getByRole('textbox', { name: 'Price', exact: true }).fill('12.50');
  await page.getByRole('textbox', { name: 'Stock', exact: true }).fill('7');
  await page.getByRole('button', { name: 'Save product' }).click();
  await expect(page.getByRole('status').filter({ hasText: `${sku} saved: 7 in stock` })).toBeVisible();
  await expect(page.getByRole('cell', { name: sku, exact: true })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('cell', { name: sku, exact: true })).toBeVisible();
  await screenshot(page, '16-catalogue');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await signIn(page, user);
  await nav(page, 'New order');
  await expect(page.getByLabel('Product 1').locator(`option[value="${sku}"]`)).toHaveCount(1);
});
