/**
 * `usePoll`: fetch now, then every `intervalMs` while `active`; the panel's one refresh loop.
 *
 *   const jobs = usePoll(() => api.listJobs(), { active: props.active });
 *   jobs.data / jobs.error / jobs.loading / jobs.refresh()
 *
 * A request that finishes after a newer one started is dropped, so the view never goes
 * back to older data. While the browser tab is hidden the ticks are skipped.
 */

import { DependencyList, useCallback, useEffect, useRef, useState } from 'react';

/** Seconds between two automatic refreshes of the panel's data. */
export const DEFAULT_POLL_INTERVAL_MS = 10_000;

export interface PollOptions {
  /** Poll only while true (the tab is selected and the panel is visible). */
  active: boolean;
  /** Milliseconds between fetches; 0 fetches once each time `active` turns true. */
  intervalMs?: number;
  /** Re-fetch at once when one of these changes (e.g. a filter or a selected id). */
  deps?: DependencyList;
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

export function usePoll<T>(
  fetcher: () => Promise<T>,
  options: PollOptions
): PollState<T> {
  const { active, intervalMs = DEFAULT_POLL_INTERVAL_MS, deps = [] } = options;
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(false);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);

  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const sequence = useRef(0);
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const refresh = useCallback(async (): Promise<void> => {
    const ticket = ++sequence.current;
    setLoading(true);
    try {
      const result = await fetcherRef.current();
      if (mounted.current && ticket === sequence.current) {
        setData(result);
        setError(null);
        setUpdatedAt(new Date());
      }
    } catch (reason) {
      if (mounted.current && ticket === sequence.current) {
        setError(reason instanceof Error ? reason : new Error(String(reason)));
      }
    } finally {
      if (mounted.current && ticket === sequence.current) {
        setLoading(false);
      }
    }
  }, []);

  useEffect(() => {
    if (!active) {
      return;
    }
    let stopped = false;
    let timer: number | undefined;
    const schedule = () => {
      if (!stopped && intervalMs > 0) {
        timer = window.setTimeout(tick, intervalMs);
      }
    };
    const tick = () => {
      if (document.hidden) {
        schedule();
        return;
      }
      void refresh().then(schedule);
    };
    void refresh().then(schedule);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [active, intervalMs, refresh, ...deps]);

  return { data, error, loading, updatedAt, refresh };
}
