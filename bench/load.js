// @ts-check
/**
 * The request bodies (the seed fixtures, each request made unique) and one load cell:
 * autocannon at a fixed concurrency for a fixed time, after a warm-up.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { URL, URLSearchParams } from 'node:url';
import autocannon from 'autocannon';

/** The seed events, as PHP http_build_query wrote them. */
export const fixtureNames = [
  'imconnector-message-update',
  'imconnector-message-delete',
  'imconnector-dialog-start',
  'openline-message-update',
  'imbot-message-update-group',
];

const fixtureDir = new URL('../fixtures/events/', import.meta.url);

/** @returns {{ name: string, body: string }[]} */
export function loadFixtures() {
  return fixtureNames.map((name) => ({ name, body: readFileSync(new URL(`${name}.form`, fixtureDir), 'utf8').trim() }));
}

/**
 * member_id → application_token of every portal the fixtures name (`auth[...]`).
 * @param {{ body: string }[]} fixtures
 * @returns {Map<string, string>}
 */
export function portalTokens(fixtures) {
  const tokens = new Map();
  for (const { body } of fixtures) {
    const params = new URLSearchParams(body);
    const member = params.get('auth[member_id]');
    const token = params.get('auth[application_token]');
    if (member && token) tokens.set(member, token);
  }
  return tokens;
}

/**
 * Which values change per request, by decoded parameter name. `id`: the top-level `ts` and
 * every message id (and the session id of a dialog start), so no two requests are duplicates.
 * `chat`: the chat ids, spread over `chats` values only when asked (`--chats N`); by default
 * every event of a fixture stays in that fixture's chat, as the fixtures have it.
 * @type {[RegExp, 'id' | 'chat'][]}
 */
const variedFields = [
  [/^ts$/, 'id'],
  [/\[im\]\[message_id\]$/, 'id'],
  [/\[message\]\[id\](\[0\])?$/, 'id'],
  [/^data\[PARAMS\]\[(ID|MESSAGE_ID)\]$/, 'id'],
  [/\[session\]\[id\]$/, 'id'],
  [/\[chat\]\[id\]$/, 'chat'],
  [/\[(im|connector)\]\[chat_id\]$/, 'chat'],
  [/^data\[PARAMS\]\[(CHAT_ID|TO_CHAT_ID|DIALOG_ID)\]$/, 'chat'],
];

/**
 * Splits a body into fixed text and the values to vary, once; `render(n)` is then a join.
 * A numeric value becomes `value + k`, any other value gets `-k` appended, where k is n for
 * an id and n % chats for a chat id.
 * @param {string} body
 * @param {number} [chats] how many chats to spread events over; 0 keeps the fixture's chat
 * @returns {(n: number) => string}
 */
export function compileTemplate(body, chats = 0) {
  /** @type {string[]} */
  const chunks = [];
  /** @type {((n: number) => string)[]} */
  const slots = [];
  let text = '';
  body.split('&').forEach((pair, i) => {
    const sep = i > 0 ? '&' : '';
    const eq = pair.indexOf('=');
    const name = decodeURIComponent(pair.slice(0, Math.max(eq, 0)).replace(/\+/g, ' '));
    const value = pair.slice(eq + 1);
    const kind = eq < 0 ? undefined : variedFields.find(([re]) => re.test(name))?.[1];
    if (!kind || (kind === 'chat' && chats <= 0)) {
      text += sep + pair;
      return;
    }
    chunks.push(text + sep + pair.slice(0, eq + 1));
    text = '';
    const k = kind === 'id' ? (/** @type {number} */ n) => n : (/** @type {number} */ n) => n % chats;
    if (/^\d+$/.test(value)) {
      const base = Number(value);
      slots.push((n) => String(base + k(n)));
    } else slots.push((n) => `${value}-${k(n)}`);
  });
  const tail = text;
  return (n) => {
    let out = '';
    for (let i = 0; i < slots.length; i++) out += chunks[i] + /** @type {(n: number) => string} */ (slots[i])(n);
    return out + tail;
  };
}

/**
 * An endless source of unique bodies, round-robin over the fixtures.
 * @param {{ body: string }[]} fixtures
 * @param {number} [chats] see compileTemplate
 */
export function bodySource(fixtures, chats = 0) {
  const templates = fixtures.map((f) => compileTemplate(f.body, chats));
  let n = 0;
  return () => {
    n++;
    return /** @type {(n: number) => string} */ (templates[n % templates.length])(n);
  };
}

/**
 * @typedef {object} CellResult
 * @property {number} concurrency
 * @property {number} seconds       measured time, warm-up excluded
 * @property {number} eventsPerSec  2xx answers per second
 * @property {number} p50           latency, ms
 * @property {number} p99
 * @property {number} max
 * @property {number} ok            2xx answers in the measured run
 * @property {number} non2xx
 * @property {number} errors        socket errors
 * @property {number} timeouts
 * @property {Record<string, number>} statusCodes
 * @property {number} warmupOk      2xx answers during the warm-up
 * @property {number} warmupBad     anything else during the warm-up
 */

/**
 * @param {string[]} urls  one, or a target list (autocannon takes an array; its types say string)
 * @param {number} connections
 * @param {number} seconds
 * @param {() => string} nextBody
 */
function fire(urls, connections, seconds, nextBody) {
  return autocannon({
    url: urls.length === 1 ? /** @type {string} */ (urls[0]) : /** @type {string} */ (/** @type {unknown} */ (urls)),
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/events',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (req) => ({ ...req, body: nextBody() }),
      },
    ],
  });
}

/**
 * Warm-up, then the measured run, at one concurrency. Several URLs (instances of one target)
 * make one autocannon with a target list: connection i goes to URL i mod n, so the connections
 * are split evenly, and answers and latencies are counted together.
 * @param {{ url?: string, urls?: string[], concurrency: number, seconds: number, warmupSeconds: number, nextBody: () => string }} o
 * @returns {Promise<CellResult>}
 */
export async function runCell({ url, urls = url ? [url] : [], concurrency, seconds, warmupSeconds, nextBody }) {
  if (urls.length === 0) throw new Error('runCell needs a url');
  const warm = await fire(urls, concurrency, warmupSeconds, nextBody);
  await sleep(300);
  const r = await fire(urls, concurrency, seconds, nextBody);
  /** @type {Record<string, number>} */
  const statusCodes = {};
  for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = s.count ?? 0;
  return {
    concurrency,
    seconds: r.duration,
    eventsPerSec: r['2xx'] / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    ok: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
    warmupOk: warm['2xx'],
    warmupBad: warm.non2xx + warm.errors + warm.timeouts,
  };
}
