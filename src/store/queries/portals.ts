import type { SecretBox } from '../secret-box.js';
import { get, all, run, greatest, type Query, type Work } from '../sql/work.js';
import type { PortalChange, PortalRecord, PortalTokens } from '../types.js';
import { portalFromRow, type PortalRow } from './rows.js';

/** An install: the portal row made or replaced, never left marked uninstalled. */
const upsertSql = `
  INSERT INTO portals (member_id, domain, application_token, access_token, refresh_token, expires_at, client_endpoint, server_endpoint, scope, status, installed_at, uninstalled_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)
  ON CONFLICT (member_id) DO UPDATE SET domain = excluded.domain, application_token = excluded.application_token,
    access_token = excluded.access_token, refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
    client_endpoint = excluded.client_endpoint, server_endpoint = excluded.server_endpoint, scope = excluded.scope,
    status = excluded.status, installed_at = excluded.installed_at, uninstalled_at = NULL, updated_at = excluded.updated_at`;

/** An uninstall: the secrets go, the row stays to say when. */
const eraseSql = `
  UPDATE portals SET application_token = NULL, access_token = NULL, refresh_token = NULL, expires_at = NULL,
    uninstalled_at = ?, updated_at = ? WHERE member_id = ?`;

/**
 * The statement that commits a portal change with its event (its tokens already sealed): plain
 * data, so the SQLite writer thread runs the very same one.
 */
export function portalChangeQuery(change: PortalChange | undefined): Query | undefined {
  if (change?.kind === 'install') {
    const p = change.portal;
    const params = [
      p.memberId,
      p.domain,
      p.applicationToken,
      p.accessToken,
      p.refreshToken,
      p.expiresAt,
      p.clientEndpoint,
      p.serverEndpoint,
      p.scope,
      p.status,
      p.installedAt,
      p.updatedAt,
    ];
    return { kind: 'run', sql: upsertSql, params };
  }
  if (change?.kind === 'uninstall')
    return { kind: 'run', sql: eraseSql, params: [change.at, change.at, change.memberId] };
  return undefined;
}

export function* getPortal(memberId: string, box: SecretBox): Work<PortalRecord | undefined> {
  const row = yield* get<PortalRow>('SELECT * FROM portals WHERE member_id = ?', memberId);
  return row && portalFromRow(row, box);
}

export function* listPortals(box: SecretBox): Work<PortalRecord[]> {
  return (yield* all<PortalRow>('SELECT * FROM portals ORDER BY member_id')).map((r) => portalFromRow(r, box));
}

export function* savePortalTokens(memberId: string, t: PortalTokens, box: SecretBox, now: number): Work<void> {
  yield* run(
    `UPDATE portals SET access_token = ?, refresh_token = ?, expires_at = ?,
       client_endpoint = COALESCE(?, client_endpoint), server_endpoint = COALESCE(?, server_endpoint), updated_at = ?
     WHERE member_id = ?`,
    box.seal(t.accessToken, 'portals.access_token', memberId),
    box.seal(t.refreshToken, 'portals.refresh_token', memberId),
    t.expiresAt,
    t.clientEndpoint ?? null,
    t.serverEndpoint ?? null,
    now,
    memberId,
  );
}

/** The level drained since the bucket was last touched, never below 0. */
const drained = greatest(`b.level - ${greatest('p.now - b.updated_at', '0')} * p.rate / 1000`, '0');

/**
 * One leaky bucket per portal, a row every instance (every thread) reserves slots from: the level
 * drains at `perSecond`, each request adds one, and a level past `burst` is a reservation whose wait
 * is returned (first come, first served). 'fill' records a QUERY_LIMIT_EXCEEDED: the bucket is full.
 * The parameters are named once in `p`, so the expression can use each as often as it needs.
 */
const rateSlotSql = `
  WITH p (member_id, mode, burst, rate, now) AS (VALUES (?, ?, CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION), CAST(? AS BIGINT)))
  INSERT INTO rate_buckets AS b (member_id, level, updated_at)
  SELECT member_id, CASE WHEN mode = 'fill' THEN burst ELSE 1 END, now FROM p WHERE true
  ON CONFLICT (member_id) DO UPDATE SET
    level = (SELECT CASE WHEN p.mode = 'fill' THEN ${greatest(drained, 'p.burst')} ELSE ${drained} + 1 END FROM p),
    updated_at = ${greatest('b.updated_at', 'excluded.updated_at')}
  RETURNING level`;

export function* rateSlot(
  memberId: string,
  limits: { burst: number; perSecond: number },
  now: number,
  mode: 'take' | 'fill',
): Work<number> {
  const row = yield* get<{ level: number }>(rateSlotSql, memberId, mode, limits.burst, limits.perSecond, now);
  const over = (row?.level ?? 0) - limits.burst;
  return mode === 'take' && over > 0 ? Math.ceil((over / limits.perSecond) * 1000) : 0;
}

/** The bucket's level drained to `now`, without taking a slot: what the doctor reports. */
export function* rateLevel(memberId: string, limits: { perSecond: number }, now: number): Work<number> {
  const row = yield* get<{ level: number; updated_at: number }>(
    'SELECT level, updated_at FROM rate_buckets WHERE member_id = ?',
    memberId,
  );
  if (!row) return 0;
  return Math.max(0, Number(row.level) - (Math.max(0, now - Number(row.updated_at)) * limits.perSecond) / 1000);
}

export function* noteRefusedTest(memberId: string, at: number): Work<void> {
  yield* run(
    `INSERT INTO portal_probes (member_id, refused_test_at) VALUES (?, ?)
     ON CONFLICT (member_id) DO UPDATE SET refused_test_at = ${greatest('portal_probes.refused_test_at', 'excluded.refused_test_at')}`,
    memberId,
    at,
  );
}

export function* refusedTestAt(memberId: string): Work<number | null> {
  const row = yield* get<{ refused_test_at: number }>(
    'SELECT refused_test_at FROM portal_probes WHERE member_id = ?',
    memberId,
  );
  return row ? Number(row.refused_test_at) : null;
}
