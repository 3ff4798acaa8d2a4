import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRoutes } from '../../src/console/routes.js';
import { silentLogger } from '../../src/log.js';
import { listenAdmin } from '../../src/server/admin.js';
import { openStore } from '../../src/store/open.js';
import { tempDir } from '../helpers.js';
import { CHAT, DELETED, EDITED, LINE, startConsoleRig, type ConsoleRig } from './seed.js';

// The answers are read as the page reads them: loosely, each test asserting its part.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const TOKEN = 'console-test-token-5c1e9a';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('the admin API the console uses (real HTTP, a gateway running on SQLite)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let rig: ConsoleRig;
  const get = async (path: string) => {
    const r = await fetch(`${rig.admin}${path}`, { headers: auth });
    return { status: r.status, body: (await r.json()) as Json };
  };
  beforeAll(async () => {
    tmp = tempDir();
    rig = await startConsoleRig(`${tmp.dir}/console.db`, TOKEN);
  });
  afterAll(async () => {
    await rig.close();
    tmp.cleanup();
  });

  it('lists events newest first, filtered and paged by keyset, and finds one by a Bitrix24 message id', async () => {
    const all = await get('/api/events?limit=500');
    expect(all.status).toBe(200);
    const ids = all.body.events.map((e: { id: number }) => e.id);
    expect(ids).toEqual([...ids].sort((a: number, b: number) => b - a));
    expect(all.body.events[0]).not.toHaveProperty('rawBody');
    const first = await get('/api/events?limit=3');
    const second = await get(`/api/events?limit=3&before=${first.body.next}`);
    expect([...first.body.events, ...second.body.events].map((e: { id: number }) => e.id)).toEqual(ids.slice(0, 6));
    const dead = await get('/api/events?status=dead');
    expect(dead.body.events.map((e: { id: number }) => e.id)).toEqual([rig.deadId]);
    const updates = await get(
      `/api/events?code=ONIMCONNECTORMESSAGEUPDATE&portal=${rig.memberId}&line=${LINE}&chat=${CHAT}`,
    );
    expect(updates.body.events).toHaveLength(2);
    const byMessage = await get(`/api/events?q=${DELETED}`);
    expect(byMessage.body.events.map((e: { code: string }) => e.code).sort()).toEqual([
      'ONIMCONNECTORMESSAGEADD',
      'ONIMCONNECTORMESSAGEDELETE',
    ]);
    expect((await get('/api/events?line=1')).body).toMatchObject({ error: { code: 'B24GW_BAD_INPUT' } });
    expect((await get('/api/events?status=lost')).status).toBe(400);
  });

  it("shows an event's typed data, redacted raw body, attempts, channel payloads and timeline", async () => {
    const [added] = (await get(`/api/events?code=ONIMCONNECTORMESSAGEADD&q=${EDITED}`)).body.events;
    const d = (await get(`/api/events/${added.id}`)).body;
    expect(d.event.event.data.MESSAGES[0].message.text).toBe('[b]Anna:[/b] Guten Tag!');
    const token = rig.sb.portal.applicationToken;
    expect(d.event.rawBody).toContain('auth%5Bapplication_token%5D=');
    expect(d.event.rawBody).not.toContain(token);
    expect(JSON.stringify(d)).not.toContain(token);
    expect(d.attempts).toMatchObject([{ attempt: 1, ok: true, error: null }]);
    expect(d.channel).toMatchObject([
      { webhookId: `evt_${added.id}_0`, payload: { type: 'message.created' }, externalIds: [`ch-${EDITED}`] },
    ]);
    expect(d.timeline.map((t: { what: string }) => t.what)).toEqual([
      'received',
      'attempt started',
      'attempt done',
      'processed',
      'status sent',
    ]);
    expect(d.statuses).toMatchObject([{ status: 'sent', sentAt: expect.any(Number) }]);
    const dead = (await get(`/api/events/${rig.deadId}`)).body;
    expect(dead.attempts[0].error).toContain('502 Bad Gateway');
    expect(dead.timeline.map((t: { what: string }) => t.what)).toEqual([
      'received',
      'attempt started',
      'attempt failed',
    ]);
    expect((await get('/api/events/999999')).status).toBe(404);
  });

  it('shows the conversation with its dialogs, edits and deletion', async () => {
    const c = (await get(`/api/portals/${rig.memberId}/conversation?line=${LINE}&chat=${CHAT}`)).body;
    expect(
      c.dialogs.map((d: { sessionId: number; open: boolean; parents: number[] }) => [d.sessionId, d.open, d.parents]),
    ).toEqual([
      [3280, false, []],
      [3281, true, [3280]],
    ]);
    const edited = c.messages.find((m: { imMessageId: number }) => m.imMessageId === EDITED);
    expect(edited.history.map((h: { text: string }) => h.text)).toEqual([
      'Guten Tag! Wie kann ich helfen?',
      'Guten Tag, Klaus! Wie kann ich helfen?',
    ]);
    expect(c.messages.find((m: { imMessageId: number }) => m.imMessageId === DELETED).deleted).toBe(true);
    expect((await get(`/api/portals/${rig.memberId}/lines`)).body.lines.map((l: { line: number }) => l.line)).toEqual([
      LINE,
    ]);
    expect((await get(`/api/portals/${rig.memberId}/chats?line=${LINE}`)).body.chats).toMatchObject([
      { externalChatId: CHAT, imChatId: 1807 },
    ]);
  });

  it('shows portals with their bots and no token, and the overview with the queue', async () => {
    const p = (await get('/api/portals')).body;
    expect(p.portals).toHaveLength(1);
    expect(p.portals[0]).toMatchObject({ memberId: rig.memberId, hasOAuth: true, hasApplicationToken: true, dead: 1 });
    expect(p.portals[0].bots).toEqual([
      {
        id: rig.botId,
        code: 'helper',
        eventMode: 'webhook',
        lastEventAt: expect.any(Number),
        lastEventId: expect.any(Number),
      },
    ]);
    expect(JSON.stringify(p)).not.toContain(rig.sb.portal.applicationToken);
    expect(p.pullCursors).toEqual([]);
    const o = (await get('/api/overview?minutes=10')).body;
    expect(o.minutes).toHaveLength(10);
    expect(o.queue.dead).toBe(1);
    expect(o.byStatus.done.reduce((a: number, b: number) => a + b, 0)).toBeGreaterThan(5);
  });

  it('replays what it is asked to, only through a JSON body, and the worker runs it again', async () => {
    const form = await fetch(`${rig.admin}/api/replay`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: JSON.stringify({ ids: [rig.deadId] }),
    });
    expect(form.status).toBe(400);
    expect((await fetch(`${rig.admin}/api/replay`, { headers: auth })).status).toBe(405);
    const r = await fetch(`${rig.admin}/api/replay`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: [rig.deadId] }),
    });
    expect(await r.json()).toEqual({ requested: 1, requeued: 1, ids: [rig.deadId] });
    await rig.gateway.worker.drain();
    expect((await get(`/api/events/${rig.deadId}`)).body.event.status).toBe('done');
  });

  it('needs the token, as a bearer or as basic auth, and serves the page from the package', async () => {
    expect((await fetch(`${rig.admin}/api/events`)).status).toBe(401);
    const basic = { authorization: `Basic ${Buffer.from(`me:${TOKEN}`).toString('base64')}` };
    const page = await fetch(`${rig.admin}/console/`, { headers: basic });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="app.js">');
    expect(html).not.toMatch(/https?:\/\//);
    expect((await fetch(`${rig.admin}/console/app.js`, { headers: basic })).status).toBe(200);
    expect((await fetch(`${rig.admin}/console/..%2Fpackage.json`, { headers: basic })).status).toBe(404);
    const root = await fetch(`${rig.admin}/`, { headers: basic, redirect: 'manual' });
    expect(root.headers.get('location')).toBe('/console/');
  });
});

