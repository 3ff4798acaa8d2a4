import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { convertBbcode, type TextFormat } from '../../effects/channel/bbcode.js';
import { generateSecret, verifySignature } from '../../effects/channel/sign.js';
import type { ChannelPayload } from '../../effects/channel/types.js';
import { callRest, httpBuildQuery, payloads, startSandbox, type CallRecord, type DeliveryResult, type Portal, type Sandbox, type StatusRecord } from '../../sandbox/index.js';
import { SqliteStore } from '../../store/sqlite/store.js';
import { action } from '../fail.js';
import { positiveInt } from '../options.js';

/*
 * `b24-im-gateway demo`: a fake Bitrix24 portal (the sandbox, in this process), the gateway (the
 * built CLI's `serve`, in its own process, SQLite in a temp folder) and a sample external channel
 * (node:http in this process, verifying Standard Webhooks signatures) on loopback. It installs the
 * application, binds the handlers and plays a conversation through every connector and seed event,
 * printing what Bitrix24 sent, what the channel received and what Bitrix24 got back, then checks it.
 */

export interface DemoOptions {
  /** Text format the gateway converts BB-code to for the channel. */
  format: TextFormat;
  /** Leave everything running after the run, print the URLs, stop on SIGINT/SIGTERM. */
  keep?: boolean;
  /** Longest wait for one step's effects. Default 20 s. */
  stepTimeoutMs?: number;
  /** ANSI colours. Default: when stdout is a TTY and NO_COLOR is not set. */
  color?: boolean;
  /** Where the lines go. Default console.log. */
  out?: (line: string) => void;
  /** Aborts the run (and, with keep, ends it). */
  signal?: AbortSignal;
}

export interface DemoStep {
  n: number;
  title: string;
  /** What Bitrix24 sent: event codes, or what the application did. */
  sent: string;
  /** The gateway's events for the step (ids) and their final status. */
  events: { id: number; code: string; status: string }[];
  /** Payload types the channel received. */
  channel: string;
  /** What the gateway called back on Bitrix24. */
  back: string;
  failures: string[];
}

export interface DemoResult {
  pass: boolean;
  steps: DemoStep[];
  /** Failures found after the steps (events not done, refused signatures...). */
  final: string[];
  interrupted: boolean;
}

const CONNECTOR = 'demo_channel';
const LINE = 1;
const EXTERNAL_CHAT = 'chat-42';
const EXTERNAL_USER = 'client-42';
const OPERATOR = 'Maria Lopez';
/** Short, so a retry in the demo does not take long; the real default is 5s,5m,30m,... */
const RETRY_SCHEDULE = '500ms,1s,2s,5s,10s';

/** The events the demo application binds to the gateway, as its install handler would. */
const BOUND_EVENTS = [
  'ONIMCONNECTORMESSAGEADD',
  'ONIMCONNECTORMESSAGEUPDATE',
  'ONIMCONNECTORMESSAGEDELETE',
  'ONIMCONNECTORDIALOGSTART',
  'ONIMCONNECTORDIALOGFINISH',
  'ONIMCONNECTORSTATUSDELETE',
  'ONIMCONNECTORLINEDELETE',
  'ONOPENLINEMESSAGEUPDATE',
];

const HELP = `
Starts, all on loopback and offline:
  - a fake Bitrix24 portal (the sandbox: OAuth, REST, event delivery as Bitrix24 does it),
  - the gateway as its own process (\`serve\`, SQLite in a temporary folder, the sandbox's
    client_id/client_secret, --oauth-server and --allow-domain pointed at the sandbox),
  - a sample external channel that verifies the Standard Webhooks signature of every delivery
    and answers {"externalMessageIds": [...]} for new messages.

Then it installs the application (ONAPPINSTALL, confirmed by the gateway's app.info call-back),
binds the handlers, and plays a conversation: dialog start, operator messages, an edit, a
deletion, ONOPENLINEMESSAGEUPDATE, a bot mentioned and the message edited, dialog finish.
Each step shows what Bitrix24 sent, what the channel received and what Bitrix24 got back
(imconnector.send.status.delivery with the channel's message ids), and is checked.
Ends with a summary and PASS (exit 0) or FAIL (exit 1). Everything started is stopped and
the temporary folder removed on exit, also after a failure or Ctrl+C.

Examples:
  b24-im-gateway demo
  b24-im-gateway demo --format html
  b24-im-gateway demo --keep        # then try the sandbox's control API and the gateway by hand
`;

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Run the gateway against a fake Bitrix24 portal and a sample channel, play a conversation and check every step')
    .addOption(new Option('--format <format>', 'text format for the channel: text, html or markdown').choices(['text', 'html', 'markdown']).default('text'))
    .option('--keep', 'leave everything running after the run and print the URLs, until Ctrl+C')
    .option('--step-timeout <seconds>', "longest wait for one step's effects", positiveInt('--step-timeout'), 20)
    .addHelpText('after', HELP)
    .action(
      action(async (o: { format: TextFormat; keep?: boolean; stepTimeout: number }) => {
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        let code = 1;
        try {
          const result = await runDemo({ format: o.format, keep: o.keep === true, stepTimeoutMs: Math.max(1, o.stepTimeout) * 1000, signal: stop.signal });
          code = result.interrupted && !o.keep ? 130 : result.pass ? 0 : 1;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        process.exit(code);
      }),
    );
}

// ---------------------------------------------------------------------------------------------
// Output

interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  ok(s: string): string;
  bad(s: string): string;
  b24(s: string): string;
  gw(s: string): string;
  ch(s: string): string;
}

