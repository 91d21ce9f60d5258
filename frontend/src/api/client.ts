import type {
  CreateOrderRequest,
  DevTokenResponse,
  EventList,
  FieldError,
  InventoryItem,
  InventoryList,
  Order,
  OrderDetail,
  OrderPage,
  OrderTrace,
  Problem,
  ProductUpdate,
  ReceiptLink,
  RegisterWebhookRequest,
  Webhook,
  WebhookList,
} from './types';

/** A failed API call, with the RFC 7807 problem body when the API sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem?: Problem;

  constructor(status: number, problem?: Problem, fallback?: string) {
    super(problem?.detail || problem?.title || fallback || `request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }

  get fieldErrors(): FieldError[] {
    return this.problem?.errors ?? [];
  }
}

export interface ClientOptions {
  baseUrl: string;
  token?: () => string | undefined;
  /** Called on any 401 from an authenticated call: the token expired or was refused. */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
}

function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'status' in value && 'title' in value;
}

export function newIdempotencyKey(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class ApiClient {
  constructor(private readonly options: ClientOptions) {}

  private url(path: string): string {
    return this.options.baseUrl.replace(/\/$/, '') + path;
  }

  async request<T>(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string>; auth?: boolean } = {},
  ): Promise<T> {
    const auth = init.auth ?? true;
    const headers: Record<string, string> = { Accept: 'application/json', ...init.headers };
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    const token = auth ? this.options.token?.() : undefined;
    if (token) headers.Authorization = `Bearer ${token}`;
    const doFetch = this.options.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(this.url(path), {
        method,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    } catch (error) {
      throw new ApiError(0, undefined, `the API cannot be reached (${String(error)})`);
    }
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (!response.ok) {
      if (response.status === 401 && auth) this.options.onUnauthorized?.();
      throw new ApiError(
        response.status,
        isProblem(body) ? body : undefined,
        `${response.status} ${response.statusText}`.trim(),
      );
    }
    return body as T;
  }

  devToken(username: string, admin = false): Promise<DevTokenResponse> {
    return this.request('POST', '/dev/token', { body: { username, admin }, auth: false });
  }

  /** Every product with its stock: members of the admins group only (403 otherwise). */
  adminInventory(): Promise<InventoryList> {
    return this.request('GET', '/api/admin/inventory');
  }

  /** Creates the product or replaces its name, price and stock: admins only. */
  putProduct(sku: string, product: ProductUpdate): Promise<InventoryItem> {
    return this.request('PUT', `/api/admin/inventory/${encodeURIComponent(sku)}`, { body: product });
  }

  inventory(): Promise<InventoryList> {
    return this.request('GET', '/api/inventory');
  }

  listOrders(limit: number, cursor?: string): Promise<OrderPage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    return this.request('GET', `/api/orders?${query}`);
  }

  createOrder(request: CreateOrderRequest, idempotencyKey: string): Promise<Order> {
    return this.request('POST', '/api/orders', {
      body: request,
      headers: { 'Idempotency-Key': idempotencyKey },
    });
  }

  order(id: string): Promise<OrderDetail> {
    return this.request('GET', `/api/orders/${encodeURIComponent(id)}`);
  }

  /** The receipt's URL, or undefined while the order has none (404). */
  async receipt(id: string): Promise<string | undefined> {
    try {
      const link = await this.request<ReceiptLink>(
        'GET',
        `/api/orders/${encodeURIComponent(id)}/receipt`,
      );
      return link.url;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  /** The order's trace, or null when the order has none (404). */
  async trace(id: string): Promise<OrderTrace | null> {
    try {
      return await this.request<OrderTrace>('GET', `/api/orders/${encodeURIComponent(id)}/trace`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  events(limit = 50): Promise<EventList> {
    return this.request('GET', `/api/events?limit=${limit}`);
  }

  webhooks(): Promise<WebhookList> {
    return this.request('GET', '/api/webhooks');
  }

  registerWebhook(request: RegisterWebhookRequest): Promise<Webhook> {
    return this.request('POST', '/api/webhooks', { body: request });
  }

  deleteWebhook(id: string): Promise<void> {
    return this.request('DELETE', `/api/webhooks/${encodeURIComponent(id)}`);
  }
}
