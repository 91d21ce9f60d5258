// The browser tests: @playwright/test driving Debian's Chromium (not a downloaded browser) against
// a running `cargo xtask dev`, whose base URL `cargo xtask test` passes in EVENTFORGE_E2E_URL.
// One worker: every test shares that one server, and the machine has two cores.
import { defineConfig } from '@playwright/test';

const baseURL = (process.env.EVENTFORGE_E2E_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '');

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'e2e/results',
  workers: 1,
  retries: 0,
  forbidOnly: Boolean(process.env.CI),
  timeout: 90_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { outputFolder: 'e2e/report', open: 'never' }]],
  use: {
    baseURL,
    browserName: 'chromium',
    viewport: { width: 1280, height: 900 },
    actionTimeout: 10_000,
    acceptDownloads: true,
    // Kept only for a failing test, under e2e/results/ (and in the HTML report).
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.EVENTFORGE_CHROMIUM ?? '/usr/bin/chromium',
      // The machine has no network beyond localhost: Chromium's own background traffic is off.
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
});
