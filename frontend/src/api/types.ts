// The API's types as the dashboard uses them. `types-check.ts` makes the type check fail when they
// differ from the types generated from the API's OpenAPI document (`openapi.json`, a snapshot
// refreshed with `npm run openapi:fetch`; `schema.d.ts`, generated with `npm run gen:api`).

export type OrderStatus = 'PENDING' | 'PROCESSING' | 'CONFIRMED' | 'FAILED';

export interface OrderItem {
  sku: string;
  quantity: number;
  unit_price_minor: number;
}

export interface Order {
  id: string;
  user_id: string;
  items: OrderItem[];
  currency: string;
  total_minor: number;
  status: OrderStatus;
  created_at: string;
  updated_at: string;
  idempotency_key?: string | null;
  receipt_key?: string | null;
}

export interface OrderPage {
  orders: Order[];
  next_cursor?: string | null;
}

export interface ApiEvent {
  id: string;
  type: string;
  order_id?: string | null;
  user_id?: string | null;
  occurred_at: string;
  detail: Record<string, unknown>;
  trace?: string | null;
}

export interface OrderDetail {
  order: Order;
  history: ApiEvent[];
}

export interface EventList {
  events: ApiEvent[];
}

export interface InventoryItem {
  sku: string;
  name: string;
  unit_price_minor: number;
  currency: string;
  stock: number;
}

export interface InventoryList {
  items: InventoryItem[];
}

/** A product as an administrator sets it (`PUT /api/admin/inventory/{sku}`). */
export interface ProductUpdate {
  name: string;
  unit_price_minor: number;
  currency: string;
  stock: number;
}

export interface NewOrderLine {
  sku: string;
  quantity: number;
}

export interface CreateOrderRequest {
  items: NewOrderLine[];
}

export interface ReceiptLink {
  url: string;
}

export interface WebhookSummary {
  id: string;
  url: string;
  event_types: string[];
  created_at: string;
}

export interface Webhook extends WebhookSummary {
  user_id: string;
  /** The HMAC-SHA256 signing secret: returned only when the webhook is registered. */
  secret: string;
}

export interface WebhookList {
  webhooks: WebhookSummary[];
}

export interface RegisterWebhookRequest {
  url: string;
  /** Defaults to order.confirmed and order.failed. */
  event_types?: string[] | null;
}

export type SpanKind = 'request' | 'step' | 'consumer';

/** One finished piece of work in an order's trace: the API request, a saga step, a processor run. */
export interface Span {
  trace_id: string;
  span_id: string;
  /** The span that caused this one; none for the trace's first span. */
  parent_span_id?: string | null;
  name: string;
  kind: SpanKind;
  /** RFC 3339 with microseconds. */
  started_at: string;
  duration_us: number;
  /** None when the work succeeded; otherwise what went wrong. */
  error?: string | null;
}

/** `GET /api/orders/{id}/trace`: spans earliest first; empty on AWS, where they are in X-Ray. */
export interface OrderTrace {
  trace_id: string;
  spans: Span[];
}

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[] | null;
}

export interface DevTokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  user_id: string;
}

/** `/config.json`: written at deploy on AWS, served by the API under `cargo xtask dev`. */
export interface RuntimeConfig {
  apiBaseUrl: string;
  auth: DevAuthConfig | CognitoAuthConfig;
}

export interface DevAuthConfig {
  mode: 'dev';
}

export interface CognitoAuthConfig {
  mode: 'cognito';
  region: string;
  userPoolId: string;
  clientId: string;
  /** The hosted UI's domain: a full host name, or the prefix of `<prefix>.auth.<region>.amazoncognito.com`. */
  domain: string;
}
