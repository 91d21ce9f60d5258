/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API to a running `cargo xtask dev` (default port 3000, or
// EVENTFORGE_API_URL), so the dashboard and the API share an origin as they do when served by
// the API itself.
const api = process.env.EVENTFORGE_API_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', sourcemap: true },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/dev', '/config.json', '/files', '/health', '/openapi.json', '/.well-known'].map(
        (prefix) => [prefix, { target: api, changeOrigin: true }],
      ),
    ),
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test-setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
