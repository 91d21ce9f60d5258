import { useRef, useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router';
import { ApiError, newIdempotencyKey } from '../api/client';
import type { FieldError, InventoryItem } from '../api/types';
import { ErrorMessage, Loading } from '../components/ui';
import { money } from '../format';
import { useInventory, usePlaceOrder } from '../queries';

interface Line {
  key: number;
  sku: string;
  quantity: string;
}

/** Splits the API's field errors into per-line errors (`items[2].quantity`) and the rest. */
export function groupFieldErrors(errors: FieldError[]) {
  const lines = new Map<number, { sku?: string; quantity?: string; line?: string }>();
  const other: string[] = [];
  for (const error of errors) {
    const match = /^items\[(\d+)\](?:\.(\w+))?$/.exec(error.field);
    if (match) {
      const index = Number(match[1]);
      const entry = lines.get(index) ?? {};
      const field = match[2];
      if (field === 'sku' || field === 'quantity') entry[field] = entry[field] ? `${entry[field]} ${error.message}` : error.message;
      else entry.line = entry.line ? `${entry.line} ${error.message}` : error.message;
      lines.set(index, entry);
    } else {
      other.push(error.field ? `${error.field}: ${error.message}` : error.message);
    }
  }
  return { lines, other };
}

/** The most of one product an order may hold (the API's limit). */
const MAX_QUANTITY = 1000;

type LineErrors = { sku?: string; quantity?: string; line?: string };

/** What is wrong with the form's lines before anything is sent, in a shopper's words. */
export function checkLines(lines: { sku: string; quantity: string }[], stock: Map<string, number>): Map<number, LineErrors> {
  const errors = new Map<number, LineErrors>();
  const seen = new Set<string>();
  lines.forEach((line, index) => {
    const found: LineErrors = {};
    if (!line.sku) found.sku = 'Choose a product.';
    else if (seen.has(line.sku)) found.sku = 'You chose this product twice: remove one line and add its quantity to the other.';
    seen.add(line.sku);
    const text = line.quantity.trim();
    const quantity = Number(text);
    const left = stock.get(line.sku);
    if (!/^\d+$/.test(text) || quantity < 1) found.quantity = 'Enter a quantity of at least 1.';
    else if (left !== undefined && quantity > left) found.quantity = left === 0 ? 'This product is out of stock.' : `Only ${left} left in stock.`;
    else if (quantity > MAX_QUANTITY) found.quantity = `At most ${MAX_QUANTITY.toLocaleString('en')} of one product per order.`;
    if (found.sku || found.quantity) errors.set(index, found);
  });
  return errors;
}

/** The API's message about a line's field, in a shopper's words where the API's are technical. */
export function plainWords(field: 'sku' | 'quantity' | 'line', message: string): string {
  if (field === 'quantity') return `Enter a quantity from 1 to ${MAX_QUANTITY.toLocaleString('en')}.`;
  if (field === 'sku') {
    if (/^there is no product/.test(message)) return 'This product is no longer available: choose another.';
    if (/is listed twice/.test(message)) return 'You chose this product twice: remove one line and add its quantity to the other.';
    if (/^a SKU is/.test(message)) return 'Choose a product.';
  }
  return message;
}

export function NewOrderPage() {
  const navigate = useNavigate();
  const inventory = useInventory();
  const placeOrder = usePlaceOrder();
  const nextKey = useRef(1);
  const [lines, setLines] = useState<Line[]>([{ key: 0, sku: '', quantity: '1' }]);
  const [problem, setProblem] = useState<ApiError>();
  const [checked, setChecked] = useState<Map<number, LineErrors>>();
  const [failure, setFailure] = useState<unknown>();
  const idempotency = useRef<{ body: string; key: string } | undefined>(undefined);

  const items: InventoryItem[] = inventory.data?.items ?? [];
  const bySku = new Map(items.map((item) => [item.sku, item]));
  const total = lines.reduce((sum, line) => {
    const item = bySku.get(line.sku);
    const quantity = Number(line.quantity);
    return item && Number.isFinite(quantity) ? sum + item.unit_price_minor * quantity : sum;
  }, 0);
  const currency = items[0]?.currency ?? 'USD';

  const update = (key: number, change: Partial<Line>) =>
    setLines((all) => all.map((line) => (line.key === key ? { ...line, ...change } : line)));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(undefined);
    setFailure(undefined);
    const found = checkLines(lines, new Map(items.map((item) => [item.sku, item.stock])));
    setChecked(found.size ? found : undefined);
    if (found.size) return;
    const body = {
      items: lines.map((line) => ({
        sku: line.sku,
        quantity: line.quantity.trim() === '' ? 0 : Number(line.quantity),
      })),
    };
    const text = JSON.stringify(body);
    // The same order retried keeps its key, so a lost response cannot place it twice.
    if (!idempotency.current || idempotency.current.body !== text) {
      idempotency.current = { body: text, key: newIdempotencyKey() };
    }
    try {
      const order = await placeOrder.mutateAsync({ request: body, idempotencyKey: idempotency.current.key });
      navigate(`/orders/${order.id}`);
    } catch (e) {
      if (e instanceof ApiError && e.status !== 401 && e.problem) setProblem(e);
      else setFailure(e);
    }
  };

  if (inventory.isPending) return <Loading label="Loading products…" />;
  if (!inventory.data) return <ErrorMessage error={inventory.error} onRetry={() => void inventory.refetch()} />;

  const grouped = groupFieldErrors(problem?.fieldErrors ?? []);
  const lineErrors = (index: number): LineErrors | undefined => {
    const local = checked?.get(index);
    if (local) return local;
    const server = grouped.lines.get(index);
    if (!server) return undefined;
    return {
      sku: server.sku && plainWords('sku', server.sku),
      quantity: server.quantity && plainWords('quantity', server.quantity),
      line: server.line,
    };
  };

  return (
    <section aria-labelledby="new-order-title">
      <div className="page-head">
        <h1 id="new-order-title">New order</h1>
      </div>
      <form className="card order-form" onSubmit={submit} noValidate aria-describedby={problem || checked ? 'order-problem' : undefined}>
        {checked && (
          <div id="order-problem" className="state state--error" role="alert">
            <p>
              <strong>Check the order</strong> — {checked.size === 1 ? 'one item needs' : `${checked.size} items need`} your attention.
            </p>
          </div>
        )}
        {problem && (
          <div id="order-problem" className="state state--error" role="alert">
            <p>
              <strong>{problem.problem?.title}</strong>
              {problem.problem?.detail ? ` — ${problem.problem.detail}` : ''}
            </p>
            {grouped.other.length > 0 && (
              <ul>
                {grouped.other.map((message) => (
                  <li key={message}>{message}</li>
                ))}
              </ul>
            )}
          </div>
        )}
        {failure !== undefined && <ErrorMessage error={failure} />}
        <ol className="order-lines">
          {lines.map((line, index) => {
            const errors = lineErrors(index);
            const n = index + 1;
            const item = bySku.get(line.sku);
            return (
              <li key={line.key} className="order-line" aria-label={`Item ${n}`}>
                <div className="field order-line__product">
                  <label className="field__label" htmlFor={`line-${line.key}-sku`}>
                    Product {n}
                  </label>
                  <select
                    id={`line-${line.key}-sku`}
                    value={line.sku}
                    onChange={(e) => update(line.key, { sku: e.target.value })}
                    aria-invalid={errors?.sku ? true : undefined}
                    aria-describedby={errors?.sku ? `line-${n}-sku-error` : undefined}
                  >
                    <option value="">Choose a product…</option>
                    {items.map((product) => (
                      <option key={product.sku} value={product.sku}>
                        {product.name} ({product.sku}) — {money(product.unit_price_minor, product.currency)} · {product.stock} in stock
                      </option>
                    ))}
                  </select>
                  {errors?.sku && (
                    <span id={`line-${n}-sku-error`} className="field__error">
                      {errors.sku}
                    </span>
                  )}
                </div>
                <div className="field order-line__quantity">
                  <label className="field__label" htmlFor={`line-${line.key}-quantity`}>
                    Quantity {n}
                  </label>
                  <input
                    id={`line-${line.key}-quantity`}
                    type="number"
                    inputMode="numeric"
                    min={1}
                    value={line.quantity}
                    onChange={(e) => update(line.key, { quantity: e.target.value })}
                    aria-invalid={errors?.quantity ? true : undefined}
                    aria-describedby={errors?.quantity ? `line-${n}-quantity-error` : undefined}
                  />
                  {errors?.quantity && (
                    <span id={`line-${n}-quantity-error`} className="field__error">
                      {errors.quantity}
                    </span>
                  )}
                </div>
                <span className="order-line__subtotal muted">
                  <span className="visually-hidden">Subtotal {n}: </span>
                  {item && Number(line.quantity) > 0 ? money(item.unit_price_minor * Number(line.quantity), item.currency) : '—'}
                </span>
                <button
                  type="button"
                  className="button button--ghost"
                  onClick={() => setLines((all) => all.filter((l) => l.key !== line.key))}
                  disabled={lines.length === 1}
                  aria-label={`Remove item ${n}`}
                >
                  Remove
                </button>
                {errors?.line && <span className="field__error order-line__error">{errors.line}</span>}
              </li>
            );
          })}
        </ol>
        <div className="order-form__footer">
          <button
            type="button"
            className="button button--secondary"
            onClick={() => setLines((all) => [...all, { key: nextKey.current++, sku: '', quantity: '1' }])}
          >
            Add item
          </button>
          <p className="order-form__total">
            Total <strong data-testid="order-total">{money(total, currency)}</strong>
          </p>
          <button type="submit" className="button" disabled={placeOrder.isPending}>
            {placeOrder.isPending ? 'Placing order…' : 'Place order'}
          </button>
        </div>
      </form>
    </section>
  );
}
