import { get } from '../api.js';
import { Problem, Section, Table } from '../components.js';
import { ago, time } from '../format.js';
import { useLoad } from '../hooks.js';
import { href } from '../router.js';
import type { PortalView } from '../types.js';
import { PortalTable } from './overview.js';

export function PortalsPage() {
  const { data, error } = useLoad(
    () => get<{ portals: PortalView[]; pullCursors: Record<string, unknown>[] | null }>('portals'),
    'portals',
  );
  const now = Date.now();
  return (
    <div>
      <header class="page-head">
        <h1>Portals and bots</h1>
      </header>
      <Problem error={error} />
      {data && (
        <>
          <Section title="Delivery at a glance" id="glance">
            <PortalTable portals={data.portals} now={now} />
          </Section>
          {data.portals.map((p) => (
            <Section title={p.domain} id={`portal-${p.memberId}`}>
              <dl class="facts">
                <dt>Member id</dt>
                <dd class="mono">{p.memberId}</dd>
                <dt>Install</dt>
                <dd>
                  {p.uninstalledAt !== null
                    ? `uninstalled ${time(p.uninstalledAt)}`
                    : `installed ${time(p.installedAt)}`}
                  {p.status && ` · status ${p.status}`}
                </dd>
                <dt>Scope</dt>
                <dd>{p.scope ?? '—'}</dd>
                <dt>Tokens</dt>
                <dd>
                  {p.hasOAuth ? 'OAuth pair kept' : 'no OAuth pair'} ·{' '}
                  {p.hasApplicationToken ? 'application token kept' : 'no application token'}
                  {p.tokenExpiresAt !== null &&
                    ` · access token ${p.tokenExpiresAt < now ? 'expired' : 'expires'} ${ago(p.tokenExpiresAt, now)}`}
                </dd>
                <dt>REST bucket</dt>
                <dd>
                  {p.rest.level} of {p.rest.burst}, draining {p.rest.perSecond}/s
                </dd>
                <dt>Last event</dt>
                <dd>{p.lastEventAt === null ? '—' : `${time(p.lastEventAt)} (${ago(p.lastEventAt, now)})`}</dd>
                <dt>Problems</dt>
                <dd>
                  <a href={href('/events', { portal: p.memberId, status: 'dead' })}>{p.dead} dead</a> ·{' '}
                  <a href={href('/events', { portal: p.memberId, status: 'retry' })}>{p.retry} retrying</a> ·{' '}
                  {p.deadStatuses} dead statuses · {p.deadCustomerActions} dead customer actions
                </dd>
              </dl>
              <h3>Bots</h3>
              <Table
                head={['Bot', 'Code', 'Event mode', 'Last event']}
                rows={p.bots}
                empty="No bot event stored."
                cells={(b) => (
                  <>
                    <td>{b.id}</td>
                    <td class="mono">{b.code ?? '—'}</td>
                    <td>{b.eventMode}</td>
                    <td>
                      <a href={href(`/events/${b.lastEventId}`)}>{time(b.lastEventAt)}</a>
                    </td>
                  </>
                )}
              />
            </Section>
          ))}
          {data.pullCursors && (
            <Section title="Pull cursors" id="pull-cursors">
              <Table
                head={Object.keys(data.pullCursors[0] ?? {})}
                rows={data.pullCursors}
                empty="Nothing is pulled yet (serve --pull)."
                cells={(row) =>
                  Object.entries(row).map(([k, v]) => (
                    <td class="mono">{/At$/.test(k) && typeof v === 'number' ? time(v) : String(v ?? '—')}</td>
                  ))
                }
              />
            </Section>
          )}
        </>
      )}
    </div>
  );
}
