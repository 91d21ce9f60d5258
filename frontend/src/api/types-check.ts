// Compile-time check of the hand-written API types (types.ts) against the ones generated from the
// API's OpenAPI document (schema.d.ts, `npm run gen:api`): `tsc` in `npm run build` fails when a
// field is added, removed, renamed, retyped or changes between required and optional.
import type { components } from './schema';
import type * as T from './types';

type S = components['schemas'];
/** Whether A and B accept the same values and have the same fields. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? ([keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false) : false) : false;
type Assert<T extends true> = T;
/** `detail` is free-form JSON: the generator types it `Record<string, never>`. */
type WithoutDetail<E> = Omit<E, 'detail'>;

export type Checks = [
  Assert<Same<T.OrderStatus, S['OrderStatus']>>,
  Assert<Same<T.OrderItem, S['OrderItem']>>,
  Assert<Same<T.Order, S['Order']>>,
  Assert<Same<T.OrderPage['next_cursor'], S['OrderPage']['next_cursor']>>,
  Assert<Same<keyof T.OrderPage, keyof S['OrderPage']>>,
  Assert<Same<WithoutDetail<T.ApiEvent>, WithoutDetail<S['Event']>>>,
  Assert<Same<keyof T.OrderDetail, keyof S['OrderDetail']>>,
  Assert<Same<keyof T.EventList, keyof S['EventList']>>,
  Assert<Same<T.InventoryItem, S['InventoryItem']>>,
  Assert<Same<T.InventoryList, S['InventoryList']>>,
  Assert<Same<T.ProductUpdate, S['ProductUpdate']>>,
  Assert<Same<T.CreateOrderRequest, S['CreateOrderRequest']>>,
  Assert<Same<T.NewOrderLine, S['RequestedItem']>>,
  Assert<Same<T.ReceiptLink, S['ReceiptLink']>>,
  Assert<Same<T.WebhookSummary, S['WebhookSummary']>>,
  Assert<Same<T.Webhook, S['Webhook']>>,
  Assert<Same<T.WebhookList, S['WebhookList']>>,
  Assert<Same<T.RegisterWebhookRequest, S['RegisterWebhookRequest']>>,
  Assert<Same<T.SpanKind, S['SpanKind']>>,
  Assert<Same<T.Span, S['Span']>>,
  Assert<Same<T.OrderTrace, S['OrderTrace']>>,
  Assert<Same<T.FieldError, S['FieldError']>>,
  Assert<Same<T.Problem, S['Problem']>>,
  Assert<Same<T.DevTokenResponse, S['DevTokenResponse']>>,
];
