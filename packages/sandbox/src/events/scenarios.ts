import { setTimeout as sleep } from 'node:timers/promises';
import type { SandboxCore } from '../core.js';
import { SandboxError } from '../errors.js';
import type { BotState, Portal } from '../portal.js';
import type { DeliveryRecord } from '../recorder.js';
import { botEvent, dialogEvent, operatorDeletes, operatorEdits, operatorWrites } from './actions.js';
import { chatbotAct, type ChatbotAct } from './chatbots.js';
import { isoDate } from './payloads/chatbots.js';
import { botRegister, commandRegister } from '../methods/imbot-v2.js';
import type { FaultsInput } from '../faults.js';
import type { BotMessageInput } from './payloads/index.js';
import type { DeliveryResult, SendOptions } from './deliver.js';

export type ScenarioName = 'conversation' | 'bot' | 'chatbot' | 'portals' | 'load';

export interface ScenarioOptions {
  /** Portal to play on (member_id or index); the first portal by default. */
  portal?: string | number;
  /** Send every event here instead of to the handlers the application bound. */
  handlerUrl?: string;
  /** Connector and line (conversation, portals, load). Defaults: the portal's first registered connector and its active line, else `sandbox_connector` / 1. */
  connector?: string;
  line?: number;
  /** External chat id the conversation happens in. */
  externalChatId?: string;
  /** conversation: operator messages to write (default 3). portals: per portal (default 2). */
  messages?: number;
  /** conversation: how long to wait for the application's delivery status before the next step (default 1000 ms; 0 = do not wait). */
  statusWaitMs?: number;
  /** Pause between steps (default 0). */
  stepDelayMs?: number;
  /** portals: how many new portals to install the application on (default 3). */
  count?: number;
  /** load: events per second (default 10) for `seconds` (default 5). */
  rate?: number;
  seconds?: number;
  /** chatbot: the Chatbots 2.0 bot (default: the portal's first imbot.v2 bot, else one registered for the scenario). */
  botId?: number;
  /** chatbot: how the bot registered for the scenario gets its events (default: webhook to handlerUrl when given, else fetch). */
  mode?: 'webhook' | 'fetch';
  /** chatbot: switches set before the first step (e.g. Event.get answering errors while the queue drains); they stay set. */
  faults?: FaultsInput;
}

export interface ScenarioStep {
  step: string;
  /** No handler was bound for the event, so nothing was sent (as in Bitrix24). */
  skipped?: boolean;
  result: DeliveryResult;
}

export interface LoadStats {
  sent: number;
  ok: number;
  failed: number;
  /** Deliveries per HTTP status (0 = no answer). */
  statuses: Record<string, number>;
  latencyMs: { p50: number; p95: number; max: number };
  durationMs: number;
  achievedRate: number;
}

export interface ScenarioResult {
  name: ScenarioName;
  /** Every event that had a target was answered 2xx. */
  ok: boolean;
  /** Empty for `load`, whose per-message detail stays in the recorder. */
  steps: ScenarioStep[];
  deliveries: DeliveryRecord[];
  /** member_ids of the portals the scenario played on. */
  portals: string[];
  load?: LoadStats;
}

/** What scenarios need from the sandbox besides the shared core. */
export interface ScenarioHost {
  core: SandboxCore;
  install(portal: Portal, handlerUrl: string): Promise<DeliveryResult>;
}

const step = (name: string, result: DeliveryResult): ScenarioStep => ({
  step: name,
  ...(result.deliveries.length === 0 && !result.queued?.length && !result.offline?.length ? { skipped: true } : {}),
  result,
});

function finish(
  name: ScenarioName,
  steps: ScenarioStep[],
  portals: Portal[],
  extra: Partial<ScenarioResult> = {},
): ScenarioResult {
  const deliveries = steps.flatMap((s) => s.result.deliveries);
  return {
    name,
    ok: steps.every((s) => s.skipped || s.result.ok),
    steps,
    deliveries,
    portals: portals.map((p) => p.memberId),
    ...extra,
  };
}

