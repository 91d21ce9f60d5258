import type { RuntimeConfig } from './api/types';

/** Reads `/config.json`, written at deploy (AWS) or served by `cargo xtask dev`. */
export async function loadConfig(doFetch: typeof fetch = fetch): Promise<RuntimeConfig> {
  const response = await doFetch('/config.json', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`/config.json could not be loaded (${response.status})`);
  const config = (await response.json()) as Partial<RuntimeConfig>;
  if (!config.auth || (config.auth.mode !== 'dev' && config.auth.mode !== 'cognito')) {
    throw new Error('/config.json has no usable "auth" section');
  }
  return { apiBaseUrl: config.apiBaseUrl ?? '', auth: config.auth };
}
