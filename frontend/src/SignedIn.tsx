// The signed-in app: its data cache, the shell (header, navigation) and the routes. Loaded after
// sign-in, so a first visit downloads only the sign-in page; pages other than the orders load
// when they are opened.
import { QueryClientProvider } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useState } from 'react';
import { Link, Route, Routes, useLocation, useParams } from 'react-router';
import { CALLBACK_PATH } from './auth/pkce';
import { isAdmin } from './auth/session';
import { Loading } from './components/ui';
import { AppContext, useApp, type AppValue } from './context';
import { OrdersPage } from './pages/Orders';
import { newQueryClient } from './queries';

const CataloguePage = lazy(() => import('./pages/Catalogue').then((m) => ({ default: m.CataloguePage })));
const EventsPage = lazy(() => import('./pages/Events').then((m) => ({ default: m.EventsPage })));
const NewOrderPage = lazy(() => import('./pages/NewOrder').then((m) => ({ default: m.NewOrderPage })));
const OrderDetailPage = lazy(() => import('./pages/OrderDetail').then((m) => ({ default: m.OrderDetailPage })));
const WebhooksPage = lazy(() => import('./pages/Webhooks').then((m) => ({ default: m.WebhooksPage })));

export function SignedIn({ app }: { app: AppValue }) {
  // A new cache for each session (this component is mounted anew at each sign-in): nothing one
  // user loaded is shown to the next.
  const [queryClient] = useState(newQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <AppContext.Provider value={app}>
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
  const { session, signOut } = useApp();
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
