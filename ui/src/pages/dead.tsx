import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { Confirm, Problem, Status } from '../components.js';
import { useLoad } from '../hooks.js';
import { href, type Place } from '../router.js';
import type { EventDetail, EventPage, EventStatus, ReplayResult } from '../types.js';
import { EventTable } from './events.js';

/** How long the page follows replayed events, and how often it looks. */
const FOLLOW_MS = 120_000;
const LOOK_MS = 1_000;
const FOLLOWED = 100;

export function DeadPage({ place }: { place: Place }) {
  const before = place.query.get('before') ?? undefined;
  const { data, error, reload } = useLoad(
    () => get<EventPage>('events', { status: 'dead', limit: 100, before }),
    before ?? '',
  );
  const [selected, setSelected] = useState(new Set<number>());
  const [asking, setAsking] = useState<'selected' | 'all' | undefined>();
  const [result, setResult] = useState<ReplayResult>();
  const [failure, setFailure] = useState<Error>();
  const [followed, setFollowed] = useState<Map<number, EventStatus>>(new Map());

  const select = (id: number, on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const all = data?.events ?? [];
  const allSelected = all.length > 0 && all.every((e) => selected.has(e.id));

  const replay = async () => {
    const which = asking;
    setAsking(undefined);
    setFailure(undefined);
    try {
      const r = await post<ReplayResult>('replay', which === 'all' ? { all: false } : { ids: [...selected] });
      setResult(r);
      setSelected(new Set());
      setFollowed(new Map(r.ids.slice(0, FOLLOWED).map((id) => [id, 'pending' as EventStatus])));
      reload();
    } catch (e) {
      setFailure(e as Error);
    }
  };

  // The replayed events' statuses, looked at until each has an outcome: the result shows without a reload.
  useEffect(() => {
    if (followed.size === 0) return;
    const until = Date.now() + FOLLOW_MS;
    let stopped = false;
    const look = async () => {
      const open = [...followed.entries()].filter(([, s]) => s === 'pending' || s === 'processing' || s === 'retry');
      if (stopped || open.length === 0 || Date.now() > until) return;
      const seen = await Promise.all(
        open.map(([id]) =>
          get<EventDetail>(`events/${id}`).then(
            (d) => [id, d.event.status] as const,
            () => [id, 'pending' as EventStatus] as const,
          ),
        ),
      );
      if (stopped) return;
      const changed = seen.some(([id, s]) => followed.get(id) !== s);
      if (changed) {
        setFollowed((f) => new Map([...f, ...seen]));
        reload();
      } else setTimeout(look, LOOK_MS);
    };
    const t = setTimeout(look, LOOK_MS);
    return () => {
      stopped = true;
      clearTimeout(t);
    };
  }, [followed]);

  const counts = [...followed.values()].reduce<Record<string, number>>((c, s) => ({ ...c, [s]: (c[s] ?? 0) + 1 }), {});
  return (
    <div>
      <header class="page-head">
        <h1>Dead letters</h1>
        <div class="actions">
          <button type="button" disabled={selected.size === 0} onClick={() => setAsking('selected')}>
            Replay selected ({selected.size})…
          </button>
          <button type="button" disabled={all.length === 0} onClick={() => setAsking('all')}>
            Replay every dead letter…
          </button>
        </div>
      </header>
      <Confirm
        open={asking !== undefined}
        title={
          asking === 'all'
            ? 'Replay every dead letter?'
            : `Replay ${selected.size} event${selected.size === 1 ? '' : 's'}?`
        }
        confirm="Replay"
        onConfirm={replay}
        onCancel={() => setAsking(undefined)}
      >
        <p>Each goes back to pending with a fresh retry budget, and its handlers run again.</p>
      </Confirm>
      <Problem error={error ?? failure} />
      {result && (
        <div class="notice" role="status" aria-live="polite">
          <p>
            {result.requeued} of {result.requested} put back to pending
            {result.requeued < result.requested && ' (the rest are invalid, running now, or gone)'}.
          </p>
          {followed.size > 0 && (
            <p class="replay-progress">
              Now:{' '}
              {Object.entries(counts).map(([s, n]) => (
                <span class="count">
                  {n} <Status status={s} />{' '}
                </span>
              ))}
            </p>
          )}
          <ul class="replayed">
            {[...followed.entries()].map(([id, s]) => (
              <li data-id={id}>
                <a href={href(`/events/${id}`)}>Event {id}</a> <Status status={s} />
              </li>
            ))}
          </ul>
        </div>
      )}
      {data && all.length === 0 && <p class="muted">No dead letters.</p>}
      {data && all.length > 0 && (
        <>
          <label class="select-all">
            <input
              type="checkbox"
              checked={allSelected}
              onChange={(e) => {
                const on = (e.target as HTMLInputElement).checked;
                setSelected(new Set(on ? all.map((x) => x.id) : []));
              }}
            />{' '}
            Select all on this page
          </label>
          <EventTable events={all} selected={selected} onSelect={select} />
        </>
      )}
      <nav class="pager" aria-label="Pages">
        {before && <a href={href('/dead')}>← Newest</a>}
        {data?.next && <a href={href('/dead', { before: data.next })}>Older →</a>}
      </nav>
    </div>
  );
}