function connectorOf(portal: Portal, opts: ScenarioOptions): { connector: string; line: number } {
  const connector = opts.connector ?? [...portal.connectors.keys()][0] ?? 'sandbox_connector';
  const line = opts.line ?? [...portal.lines.values()].find((l) => l.connector === connector && l.active)?.line ?? 1;
  return { connector, line };
}

const sendOpts = (opts: ScenarioOptions): SendOptions => (opts.handlerUrl ? { handlerUrl: opts.handlerUrl } : {});

/** Waits for the application to report delivery of a message, so later edits carry its external ids. */
async function awaitStatus(core: SandboxCore, portal: Portal, messageId: number, ms: number): Promise<void> {
  if (ms <= 0) return;
  await core.recorder
    .waitFor('status', (s) => s.memberId === portal.memberId && s.messageId === messageId && s.kind === 'delivery', ms)
    .catch(() => undefined);
}

/** Dialog start, operator messages, an edit, a deletion, dialog finish. */
async function conversation(host: ScenarioHost, opts: ScenarioOptions): Promise<ScenarioResult> {
  const { core } = host;
  const portal = core.portal(opts.portal);
  const { connector, line } = connectorOf(portal, opts);
  const externalChatId = opts.externalChatId ?? `sandbox-chat-${Date.now().toString(36)}`;
  const send = sendOpts(opts);
  const pause = () => (opts.stepDelayMs ? sleep(opts.stepDelayMs) : Promise.resolve());
  const steps: ScenarioStep[] = [];
  const chat = portal.chatFor(connector, line, externalChatId);
  steps.push(step('dialog start', await dialogEvent(core, portal, chat, 'start', send)));
  const written: number[] = [];
  for (let i = 1; i <= (opts.messages ?? 3); i++) {
    await pause();
    const m = await operatorWrites(
      core,
      portal,
      { connector, line, externalChatId, text: `Operator message ${i}` },
      send,
    );
    written.push(m.message.id);
    steps.push(step(`operator writes ${i}`, m.delivery));
    if (m.delivery.deliveries.length) await awaitStatus(core, portal, m.message.id, opts.statusWaitMs ?? 1000);
  }
  if (written.length > 0) {
    await pause();
    steps.push(
      step('operator edits', await operatorEdits(core, portal, written[0]!, 'Operator message 1 (edited)', send)),
    );
    await pause();
    steps.push(step('operator deletes', await operatorDeletes(core, portal, written.at(-1)!, send)));
  }
  await pause();
  steps.push(step('dialog finish', await dialogEvent(core, portal, chat, 'finish', send)));
  return finish('conversation', steps, [portal]);
}

/** A bot gets a personal message, is mentioned in a group chat, sees the mention edited and the first message deleted. */
async function bot(host: ScenarioHost, opts: ScenarioOptions): Promise<ScenarioResult> {
  const { core } = host;
  const portal = core.portal(opts.portal);
  let target: BotState | undefined = [...portal.bots.values()][0];
  if (!target) {
    if (!opts.handlerUrl)
      throw new SandboxError(
        'B24SB_BAD_REQUEST',
        'No bot is registered on the portal; register one with imbot.register or pass handlerUrl',
      );
    const events = [
      'ONIMBOTMESSAGEADD',
      'ONIMBOTMESSAGEUPDATE',
      'ONIMBOTMESSAGEDELETE',
      'ONIMBOTJOINCHAT',
      'ONIMBOTDELETE',
    ];
    target = {
      id: portal.nextUserId(),
      code: 'sandbox_bot',
      type: 'S',
      openline: false,
      properties: { NAME: 'Sandbox Bot' },
      handlers: {},
    };
    for (const e of events) target.handlers[e] = opts.handlerUrl;
    portal.bots.set(target.id, target);
    for (const e of events) portal.bind(e, opts.handlerUrl, 0, target.id);
  }
  const bots = [{ id: target.id, code: target.code, name: String(target.properties.NAME ?? target.code) }];
  const send = sendOpts(opts);
  const personal: BotMessageInput = { bots, chatType: 'P', chatId: 1401, messageId: 84331, text: 'Hello' };
  const group: BotMessageInput = {
    bots,
    chatType: 'C',
    chatId: 1157,
    messageId: 84351,
    text: ', how to set up the left menu',
    chatTitle: 'Sandbox group',
  };
  const steps = [
    step('personal message', await botEvent(core, portal, 'add', personal, send)),
    step('mentioned in group', await botEvent(core, portal, 'add', group, send)),
    step(
      'mention edited',
      await botEvent(core, portal, 'update', { ...group, text: ', how to set up the left menu, please' }, send),
    ),
    step(
      'personal message deleted',
      await botEvent(core, portal, 'delete', { ...personal, text: 'Message has been deleted' }, send),
    ),
  ];
  return finish('bot', steps, [portal]);
}

