// Refreshes src/api/openapi.json from a running API (EVENTFORGE_API_URL, default
// http://127.0.0.1:3000); then `npm run gen:api` regenerates src/api/schema.d.ts.
import { writeFile } from 'node:fs/promises';

const base = (process.env.EVENTFORGE_API_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
const response = await fetch(`${base}/openapi.json`);
if (!response.ok) throw new Error(`GET ${base}/openapi.json: ${response.status}`);
const document = await response.json();
await writeFile(new URL('../src/api/openapi.json', import.meta.url), JSON.stringify(document, null, 2) + '\n');
console.log(`wrote src/api/openapi.json (${Object.keys(document.paths ?? {}).length} paths)`);
