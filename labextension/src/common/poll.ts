/**
 * `usePoll`: the one refresh mechanism of every view (side panel tabs and main-area pages),
 * on Lumino's `Poll` (@lumino/polling, the poller JupyterLab itself uses).
 *
 *   const jobs = usePoll(() => api.jobs.listJobs(), { active: props.active });
 *   jobs.data / jobs.error / jobs.loading / jobs.refresh()
 *
 *   // a run: polled until it has finished, then never again
 *   const run = usePoll(() => api.jobs.getRun(id), { active, until: r => isFinal(r.state) });
 *
 * - fetches at once when `active` turns true, then every `intervalMs`;
 * - after a failed request the next one waits longer (exponential backoff up to
 *   `maxIntervalMs`), and goes back to `intervalMs` after a success;
 * - while the browser tab is hidden it backs off too: it fetches on the 1st, 2nd, 4th, 8th
 *   ... tick (at most every `HIDDEN_MAX_TICKS` ticks), and at once when the tab shows again;
 * - `until(data)` true stops the polling (a finished run is not polled); `refresh()` still
 *   fetches on demand;
 * - a request that finishes after a newer one started is dropped, so the view never goes
 *   back to older data.
 */

import { Poll } from '@lumino/polling';
import { DependencyList, useCallback, useEffect, useRef, useState } from 'react';

/** Milliseconds between two automatic refreshes of a view's data. */
export const DEFAULT_POLL_INTERVAL_MS = 10_000;

/** While the browser tab is hidden, fetch at most once every this many ticks. */
export const HIDDEN_MAX_TICKS = 32;

export interface PollOptions<T> {
  /** Poll only while true (the view is shown). */
  active: boolean;
  /** Milliseconds between fetches; 0 fetches once each time `active` turns true. */
  intervalMs?: number;
  /** The longest wait after failures (default: 8 × intervalMs, at least 60 s). */
  maxIntervalMs?: number;
  /** Re-fetch at once when one of these changes (e.g. a filter or a selected id). */
  deps?: DependencyList;
  /** Stop polling once this is true of the data (e.g. a run that has finished). */
  until?: (data: T) => boolean;
}

export interface PollState<T> {
  /** The last successful answer, kept while a later request fails. */
  data: T | null;
  /** The error of the last request, null after a success. */
  error: Error | null;
  /** A request is in flight. */
  loading: boolean;
  /** When `data` last arrived. */
  updatedAt: Date | null;
  /** Fetch now (e.g. after the user changed something). */
  refresh: () => Promise<void>;
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

export function usePoll<T>(fetcher: () => Promise<T>, options: PollOptions<T>): PollState<T> {
  const { active, intervalMs = DEFAULT_POLL_INTERVAL_MS, maxIntervalMs, deps = [] } = options;
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(false);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);

  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const untilRef = useRef(options.until);
  untilRef.current = options.until;
  const sequence = useRef(0);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  /** One request; resolves to the data (or null when a newer request overtook it). */
  const load = useCallback(async (): Promise<T | null> => {
    const ticket = ++sequence.current;
    setLoading(true);
    try {
      const result = await fetcherRef.current();
      if (mounted.current && ticket === sequence.current) {
        setData(result);
        setError(null);
        setUpdatedAt(new Date());
        return result;
      }
      return null;
    } catch (reason) {
      if (mounted.current && ticket === sequence.current) {
        setError(reason instanceof Error ? reason : new Error(String(reason)));
      }
      throw reason;
    } finally {
      if (mounted.current && ticket === sequence.current) {
        setLoading(false);
      }
    }
  }, []);

  const refresh = useCallback(async (): Promise<void> => {
    try {
      await load();
    } catch {
      /* kept in `error` */
    }
  }, [load]);

  useEffect(() => {
    if (!active) {
      return;
    }
    let hiddenTicks = 0;
    const poll = new Poll<void, unknown, 'finished'>({
      name: 'jupyter-mlinfra:poll',
      factory: async () => {
        const result = await load();
        const until = untilRef.current;
        if (result !== null && until && until(result)) {
          void poll.stop();
        }
      },
      frequency: {
        interval: intervalMs > 0 ? intervalMs : Poll.NEVER,
        backoff: true,
        max: maxIntervalMs ?? Math.max(intervalMs * 8, 60_000)
      },
      // Hidden tab: back off (fetch on ticks 1, 2, 4, 8, ... then every HIDDEN_MAX_TICKS).
      standby: () => {
        if (!document.hidden) {
          hiddenTicks = 0;
          return false;
        }
        hiddenTicks += 1;
        return !(isPowerOfTwo(hiddenTicks) || hiddenTicks % HIDDEN_MAX_TICKS === 0);
      }
    });
    const onVisible = () => {
      if (!document.hidden && poll.state.phase !== 'stopped') {
        void poll.refresh();
      }
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      poll.dispose();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [active, intervalMs, maxIntervalMs, load, ...deps]);

  return { data, error, loading, updatedAt, refresh };
}
