import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiClient } from './api/client';
import type { RuntimeConfig } from './api/types';
import { CALLBACK_PATH, logoutUrl } from './auth/pkce';
import { clearSession, isAdmin, loadSession, saveSession, type Session } from './auth/session';
import { ErrorMessage, Loading } from './components/ui';
import { loadConfig } from './config';
import { AppContext, useApp as useAppSafe } from './context';
import { Callback } from './pages/Callback';
import { CataloguePage } from './pages/Catalogue';
import { EventsPage } from './pages/Events';
import { NewOrderPage } from './pages/NewOrder';
import { OrderDetailPage } from './pages/OrderDetail';
import { OrdersPage } from './pages/Orders';
import { SignIn } from './pages/SignIn';
import { WebhooksPage } from './pages/Webhooks';
import { Link, matchPath, Router, useRouter } from './router';

export function App({ configLoader = loadConfig }: { configLoader?: () => Promise<RuntimeConfig> }) {
  return (
    <Router>
      <ConfiguredApp configLoader={configLoader} />
    </Router>
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
  const { path, search, navigate } = useRouter();
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
    return <Callback auth={config.auth} search={search} onSignedIn={signedIn} onRestart={() => navigate('/', { replace: true })} />;
  }
  if (!session) return <SignIn config={config} notice={notice} onSignedIn={signedIn} />;

  return (
    <AppContext.Provider value={{ config, client, session, signOut }}>
      <Shell />
    </AppContext.Provider>
  );
}

const NAV = [
  { to: '/orders', label: 'Orders' },
  { to: '/orders/new', label: 'New order' },
  { to: '/events', label: 'Events' },
  { to: '/webhooks', label: 'Webhooks' },
];

function Shell() {
  const { path } = useRouter();
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <Header path={path} />
      <main id="main" className="content">
        <Page path={path} />
      </main>
    </div>
  );
}

function Header({ path }: { path: string }) {
  const { session, signOut } = useAppSafe();
  const active = (to: string) =>
    to === '/orders' ? path === '/' || path === '/orders' || (path.startsWith('/orders/') && path !== '/orders/new') : path === to;
  return (
    <header className="topbar">
      <Link to="/orders" className="brand">
        <span className="brand__mark" aria-hidden="true">
          ◆
        </span>{' '}
        EventForge
      </Link>
      <nav aria-label="Main" className="topbar__nav">
        {[...NAV, ...(isAdmin(session.accessToken) ? [{ to: '/catalogue', label: 'Catalogue' }] : [])].map((item) => (
          <Link key={item.to} to={item.to} className="topbar__link" aria-current={active(item.to) ? 'page' : undefined}>
            {item.label}
          </Link>
        ))}
      </nav>
      <div className="topbar__user">
        <span className="small" aria-label="Signed in as">
          {session.username}
        </span>
        <button type="button" className="button button--ghost button--small" onClick={signOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}



function Page({ path }: { path: string }) {
  if (path === '/' || path === '/orders' || path === CALLBACK_PATH) return <OrdersPage />;
  if (path === '/orders/new') return <NewOrderPage />;
  const order = matchPath('/orders/:id', path);
  if (order) return <OrderDetailPage key={order.id} id={order.id} />;
  if (path === '/events') return <EventsPage />;
  if (path === '/webhooks') return <WebhooksPage />;
  if (path === '/catalogue') return <CataloguePage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link to="/orders">Go to your orders</Link>.
      </p>
    </section>
  );
}
