export function money(minor: number, currency: string): string {
  try {
    return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(minor / 100);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency}`;
  }
}

export function dateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString('en-GB', {
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** The last 8 hex digits: ids are UUIDv7, whose first digits are a timestamp shared by neighbours. */
export function shortId(id: string): string {
  return id.replace(/-/g, '').slice(-8);
}

const MILLIS = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** Microseconds as milliseconds with two decimals: 427 → "0.43 ms". */
export function millis(us: number): string {
  return `${MILLIS.format(us / 1000)} ms`;
}