function painter(on: boolean): Paint {
  const wrap = (open: number, close: number) => (s: string) => (on ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { bold: wrap(1, 22), dim: wrap(2, 22), ok: wrap(32, 39), bad: wrap(31, 39), b24: wrap(36, 39), gw: wrap(35, 39), ch: wrap(33, 39) };
}

const short = (s: unknown, n = 8): string => {
  const text = String(s ?? '');
  return text.length > n ? `${text.slice(0, n)}...` : text;
};
const quote = (s: unknown, n = 72): string => {
  const text = JSON.stringify(String(s ?? ''));
  return text.length > n ? `${text.slice(0, n - 2)}..."` : text;
};
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

// ---------------------------------------------------------------------------------------------
// The sample external channel

interface ChannelHit {
  payload: ChannelPayload;
  answer: { externalMessageIds?: string[] };
  /** The same webhook-id came before (a retry); answered as before, not acted on again. */
  repeat: boolean;
}

interface DemoChannel {
  url: string;
  secret: string;
  hits: ChannelHit[];
  /** Requests whose signature did not verify (answered 401). */
  refused: number;
  onHit?: (hit: ChannelHit) => void;
  close(): Promise<void>;
}

/** A channel as its developers would write one: verify the raw body's signature, de-duplicate by id, answer fast. */
async function startChannel(): Promise<DemoChannel> {
  const secret = generateSecret();
  const answered = new Map<string, ChannelHit['answer']>();
  let next = 1;
  const channel: DemoChannel = {
    url: '',
    secret,
    hits: [],
    refused: 0,
    close: () => closeServer(server),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (req.method !== 'POST' || !verifySignature(secret, req.headers, raw)) {
        channel.refused++;
        res.writeHead(401).end();
        return;
      }
      let payload: ChannelPayload;
      try {
        payload = JSON.parse(raw.toString('utf8')) as ChannelPayload;
      } catch {
        res.writeHead(400).end();
        return;
      }
      const seen = answered.get(payload.id);
      const answer = seen ?? (payload.type === 'message.created' ? { externalMessageIds: [`ext-${String(next++).padStart(3, '0')}`] } : {});
      answered.set(payload.id, answer);
      const hit = { payload, answer, repeat: seen !== undefined };
      channel.hits.push(hit);
      channel.onHit?.(hit);
      const body = JSON.stringify(answer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  channel.url = `${await listen(server)}/bitrix-webhooks`;
  return channel;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// ---------------------------------------------------------------------------------------------
// The gateway process

interface GatewayChild {
  url: string;
  pid: number;
  logFile: string;
  /** The last log lines, for a failure report. */
  tail(): string[];
  /** Why the process is gone (exit code or signal), or undefined while it runs. */
  gone(): string | undefined;
  stop(): Promise<void>;
}

/** The built CLI: beside this file when built, else in dist/ (when this file runs from src/). */
function cliPath(): string {
  const built = fileURLToPath(new URL('../main.js', import.meta.url));
  if (existsSync(built)) return built;
  const dist = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
  if (existsSync(dist)) return dist;
  throw new Error(`The built CLI is missing (${dist}); run npm run build`);
}

/**
 * Loaded into the gateway's process before the CLI: when this process dies, whatever the
 * reason (even SIGKILL), the pipe to the child's stdin closes and the gateway stops too.
 */
const WATCHDOG = `data:text/javascript,${encodeURIComponent(
  "process.stdin.on('end',()=>process.kill(process.pid,'SIGTERM'));process.stdin.on('error',()=>{});process.stdin.resume();",
)}`;

async function startGateway(args: string[], logFile: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<GatewayChild> {
  const child: ChildProcess = spawn(process.execPath, ['--import', WATCHDOG, cliPath(), 'serve', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let url: string | undefined;
  let partial = '';
  const onData = (chunk: Buffer) => {
    appendFileSync(logFile, chunk);
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      if (url) continue;
      try {
        const entry = JSON.parse(line) as { url?: unknown; msg?: unknown };
        if (typeof entry.url === 'string' && typeof entry.msg === 'string' && entry.msg.startsWith('listening on')) url = entry.url;
      } catch {
        // not a log line
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    child.stdin!.destroy();
  };
  const deadline = Date.now() + timeoutMs;
  while (!url) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the gateway exited (${child.exitCode ?? child.signalCode}): ${lines.slice(-5).join(' | ')}`);
    if (Date.now() > deadline || signal?.aborted) {
      await stop();
      throw new Error(signal?.aborted ? 'interrupted' : `the gateway did not start within ${timeoutMs} ms: ${lines.slice(-5).join(' | ')}`);
    }
    await sleep(25);
  }
  const gone = () => (child.exitCode !== null || child.signalCode !== null ? `exited with ${child.exitCode ?? child.signalCode}` : undefined);
  return { url, pid: child.pid ?? 0, logFile, tail: () => [...lines], gone, stop };
}

// ---------------------------------------------------------------------------------------------
// Waiting

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

/**
 * Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`,
 * or at once when `gone` says the process that should do the work has exited.
 */
async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs: number, signal?: AbortSignal, gone?: () => string | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new Interrupted();
    const why = gone?.();
    if (why) throw new Error(`the gateway process ${why} while waiting for ${what}`);
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------
// The run

interface Env {
  sb: Sandbox;
  portal: Portal;
  channel: DemoChannel;
  gateway: GatewayChild;
  store: SqliteStore;
  eventsUrl: string;
  dbFile: string;
  format: TextFormat;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  paint: Paint;
  out: (line: string) => void;
}

const lastSeq = (sb: Sandbox): number =>
  Math.max(0, sb.recorder.calls().at(-1)?.seq ?? 0, sb.recorder.deliveries().at(-1)?.seq ?? 0, sb.recorder.statuses().at(-1)?.seq ?? 0, sb.recorder.tokenRequests().at(-1)?.seq ?? 0);

/** The gateway's REST calls: app.info, imconnector.send.status.delivery, and batches of those. */
function gatewayCalls(sb: Sandbox, after: number): CallRecord[] {
  const calls = sb.recorder.calls().filter((c) => c.seq > after && c.batchSeq === undefined);
  const children = (c: CallRecord) => sb.recorder.calls().filter((k) => k.batchSeq === c.seq);
  return calls.filter((c) =>
    c.method === 'batch' ? children(c).length > 0 && children(c).every((k) => k.method === 'imconnector.send.status.delivery') : c.method === 'app.info' || c.method === 'imconnector.send.status.delivery',
  );
}

class Step {
  readonly failures: string[] = [];
  readonly ids: number[] = [];
  readonly outcomes = new Map<number, { id: number; code: string; status: string }>();
  sent = '';
  channelTypes: string[] = [];
  back: string[] = [];
  readonly mark: number;
  readonly channelMark: number;

  constructor(
    readonly env: Env,
    readonly n: number,
    readonly title: string,
  ) {
    this.mark = lastSeq(env.sb);
    this.channelMark = env.channel.hits.length;
  }

  /** One line of the transcript: who talks to whom, in a fixed-width column, then what. */
  line(who: string, text: string): void {
    const { paint } = this.env;
    const colour = who.startsWith('gateway store') ? paint.gw : who.includes('channel') || who.startsWith('client') ? paint.ch : who ? paint.b24 : (x: string) => x;
    this.env.out(`   ${colour(pad(who, 24))}${text}`);
  }

  check(ok: boolean, failure: string): boolean {
    if (!ok) this.failures.push(failure);
    return ok;
  }

  /** Prints what Bitrix24 sent and how the gateway answered; returns the gateway's event ids. */
  delivered(result: DeliveryResult): number[] {
    const { paint } = this.env;
    if (result.deliveries.length === 0) this.check(false, `${result.code}: no handler was bound, Bitrix24 sent nothing`);
    const ids: number[] = [];
    for (const d of result.deliveries) {
      let id: number | undefined;
      try {
        id = (JSON.parse(d.responseBody ?? '') as { id?: number }).id;
      } catch {
        id = undefined;
      }
      const answer = d.status === 200 && id !== undefined ? paint.ok(`200, stored as event #${id}`) : paint.bad(`${d.status || 'no answer'} ${d.error ?? short(d.responseBody, 120)}`);
      this.line('Bitrix24 -> gateway', `${paint.bold(d.code)}  ${keyFields(d.code, d.payload)}`);
      this.line('', `<- ${answer}`);
      const gone = this.env.gateway.gone();
      const why = d.status ? `was answered ${d.status}` : `got no answer (${d.error ?? 'no connection'}${gone ? `; the gateway process ${gone}` : ''})`;
      if (this.check(d.status === 200 && id !== undefined, `${d.code} ${why}`)) ids.push(id!);
    }
    this.ids.push(...ids);
    this.sent = [this.sent, result.code].filter(Boolean).join(' + ');
    return ids;
  }

  /** Waits until the gateway finished every event of the step. */
  async done(ids = this.ids): Promise<void> {
    const { store, timeoutMs, signal, paint } = this.env;
    for (const id of ids) {
      const event = await until(
        async () => {
          const e = await store.getEvent(id);
          return e && (e.status === 'done' || e.status === 'dead' || e.status === 'invalid') ? e : undefined;
        },
        `event #${id} to be processed`,
        timeoutMs,
        signal,
        this.env.gateway.gone,
      ).catch(async (e: unknown) => {
        if (e instanceof Interrupted) throw e;
        this.check(false, (e as Error).message);
        return store.getEvent(id);
      });
      if (!event) continue;
      this.outcomes.set(id, { id, code: event.code, status: event.status });
      const retries = event.attempts > 1 ? ` after ${event.attempts} attempts` : '';
      const status = event.status === 'done' ? paint.ok(`done${retries}`) : paint.bad(`${event.status}${event.lastError ? `: ${event.lastError}` : ''}`);
      this.line('gateway store', `event #${id} ${event.code}: ${status}`);
      this.check(event.status === 'done', `event #${id} ${event.code} is ${event.status}`);
    }
  }

  /** The channel payloads of an event (first deliveries, not retries), after it is done. */
  channelGot(eventId: number, expected: ChannelPayload['type'][]): ChannelHit[] {
    const { paint } = this.env;
    const hits = this.env.channel.hits.slice(this.channelMark).filter((h) => h.payload.source.eventId === eventId && !h.repeat);
    for (const h of hits) {
      const p = h.payload;
      let detail = '';
      if (p.type === 'message.created' || p.type === 'message.updated') detail = `${quote(p.message.text)}${p.type === 'message.updated' ? ` for ids ${JSON.stringify(p.message.externalIds)}` : ''}`;
      else if (p.type === 'message.deleted') detail = `ids ${JSON.stringify(p.message.externalIds)}, Bitrix24 message ${p.message.bitrixMessageId}`;
      else if (p.type === 'dialog.started' || p.type === 'dialog.finished') detail = `chat ${p.chat.externalId}, session ${p.dialog.sessionId}`;
      const answer = h.answer.externalMessageIds ? ` <- 200 ${JSON.stringify(h.answer)}` : ' <- 200';
      this.line('gateway -> channel', `${paint.bold(p.type)} ${detail}  ${paint.dim(`(signature ok, ${p.id})`)}${answer}`);
    }
    if (expected.length === 0 && hits.length === 0) this.line('gateway -> channel', paint.dim('nothing: not a connector event, stored and marked done'));
    this.channelTypes.push(...hits.map((h) => h.payload.type));
    this.check(
      hits.length === expected.length && hits.every((h, i) => h.payload.type === expected[i]),
      `event #${eventId}: the channel got [${hits.map((h) => h.payload.type).join(', ')}], expected [${expected.join(', ')}]`,
    );
    return hits;
  }

  /** Waits for delivery statuses of these Bitrix24 message ids to reach the sandbox. */
  async statuses(expected: { chatId: number; messageId: number; externalIds: string[] }[]): Promise<StatusRecord[]> {
    const { sb, timeoutMs, signal } = this.env;
    const found = (e: { messageId: number }) => sb.recorder.statuses().find((s) => s.seq > this.mark && s.kind === 'delivery' && s.messageId === e.messageId);
    const got = await until(() => (expected.every(found) ? expected.map((e) => found(e)!) : undefined), `imconnector.send.status.delivery for ${expected.map((e) => e.messageId).join(', ')}`, timeoutMs, signal, this.env.gateway.gone).catch(
      (e: unknown) => {
        if (e instanceof Interrupted) throw e;
        this.check(false, (e as Error).message);
        return expected.map(found).filter((s): s is StatusRecord => s !== undefined);
      },
    );
    for (const e of expected) {
      const s = got.find((g) => g.messageId === e.messageId);
      if (!s) continue;
      this.check(s.chatId === e.chatId, `status for message ${e.messageId} names chat ${s.chatId}, expected ${e.chatId}`);
      this.check(JSON.stringify(s.externalIds) === JSON.stringify(e.externalIds), `status for message ${e.messageId} has message.id ${JSON.stringify(s.externalIds)}, expected ${JSON.stringify(e.externalIds)}`);
      this.check(s.known, `status for message ${e.messageId}: the sandbox never sent that message`);
    }
    return got;
  }

  /** Prints the gateway's REST calls since the step began. */
  printBack(statuses: StatusRecord[] = []): void {
    const { sb, paint } = this.env;
    const calls = gatewayCalls(sb, this.mark);
    for (const c of calls) {
      const inBatch = c.method === 'batch' ? ` (${sb.recorder.calls().filter((k) => k.batchSeq === c.seq).length} commands)` : '';
      const answer = c.httpStatus === 200 ? paint.ok('200') : paint.bad(`${c.httpStatus} ${c.error ?? ''}`);
      if (c.method === 'app.info') {
        this.line('gateway -> Bitrix24', `${paint.bold('app.info')} with the install's access token, on the portal's own domain <- ${answer}`);
        this.back.push(`app.info ${c.httpStatus}`);
        continue;
      }
      this.line('gateway -> Bitrix24', `${paint.bold(c.method)}${inBatch} <- ${answer}`);
    }
    for (const s of statuses) {
      this.line('', `MESSAGES: im {chat_id ${s.chatId}, message_id ${s.messageId}}, message.id ${JSON.stringify(s.externalIds)}, chat.id ${s.externalChatId}`);
      this.back.push(`status.delivery ${s.messageId} ${JSON.stringify(s.externalIds)}`);
    }
    if (calls.length === 0 && statuses.length === 0) this.line('gateway -> Bitrix24', paint.dim('nothing (no delivery status for this event)'));
  }

  report(): DemoStep {
    return {
      n: this.n,
      title: this.title,
      sent: this.sent || '-',
      events: this.ids.map((id) => this.outcomes.get(id) ?? { id, code: '?', status: 'unknown' }),
      channel: this.channelTypes.length ? this.channelTypes.join(', ') : '-',
      back: this.back.length ? this.back.join('; ') : '-',
      failures: this.failures,
    };
  }
}

/** The key fields of an event, short. */
function keyFields(code: string, payload: Record<string, unknown>): string {
  const data = (payload.data ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const auth = (payload.auth ?? {}) as Record<string, unknown>;
  const items = (data.MESSAGES ?? data.DATA ?? []) as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  const first = items[0] ?? {};
  switch (code) {
    case 'ONAPPINSTALL':
      return `member_id ${short(auth.member_id)}, domain ${String(auth.domain)}, access_token ${short(auth.access_token, 6)}, application_token ${short(auth.application_token, 6)}`;
    case 'ONIMCONNECTORDIALOGSTART':
    case 'ONIMCONNECTORDIALOGFINISH':
      return `CONNECTOR ${data.CONNECTOR}, LINE ${data.LINE}, chat ${first.chat?.id}, session ${first.session?.id}`;
    case 'ONIMCONNECTORMESSAGEADD':
      return `chat ${first.im?.chat_id}, message ${first.im?.message_id}, text ${quote(first.message?.text, 60)}`;
    case 'ONIMCONNECTORMESSAGEUPDATE':
      return `message ${first.im?.message_id}, message.id ${JSON.stringify(first.message?.id)}, text ${quote(first.message?.text, 50)}`;
    case 'ONIMCONNECTORMESSAGEDELETE':
      return `message ${first.im?.message_id}, message.id ${JSON.stringify(first.message?.id)}`;
    case 'ONOPENLINEMESSAGEUPDATE':
      return `chat ${first.im?.chat_id}, message ${first.im?.message_id}`;
    case 'ONIMBOTMESSAGEADD':
    case 'ONIMBOTMESSAGEUPDATE': {
      const params = (data.PARAMS ?? {}) as Record<string, unknown>;
      return `bot ${Object.keys(data.BOT ?? {}).join(',')}, chat ${params.CHAT_ID ?? params.TO_CHAT_ID}, message ${params.MESSAGE_ID}, ${quote(params.MESSAGE_ORIGINAL ?? params.MESSAGE, 60)}`;
    }
    default:
      return '';
  }
}

/** Runs the demo; resolves after cleaning up (with keep: after the signal). Never leaves a process or file behind. */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  // A closed stdout (`demo | head`) must not end the run before it cleans up: stop printing instead.
  let stdoutClosed = false;
  const onStdoutError = (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    stdoutClosed = true;
  };
  if (!o.out) process.stdout.on('error', onStdoutError);
  const out = o.out ?? ((line: string) => void (stdoutClosed || process.stdout.write(`${line}\n`)));
  const paint = painter(o.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR));
  const timeoutMs = o.stepTimeoutMs ?? 20_000;
  const cleanups: (() => Promise<void> | void)[] = [() => void process.stdout.off('error', onStdoutError)];
  const result: DemoResult = { pass: false, steps: [], final: [], interrupted: false };
  const tmp = mkdtempSync(join(tmpdir(), 'b24gw-demo-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  try {
    // ---- start everything ----
    const sb = await startSandbox({});
    cleanups.push(() => sb.stop());
    const channel = await startChannel();
    cleanups.push(() => channel.close());
    const dbFile = join(tmp, 'gateway.db');
    const sandboxHost = new URL(sb.url).host;
    const gateway = await startGateway(
      [
        '--host', '127.0.0.1', '--port', '0', '--db', dbFile,
        '--allow-domain', sandboxHost,
        '--client-id', sb.clientId, '--client-secret', sb.clientSecret, '--oauth-server', sb.url,
        '--channel-url', channel.url, '--channel-secret', channel.secret, '--channel-format', o.format,
        '--retry-schedule', RETRY_SCHEDULE, '--log-level', 'info',
      ],
      join(tmp, 'gateway.log'),
      Math.max(timeoutMs, 15_000),
      o.signal,
    );
    cleanups.push(() => gateway.stop());
    const store = new SqliteStore(dbFile);
    cleanups.push(() => store.close());
    const env: Env = { sb, portal: sb.portal, channel, gateway, store, eventsUrl: `${gateway.url}/events`, dbFile, format: o.format, timeoutMs, signal: o.signal, paint, out };

    out(paint.bold('b24-im-gateway demo: a fake Bitrix24 portal, the gateway and an external channel, on loopback'));
    out('');
    out(`  ${pad('Bitrix24 (sandbox)', 19)} ${sb.url}   portal ${sb.portal.memberId}, client_id ${sb.clientId}`);
    out(`  ${pad('gateway', 19)} ${env.eventsUrl}   own process (pid ${gateway.pid}), SQLite ${dbFile}`);
    out(`  ${pad('channel', 19)} ${channel.url}   verifies Standard Webhooks signatures, text format ${o.format}`);

    try {
      await play(env, result);
    } catch (e) {
      if (!(e instanceof Interrupted)) throw e;
      result.interrupted = true;
      result.final.push('interrupted');
    }

    if (!result.interrupted) await finalChecks(env, result);
    result.pass = !result.interrupted && result.final.length === 0 && result.steps.every((s) => s.failures.length === 0);
    printSummary(env, result);
    if (!result.pass && !result.interrupted) {
      out('');
      out(paint.dim(`gateway log (last lines of ${gateway.logFile}):`));
      for (const line of gateway.tail().slice(-15)) out(paint.dim(`  ${line}`));
    }
    if (o.keep && !o.signal?.aborted) await keepRunning(env);
  } catch (e) {
    if (!(e instanceof Interrupted) && (e as Error).message !== 'interrupted') {
      result.final.push(`the demo could not run: ${(e as Error).message}`);
      out(paint.bad(`FAIL: the demo could not run: ${(e as Error).message}`));
    } else {
      result.interrupted = true;
      out(paint.bad('FAIL: interrupted'));
    }
    result.pass = false;
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // keep cleaning up
      }
    }
  }
  return result;
}

async function step(env: Env, result: DemoResult, title: string, body: (s: Step) => Promise<void>): Promise<void> {
  const s = new Step(env, result.steps.length + 1, title);
  env.out('');
  env.out(env.paint.bold(`${s.n}. ${title}`));
  try {
    await body(s);
  } catch (e) {
    if (e instanceof Interrupted) throw e;
    s.check(false, (e as Error).message);
  }
  for (const f of s.failures) env.out(`   ${env.paint.bad(`FAIL ${f}`)}`);
  if (s.failures.length === 0) env.out(`   ${env.paint.ok('ok')}`);
  result.steps.push(s.report());
}

async function play(env: Env, result: DemoResult): Promise<void> {
  const { sb, portal, paint } = env;
  const convert = (raw: string) => convertBbcode(raw, env.format);
  let accessToken = '';

  await step(env, result, 'Install the application (ONAPPINSTALL, confirmed by app.info)', async (s) => {
    const installed = await sb.install(portal, env.eventsUrl);
    accessToken = installed.tokens.access_token;
    const [id] = s.delivered(installed);
    s.printBack();
    const appInfo = sb.recorder.calls({ method: 'app.info' }).filter((c) => c.seq > s.mark && c.memberId === portal.memberId && c.httpStatus === 200);
    s.check(appInfo.length === 1, `expected one successful app.info call-back for the portal, saw ${appInfo.length}`);
    if (id === undefined) return;
    await s.done([id]);
    const stored = await env.store.getPortal(portal.memberId);
    // With an OAuth client the gateway binds the install to its member_id by spending its refresh
    // token, so the stored pair is the one the authorization server answered with.
    const exchanged = sb.recorder.tokenRequests().some((t) => t.ok && t.memberId === portal.memberId);
    s.check(stored?.domain === portal.domain && !!stored.accessToken && exchanged, 'the portal and its freshly exchanged tokens were not stored');
    accessToken = stored?.accessToken ?? accessToken;
    if (stored) s.line('gateway store', `portal ${short(stored.memberId)} at ${stored.domain}: application_token and OAuth pair kept`);
    s.channelGot(id, []);
  });

  await step(env, result, 'The application binds its handlers (one batch: imconnector.register/activate, event.bind, imbot.register)', async (s) => {
    const icon = 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=';
    const cmd: Record<string, string> = {
      register: `imconnector.register?${httpBuildQuery({ ID: CONNECTOR, NAME: 'Demo channel', ICON: { DATA_IMAGE: icon }, PLACEMENT_HANDLER: `${env.gateway.url}/placement` })}`,
      activate: `imconnector.activate?${httpBuildQuery({ CONNECTOR, LINE, ACTIVE: 1 })}`,
      ...Object.fromEntries(BOUND_EVENTS.map((e) => [`bind_${e.toLowerCase()}`, `event.bind?${httpBuildQuery({ event: e, handler: env.eventsUrl })}`])),
      bot: `imbot.register?${httpBuildQuery({ CODE: 'demo_bot', TYPE: 'B', OPENLINE: 'Y', EVENT_HANDLER: env.eventsUrl, PROPERTIES: { NAME: 'Demo Bot', COLOR: 'AQUA' } })}`,
    };
    const reply = await callRest(sb.restUrl, 'batch', { auth: accessToken, halt: 1, cmd });
    const body = reply.body as { result?: { result?: Record<string, unknown>; result_error?: Record<string, unknown> | unknown[] } };
    const errors = body.result?.result_error;
    const errorCount = errors ? Object.keys(errors).length : 0;
    const results = body.result?.result ?? {};
    const registered = (results.register as { result?: unknown } | undefined)?.result === true;
    const botId = results.bot;
    s.line('application -> Bitrix24', `${paint.bold('batch')} of ${Object.keys(cmd).length}: imconnector.register ${CONNECTOR}, imconnector.activate line ${LINE}, event.bind x${BOUND_EVENTS.length} -> ${env.eventsUrl}, imbot.register demo_bot`);
    s.line('', `<- ${reply.status === 200 && errorCount === 0 ? paint.ok('200') : paint.bad(String(reply.status))}, connector registered: ${registered}, bot id ${String(botId)}, ${errorCount} errors`);
    s.check(reply.status === 200 && errorCount === 0 && registered && typeof botId === 'number', `the setup batch failed: ${JSON.stringify(errors ?? body).slice(0, 200)}`);
    const bound = portal.handlers.filter((h) => h.handler === env.eventsUrl);
    const byBot = bound.filter((h) => h.botId !== undefined).length;
    s.line('', paint.dim(`handlers now bound to the gateway: ${bound.length} (${bound.length - byBot - 1} by event.bind, ${byBot} by imbot.register, ONAPPINSTALL by the install)`));
    s.check(bound.length - byBot - 1 === BOUND_EVENTS.length, `expected ${BOUND_EVENTS.length} handlers bound by event.bind`);
    s.sent = 'REST setup (batch)';
  });

  let chatId = 0;
  let sessionId = 0;
  await step(env, result, 'A client writes; Bitrix24 starts a dialog (ONIMCONNECTORDIALOGSTART)', async (s) => {
    const text = 'Hi! Where is my order #1042?';
    const reply = await callRest(sb.restUrl, 'imconnector.send.messages', {
      auth: accessToken,
      CONNECTOR,
      LINE,
      MESSAGES: [{ user: { id: EXTERNAL_USER, name: 'Anna' }, message: { id: 'in-001', date: Math.floor(Date.now() / 1000), text }, chat: { id: EXTERNAL_CHAT } }],
    });
    s.line('client -> Bitrix24', `${quote(text)} via the connector app's imconnector.send.messages <- ${reply.status === 200 ? paint.ok('200') : paint.bad(String(reply.status))}`);
    s.check(reply.status === 200 && (reply.body as { result?: { SUCCESS?: boolean } }).result?.SUCCESS === true, 'imconnector.send.messages failed');
    const chat = portal.latestChat(CONNECTOR, LINE, EXTERNAL_CHAT);
    if (!chat) throw new Error('the sandbox made no chat for the client message');
    chatId = chat.id;
    sessionId = chat.sessionId;
    const started = await sb.act.dialog(portal, chat.id, 'start');
    const [id] = s.delivered(started);
    if (id === undefined) return;
    await s.done();
    const [hit] = s.channelGot(id, ['dialog.started']);
    if (hit?.payload.type === 'dialog.started') checkDialog(s, hit.payload, started, sessionId);
    s.printBack();
  });

  const operatorWrites = async (s: Step, text: string): Promise<{ messageId: number; raw: string; ids: string[] }> => {
    const m = await sb.act.operatorWrites(portal, { connector: CONNECTOR, line: LINE, externalChatId: EXTERNAL_CHAT, text, operatorName: OPERATOR });
    const [id] = s.delivered(m.delivery);
    if (id === undefined) return { messageId: m.message.id, raw: m.message.text, ids: [] };
    await s.done();
    const [hit] = s.channelGot(id, ['message.created']);
    let ids: string[] = [];
    if (hit?.payload.type === 'message.created') {
      const p = hit.payload;
      s.check(p.message.bitrixMessageId === m.message.id && p.chat.bitrixChatId === chatId && p.chat.externalId === EXTERNAL_CHAT, 'message.created names the wrong message or chat');
      s.check(p.message.rawText === m.message.text, 'message.created rawText differs from what the operator wrote');
      s.check(p.message.text === convert(m.message.text) && p.message.textFormat === env.format, `message.created text is not the ${env.format} conversion`);
      ids = hit.answer.externalMessageIds ?? [];
    }
    const statuses = await s.statuses([{ chatId, messageId: m.message.id, externalIds: ids }]);
    s.printBack(statuses);
    return { messageId: m.message.id, raw: m.message.text, ids };
  };

  let first = { messageId: 0, raw: '', ids: [] as string[] };
  let second = { ...first };
  await step(env, result, 'The operator answers (ONIMCONNECTORMESSAGEADD)', async (s) => {
    first = await operatorWrites(s, 'Hello Anna! Your order [b]#1042[/b] left our warehouse today.');
  });

  await step(env, result, 'The operator writes in the wrong chat (ONIMCONNECTORMESSAGEADD)', async (s) => {
    second = await operatorWrites(s, 'Your refund for order #977 is on its way.');
  });

  const edited = `Hello Anna! Your order [b]#1042[/b] left our warehouse today.[br]Tracking: [url=https://example.com/track/1042]example.com/track/1042[/url]`;
  await step(env, result, 'The operator edits the answer (ONIMCONNECTORMESSAGEUPDATE)', async (s) => {
    const r = await sb.act.operatorEdits(portal, first.messageId, edited);
    const [id] = s.delivered(r);
    if (id === undefined) return;
    await s.done();
    const [hit] = s.channelGot(id, ['message.updated']);
    if (hit?.payload.type === 'message.updated') {
      s.check(JSON.stringify(hit.payload.message.externalIds) === JSON.stringify(first.ids), `message.updated names ids ${JSON.stringify(hit.payload.message.externalIds)}, the channel gave ${JSON.stringify(first.ids)}`);
      s.check(hit.payload.message.text === convert(edited), `message.updated text is not the ${env.format} conversion`);
    }
    s.printBack(await s.statuses([{ chatId, messageId: first.messageId, externalIds: first.ids }]));
  });

  await step(env, result, 'Open Lines reports the edited message (ONOPENLINEMESSAGEUPDATE)', async (s) => {
    const r = await sb.sendEvent(portal, 'ONOPENLINEMESSAGEUPDATE', payloads.openlineMessageUpdate({ connector: CONNECTOR, line: LINE, chatId, messageId: first.messageId }));
    const [id] = s.delivered(r);
    if (id === undefined) return;
    await s.done();
    s.channelGot(id, []);
    s.printBack();
  });

  await step(env, result, 'The operator deletes the wrong message (ONIMCONNECTORMESSAGEDELETE)', async (s) => {
    const [id] = s.delivered(await sb.act.operatorDeletes(portal, second.messageId));
    if (id === undefined) return;
    await s.done();
    const [hit] = s.channelGot(id, ['message.deleted']);
    if (hit?.payload.type === 'message.deleted') {
      s.check(JSON.stringify(hit.payload.message.externalIds) === JSON.stringify(second.ids), `message.deleted names ids ${JSON.stringify(hit.payload.message.externalIds)}, the channel gave ${JSON.stringify(second.ids)}`);
    }
    s.printBack();
  });

  const bot = [...portal.bots.values()][0];
  const botInput = {
    bots: [{ id: bot?.id ?? 0, code: bot?.code ?? 'demo_bot', name: 'Demo Bot' }],
    chatType: 'C' as const,
    chatId: 1157,
    messageId: 84351,
    text: ', how many dialogs are open on line 1?',
    chatTitle: 'Support team',
  };
  await step(env, result, 'A colleague mentions the bot in a group chat (ONIMBOTMESSAGEADD)', async (s) => {
    if (!bot) throw new Error('no bot is registered (the setup step failed)');
    const [id] = s.delivered(await sb.act.bot(portal, 'add', botInput));
    if (id === undefined) return;
    await s.done();
    s.channelGot(id, []);
    s.printBack();
  });

  await step(env, result, '...and edits the message (ONIMBOTMESSAGEUPDATE)', async (s) => {
    if (!bot) throw new Error('no bot is registered (the setup step failed)');
    const [id] = s.delivered(await sb.act.bot(portal, 'update', { ...botInput, text: ', how many dialogs are open on line 1 today?' }));
    if (id === undefined) return;
    await s.done();
    s.channelGot(id, []);
    s.printBack();
  });

  await step(env, result, 'The operator closes the dialog (ONIMCONNECTORDIALOGFINISH)', async (s) => {
    const finished = await sb.act.dialog(portal, chatId, 'finish');
    const [id] = s.delivered(finished);
    if (id === undefined) return;
    await s.done();
    const [hit] = s.channelGot(id, ['dialog.finished']);
    if (hit?.payload.type === 'dialog.finished') checkDialog(s, hit.payload, finished, sessionId);
    s.printBack();
  });
}

/** A dialog payload names the chat, user and session Bitrix24 sent, as the channel README describes. */
function checkDialog(s: Step, p: Extract<ChannelPayload, { type: 'dialog.started' | 'dialog.finished' }>, sent: DeliveryResult, sessionId: number): void {
  const item = ((sent.deliveries[0]?.payload.data as { DATA?: { chat?: { id?: unknown } }[] } | undefined)?.DATA ?? [])[0];
  s.check(String(p.chat.externalId) === String(item?.chat?.id), `${p.type} names chat ${String(p.chat.externalId)}, Bitrix24 sent ${String(item?.chat?.id)}`);
  s.check(p.dialog.sessionId === sessionId, `${p.type} names session ${p.dialog.sessionId}, expected ${sessionId}`);
}

async function finalChecks(env: Env, result: DemoResult): Promise<void> {
  const gone = env.gateway.gone();
  if (gone) result.final.push(`the gateway process ${gone} during the run`);
  const events = await env.store.listEvents();
  const notDone = events.filter((e) => e.status !== 'done');
  if (notDone.length > 0) result.final.push(`events not done: ${notDone.map((e) => `#${e.id} ${e.code} ${e.status}`).join(', ')}`);
  const expected = result.steps.reduce((n, s) => n + s.events.length, 0);
  if (events.length !== expected) result.final.push(`the gateway stored ${events.length} events, the steps accounted for ${expected}`);
  if (env.channel.refused > 0) result.final.push(`the channel refused ${env.channel.refused} requests whose signature did not verify`);
  const statuses = env.sb.recorder.statuses();
  if (statuses.some((s) => !s.known)) result.final.push('a delivery status named a message the sandbox never sent');
  const failedCalls = gatewayCalls(env.sb, 0).filter((c) => c.httpStatus !== 200);
  if (failedCalls.length > 0) {
    const kinds = new Map<string, number>();
    for (const c of failedCalls) kinds.set(`${c.method} ${c.httpStatus} ${c.error ?? ''}`.trim(), (kinds.get(`${c.method} ${c.httpStatus} ${c.error ?? ''}`.trim()) ?? 0) + 1);
    result.final.push(`${failedCalls.length} of the gateway's REST calls failed (${[...kinds].map(([k, n]) => `${k} x${n}`).join(', ')})`);
  }
}

function printSummary(env: Env, result: DemoResult): void {
  const { out, paint } = env;
  const gatewayCell = (s: DemoStep) => (s.events.length ? s.events.map((e) => `#${e.id} ${e.status}`).join(', ') : '-');
  const rows = result.steps.map((s) => [String(s.n), s.title.replace(/ \(.*\)$/, ''), s.sent, gatewayCell(s), s.channel, s.back, s.failures.length ? 'FAIL' : 'ok']);
  const header = ['#', 'step', 'Bitrix24 sent', 'gateway', 'channel got', 'Bitrix24 got back', ''];
  const limits = [2, 48, 30, 12, 20, 44, 4];
  const fit = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}...` : s);
  const widths = header.map((h, i) => Math.min(limits[i]!, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) => cells.map((c, i) => pad(fit(c, widths[i]!), widths[i]!)).join('  ').trimEnd();
  out('');
  out(paint.bold('Summary'));
  out(`  ${paint.bold(line(header))}`);
  for (const r of rows) {
    const text = `  ${line(r)}`;
    out(r[6] === 'ok' ? text : paint.bad(text));
  }
  const events = result.steps.reduce((n, s) => n + s.events.filter((e) => e.status === 'done').length, 0);
  const payloadCount = env.channel.hits.filter((h) => !h.repeat).length;
  const statusCount = env.sb.recorder.statuses().length;
  out('');
  for (const f of result.final) out(paint.bad(`  ${f}`));
  const failed = result.steps.filter((s) => s.failures.length > 0);
  if (result.pass) {
    out(paint.ok(paint.bold(`PASS: ${result.steps.length} steps checked; ${events} events done; ${payloadCount} signed channel payloads verified; ${statusCount} delivery statuses with message.id lists`)));
  } else {
    const why = [...failed.map((s) => `step ${s.n}: ${s.failures[0]}`), ...result.final];
    const more = why.length > 3 ? `; and ${why.length - 3} more above` : '';
    out(paint.bad(paint.bold(`FAIL: ${why.slice(0, 3).join('; ') || 'see above'}${more}`)));
  }
}

async function keepRunning(env: Env): Promise<void> {
  const { sb, channel, gateway, out, paint } = env;
  out('');
  out(paint.bold('Everything keeps running; Ctrl+C stops it and removes the temporary files.'));
  out(`  sandbox control API  ${sb.url}/sandbox              (GET: URLs, client id/secret, portals)`);
  out(`  sandbox recorder     ${sb.url}/sandbox/calls   ${sb.url}/sandbox/deliveries   ${sb.url}/sandbox/statuses`);
  out(`  gateway              ${env.eventsUrl}   ${gateway.url}/metrics   ${gateway.url}/healthz`);
  out(`  channel              ${channel.url}`);
  out(`  gateway database     ${env.dbFile}   (b24-im-gateway events --db ${env.dbFile})`);
  out(`  gateway log          ${gateway.logFile}`);
  out(`  more traffic:        curl -s -X POST ${sb.url}/sandbox/scenario -H 'content-type: application/json' -d '{"name":"conversation"}'`);
  out('');
  const offs = [
    sb.recorder.on('delivery', (d) => out(`${paint.b24('Bitrix24 -> gateway ')} ${d.code} <- ${d.status || 'no answer'}`)),
    sb.recorder.on('call', (c) => c.batchSeq === undefined && out(`${paint.b24('REST                ')} ${c.method} <- ${c.httpStatus}${c.error ? ` ${c.error}` : ''}`)),
  ];
  channel.onHit = (h) => out(`${paint.ch('gateway -> channel  ')} ${h.payload.type} ${h.payload.id}${h.repeat ? ' (repeat)' : ''}`);
  try {
    const signal = env.signal;
    if (signal && !signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    else if (!signal) await new Promise<void>(() => undefined);
  } finally {
    for (const off of offs) off();
    channel.onHit = undefined;
  }
  out('Stopping.');
}
