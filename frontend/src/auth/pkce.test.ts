import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CognitoAuthConfig } from '../api/types';
import {
  authorizeUrl,
  base64Url,
  beginSignIn,
  challengeOf,
  completeSignIn,
  generateVerifier,
  hostedUiOrigin,
  logoutUrl,
  tokenRequestBody,
} from './pkce';

const config: CognitoAuthConfig = {
  mode: 'cognito',
  region: 'eu-west-1',
  userPoolId: 'eu-west-1_abc',
  clientId: 'client123',
  domain: 'eventforge-dev',
};

describe('PKCE', () => {
  afterEach(() => sessionStorage.clear());

  it('computes the S256 challenge of RFC 7636 appendix B', async () => {
    expect(await challengeOf('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('encodes the RFC 7636 appendix B verifier octets as base64url without padding', () => {
    const octets = new Uint8Array([
      116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77,
      105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ]);
    expect(base64Url(octets)).toBe('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk');
  });

  it('makes 43-character verifiers of unreserved characters, different each time', () => {
    const a = generateVerifier();
    const b = generateVerifier();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it('finds the hosted UI from a prefix or a custom domain', () => {
    expect(hostedUiOrigin(config)).toBe('https://eventforge-dev.auth.eu-west-1.amazoncognito.com');
    expect(hostedUiOrigin({ ...config, domain: 'auth.example.com' })).toBe('https://auth.example.com');
    expect(hostedUiOrigin({ ...config, domain: 'https://auth.example.com/' })).toBe('https://auth.example.com');
  });

  it('builds the authorize URL with code flow, scopes, state and S256 challenge', () => {
    const url = new URL(authorizeUrl(config, 'https://app.example.com/callback', 'st4te', 'ch4llenge'));
    expect(url.origin + url.pathname).toBe('https://eventforge-dev.auth.eu-west-1.amazoncognito.com/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'client123',
      redirect_uri: 'https://app.example.com/callback',
      scope: 'openid email profile',
      state: 'st4te',
      code_challenge: 'ch4llenge',
      code_challenge_method: 'S256',
    });
  });

  it('builds the logout URL and the token request body', () => {
    const logout = new URL(logoutUrl(config, 'https://app.example.com'));
    expect(logout.pathname).toBe('/logout');
    expect(logout.searchParams.get('logout_uri')).toBe('https://app.example.com');
    expect(Object.fromEntries(tokenRequestBody(config, 'c0de', 'https://app.example.com/callback', 'v'))).toEqual({
      grant_type: 'authorization_code',
      client_id: 'client123',
      code: 'c0de',
      redirect_uri: 'https://app.example.com/callback',
      code_verifier: 'v',
    });
  });

  it('round-trips a sign-in: the challenge sent matches the verifier exchanged', async () => {
    const url = new URL(await beginSignIn(config, 'https://app.example.com'));
    const state = url.searchParams.get('state')!;
    const challenge = url.searchParams.get('code_challenge')!;
    const fetch = vi.fn(async (_input: RequestInfo | URL, init?: RequestInit) => {
      const body = new URLSearchParams(init!.body as URLSearchParams);
      expect(await challengeOf(body.get('code_verifier')!)).toBe(challenge);
      expect(body.get('code')).toBe('the-code');
      return new Response(JSON.stringify({ access_token: 'a.b.c', expires_in: 3600, token_type: 'Bearer' }));
    });
    const tokens = await completeSignIn(config, 'https://app.example.com', `?code=the-code&state=${state}`, fetch);
    expect(tokens.access_token).toBe('a.b.c');
    expect(fetch).toHaveBeenCalledWith(
      'https://eventforge-dev.auth.eu-west-1.amazoncognito.com/oauth2/token',
      expect.objectContaining({ method: 'POST' }),
    );
  });

  it('refuses a callback whose state does not match', async () => {
    await beginSignIn(config, 'https://app.example.com');
    const fetch = vi.fn();
    await expect(completeSignIn(config, 'https://app.example.com', '?code=x&state=forged', fetch)).rejects.toThrow(/state/);
    expect(fetch).not.toHaveBeenCalled();
  });

  it('reports an error returned by the hosted UI', async () => {
    await expect(
      completeSignIn(config, 'https://app.example.com', '?error=access_denied&error_description=nope', vi.fn()),
    ).rejects.toThrow(/nope/);
  });
});
