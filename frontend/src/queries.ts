// Every read of the API as a TanStack Query: one key per resource, so a mutation invalidates
// exactly what it changed, and polling lives in `refetchInterval` instead of hand-written timers.
import {
  QueryClient,
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
} from '@tanstack/react-query';
import { ApiError } from './api/client';
import type { CreateOrderRequest, OrderDetail, OrderTrace, ProductUpdate, RegisterWebhookRequest } from './api/types';
import { useApp } from './context';

export const ORDERS_PAGE_SIZE = 10;
/** The orders list refreshes this often while one of its orders is still running. */
export const LIST_POLL_MS = 3000;
/** An order's page refreshes this often while its saga runs or its receipt is on the way. */
export const ORDER_POLL_MS = 1000;
export const FEED_POLL_MS = 3000;
export const DELIVERIES_POLL_MS = 5000;
/** The orders page's charts refresh this often. */
export const ACTIVITY_POLL_MS = 10_000;
/** The most the API returns in one page of orders, and of events: what the charts are drawn from. */
export const ACTIVITY_ORDERS = 50;
export const ACTIVITY_EVENTS = 100;
/** How long after confirmation the order page waits for the receipt (and deliveries) to show up. */
export const RECEIPT_WAIT_MS = 120_000;
/**
 * How long after the order's last change its trace is still refreshed: the processors (email,
 * receipt, webhook) record their spans after the order is confirmed or failed.
 */
export const TRACE_SETTLE_MS = 10_000;

export const keys = {
  inventory: ['inventory'] as const,
  adminInventory: ['admin', 'inventory'] as const,
  orders: ['orders'] as const,
  order: (id: string) => ['orders', id] as const,
  trace: (id: string) => ['orders', id, 'trace'] as const,
  receipt: (id: string, key: string) => ['orders', id, 'receipt', key] as const,
  recentOrders: (limit: number) => ['orders', 'latest', limit] as const,
  events: (limit: number) => ['events', limit] as const,
  webhooks: ['webhooks'] as const,
};

/** How long a page seen a moment ago is shown from the cache without asking the API again. */
export const FRESH_MS = 10_000;

/**
 * One client per signed-in session (it is dropped with the session, so one user never sees
 * another's cache). Data younger than FRESH_MS is not fetched again when a page is revisited:
 * what could have changed meanwhile is polled (a running order, the feed) or invalidated by the
 * mutation that changed it. A request the server refused (4xx) is not retried; a network error
 * or a 5xx is retried once, quickly, before the page shows it.
 */
export function newQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (failures, error) => failures < 1 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
        retryDelay: 250,
        staleTime: FRESH_MS,
        refetchOnWindowFocus: false,
      },
      mutations: { retry: false },
    },
  });
}

/** Whether an order's page should keep asking: the saga is running, or a receipt is still to come. */
export function stillChanging(detail: OrderDetail, now = Date.now()): boolean {
  const { status, receipt_key, updated_at } = detail.order;
  if (status === 'PENDING' || status === 'PROCESSING') return true;
  const recent = now - Date.parse(updated_at) < RECEIPT_WAIT_MS;
  return status === 'CONFIRMED' && !receipt_key && recent;
}

/** Whether the trace may still gain spans: the order is, or has only just stopped, changing. */
export function traceStillChanging(detail: OrderDetail | undefined, now = Date.now()): boolean {
  if (!detail) return true;
  return stillChanging(detail, now) || now - Date.parse(detail.order.updated_at) < TRACE_SETTLE_MS;
}

export function useInventory() {
  const { client } = useApp();
  return useQuery({ queryKey: keys.inventory, queryFn: () => client.inventory() });
}

export function useAdminInventory() {
  const { client } = useApp();
  return useQuery({ queryKey: keys.adminInventory, queryFn: () => client.adminInventory() });
}

