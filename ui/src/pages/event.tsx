import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { Confirm, Problem, Section, Status, Table } from '../components.js';
import { pretty, time } from '../format.js';
import { useLoad } from '../hooks.js';
import { href } from '../router.js';
import type { EventDetail, ReplayResult } from '../types.js';

export function EventPage({ id }: { id: number }) {
  const { data, error, reload } = useLoad(() => get<EventDetail>(`events/${id}`), String(id));
  const [asking, setAsking] = useState(false);
  const [result, setResult] = useState<string>();
  const replay = async () => {
    setAsking(false);
    try {
      const r = await post<ReplayResult>('replay', { ids: [id] });
      setResult(
        r.requeued
          ? 'Put back to pending: it runs again shortly.'
          : 'Not replayed: the event is invalid or running now.',
      );
    } catch (e) {
      setResult((e as Error).message);
    }
    reload();
  };
  if (error) return <Problem error={error} />;
  if (!data) return <p class="loading">Loading event {id}…</p>;
  const e = data.event;
  return (
    <div>
      <header class="page-head">
        <h1>
          Event {e.id} <span class="mono">{e.code}</span> <Status status={e.status} />
        </h1>
        <div class="actions">
          <button
            type="button"
            onClick={() => setAsking(true)}
            disabled={e.status === 'invalid' || e.status === 'processing'}
          >
            Replay…
          </button>
          <button type="button" onClick={reload}>
            Refresh
          </button>
        </div>
      </header>
      {result && (
        <p class="notice" role="status">
          {result}
        </p>
      )}
      <Confirm
        open={asking}
        title={`Replay event ${e.id}?`}
        confirm="Replay"
        onConfirm={replay}
        onCancel={() => setAsking(false)}
      >
        <p>It goes back to pending with a fresh retry budget, and its handlers run again.</p>
      </Confirm>
      <dl class="facts">
        <dt>Portal</dt>
        <dd>
          <a href={href('/events', { portal: e.memberId })} class="mono">
            {e.memberId}
          </a>
        </dd>
        <dt>Received</dt>
        <dd>{time(e.receivedAt)}</dd>
        <dt>Processed</dt>
        <dd>{time(e.processedAt)}</dd>
        <dt>Chat</dt>
        <dd class="mono">{e.orderKey ?? '—'}</dd>
        <dt>Came as</dt>
        <dd>
          {e.delivery}, {e.contentType === 'form' ? 'form-encoded' : 'JSON'}
        </dd>
        <dt>Attempts</dt>
        <dd>{e.attempts}</dd>
        <dt>Duplicates</dt>
        <dd>{e.duplicates}</dd>
        {e.nextAttemptAt !== null && (
          <>
            <dt>Next attempt</dt>
            <dd>{time(e.nextAttemptAt)}</dd>
          </>
        )}
      </dl>
      <Section title="Timeline" id="timeline">
        <ol class="timeline">
          {data.timeline.map((t) => (
            <li class={`t-${t.what.replace(/\s+/g, '-')}`}>
              <time>{time(t.at)}</time> <strong>{t.what}</strong> {t.detail && <span class="detail">{t.detail}</span>}
            </li>
          ))}
        </ol>
      </Section>
      <Section title="Attempts" id="attempts">
        <Table
          head={['#', 'Worker', 'Started', 'Finished', 'Result', 'Error']}
          rows={data.attempts}
          empty="Not run yet."
          cells={(a) => (
            <>
              <td>{a.attempt}</td>
              <td class="mono">{a.owner}</td>
              <td>{time(a.startedAt)}</td>
              <td>{time(a.finishedAt)}</td>
              <td>{a.ok === null ? 'running or lost' : a.ok ? 'ok' : 'failed'}</td>
              <td class="error-cell">{a.error ?? ''}</td>
            </>
          )}
        />
      </Section>
      <Section title="What the channel was sent" id="channel">
        {data.channel.length === 0 ? (
          <p class="muted">Nothing: this event is not for the channel, or the gateway has none.</p>
        ) : (
          data.channel.map((c) => (
            <details open>
              <summary>
                <span class="mono">webhook-id: {c.webhookId}</span> · {c.payload.type}
                {c.externalIds && <> · its answer named: {c.externalIds.join(', ')}</>}
              </summary>
              <pre>{pretty(c.payload)}</pre>
            </details>
          ))
        )}
      </Section>
      <Section title="Statuses reported to Bitrix24" id="statuses">
        <Table
          head={['Status', 'Sent', 'Attempts', 'Item', 'Error']}
          rows={data.statuses}
          empty="None."
          cells={(s) => (
            <>
              <td>
                <Status status={s.status} />
              </td>
              <td>{time(s.sentAt)}</td>
              <td>{s.attempts}</td>
              <td class="mono">{s.item}</td>
              <td class="error-cell">{s.lastError ?? ''}</td>
            </>
          )}
        />
      </Section>
      <Section title="Typed data" id="typed">
        <pre>{pretty(e.event)}</pre>
      </Section>
      <Section title="Raw body (secrets redacted)" id="raw">
        <pre class="raw">{e.rawBody}</pre>
      </Section>
    </div>
  );
}