/**
 * A Chatbots 2.0 conversation, in the bot's mode (webhook: posted; fetch: queued for Event.get):
 * the bot is added to a group chat, gets a private message, sees it edited, is called with a slash
 * command, gets a reaction to its message, is mentioned in the group, sees the first message deleted.
 */
async function chatbot(host: ScenarioHost, opts: ScenarioOptions): Promise<ScenarioResult> {
  const { core } = host;
  const portal = core.portal(opts.portal);
  if (opts.faults) core.setFaults(opts.faults);
  const v2 = (id: number) => {
    const s = portal.chatbots.settings.get(id);
    return s?.version === 2 && !s.deleted;
  };
  let botId = opts.botId ?? [...portal.bots.keys()].find(v2);
  if (botId === undefined) {
    const mode = opts.mode ?? (opts.handlerUrl ? 'webhook' : 'fetch');
    if (mode === 'webhook' && !opts.handlerUrl)
      throw new SandboxError(
        'B24SB_BAD_REQUEST',
        'A webhook-mode chatbot scenario needs handlerUrl, or a bot registered with imbot.v2.Bot.register',
      );
    const fields = {
      code: 'sandbox_chatbot',
      type: 'bot',
      eventMode: mode,
      properties: { name: 'Sandbox Bot' },
      ...(mode === 'webhook' ? { webhookUrl: opts.handlerUrl } : {}),
    };
    const made = (await botRegister({ core, portal, userId: portal.adminUserId, params: {}, raw: { fields } })) as {
      bot: { id: number };
    };
    botId = made.bot.id;
  }
  if (!v2(botId))
    throw new SandboxError('B24SB_NOT_FOUND', `Bot ${botId} is not a Chatbots 2.0 bot of portal ${portal.memberId}`);
  const act = async (name: string, a: ChatbotAct) => {
    const outcome = await chatbotAct(core, portal, a);
    const bots = outcome.results.filter((r) => r.code.startsWith('ONIMBOTV2'));
    const result: DeliveryResult = {
      code: bots[0]?.code ?? outcome.results[0]?.code ?? '',
      ok: bots.every((r) => r.ok),
      deliveries: bots.flatMap((r) => r.deliveries),
      queued: outcome.results.flatMap((r) => r.queued ?? []),
    };
    return { outcome, step: step(name, result) };
  };
  const steps: ScenarioStep[] = [];
  const joined = await act('added to a group chat', { kind: 'join', botId, title: 'Sandbox group' });
  steps.push(joined.step);
  const written = await act('private message', { kind: 'write', botId, text: 'Hello' });
  steps.push(written.step);
  steps.push(
    (await act('message edited', { kind: 'edit', messageId: written.outcome.messageId!, text: 'Hello (edited)' })).step,
  );
  await commandRegister({
    core,
    portal,
    userId: portal.adminUserId,
    params: {},
    raw: { botId, fields: { command: 'help', title: { en: 'Help' } } },
  });
  steps.push((await act('slash command', { kind: 'command', botId, command: 'help', params: 'topic' })).step);
  // A reaction needs a message of the bot's: its latest in the private chat, or a greeting written for it.
  const chatId = written.outcome.chatId;
  const latest = [...portal.chatbots.messages.values()]
    .filter((m) => m.chatId === chatId && m.authorId === botId && !m.deleted)
    .at(-1);
  const reply =
    latest ??
    portal.chatbots.addMessage({
      chatId,
      authorId: botId,
      text: 'Hello! How can I help?',
      date: isoDate(core.clock.now()),
      system: false,
      params: {},
    });
  steps.push((await act('reaction to the bot', { kind: 'react', messageId: reply.id })).step);
  steps.push(
    (await act('mentioned in the group', { kind: 'write', botId, chatId: joined.outcome.chatId, text: 'what is new?' }))
      .step,
  );
  steps.push((await act('private message deleted', { kind: 'delete', messageId: written.outcome.messageId! })).step);
  return finish('chatbot', steps, [portal]);
}

