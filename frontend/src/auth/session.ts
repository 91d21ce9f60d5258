// The signed-in session: kept in sessionStorage (this tab only, gone when it closes).

export interface Session {
  accessToken: string;
  username: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

const KEY = 'eventforge.session';

export function loadSession(now = Date.now()): Session | undefined {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return undefined;
  try {
    const session = JSON.parse(raw) as Session;
    if (!session.accessToken || session.expiresAt <= now) {
      sessionStorage.removeItem(KEY);
      return undefined;
    }
    return session;
  } catch {
    sessionStorage.removeItem(KEY);
    return undefined;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

/** The claims of a JWT, unverified (the API verifies; this is for display only). */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Whether the token's user is in the `admins` group (`cognito:groups`): shows the catalogue. */
export function isAdmin(accessToken: string): boolean {
  const groups = jwtClaims(accessToken)['cognito:groups'];
  return Array.isArray(groups) && groups.includes('admins');
}

export function sessionFromToken(accessToken: string, expiresIn: number, now = Date.now()): Session {
  const claims = jwtClaims(accessToken);
  const username = String(claims.username ?? claims['cognito:username'] ?? claims.sub ?? 'user');
  const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : now + expiresIn * 1000;
  return { accessToken, username, expiresAt: Math.min(exp, now + expiresIn * 1000) };
}
