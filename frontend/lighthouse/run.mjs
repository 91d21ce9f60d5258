// Lighthouse over the dashboard as a visitor meets it: the sign-in page on a first visit, then the
// orders page signed in, with orders and their charts. One user flow per form factor (Lighthouse's
// default mobile emulation with simulated slow 4G, and its desktop preset), in Debian's Chromium.
//
// EVENTFORGE_URL is a running `cargo xtask dev`; EVENTFORGE_CHROMIUM the browser. Prints one JSON
// object: per form factor and page, the three category scores, the load metrics and the bytes of
// script transferred. `cargo xtask bench dashboard` runs it and writes BENCHMARKS.md's section.
import { startFlow } from 'lighthouse';
import desktopConfig from 'lighthouse/core/config/desktop-config.js';
import puppeteer from 'puppeteer-core';

const base = (process.env.EVENTFORGE_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
const executablePath = process.env.EVENTFORGE_CHROMIUM ?? '/usr/bin/chromium';
const CATEGORIES = ['performance', 'accessibility', 'best-practices'];

/** The figures of one Lighthouse report. */
function figures(lhr) {
  const requests = lhr.audits['network-requests']?.details?.items ?? [];
  const scripts = requests.filter((r) => r.resourceType === 'Script');
  const failing = Object.values(lhr.audits)
    .filter((a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== 'informative' && a.scoreDisplayMode !== 'manual')
    .map((a) => a.id);
  return {
    scores: Object.fromEntries(CATEGORIES.map((c) => [c, Math.round((lhr.categories[c]?.score ?? 0) * 100)])),
    fcpMs: Math.round(lhr.audits['first-contentful-paint'].numericValue),
    lcpMs: Math.round(lhr.audits['largest-contentful-paint'].numericValue),
    tbtMs: Math.round(lhr.audits['total-blocking-time'].numericValue),
    cls: Number(lhr.audits['cumulative-layout-shift'].numericValue.toFixed(3)),
    scriptBytes: scripts.reduce((sum, r) => sum + (r.transferSize ?? 0), 0),
    scriptFiles: scripts.length,
    failingAudits: failing,
  };
}

async function measure(browser, formFactor) {
  const config = formFactor === 'desktop' ? desktopConfig : undefined;
  const page = await browser.newPage();
  const flow = await startFlow(page, { name: `dashboard (${formFactor})`, config });
  await flow.navigate(`${base}/`, { name: 'sign-in' });

  // Sign in as a new user with the development issuer, and place two orders for the charts.
  await page.waitForSelector('#signin-username', { timeout: 10_000 });
  await page.type('#signin-username', `lighthouse-${formFactor}-${Date.now().toString(36)}`);
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Orders', { timeout: 10_000 });
  await page.evaluate(async () => {
    const { accessToken } = JSON.parse(sessionStorage.getItem('eventforge.session'));
    for (const [i, quantity] of [1, 40].entries()) {
      const sku = i === 0 ? 'CABLE-USBC' : 'KEYBOARD-01';
      await fetch('/api/orders', {
        method: 'POST',
        headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/json', 'Idempotency-Key': `lh-${Date.now()}-${i}` },
        body: JSON.stringify({ items: [{ sku, quantity }] }),
      });
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 3000)); // the saga finishes the orders

  // The session lives in sessionStorage: this navigation must keep it.
  await flow.navigate(`${base}/orders`, { name: 'orders', flags: { disableStorageReset: true } });
  const result = await flow.createFlowResult();
  await page.close();
  return Object.fromEntries(result.steps.map((step) => [step.name, figures(step.lhr)]));
}

const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const report = { lighthouse: (await import('lighthouse/package.json', { with: { type: 'json' } })).default.version };
  for (const formFactor of ['mobile', 'desktop']) report[formFactor] = await measure(browser, formFactor);
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
