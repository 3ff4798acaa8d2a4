import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** Loads when `key` changes; `every` ms reloads it in place (the overview's live charts) while the tab is visible. */
export function useLoad<T>(load: () => Promise<T>, key: string, every?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);
  const run = useCallback(() => {
    const n = ++latest.current;
    setLoading(true);
    load().then(
      (d) => {
        if (n !== latest.current) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: Error) => {
        if (n !== latest.current) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [key]);
  useEffect(() => {
    run();
    if (!every) return;
    const t = setInterval(() => document.visibilityState === 'visible' && run(), every);
    return () => clearInterval(t);
  }, [run, every]);
  return { data, error, loading, reload: run };
}
