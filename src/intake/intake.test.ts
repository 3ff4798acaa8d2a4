import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formFixture, jsonFixture } from '../../test/fixtures.js';
import { tempDir } from '../../test/helpers.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { startServer, type RunningServer } from '../server/start.js';
import type { SqliteStore } from '../store/sqlite/store.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const OTHER_MEMBER = 'a223c6b3710f85df22e9377d6c4f7553';
const OTHER_TOKEN = '51856fefc120afa4b628cc82d3935cce';
const FORM = 'application/x-www-form-urlencoded';

let tmp: ReturnType<typeof tempDir>;
let running: RunningServer;
let gateway: Gateway;
let logLines: string[];

const start = async (options: ConstructorParameters<typeof Gateway>[0] = {}) => {
  logLines = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logLines.push(chunk.toString());
      cb();
    },
  });
  gateway = new Gateway({
    db: `${tmp.dir}/events.db`,
    appTokens: new Map([
      [MEMBER, TOKEN],
      [OTHER_MEMBER, OTHER_TOKEN],
    ]),
    logger: createLogger({ level: 'debug', destination }),
    ...options,
  });
  running = await startServer(gateway, { port: 0, role: 'intake', admin: { port: 0 } });
};

const post = async (body: string | Buffer, contentType: string | null = FORM, path = '/events') => {
  const res = await fetch(`${running.url}${path}`, {
    method: 'POST',
    headers: contentType ? { 'content-type': contentType } : {},
    body,
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      ok?: boolean;
      id?: number;
      duplicate?: boolean;
      error?: { code: string; message: string; path?: string };
    },
  };
};

beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  await running?.close();
  tmp.cleanup();
});

const secretValues = (v: unknown): string[] =>
  typeof v !== 'object' || v === null
    ? []
    : Object.entries(v).flatMap(([k, x]) =>
        ['access_token', 'refresh_token', 'application_token'].includes(k) && typeof x === 'string'
          ? [x]
          : secretValues(x),
      );

const seeds = [
  'imconnector-message-update',
  'imconnector-message-delete',
  'imconnector-dialog-start',
  'openline-message-update',
  'imbot-message-update-personal',
  'imbot-message-update-group',
];