/** The caller's orders, page by page; the loaded pages refresh while any order in them runs. */
export function useOrders() {
  const { client } = useApp();
  return useInfiniteQuery({
    queryKey: keys.orders,
    queryFn: ({ pageParam }) => client.listOrders(ORDERS_PAGE_SIZE, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    refetchInterval: (query) => {
      const orders = query.state.data?.pages.flatMap((page) => page.orders) ?? [];
      return orders.some((o) => o.status === 'PENDING' || o.status === 'PROCESSING') ? LIST_POLL_MS : false;
    },
  });
}

export function useOrder(id: string) {
  const { client } = useApp();
  return useQuery({
    queryKey: keys.order(id),
    queryFn: () => client.order(id),
    // Until the first answer there is nothing to follow; after it, only a changing order polls.
    refetchInterval: (query) => (query.state.data && stillChanging(query.state.data) ? ORDER_POLL_MS : false),
  });
}

/** The order's trace, refreshed while the order (`detail`) is, or has only just stopped, changing. */
export function useTrace(id: string, detail: OrderDetail | undefined) {
  const { client } = useApp();
  const changing = traceStillChanging(detail);
  return useQuery<OrderTrace | null>({
    queryKey: keys.trace(id),
    queryFn: () => client.trace(id),
    refetchInterval: changing ? ORDER_POLL_MS : false,
  });
}

/** The receipt's link (null while the API has none), asked for once the order names a receipt. */
export function useReceipt(id: string, receiptKey: string | null | undefined) {
  const { client } = useApp();
  return useQuery({
    queryKey: keys.receipt(id, receiptKey ?? ''),
    // A query's data cannot be undefined.
    queryFn: async () => (await client.receipt(id)) ?? null,
    enabled: Boolean(receiptKey),
    staleTime: Infinity,
  });
}

export function useEvents(limit: number, pollMs: number) {
  const { client } = useApp();
  return useQuery({ queryKey: keys.events(limit), queryFn: () => client.events(limit), refetchInterval: pollMs });
}

/** The caller's latest orders and events, for the charts. */
export function useActivity() {
  const { client } = useApp();
  const orders = useQuery({
    queryKey: keys.recentOrders(ACTIVITY_ORDERS),
    queryFn: () => client.listOrders(ACTIVITY_ORDERS),
    refetchInterval: ACTIVITY_POLL_MS,
  });
  const events = useEvents(ACTIVITY_EVENTS, ACTIVITY_POLL_MS);
  return { orders, events };
}

export function useWebhooks() {
  const { client } = useApp();
  return useQuery({ queryKey: keys.webhooks, queryFn: () => client.webhooks() });
}

export function usePlaceOrder() {
  const { client } = useApp();
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ request, idempotencyKey }: { request: CreateOrderRequest; idempotencyKey: string }) =>
      client.createOrder(request, idempotencyKey),
    onSuccess: () =>
      Promise.all([
        queries.invalidateQueries({ queryKey: keys.orders, exact: true }),
        queries.invalidateQueries({ queryKey: keys.recentOrders(ACTIVITY_ORDERS) }),
        queries.invalidateQueries({ queryKey: keys.inventory }),
        queries.invalidateQueries({ queryKey: ['events'] }),
      ]),
  });
}

export function useSaveProduct() {
  const { client } = useApp();
  const queries = useQueryClient();
  return useMutation({
    mutationFn: ({ sku, product }: { sku: string; product: ProductUpdate }) => client.putProduct(sku, product),
    onSuccess: () =>
      Promise.all([
        queries.invalidateQueries({ queryKey: keys.adminInventory }),
        queries.invalidateQueries({ queryKey: keys.inventory }),
      ]),
  });
}

export function useRegisterWebhook() {
  const { client } = useApp();
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (request: RegisterWebhookRequest) => client.registerWebhook(request),
    onSuccess: () => queries.invalidateQueries({ queryKey: keys.webhooks }),
  });
}

export function useDeleteWebhook() {
  const { client } = useApp();
  const queries = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => client.deleteWebhook(id),
    onSuccess: () => queries.invalidateQueries({ queryKey: keys.webhooks }),
  });
}
