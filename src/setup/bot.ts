import type { BatchCall } from '../effects/bitrix/batch.js';
import type { PortalClient } from '../effects/bitrix/client.js';
import { GatewayError } from '../errors.js';
import { setupFailed, writeSteps, type SetupReport, type SetupStep, type WriteCall } from './steps.js';

/*
 * A Chatbots 2.0 bot set up on an installed portal: registered (imbot.v2.Bot.register) with its
 * events posted to the gateway (webhook) or kept for it to fetch (fetch), its slash commands
 * registered; and unregistered again. Reads first (imbot.v2.Bot.list), so a second run registers
 * nothing new: it updates the bot's mode and URL, and registers its commands again (Bitrix24
 * answers a known command with the one it has).
 */

export interface BotCommand {
  /** Without the `/`. */
  command: string;
  /** Its title by language, e.g. `{ en: 'Show help' }`; needed unless hidden. */
  title?: Record<string, string>;
  /** A hint for its parameters, by language. */
  params?: Record<string, string>;
  /** Available in any chat, not only where the bot is. */
  common?: boolean;
  hidden?: boolean;
}

export interface BotSetupOptions {
  /** The bot's code, unique within the application. */
  code: string;
  name: string;
  lastName?: string;
  workPosition?: string;
  /** `bot` (default), `supervisor`, `openline`, `network`, `personal`. */
  type?: string;
  /** Where its events go: POSTed to the gateway's URL, or kept for the gateway to fetch with imbot.v2.Event.get. */
  delivery: { webhook: string } | { fetch: true };
  /** It may answer in Open Lines. */
  openline?: boolean;
  commands?: readonly BotCommand[];
  dryRun?: boolean;
}

interface ListedBot {
  id: number;
  code: string;
  eventMode?: string;
}

/** The application's bots, every page of imbot.v2.Bot.list. */
async function listBots(client: PortalClient): Promise<ListedBot[]> {
  const bots: ListedBot[] = [];
  for (let offset = 0; ; offset += 50) {
    let page: { bots?: unknown; hasNextPage?: unknown };
    try {
      page = await client.call<{ bots?: unknown; hasNextPage?: unknown }>('imbot.v2.Bot.list', { limit: 50, offset });
    } catch (e) {
      throw setupFailed(e, []);
    }
    const list = Array.isArray(page?.bots) ? (page.bots as ListedBot[]) : [];
    bots.push(...list);
    if (page?.hasNextPage !== true || list.length === 0) return bots;
  }
}

const validCode = /^[A-Za-z0-9_.-]{1,255}$/;

/**
 * Sets a bot up on one portal: registered if the application has none with its code (else
 * updated to the mode and URL given), then its commands. Throws B24GW_SETUP_FAILED naming the
 * call that failed and what was done before it.
 */
export async function setupBot(client: PortalClient, o: BotSetupOptions): Promise<SetupReport> {
  if (!validCode.test(o.code))
    throw new GatewayError('B24GW_BAD_INPUT', `The bot's code must be letters, digits, _, . and -, got "${o.code}"`);
  if (!o.name.trim()) throw new GatewayError('B24GW_BAD_INPUT', 'The bot needs a name (--name)');
  if ('webhook' in o.delivery && !/^https?:\/\/[^\s]+$/i.test(o.delivery.webhook))
    throw new GatewayError('B24GW_BAD_INPUT', `The events URL must be http(s), got "${o.delivery.webhook}"`);
  for (const c of o.commands ?? []) {
    if (!/^[^\s/][^\s]*$/.test(c.command))
      throw new GatewayError('B24GW_BAD_INPUT', `A command is a word without / or spaces, got "${c.command}"`);
  }
  const mode =
    'webhook' in o.delivery ? { eventMode: 'webhook', webhookUrl: o.delivery.webhook } : { eventMode: 'fetch' };
  const where =
    'webhook' in o.delivery ? `events posted to ${o.delivery.webhook}` : 'events kept for the gateway to fetch';
  const known = (await listBots(client)).find((b) => b.code === o.code);
  const steps: SetupStep[] = [];
  let botId = known?.id;
  if (botId === undefined) {
    const fields = {
      code: o.code,
      type: o.type ?? 'bot',
      ...mode,
      isSupportOpenline: o.openline === true,
      properties: {
        name: o.name,
        ...(o.lastName ? { lastName: o.lastName } : {}),
        ...(o.workPosition ? { workPosition: o.workPosition } : {}),
      },
    };
    const register: WriteCall = {
      call: { method: 'imbot.v2.Bot.register', params: { fields } },
      summary: `register bot ${o.code} ("${o.name}", ${where})`,
    };
    if (o.dryRun)
      return {
        steps: [
          ...(await writeSteps(client, [register], true)),
          ...(o.commands ?? []).map((c) => commandStep(undefined, c)),
        ],
      };
    steps.push(...(await writeSteps(client, [register])));
    botId = (await listBots(client)).find((b) => b.code === o.code)?.id;
    if (botId === undefined)
      throw setupFailed(new Error(`imbot.v2.Bot.register answered, but imbot.v2.Bot.list has no bot ${o.code}`), steps);
  } else {
    steps.push({
      outcome: 'kept',
      method: 'imbot.v2.Bot.register',
      params: { code: o.code },
      summary: `bot ${o.code} is registered (id ${botId})`,
    });
  }
  const calls: WriteCall[] = [];
  if (known)
    calls.push({
      call: {
        method: 'imbot.v2.Bot.update',
        params: { botId, fields: { ...mode, isSupportOpenline: o.openline === true } },
      },
      summary: `update bot ${o.code}: ${where}`,
    });
  for (const c of o.commands ?? []) calls.push(commandCall(botId, c));
  return {
    steps: [
      ...steps,
      ...(await writeSteps(
        client,
        calls,
        o.dryRun,
        steps.filter((s) => s.outcome === 'done'),
      )),
    ],
  };
}

const commandCall = (botId: number, c: BotCommand): WriteCall => ({
  call: {
    method: 'imbot.v2.Command.register',
    params: {
      botId,
      fields: {
        command: c.command,
        ...(c.title ? { title: c.title } : {}),
        ...(c.params ? { params: c.params } : {}),
        common: c.common === true,
        hidden: c.hidden === true,
      },
    },
  },
  summary: `register command /${c.command}`,
});

const commandStep = (botId: number | undefined, c: BotCommand): SetupStep => {
  const { call, summary } = commandCall(botId ?? 0, c);
  return {
    outcome: 'planned',
    method: call.method,
    params: { ...(call.params ?? {}), botId: botId ?? '(the new bot)' },
    summary,
  };
};

/** Unregisters the application's bot with this code (its commands and subscriptions go with it). */
export async function teardownBot(client: PortalClient, o: { code: string; dryRun?: boolean }): Promise<SetupReport> {
  const known = (await listBots(client)).find((b) => b.code === o.code);
  if (!known)
    return {
      steps: [
        {
          outcome: 'kept',
          method: 'imbot.v2.Bot.unregister',
          params: { code: o.code },
          summary: `no bot ${o.code} is registered`,
        },
      ],
    };
  const call: BatchCall = { method: 'imbot.v2.Bot.unregister', params: { botId: known.id } };
  return {
    steps: await writeSteps(client, [{ call, summary: `unregister bot ${o.code} (id ${known.id})` }], o.dryRun),
  };
}