describe('every seed event is stored before the answer', () => {
  beforeEach(() => start());
  for (const name of seeds) {
    for (const kind of ['form', 'json'] as const) {
      it(`${name} (${kind})`, async () => {
        const body = kind === 'form' ? formFixture(name) : jsonFixture(name);
        const r = await post(body, kind === 'form' ? FORM : 'application/json');
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ ok: true, duplicate: false });
        const stored = await gateway.store.getEvent(r.body.id!);
        expect(stored?.status).toBe('pending');
        expect(stored?.contentType).toBe(kind);
        // Secrets never reach the raw copy, wherever they sit (auth, data[BOT][id], its AUTH).
        const secrets = secretValues(JSON.parse(jsonFixture(name)));
        expect(secrets.length).toBeGreaterThan(0);
        for (const secret of secrets) expect(stored?.rawBody).not.toContain(secret);
        // The typed copy keeps no application_token.
        expect(JSON.stringify(stored?.event)).not.toContain(TOKEN);
        expect(JSON.stringify(stored?.event)).not.toContain(OTHER_TOKEN);
      });
    }
  }

  it('notes a test event refused for its token (what the doctor asks), once a second a portal; other refusals and unknown portals write nothing', async () => {
    await start();
    const wrong = (body: string) => body.replace(OTHER_TOKEN, 'f'.repeat(32)).replace(TOKEN, 'f'.repeat(32));
    const before = Date.now();
    expect((await post(wrong(formFixture('app-test')))).status).toBe(401);
    const noted = await gateway.store.refusedTestAt(OTHER_MEMBER);
    expect(noted).toBeGreaterThanOrEqual(before);
    expect((await post(wrong(formFixture('app-test')))).status).toBe(401);
    expect(await gateway.store.refusedTestAt(OTHER_MEMBER)).toBe(noted);
    expect((await post(wrong(formFixture('imconnector-message-update')))).status).toBe(401);
    expect(await gateway.store.refusedTestAt(MEMBER)).toBeNull();
    expect((await post(formFixture('app-test').replaceAll(OTHER_MEMBER, 'c'.repeat(32)))).status).toBe(401);
    expect(await gateway.store.refusedTestAt('c'.repeat(32))).toBeNull();
    // The right token: the test event is stored, as any event.
    expect((await post(formFixture('app-test'))).status).toBe(200);
  });

  it('keeps an unknown event code as an unknown event', async () => {
    const r = await post(formFixture('unknown-event-crm-deal-update'));
    expect(r.status).toBe(200);
    const stored = await gateway.store.getEvent(r.body.id!);
    expect(stored).toMatchObject({ code: 'ONCRMDEALUPDATE', known: false, status: 'pending' });
  });

  it('stores a duplicate delivery once and answers 200 to both', async () => {
    const body = formFixture('imconnector-message-update');
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(body)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);
    // The JSON rendering of the same delivery is the same event.
    expect((await post(jsonFixture('imconnector-message-update'), 'application/json')).body).toMatchObject({
      duplicate: true,
      id: answers[0]!.body.id,
    });
    const all = await gateway.store.listEvents();
    expect(all).toHaveLength(1);
    expect(all[0]!.duplicates).toBe(20);
  });

  it('keys duplicates by the event time first, so that events arriving together share index pages', async () => {
    const body = formFixture('imconnector-message-update');
    const ts = /(?:^|&)ts=(\d+)/.exec(body)![1]!;
    const later = body.replace(`ts=${ts}`, `ts=${Number(ts) + 1}`);
    const invalid = body
      .replace('data%5BLINE%5D=107', 'data%5BLINE%5D=seven')
      .replace(`ts=${ts}`, `ts=${Number(ts) + 2}`);
    expect((await post(later)).status).toBe(200);
    expect((await post(body)).status).toBe(200);
    expect((await post(invalid)).status).toBe(400);
    const keys = (gateway.store as SqliteStore).db
      .prepare('SELECT dedup_key FROM events ORDER BY id')
      .pluck()
      .all() as string[];
    expect(keys.map((k) => k.split(':')[0])).toEqual([String(Number(ts) + 1), ts, String(Number(ts) + 2)]);
    expect([...keys].sort()).toEqual([keys[1], keys[0], keys[2]]);
  });

  it('keeps a genuine but invalid event, as invalid, and answers 400 with where', async () => {
    const r = await post(
      formFixture('imconnector-message-update').replace('data%5BLINE%5D=107', 'data%5BLINE%5D=seven'),
    );
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'B24GW_INVALID_EVENT', path: 'data[LINE]' });
    const [kept] = await gateway.store.listEvents({ status: 'invalid' });
    expect(kept?.lastError).toContain('data[LINE]');
  });

  it('counts received, rejected and queued events at /metrics', async () => {
    await post(formFixture('imconnector-message-update'));
    await post(formFixture('imconnector-message-update'));
    await post('a=1', 'text/plain');
    const text = await (await fetch(`${running.adminUrl}/metrics`)).text();
    expect(text).toContain('b24gw_events_received_total{event="ONIMCONNECTORMESSAGEUPDATE",duplicate="false"} 1');
    expect(text).toContain('b24gw_events_received_total{event="ONIMCONNECTORMESSAGEUPDATE",duplicate="true"} 1');
    expect(text).toContain('b24gw_events_rejected_total{reason="B24GW_UNSUPPORTED_MEDIA_TYPE"} 1');
    expect(text).toContain('b24gw_queue_depth{status="pending"} 1');
  });

  it('writes no token to any log line', async () => {
    for (const name of seeds) await post(formFixture(name));
    await post(formFixture('imconnector-message-update').replace(TOKEN, 'wrong-token-value-123'));
    const text = logLines.join('');
    expect(logLines.length).toBeGreaterThan(seeds.length);
    for (const secret of [TOKEN, OTHER_TOKEN, 'wrong-token-value-123', '2e7cb0071b04400007eb2a255d2a542d6d0ca03ceb']) {
      expect(text).not.toContain(secret);
    }
  });
});

