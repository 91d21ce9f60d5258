// Cognito hosted UI sign-in: OAuth 2.0 authorization code flow with PKCE (RFC 7636), as a
// public client (no secret). The verifier lives in sessionStorage between the redirect to the
// hosted UI and the return to /callback.
import type { CognitoAuthConfig } from '../api/types';

export const SCOPES = ['openid', 'email', 'profile'];
export const CALLBACK_PATH = '/callback';
const PENDING_KEY = 'eventforge.pkce';

export function base64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A code verifier: 32 random bytes as 43 characters of base64url (RFC 7636 section 4.1). */
export function generateVerifier(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  return base64Url(random(new Uint8Array(32)));
}

/** The S256 code challenge of `verifier`: base64url(SHA-256(verifier)). */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

/** The hosted UI's origin: `domain` as is when it is a host name, else the Cognito prefix domain. */
export function hostedUiOrigin(config: Pick<CognitoAuthConfig, 'domain' | 'region'>): string {
  const domain = config.domain.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const host = domain.includes('.') ? domain : `${domain}.auth.${config.region}.amazoncognito.com`;
  return `https://${host}`;
}

export function authorizeUrl(
  config: CognitoAuthConfig,
  redirectUri: string,
  state: string,
  challenge: string,
): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri,
    scope: SCOPES.join(' '),
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return `${hostedUiOrigin(config)}/oauth2/authorize?${query}`;
}

export function logoutUrl(config: CognitoAuthConfig, logoutUri: string): string {
  const query = new URLSearchParams({ client_id: config.clientId, logout_uri: logoutUri });
  return `${hostedUiOrigin(config)}/logout?${query}`;
}

export function tokenRequestBody(
  config: CognitoAuthConfig,
  code: string,
  redirectUri: string,
  verifier: string,
): URLSearchParams {
  return new URLSearchParams({
    grant_type: 'authorization_code',
    client_id: config.clientId,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
}

export interface PendingSignIn {
  verifier: string;
  state: string;
}

/** Starts a sign-in: remembers a new verifier and state, and returns the hosted UI URL to open. */
export async function beginSignIn(config: CognitoAuthConfig, origin: string): Promise<string> {
  const pending: PendingSignIn = { verifier: generateVerifier(), state: generateVerifier() };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  return authorizeUrl(config, origin + CALLBACK_PATH, pending.state, await challengeOf(pending.verifier));
}

export interface CognitoTokens {
  access_token: string;
  id_token?: string;
  refresh_token?: string;
  expires_in: number;
  token_type: string;
}

/**
 * Completes a sign-in on /callback: checks `state` against the pending sign-in and exchanges the
 * code for tokens at the token endpoint.
 */
export async function completeSignIn(
  config: CognitoAuthConfig,
  origin: string,
  search: string,
  doFetch: typeof fetch = fetch,
): Promise<CognitoTokens> {
  const params = new URLSearchParams(search);
  const error = params.get('error');
  if (error) throw new Error(`sign-in failed: ${params.get('error_description') ?? error}`);
  const code = params.get('code');
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (!code || !raw) throw new Error('no sign-in in progress; start again');
  const pending = JSON.parse(raw) as PendingSignIn;
  if (params.get('state') !== pending.state) throw new Error('sign-in state mismatch; start again');
  const response = await doFetch(`${hostedUiOrigin(config)}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: tokenRequestBody(config, code, origin + CALLBACK_PATH, pending.verifier),
  });
  if (!response.ok) throw new Error(`the token exchange failed (${response.status})`);
  return (await response.json()) as CognitoTokens;
}
