import { useEffect, useRef } from 'preact/hooks';
import { get } from '../api.js';
import { Problem, Status } from '../components.js';
import { time } from '../format.js';
import { useLoad } from '../hooks.js';
import { go, href, type Place } from '../router.js';
import { STATUSES, type EventPage, type EventSummary } from '../types.js';

/** The filters the list takes, as the API names them (and the page's address keeps them). */
export const FILTERS = ['status', 'code', 'portal', 'line', 'chat', 'since', 'until', 'mode', 'q'] as const;

const toLocal = (v: string | null) => (v ? new Date(Number(v) || v).toISOString().slice(0, 16) : '');
const fromLocal = (v: string) => (v ? String(Date.parse(`${v}Z`)) : '');

export function EventsPage({ place }: { place: Place }) {
  const q = place.query;
  const params = Object.fromEntries([...FILTERS, 'before'].map((k) => [k, q.get(k) ?? undefined]));
  const { data, error, loading } = useLoad(() => get<EventPage>('events', { ...params, limit: 50 }), q.toString());
  const search = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const on = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.key === '/' && !['INPUT', 'SELECT', 'TEXTAREA'].includes(t.tagName)) {
        e.preventDefault();
        search.current?.focus();
      }
    };
    addEventListener('keydown', on);
    return () => removeEventListener('keydown', on);
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const next: Record<string, string> = {};
    for (const k of FILTERS) {
      const v = String(form.get(k) ?? '').trim();
      if (v) next[k] = k === 'since' || k === 'until' ? fromLocal(v) : v;
    }
    go(href('/events', next));
  };
  return (
    <div>
      <header class="page-head">
        <h1>Events</h1>
      </header>
      <form class="filters" onSubmit={submit} aria-label="Filter events" key={q.toString()}>
        <label>
          Search{' '}
          <input
            ref={search}
            name="q"
            defaultValue={q.get('q') ?? ''}
            placeholder="event id or Bitrix24 message id (/)"
          />
        </label>
        <label>
          Status
          <select name="status" defaultValue={q.get('status') ?? ''}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Event code <input name="code" defaultValue={q.get('code') ?? ''} placeholder="ONIMCONNECTORMESSAGEADD" />
        </label>
        <label>
          Portal <input name="portal" defaultValue={q.get('portal') ?? ''} placeholder="member_id" />
        </label>
        <label>
          Line <input name="line" inputMode="numeric" defaultValue={q.get('line') ?? ''} size={5} />
        </label>
        <label>
          Chat <input name="chat" defaultValue={q.get('chat') ?? ''} placeholder="external chat id" />
        </label>
        <label>
          From (UTC) <input type="datetime-local" name="since" defaultValue={toLocal(q.get('since'))} />
        </label>
        <label>
          To (UTC) <input type="datetime-local" name="until" defaultValue={toLocal(q.get('until'))} />
        </label>
        <label>
          Delivery
          <select name="mode" defaultValue={q.get('mode') ?? ''}>
            <option value="">any</option>
            <option value="webhook">webhook (posted)</option>
            <option value="fetch">fetch (Event.get)</option>
            <option value="offline">offline (event.offline.get)</option>
          </select>
        </label>
        <div class="actions">
          <button type="submit" class="primary">
            Filter
          </button>
          <a href={href('/events')}>Clear</a>
        </div>
      </form>
      <Problem error={error} />
      {data && <EventTable events={data.events} />}
      {data && data.events.length === 0 && !loading && <p class="muted">No events match.</p>}
      <nav class="pager" aria-label="Pages">
        {q.get('before') && <a href={href('/events', { ...params, before: undefined })}>← Newest</a>}
        {data?.next && (
          <a href={href('/events', { ...params, before: data.next })} rel="next">
            Older →
          </a>
        )}
      </nav>
    </div>
  );
}

export function EventTable({
  events,
  selected,
  onSelect,
}: {
  events: EventSummary[];
  selected?: Set<number>;
  onSelect?: (id: number, on: boolean) => void;
}) {
  return (
    <table class="events">
      <thead>
        <tr>
          {onSelect && (
            <th scope="col">
              <span class="sr-only">Select</span>
            </th>
          )}
          <th scope="col">Id</th>
          <th scope="col">Received (UTC)</th>
          <th scope="col">Event</th>
          <th scope="col">Portal</th>
          <th scope="col">Status</th>
          <th scope="col">Attempts</th>
          <th scope="col">Last error</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id} data-id={e.id}>
            {onSelect && (
              <td>
                <input
                  type="checkbox"
                  aria-label={`Select event ${e.id}`}
                  checked={selected?.has(e.id)}
                  onChange={(ev) => onSelect(e.id, (ev.target as HTMLInputElement).checked)}
                />
              </td>
            )}
            <td>
              <a href={href(`/events/${e.id}`)}>{e.id}</a>
            </td>
            <td class="nowrap">{time(e.receivedAt)}</td>
            <td class="mono">{e.code}</td>
            <td class="mono ellipsis" title={e.memberId}>
              {e.memberId}
            </td>
            <td>
              <Status status={e.status} />
            </td>
            <td>{e.attempts}</td>
            <td class="error-cell" title={e.lastError ?? ''}>
              {e.lastError ?? ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