/** A verified sender's event with more pairs at the end. */
const signed = (extra: string) => `${formFixture('imconnector-message-update')}&${extra}`;

describe('errors answer with a status, a code and a clear message', () => {
  beforeEach(() => start({ limits: { maxBodyBytes: 64 * 1024, maxParams: 200, maxDepth: 8, maxIndex: 1000 } }));

  const cases: [string, () => Promise<{ status: number; body: { error?: { code: string } } }>, number, string][] = [
    ['unsupported content type', () => post('x', 'text/plain'), 415, 'B24GW_UNSUPPORTED_MEDIA_TYPE'],
    ['multipart', () => post('x', 'multipart/form-data; boundary=x'), 415, 'B24GW_UNSUPPORTED_MEDIA_TYPE'],
    ['non-UTF-8 charset', () => post('a=1', `${FORM}; charset=windows-1251`), 415, 'B24GW_UNSUPPORTED_MEDIA_TYPE'],
    ['empty body', () => post(''), 400, 'B24GW_EMPTY_BODY'],
    ['malformed JSON', () => post('{"event":', 'application/json'), 400, 'B24GW_MALFORMED_JSON'],
    ['JSON that is not an object', () => post('[1,2]', 'application/json'), 400, 'B24GW_NOT_AN_OBJECT'],
    ['body over the byte limit', () => post(`a=${'x'.repeat(70 * 1024)}`), 413, 'B24GW_BODY_TOO_LARGE'],
    // A verified sender's body with something wrong in it: each limit has its own code.
    [
      'too many parameters',
      () => post(signed(Array.from({ length: 201 }, (_, i) => `p${i}=1`).join('&'))),
      400,
      'B24GW_TOO_MANY_PARAMS',
    ],
    ['too deep', () => post(signed(`a${'[x]'.repeat(9)}=1`)), 400, 'B24GW_TOO_DEEP'],
    [
      'too deep (JSON)',
      () => post(`{"a":${'{"x":'.repeat(9)}1${'}'.repeat(9)}}`, 'application/json'),
      400,
      'B24GW_TOO_DEEP',
    ],
    ['index over the limit', () => post(signed('a[1001]=1')), 400, 'B24GW_INDEX_TOO_LARGE'],
    ['appends past the index limit', () => post(signed('a[1000]=1&a[]=2')), 400, 'B24GW_INDEX_TOO_LARGE'],
    ['invalid UTF-8', () => post(signed('x=%ff')), 400, 'B24GW_INVALID_UTF8'],
    ['raw invalid UTF-8 bytes', () => post(Buffer.from([0x61, 0x3d, 0xc3, 0x28])), 400, 'B24GW_INVALID_UTF8'],
    [
      'no event code',
      () => post(formFixture('imconnector-message-update').replace(/^event=[^&]*&/, '')),
      400,
      'B24GW_MISSING_EVENT',
    ],
    // Who sent it is read before anything else: one code for every failed verification.
    ['missing auth', () => post('event=ONIMCONNECTORMESSAGEUPDATE&ts=1'), 401, 'B24GW_UNAUTHORIZED'],
    [
      'wrong token',
      () => post(formFixture('imconnector-message-update').replace(TOKEN, 'x'.repeat(32))),
      401,
      'B24GW_UNAUTHORIZED',
    ],
    [
      'token of another portal',
      () => post(formFixture('imconnector-message-update').replace(TOKEN, OTHER_TOKEN)),
      401,
      'B24GW_UNAUTHORIZED',
    ],
    [
      'unknown portal',
      () => post(formFixture('imconnector-message-update').replaceAll(MEMBER, 'f'.repeat(32))),
      401,
      'B24GW_UNAUTHORIZED',
    ],
    [
      'a deep body from an unknown sender is refused for who sent it, undecoded',
      () => post(`a${'[x]'.repeat(9)}=1&auth[member_id]=${MEMBER}&auth[application_token]=wrong`),
      401,
      'B24GW_UNAUTHORIZED',
    ],
    [
      'a body naming its sender twice, differently',
      () => post(`${formFixture('imconnector-message-update')}&auth%5Bmember%5Fid%5D=${OTHER_MEMBER}`),
      401,
      'B24GW_UNAUTHORIZED',
    ],
    [
      'GET on /events',
      async () => {
        const res = await fetch(`${running.url}/events`);
        return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
      },
      405,
      'B24GW_METHOD_NOT_ALLOWED',
    ],
    ['unknown path', () => post('a=1', FORM, '/nope'), 404, 'B24GW_NOT_FOUND'],
  ];
  for (const [name, send, status, code] of cases) {
    it(name, async () => {
      const r = await send();
      expect(r.status).toBe(status);
      expect(r.body.error?.code).toBe(code);
      expect(typeof (r.body.error as { message?: unknown }).message).toBe('string');
      // Nothing refused is processed.
      expect((await gateway.store.countEvents()).pending).toBe(0);
    });
  }

  it('refuses a NUL in any value or key, form or JSON, with where it is, and keeps nothing (not even as invalid)', async () => {
    const form = formFixture('imconnector-message-update');
    const json = jsonFixture('imconnector-message-update');
    const sends: [
      string,
      () => Promise<{ status: number; body: { error?: { code: string; path?: string } } }>,
      string,
    ][] = [
      // A genuine event (right token) whose chat id, the order key's source, holds %00.
      ['%00 in a value', () => post(form.replace('channel-123', 'chan%00nel')), 'data[MESSAGES][0][chat][id]'],
      [
        'raw NUL in a value',
        () => post(Buffer.from(form.replace('channel-123', 'chan\0nel'))),
        'data[MESSAGES][0][chat][id]',
      ],
      [
        '%00 in the portal',
        () => post(form.replace(`auth%5Bmember_id%5D=${MEMBER}`, `auth%5Bmember_id%5D=${MEMBER}%00`)),
        'auth[member_id]',
      ],
      ['%00 in a name', () => post(`${form}&data%5Bx%00y%5D=1`), 'data[x%00y]'],
      [
        '\\u0000 in a JSON value',
        () => post(json.replace('channel-123', 'chan\\u0000nel'), 'application/json'),
        'data[MESSAGES][0][chat][id]',
      ],
      ['\\u0000 in a JSON key', () => post(json.replace('"ts"', '"t\\u0000s"'), 'application/json'), 't\\u0000s'],
    ];
    for (const [name, send, path] of sends) {
      const r = await send();
      expect([name, r.status, r.body.error?.code, r.body.error?.path]).toEqual([name, 400, 'B24GW_NUL_BYTE', path]);
    }
    expect(await gateway.store.listEvents()).toEqual([]);
    // `\\u0000` written as text (an escaped backslash) is no NUL, and is stored as sent.
    const plain = await post(json.replace('channel-123', 'chan\\\\u0000nel'), 'application/json');
    expect(plain.status).toBe(200);
  });

  it('refuses a body over the limit before reading it when its length is declared', async () => {
    const r = await post(`a=${'x'.repeat(200 * 1024)}`);
    expect(r.status).toBe(413);
    // Only the head is sent: the answer can come from the declared length alone.
    const socket = connect(Number(new URL(running.url).port), '127.0.0.1');
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    socket.write(`POST /events HTTP/1.1\r\nhost: x\r\ncontent-type: ${FORM}\r\ncontent-length: 5000000\r\n\r\n`);
    await new Promise((resolve) => socket.once('close', resolve).once('end', resolve));
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"code":"B24GW_BODY_TOO_LARGE"');
    expect(answer).toContain('Body is 5000000 bytes');
    expect(await gateway.store.listEvents()).toEqual([]);
  });

  it('pollutes nothing with __proto__, constructor and prototype keys', async () => {
    const body = `${formFixture('imconnector-message-update')}&__proto__[polluted]=1&data[constructor][prototype][polluted]=1&data[__proto__][polluted]=1`;
    const r = await post(body);
    expect(r.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    const stored = (await gateway.store.getEvent(r.body.id!))?.event as { data: Record<string, unknown> };
    expect(Object.getPrototypeOf(stored.data)).toBe(Object.prototype);
    expect(stored.data.constructor).toEqual({ prototype: { polluted: '1' } });
  });
});
