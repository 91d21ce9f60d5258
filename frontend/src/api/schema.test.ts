// @vitest-environment node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { describe, expect, it } from 'vitest';

const here = join(process.cwd(), 'src/api');

describe('the OpenAPI snapshot', () => {
  it('has schema.d.ts generated from it (npm run gen:api)', async () => {
    const document = JSON.parse(readFileSync(join(here, 'openapi.json'), 'utf8'));
    const generated = astToString(await openapiTS(document));
    const committed = readFileSync(join(here, 'schema.d.ts'), 'utf8');
    const body = (text: string) => text.slice(text.indexOf('export ')).trim();
    expect(body(committed)).toBe(body(generated));
  }, 30_000);

  it('covers every route the dashboard calls', () => {
    const document = JSON.parse(readFileSync(join(here, 'openapi.json'), 'utf8'));
    const routes = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    for (const route of [
      'POST /dev/token',
      'GET /config.json',
      'GET /api/inventory',
      'POST /api/orders',
      'GET /api/orders',
      'GET /api/orders/{id}',
      'GET /api/orders/{id}/receipt',
      'GET /api/events',
      'GET /api/webhooks',
      'POST /api/webhooks',
      'DELETE /api/webhooks/{id}',
      'GET /api/admin/inventory',
      'PUT /api/admin/inventory/{sku}',
    ]) {
      expect(routes).toContain(route);
    }
  });
});