describe('the admin API when its database does not answer', () => {
  it('answers 503 with Retry-After and a code, never the database’s words', async () => {
    // A PostgreSQL address where nothing listens: every read fails as it does while the server is down.
    const store = openStore('postgres://postgres@127.0.0.1:9/none', { waitMs: 1_000 });
    const admin = await listenAdmin(
      {
        receiver: undefined,
        ready: () => store.ping(),
        metrics: async () => ({ text: '', contentType: 'text/plain' }),
        logger: silentLogger,
      },
      { port: 0, routes: consoleRoutes({ store }) },
      () => false,
    );
    try {
      for (const path of ['/api/events', '/api/overview', '/api/portals']) {
        const down = await fetch(`${admin.url}${path}`);
        expect([path, down.status, down.headers.get('retry-after')]).toEqual([path, 503, '1']);
        expect(await down.json()).toEqual({
          error: { code: 'B24GW_STORE_UNAVAILABLE', message: expect.stringMatching(/^The database did not answer/) },
        });
      }
    } finally {
      await admin.close();
      await store.close().catch(() => undefined);
    }
  });

  it('opens a store it opened anew once its database stopped answering', async () => {
    const tmp = tempDir();
    // The first open finds the database down; the next one finds it back.
    const opens = ['postgres://postgres@127.0.0.1:9/none', `${tmp.dir}/back.db`];
    const admin = await listenAdmin(
      {
        receiver: undefined,
        ready: async () => true,
        metrics: async () => ({ text: '', contentType: 'text/plain' }),
        logger: silentLogger,
      },
      { port: 0, routes: consoleRoutes({ store: () => openStore(opens.shift()!, { waitMs: 1_000 }) }) },
      () => false,
    );
    try {
      expect((await fetch(`${admin.url}/api/events`)).status).toBe(503);
      expect(await (await fetch(`${admin.url}/api/events`)).json()).toEqual({ events: [], next: null });
      expect(opens).toEqual([]);
    } finally {
      await admin.close();
      tmp.cleanup();
    }
  });
});
