import { useEffect, useState } from 'preact/hooks';

/** The page's place after `#`: a path and its query, so every view has a link of its own. */
export interface Place {
  path: string;
  query: URLSearchParams;
}

const read = (): Place => {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?', 2);
  return { path: path || '/', query: new URLSearchParams(query ?? '') };
};

export function usePlace(): Place {
  const [place, setPlace] = useState(read);
  useEffect(() => {
    const on = () => setPlace(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return place;
}

export function href(path: string, params: Record<string, string | number | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

export const go = (to: string): void => {
  location.hash = to.replace(/^#/, '');
};
