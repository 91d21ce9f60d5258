import { QueryClientProvider } from '@tanstack/react-query';
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { BrowserRouter, Link, Route, Routes, useLocation, useNavigate, useParams } from 'react-router';
import { ApiClient } from './api/client';
import type { RuntimeConfig } from './api/types';
import { CALLBACK_PATH, logoutUrl } from './auth/pkce';
import { clearSession, isAdmin, loadSession, saveSession, type Session } from './auth/session';
import { ErrorMessage, Loading } from './components/ui';
import { loadConfig } from './config';
import { AppContext, useApp as useAppSafe } from './context';
import { OrdersPage } from './pages/Orders';
import { SignIn } from './pages/SignIn';
import { newQueryClient } from './queries';

// The first page a visitor sees (sign-in, or the orders) is in the entry chunk; every other page
// loads on the way to it, so the first page does not wait for code it does not run.
const Callback = lazy(() => import('./pages/Callback').then((m) => ({ default: m.Callback })));
const CataloguePage = lazy(() => import('./pages/Catalogue').then((m) => ({ default: m.CataloguePage })));
const EventsPage = lazy(() => import('./pages/Events').then((m) => ({ default: m.EventsPage })));
const NewOrderPage = lazy(() => import('./pages/NewOrder').then((m) => ({ default: m.NewOrderPage })));
const OrderDetailPage = lazy(() => import('./pages/OrderDetail').then((m) => ({ default: m.OrderDetailPage })));
const WebhooksPage = lazy(() => import('./pages/Webhooks').then((m) => ({ default: m.WebhooksPage })));

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
  // A new cache for each session: nothing one user loaded is shown to the next.
  const queryClient = useMemo(() => newQueryClient(), [session?.accessToken]);

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
    <QueryClientProvider client={queryClient}>
      <AppContext.Provider value={{ config, client, session, signOut }}>
        <Shell />
      </AppContext.Provider>
    </QueryClientProvider>
  );
}

const NAV = [
  { to: '/orders', label: 'Orders' },
  { to: '/orders/new', label: 'New order' },
  { to: '/events', label: 'Events' },
  { to: '/webhooks', label: 'Webhooks' },
];

function Shell() {
  const { pathname: path } = useLocation();
  // A new page starts at its top, as a full page load would. (In braces: Chromium's scrollTo
  // returns a promise, which React would take for the effect's clean-up.)
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [path]);
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <Header path={path} />
      <main id="main" className="content">
        <Suspense fallback={<Loading />}>
          <Page path={path} />
        </Suspense>
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
  return (
    <Routes>
      <Route index element={<OrdersPage />} />
      <Route path="orders" element={<OrdersPage />} />
      <Route path="orders/new" element={<NewOrderPage />} />
      <Route path="orders/:id" element={<OrderRoute />} />
      <Route path="events" element={<EventsPage />} />
      <Route path="webhooks" element={<WebhooksPage />} />
      <Route path="catalogue" element={<CataloguePage />} />
      <Route path={CALLBACK_PATH} element={<OrdersPage />} />
      <Route
        path="*"
        element={
          <section>
            <h1>Not found</h1>
            <p>
              Nothing lives at <code>{path}</code>. <Link to="/orders">Go to your orders</Link>.
            </p>
          </section>
        }
      />
    </Routes>
  );
}

/** A new order page for each id: nothing of the previous order's state carries over. */
function OrderRoute() {
  const { id = '' } = useParams();
  return <OrderDetailPage key={id} id={id} />;
}
