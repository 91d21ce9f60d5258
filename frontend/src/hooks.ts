import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` now and whenever `deps` change; with `pollMs`, again every `pollMs` while
 * `keepPolling(data)` holds. Polls keep the last data on a transient error.
 */
export function useResource<T>(
  load: () => Promise<T>,
  deps: unknown[],
  options: { pollMs?: number; keepPolling?: (data: T | undefined) => boolean } = {},
): Resource<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const optionsRef = useRef(options);
  optionsRef.current = options;

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState((s) => ({ ...s, loading: true }));
    const run = async () => {
      // A hidden tab skips its polls (not the first load) and catches up when shown again.
      if (timer !== undefined && typeof document !== 'undefined' && document.hidden) {
        timer = setTimeout(run, optionsRef.current.pollMs ?? 1000);
        return;
      }
      try {
        const data = await loadRef.current();
        if (cancelled) return;
        setState({ data, loading: false });
        schedule(data);
      } catch (error) {
        if (cancelled) return;
        setState((s) => ({ data: s.data, error, loading: false }));
        schedule(undefined);
      }
    };
    const schedule = (data: T | undefined) => {
      const { pollMs, keepPolling } = optionsRef.current;
      if (!pollMs) return;
      if (keepPolling && data !== undefined && !keepPolling(data)) return;
      timer = setTimeout(run, pollMs);
    };
    void run();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}
