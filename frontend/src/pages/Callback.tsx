import { useEffect, useRef, useState } from 'react';
import type { CognitoAuthConfig } from '../api/types';
import { completeSignIn } from '../auth/pkce';
import { sessionFromToken, type Session } from '../auth/session';
import { ErrorMessage, Loading } from '../components/ui';

export function Callback({
  auth,
  search,
  onSignedIn,
  onRestart,
}: {
  auth: CognitoAuthConfig;
  search: string;
  onSignedIn: (session: Session) => void;
  onRestart: () => void;
}) {
  const [error, setError] = useState<unknown>();
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    completeSignIn(auth, window.location.origin, search)
      .then((tokens) => onSignedIn(sessionFromToken(tokens.access_token, tokens.expires_in)))
      .catch(setError);
  }, [auth, search, onSignedIn]);
  return (
    <main className="signin">
      <div className="card signin__card">
        <h1>Signing in</h1>
        {error ? <ErrorMessage error={error} onRetry={onRestart} /> : <Loading label="Completing sign-in…" />}
      </div>
    </main>
  );
}
