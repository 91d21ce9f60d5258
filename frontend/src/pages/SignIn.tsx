import { useState, type FormEvent } from 'react';
import { ApiClient, ApiError } from '../api/client';
import type { RuntimeConfig } from '../api/types';
import { beginSignIn } from '../auth/pkce';
import { sessionFromToken, type Session } from '../auth/session';

export function SignIn({
  config,
  notice,
  onSignedIn,
}: {
  config: RuntimeConfig;
  notice?: string;
  onSignedIn: (session: Session) => void;
}) {
  const [username, setUsername] = useState('');
  const [admin, setAdmin] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const devSignIn = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    if (!username.trim()) {
      setError('Enter a user name.');
      return;
    }
    setBusy(true);
    try {
      const client = new ApiClient({ baseUrl: config.apiBaseUrl });
      const token = await client.devToken(username.trim(), admin);
      const session = sessionFromToken(token.access_token, token.expires_in);
      onSignedIn({ ...session, username: username.trim() });
    } catch (e) {
      const fields = e instanceof ApiError ? e.fieldErrors.map((f) => f.message).join(' ') : '';
      setError(fields || (e instanceof Error ? e.message : String(e)));
    } finally {
      setBusy(false);
    }
  };

  const cognitoSignIn = async () => {
    if (config.auth.mode !== 'cognito') return;
    setBusy(true);
    try {
      window.location.assign(await beginSignIn(config.auth, window.location.origin));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };

  return (
    <main className="signin" aria-labelledby="signin-title">
      <div className="card signin__card">
        <p className="brand brand--large" aria-hidden="true">
          <span className="brand__mark">◆</span> EventForge
        </p>
        <h1 id="signin-title">Sign in</h1>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        {config.auth.mode === 'dev' ? (
          <form onSubmit={devSignIn} noValidate>
            <p className="muted">Development sign-in: any user name gets a token from the local issuer.</p>
            <div className="field">
              <label className="field__label" htmlFor="signin-username">
                User name
              </label>
              <input
                id="signin-username"
                name="username"
                autoComplete="username"
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                aria-invalid={error ? true : undefined}
                aria-describedby={error ? 'signin-error' : undefined}
                autoFocus
              />
            </div>
            <div className="field">
              <label>
                <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} /> As a member of
                the admins group (manages the catalogue)
              </label>
            </div>
            {error && (
              <p id="signin-error" className="field__error" role="alert">
                {error}
              </p>
            )}
            <button type="submit" className="button" disabled={busy}>
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
          </form>
        ) : (
          <>
            <p className="muted">You will be sent to the sign-in page of the user pool.</p>
            {error && (
              <p className="field__error" role="alert">
                {error}
              </p>
            )}
            <button type="button" className="button" onClick={cognitoSignIn} disabled={busy}>
              Sign in with Cognito
            </button>
          </>
        )}
      </div>
    </main>
  );
}
