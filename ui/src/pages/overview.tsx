import { useMemo, useState } from 'preact/hooks';
import { get } from '../api.js';
import { Chart, Problem, Section, Stat, statusColor, type Series } from '../components.js';
import { ago, duration, time } from '../format.js';
import { useLoad } from '../hooks.js';
import { href } from '../router.js';
import { STATUSES, type Overview } from '../types.js';

const REFRESH_MS = 5_000;

export function OverviewPage() {
  const [live, setLive] = useState(true);
  const { data, error } = useLoad(
    () => get<Overview>('overview', { minutes: 60 }),
    'overview',
    live ? REFRESH_MS : undefined,
  );
  const byStatus = useMemo<Series[]>(
    () =>
      data
        ? STATUSES.filter((s) => data.byStatus[s]).map((s) => ({
            label: s,
            values: data.byStatus[s]!,
            color: statusColor(s),
          }))
        : [],
    [data],
  );
  const byCode = useMemo<Series[]>(
    () => (data ? data.byCode.slice(0, 6).map((c) => ({ label: c.code, values: c.counts })) : []),
    [data],
  );
  return (
    <div>
      <header class="page-head">
        <h1>Overview</h1>
        <label class="live">
          <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} />{' '}
          Live (every 5 s)
        </label>
      </header>
      <Problem error={error} />
      {data && (
        <>
          <div class="stats" aria-label="Queue">
            <Stat label="pending" value={data.queue.pending} />
            <Stat label="processing" value={data.queue.processing} />
            <Stat
              label="retries waiting"
              value={<a href={href('/events', { status: 'retry' })}>{data.queue.retry}</a>}
              warn={data.queue.retry > 0}
            />
            <Stat
              label="dead letters"
              value={<a href={href('/dead')}>{data.queue.dead}</a>}
              warn={data.queue.dead > 0}
            />
            <Stat label="statuses to send" value={data.statuses.pending} />
            <Stat label="dead statuses" value={data.statuses.dead} warn={data.statuses.dead > 0} />
            <Stat label="customer actions to send" value={data.customerActions.pending} />
            <Stat
              label="received → processed p50 / p95"
              value={`${duration(data.latency.processed.p50)} / ${duration(data.latency.processed.p95)}`}
            />
            <Stat
              label="received → status confirmed p50 / p95"
              value={`${duration(data.latency.confirmed.p50)} / ${duration(data.latency.confirmed.p95)}`}
            />
          </div>
          <div class="charts">
            <Chart title="Events per minute by outcome" x={data.minutes} series={byStatus} />
            <Chart title="Events per minute by code" x={data.minutes} series={byCode} />
          </div>
          <Section title="Portals" id="overview-portals">
            <PortalTable portals={data.portals} now={data.now} />
          </Section>
          <p class="muted">Updated {time(data.now)}</p>
        </>
      )}
    </div>
  );
}

export function PortalTable({ portals, now }: { portals: Overview['portals']; now: number }) {
  if (portals.length === 0) return <p class="muted">No portal has installed the application yet.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Portal</th>
          <th scope="col">Last event</th>
          <th scope="col">Token expires</th>
          <th scope="col">REST budget used</th>
          <th scope="col">Problems</th>
        </tr>
      </thead>
      <tbody>
        {portals.map((p) => {
          const problems = [
            p.dead && `${p.dead} dead`,
            p.retry && `${p.retry} retrying`,
            p.deadStatuses && `${p.deadStatuses} dead statuses`,
            p.deadCustomerActions && `${p.deadCustomerActions} dead customer actions`,
            p.uninstalledAt !== null && 'uninstalled',
            p.tokenExpiresAt !== null && p.tokenExpiresAt < now && !p.hasOAuth && 'token expired',
          ].filter(Boolean);
          return (
            <tr key={p.memberId}>
              <td>
                <a href={href('/events', { portal: p.memberId })}>{p.domain}</a>
                <div class="muted mono">{p.memberId}</div>
              </td>
              <td>{ago(p.lastEventAt, now)}</td>
              <td>{p.tokenExpiresAt === null ? '—' : ago(p.tokenExpiresAt, now)}</td>
              <td>
                <meter min={0} max={p.rest.burst} value={p.rest.level} aria-label="REST bucket level" /> {p.rest.level}{' '}
                / {p.rest.burst}
              </td>
              <td class={problems.length ? 'bad' : ''}>{problems.length ? problems.join(', ') : 'none'}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
