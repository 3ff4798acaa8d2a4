import { Gateway } from '../../src/gateway.js';
import { consoleRoutes } from '../../src/console/routes.js';
import { startServer, type RunningServer } from '../../src/server/start.js';
import { callRest, startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';

export const LINE = 107;
export const CHAT = 'channel-123';
/** The operator's message that is edited twice, the one that is deleted, and the one the channel refused. */
export const EDITED = 86497;
export const DELETED = 86501;
export const REFUSED = 86502;

type Obj = Record<string, unknown>;

/** A running gateway with the console on its admin listener, and a story in its store. */
export interface ConsoleRig {
  gateway: Gateway;
  server: RunningServer;
  sb: Sandbox;
  memberId: string;
  /** The admin listener: the console at `${admin}/console/`. */
  admin: string;
  /** The dead letter: a message the channel refused once (it takes it when replayed). */
  deadId: number;
  /** The Chatbots 2.0 bot the application registered (webhook mode), whose events came too. */
  botId: number;
  close(): Promise<void>;
}

/**
 * A gateway on `db` serving the console, installed by the sandbox's portal and fed what Bitrix24
 * sends on a day on one line: a dialog and its successor, an operator's message edited twice,
 * another deleted, and one the channel refused (a dead letter, taken when replayed).
 */
export async function startConsoleRig(db: string, token?: string): Promise<ConsoleRig> {
  const sb = await startSandbox({ clientId: 'local.console.1', clientSecret: 'console-secret-0123456789' });
  sb.faults.set({ rateLimit: false });
  let refuse = true;
  const gateway = new Gateway({
    db,
    allowDomains: [new URL(sb.url).host],
    bitrix: { clientId: sb.clientId, clientSecret: sb.clientSecret, oauthServer: sb.url },
    worker: { schedule: [], pollMs: 50 },
    defaultMetrics: false,
    // The channel answers each new message with its own id, as a real one does; it refuses one, once.
    channel: {
      deliver: async (p) => {
        if (p.type !== 'message.created') return undefined;
        if (p.message.bitrixMessageId === REFUSED && refuse) {
          refuse = false;
          throw new Error('the channel answered 502 Bad Gateway');
        }
        return { externalIds: [`ch-${p.message.bitrixMessageId}`] };
      },
    },
  });
  const server = await startServer(gateway, {
    port: 0,
    admin: { port: 0, ...(token ? { token } : {}), routes: consoleRoutes({ store: gateway.store }) },
  });
  const portal = sb.portal;
  // The connector is registered and active on the line, so Bitrix24 takes its delivery statuses.
  portal.ensureConnector('myconnector', LINE);
  const events = `${server.url}/events`;
  const install = await sb.install(portal, events);
  if (install.deliveries[0]?.status !== 200) throw new Error('the install was refused');

  const ids: number[] = [];
  const send = async (code: string, data: unknown) => {
    const r = await sb.sendEvent(portal, code, data, { handlerUrl: events });
    const d = r.deliveries[0];
    if (d?.status !== 200) throw new Error(`${code} was refused: ${d?.responseBody ?? d?.error}`);
    ids.push((JSON.parse(d.responseBody ?? '{}') as { id: number }).id);
  };
  const dialog = (id: number, closed: 'N' | 'Y', parent = 0) => ({
    CONNECTOR: 'myconnector',
    LINE,
    DATA: [
      {
        connector: { connector_id: 'myconnector', line_id: LINE, chat_id: CHAT, user_id: 'u-1' },
        session: { id, closed, parent_id: parent, close_term: 10 },
        chat: { id: CHAT },
        user: { id: 'u-1' },
      },
    ],
  });
  const message = (id: number, m: Obj) => ({
    CONNECTOR: 'myconnector',
    LINE,
    MESSAGES: [{ im: { chat_id: 1807, message_id: id }, message: m, chat: { id: CHAT } }],
  });

  await send('ONIMCONNECTORDIALOGSTART', dialog(3280, 'N'));
  await send('ONIMCONNECTORMESSAGEADD', message(EDITED, { user_id: 27, text: '[b]Anna:[/b] Guten Tag!' }));
  await send('ONIMCONNECTORMESSAGEADD', message(DELETED, { user_id: 27, text: 'Wrong chat, sorry' }));
  await send(
    'ONIMCONNECTORMESSAGEUPDATE',
    message(EDITED, { id: [`ch-${EDITED}`], text: 'Guten Tag! Wie kann ich helfen?' }),
  );
  await send(
    'ONIMCONNECTORMESSAGEUPDATE',
    message(EDITED, { id: [`ch-${EDITED}`], text: 'Guten Tag, Klaus! Wie kann ich helfen?' }),
  );
  await send('ONIMCONNECTORMESSAGEDELETE', message(DELETED, { id: `ch-${DELETED}` }));
  await send('ONIMCONNECTORDIALOGFINISH', dialog(3280, 'Y'));
  await send('ONIMCONNECTORDIALOGSTART', dialog(3281, 'N', 3280));
  await send('ONIMCONNECTORMESSAGEADD', message(REFUSED, { user_id: 27, text: 'Your order has shipped.' }));
  const deadId = ids.at(-1)!;
  // A bot in webhook mode, and a conversation with it as Bitrix24 sends it.
  const registered = await callRest(sb.restUrl, 'imbot.v2.Bot.register', {
    auth: sb.issueTokens(portal).access_token,
    fields: { code: 'helper', properties: { name: 'Helper' }, eventMode: 'webhook', webhookUrl: events },
  });
  const botId = registered.body.result.bot.id as number;
  if (!(await sb.scenario('chatbot')).ok) throw new Error('the bot scenario failed');
  // Each event has run and each delivery status is sent: the story is whole before anyone looks.
  for (let i = 0; i < 200; i++) {
    const left = await gateway.store.countEvents(['pending', 'processing', 'retry']);
    const statuses = (await Promise.all(ids.map((id) => gateway.store.eventStatuses(id)))).flat();
    const unsent = statuses.filter((x) => x.status === 'pending' || x.status === 'sending').length;
    if (left.pending + left.processing + left.retry + unsent === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    gateway,
    server,
    sb,
    memberId: portal.memberId,
    admin: server.adminUrl!,
    deadId,
    botId,
    close: async () => {
      await server.close();
      await sb.stop();
    },
  };
}