/** Installs the application on new portals, then each portal's operator writes messages. */
async function portals(host: ScenarioHost, opts: ScenarioOptions): Promise<ScenarioResult> {
  if (!opts.handlerUrl)
    throw new SandboxError('B24SB_BAD_REQUEST', 'The portals scenario needs handlerUrl (where ONAPPINSTALL goes)');
  const { core } = host;
  const created = Array.from({ length: opts.count ?? 3 }, () => core.addPortal());
  const steps: ScenarioStep[] = [];
  for (const p of created) steps.push(step(`install ${p.memberId}`, await host.install(p, opts.handlerUrl)));
  // After ONAPPINSTALL the application binds its handlers; give it a moment, then fall back to handlerUrl.
  for (const p of created) {
    const { connector, line } = connectorOf(p, opts);
    const bound = await waitUntil(() => p.handlersFor('ONIMCONNECTORMESSAGEADD').length > 0, 1000);
    const send = bound ? {} : { handlerUrl: opts.handlerUrl };
    for (let i = 1; i <= (opts.messages ?? 2); i++) {
      const m = await operatorWrites(
        core,
        p,
        { connector, line, externalChatId: `sandbox-chat-${p.memberId.slice(0, 8)}`, text: `Hello ${i}` },
        send,
      );
      steps.push(step(`${p.memberId} operator writes ${i}`, m.delivery));
    }
  }
  return finish('portals', steps, created);
}

async function waitUntil(test: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() >= end) return false;
    await sleep(20);
  }
  return true;
}

/** Operator messages at `rate` per second for `seconds`, each sent on schedule whatever the handler's speed. */
async function load(host: ScenarioHost, opts: ScenarioOptions): Promise<ScenarioResult> {
  const { core } = host;
  const portal = core.portal(opts.portal);
  const { connector, line } = connectorOf(portal, opts);
  const rate = opts.rate ?? 10;
  const total = Math.max(1, Math.round(rate * (opts.seconds ?? 5)));
  const send = sendOpts(opts);
  const started = performance.now();
  const pending: Promise<DeliveryResult>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const externalChatId = `load-${i % 20}`;
    pending.push(
      operatorWrites(core, portal, { connector, line, externalChatId, text: `Load message ${i + 1}` }, send).then(
        (m) => m.delivery,
      ),
    );
  }
  const results = await Promise.all(pending);
  const durationMs = performance.now() - started;
  const deliveries = results.flatMap((r) => r.deliveries);
  const latencies = deliveries.map((d) => d.ms).sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  const statuses: Record<string, number> = {};
  for (const d of deliveries) statuses[String(d.status)] = (statuses[String(d.status)] ?? 0) + 1;
  const okCount = deliveries.filter((d) => d.ok).length;
  const loadStats: LoadStats = {
    sent: deliveries.length,
    ok: okCount,
    failed: deliveries.length - okCount,
    statuses,
    latencyMs: { p50: pct(50), p95: pct(95), max: latencies.at(-1) ?? 0 },
    durationMs: Math.round(durationMs),
    achievedRate: Math.round((total / (durationMs / 1000)) * 10) / 10,
  };
  // Per-message detail stays in the recorder; the answer carries the numbers only.
  return {
    name: 'load',
    ok: loadStats.sent > 0 && loadStats.failed === 0,
    steps: [],
    deliveries: [],
    portals: [portal.memberId],
    load: loadStats,
  };
}

export const scenarios: Record<ScenarioName, (host: ScenarioHost, opts: ScenarioOptions) => Promise<ScenarioResult>> = {
  conversation,
  bot,
  chatbot,
  portals,
  load,
};

export const scenarioNames = Object.keys(scenarios) as ScenarioName[];
