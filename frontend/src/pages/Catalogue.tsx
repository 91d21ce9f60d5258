import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { InventoryItem } from '../api/types';
import { Empty, ErrorMessage, Loading } from '../components/ui';
import { money } from '../format';
import { useAdminInventory, useSaveProduct } from '../queries';

/** What the form holds: text as typed, checked when saved. */
interface Draft {
  sku: string;
  name: string;
  price: string;
  currency: string;
  stock: string;
}

const EMPTY: Draft = { sku: '', name: '', price: '', currency: 'USD', stock: '' };

/** Plain words for the API's field names. */
const FIELD_LABELS: Record<string, string> = {
  sku: 'SKU',
  name: 'Name',
  unit_price_minor: 'Price',
  currency: 'Currency',
  stock: 'Stock',
};

function draftOf(item: InventoryItem): Draft {
  return {
    sku: item.sku,
    name: item.name,
    price: (item.unit_price_minor / 100).toFixed(2),
    currency: item.currency,
    stock: String(item.stock),
  };
}

/** "12.5" -> 1250 minor units; undefined for anything that is not a price with at most two decimals. */
export function parsePrice(text: string): number | undefined {
  const match = /^(\d{1,7})(?:[.,](\d{1,2}))?$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * 100 + Number((match[2] ?? '0').padEnd(2, '0'));
}

/** The catalogue for members of the admins group: every product, and a form to add or restock one. */
export function CataloguePage() {
  const list = useAdminInventory();
  const saveProduct = useSaveProduct();
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [problems, setProblems] = useState<string[]>([]);
  const [saved, setSaved] = useState<string>();

  const set = (field: keyof Draft) => (value: string) => setDraft((d) => ({ ...d, [field]: value }));

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(undefined);
    const price = parsePrice(draft.price);
    const stock = /^\d{1,10}$/.test(draft.stock.trim()) ? Number(draft.stock.trim()) : undefined;
    const found: string[] = [];
    if (!draft.sku.trim()) found.push('Enter a SKU.');
    if (!draft.name.trim()) found.push('Enter a name.');
    if (price === undefined) found.push('Enter a price such as 12.50.');
    if (stock === undefined) found.push('Enter the stock as a whole number.');
    setProblems(found);
    if (found.length || price === undefined || stock === undefined) return;
    try {
      const item = await saveProduct.mutateAsync({
        sku: draft.sku.trim(),
        product: { name: draft.name.trim(), unit_price_minor: price, currency: draft.currency.trim().toUpperCase(), stock },
      });
      setSaved(`${item.sku} saved: ${item.stock} in stock at ${money(item.unit_price_minor, item.currency)}.`);
      setDraft(EMPTY);
    } catch (e) {
      if (e instanceof ApiError && e.fieldErrors.length) {
        setProblems(e.fieldErrors.map((f) => `${FIELD_LABELS[f.field] ?? f.field}: ${f.message}.`));
      } else {
        setProblems([e instanceof Error ? e.message : String(e)]);
      }
    }
  };

  const forbidden = list.error instanceof ApiError && list.error.status === 403;
  const items = [...(list.data?.items ?? [])].sort((a, b) => a.sku.localeCompare(b.sku));

  return (
    <section aria-labelledby="catalogue-title">
      <div className="page-head">
        <h1 id="catalogue-title">Catalogue</h1>
      </div>
      {forbidden ? (
        <p role="alert">Only members of the admins group manage the catalogue. Ask an administrator to add you.</p>
      ) : (
        <>
          <form className="card catalogue-form" onSubmit={save} aria-labelledby="product-form-title" noValidate>
            <h2 id="product-form-title">Add or restock a product</h2>
            <div className="catalogue-form__fields">
              {(
                [
                  ['sku', 'SKU', { maxLength: 64 }],
                  ['name', 'Name', { maxLength: 200 }],
                  ['price', 'Price', { inputMode: 'decimal' }],
                  ['currency', 'Currency', { maxLength: 3 }],
                  ['stock', 'Stock', { inputMode: 'numeric' }],
                ] as const
              ).map(([field, label, extra]) => (
                <div className="field" key={field}>
                  <label className="field__label" htmlFor={`product-${field}`}>
                    {label}
                  </label>
                  <input
                    id={`product-${field}`}
                    value={draft[field]}
                    onChange={(e) => set(field)(e.target.value)}
                    aria-describedby={problems.length ? 'product-errors' : undefined}
                    {...extra}
                  />
                </div>
              ))}
            </div>
            {problems.length > 0 && (
              <ul id="product-errors" role="alert" className="field__error">
                {problems.map((problem) => (
                  <li key={problem}>{problem}</li>
                ))}
              </ul>
            )}
            {saved && (
              <p className="notice notice--success" role="status">
                {saved}
              </p>
            )}
            <button type="submit" className="button" disabled={saveProduct.isPending}>
              {saveProduct.isPending ? 'Saving…' : 'Save product'}
            </button>
          </form>
          {list.isPending && <Loading />}
          {list.error && !forbidden && <ErrorMessage error={list.error} onRetry={() => void list.refetch()} />}
          {list.data && items.length === 0 && (
            <Empty>No products yet: nothing can be ordered until you add one.</Empty>
          )}
          {items.length > 0 && (
            <table className="catalogue">
              <caption className="visually-hidden">Products</caption>
              <thead>
                <tr>
                  <th scope="col">SKU</th>
                  <th scope="col">Name</th>
                  <th scope="col">Price</th>
                  <th scope="col">Stock</th>
                  <th scope="col">
                    <span className="visually-hidden">Edit</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((item) => (
                  <tr key={item.sku}>
                    <td>
                      <code>{item.sku}</code>
                    </td>
                    <td>{item.name}</td>
                    <td>{money(item.unit_price_minor, item.currency)}</td>
                    <td>{item.stock}</td>
                    <td>
                      <button type="button" className="button button--ghost button--small" onClick={() => setDraft(draftOf(item))}>
                        Edit {item.sku}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
