import { describe, expect, it } from 'vitest';
import { clearSession, jwtClaims, loadSession, saveSession, sessionFromToken } from './session';

function token(claims: object): string {
  const enc = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${enc({ alg: 'RS256' })}.${enc(claims)}.sig`;
}

describe('session', () => {
  it('reads the user name and expiry from the token', () => {
    const session = sessionFromToken(token({ username: 'alice', exp: 2_000 }), 3600, 1_000_000);
    expect(session).toEqual({ accessToken: expect.any(String), username: 'alice', expiresAt: 2_000_000 });
    expect(jwtClaims('garbage')).toEqual({});
  });

  it('is kept in sessionStorage until it expires', () => {
    saveSession({ accessToken: 't', username: 'bob', expiresAt: 5_000 });
    expect(loadSession(4_000)?.username).toBe('bob');
    expect(loadSession(5_000)).toBeUndefined();
    expect(sessionStorage.length).toBe(0);
    saveSession({ accessToken: 't', username: 'bob', expiresAt: 5_000 });
    clearSession();
    expect(loadSession(0)).toBeUndefined();
  });
});
