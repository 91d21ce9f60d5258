import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { BrowserRouter, useLocation, useNavigate } from 'react-router';
import { ApiClient } from './api/client';
import type { RuntimeConfig } from './api/types';
import { CALLBACK_PATH, logoutUrl } from './auth/pkce';
import { clearSession, loadSession, saveSession, type Session } from './auth/session';
import { ErrorMessage, Loading } from './components/ui';
import { loadConfig } from './config';
import { SignIn } from './pages/SignIn';

// The entry chunk holds what a first visit needs: the configuration, the session and the sign-in
// page. The signed-in app (data fetching, the shell, the orders) and the Cognito callback load
// when they are needed, and each other page when it is opened (see SignedIn.tsx).
const Callback = lazy(() => import('./pages/Callback').then((m) => ({ default: m.Callback })));
const SignedIn = lazy(() => import('./SignedIn').then((m) => ({ default: m.SignedIn })));

export function App({ configLoader = loadConfig }: { configLoader?: () => Promise<RuntimeConfig> }) {
  return (
    <BrowserRouter>
      <ConfiguredApp configLoader={configLoader} />
    </BrowserRouter>
  );
}

function ConfiguredApp({ configLoader }: { configLoader: () => Promise<RuntimeConfig> }) {
  const [config, setConfig] = useState<RuntimeConfig>();
  const [error, setError] = useState<unknown>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    setError(undefined);
    configLoader().then(setConfig, setError);
  }, [configLoader, attempt]);
  if (config) return <Authenticated config={config} />;
  return (
    <main className="signin">
      {error ? <ErrorMessage error={error} onRetry={() => setAttempt((a) => a + 1)} /> : <Loading label="Starting…" />}
    </main>
  );
}

function Authenticated({ config }: { config: RuntimeConfig }) {
  const { pathname: path, search } = useLocation();
  const navigate = useNavigate();
  const [session, setSession] = useState<Session | undefined>(() => loadSession());
  const [notice, setNotice] = useState<string>();
  const sessionRef = useRef(session);
  sessionRef.current = session;

  const expire = useCallback((message: string) => {
    clearSession();
    setSession(undefined);
    setNotice(message);
  }, []);

  // Ask again when the token runs out, even if no request notices first.
  useEffect(() => {
    if (!session) return;
    const left = session.expiresAt - Date.now();
    const timer = setTimeout(() => expire('Your session expired. Sign in again.'), Math.max(0, Math.min(left, 2 ** 31 - 1)));
    return () => clearTimeout(timer);
  }, [session, expire]);

  const client = useMemo(
    () =>
      new ApiClient({
        baseUrl: config.apiBaseUrl,
        token: () => sessionRef.current?.accessToken,
        onUnauthorized: () => expire('Your session expired or was refused. Sign in again.'),
      }),
    [config.apiBaseUrl, expire],
  );

  const signedIn = useCallback(
    (next: Session) => {
      saveSession(next);
      setSession(next);
      setNotice(undefined);
      if (window.location.pathname === CALLBACK_PATH) navigate('/orders', { replace: true });
    },
    [navigate],
  );

  const signOut = useCallback(() => {
    clearSession();
    setSession(undefined);
    setNotice('You signed out.');
    if (config.auth.mode === 'cognito') {
      window.location.assign(logoutUrl(config.auth, window.location.origin));
    } else {
      navigate('/', { replace: true });
    }
  }, [config.auth, navigate]);

  if (config.auth.mode === 'cognito' && path === CALLBACK_PATH && !session) {
    return (
      <Suspense fallback={<Loading label="Signing in…" />}>
        <Callback auth={config.auth} search={search} onSignedIn={signedIn} onRestart={() => navigate('/', { replace: true })} />
      </Suspense>
    );
  }
  if (!session) return <SignIn config={config} notice={notice} onSignedIn={signedIn} />;

  return (
    <Suspense fallback={<Loading />}>
      <SignedIn key={session.accessToken} app={{ config, client, session, signOut }} />
    </Suspense>
  );
}
