import { afterEach, expect, it } from 'vitest';
import { Gateway, imbotV2, startServer, type RunningServer } from '../src/index.js';
import { formFixture } from './fixtures.js';
import { tempDir } from './helpers.js';

// The "Writing a connector" example from the README, with a stand-in messenger: if the
// README's API stops existing or stops type-checking, this file fails.
const sent: string[] = [];
const myMessenger = {
  send: async (chat: string, text: string | null) => (sent.push(`send ${chat} ${text}`), { id: `m-${sent.length}` }),
  edit: async (id: string | undefined, text: string | null) => void sent.push(`edit ${id} ${text}`),
  remove: async (id: string | undefined) => void sent.push(`remove ${id}`),
};

const tmp = tempDir();
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  tmp.cleanup();
});

it('the README connector example works as written', async () => {
  const gateway = new Gateway({
    db: `${tmp.dir}/connector.db`,
    appTokens: new Map([['bac1cd5c8940947a75e0d71b1a84e348', '831c76b092f9f135d9b6b36c3a720757']]),
    bitrix: { clientId: process.env.B24_CLIENT_ID, clientSecret: process.env.B24_CLIENT_SECRET },
    channel: {
      format: 'html',
      deliver: async (payload) => {
        if (payload.type === 'message.created') {
          const msg = await myMessenger.send(payload.chat.externalId, payload.message.text);
          return { externalIds: [msg.id] };
        }
        if (payload.type === 'message.updated')
          await myMessenger.edit(payload.message.externalIds[0], payload.message.text);
        if (payload.type === 'message.deleted') await myMessenger.remove(payload.message.externalIds[0]);
      },
    },
  });
  const sessions: number[] = [];
  gateway.on('ONIMCONNECTORDIALOGSTART', async (event, ctx) => {
    for (const item of event.data.DATA ?? event.data.MESSAGES ?? []) {
      ctx.log.info({ session: item.session.id }, 'dialog started');
      sessions.push(item.session.id);
    }
  });
  gateway.on('ONIMBOTMESSAGEUPDATE', async (event, ctx) => {
    await ctx.rest.call('imbot.message.add', {
      BOT_ID: ctx.bot?.id,
      DIALOG_ID: event.data.PARAMS.DIALOG_ID,
      MESSAGE: 'Noted.',
    });
  });
  gateway.onError((error, event) => console.error(event.event, error.message));
  server = await startServer(gateway, { port: 0 });

  const post = (body: string) =>
    fetch(`${server!.url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  expect((await post(formFixture('imconnector-message-add'))).status).toBe(200);
  expect((await post(formFixture('imconnector-message-update'))).status).toBe(200);
  // The dialog fixture comes from another portal: sent as the configured one.
  const dialog = formFixture('imconnector-dialog-start')
    .replace('a223c6b3710f85df22e9377d6c4f7553', 'bac1cd5c8940947a75e0d71b1a84e348')
    .replace('51856fefc120afa4b628cc82d3935cce', '831c76b092f9f135d9b6b36c3a720757');
  expect((await post(dialog)).status).toBe(200);
  await gateway.drain();
  expect(sessions).toEqual([3282]);
  expect(sent).toEqual([
    'send channel-123 <b>Klaus Weber:</b> <br>Guten Tag!',
    'edit ext-msg-005 <b>Samantha Johnson:</b><br> What questions do you have?',
  ]);
});

it('the README Chatbots 2.0 example type-checks as written', async () => {
  const gateway = new Gateway({ db: `${tmp.dir}/bot.db` });
  const memberId = 'bac1cd5c8940947a75e0d71b1a84e348';
  // Registering needs an installed portal: only its type is checked here (the sandbox test runs it).
  const register = () =>
    gateway.bitrix.forPortal(memberId).call('imbot.v2.Bot.register', {
      fields: {
        code: 'support_bot',
        eventMode: 'webhook',
        webhookUrl: 'https://your-host/events',
        properties: { name: 'Support Bot' },
      },
    });
  expect(typeof register).toBe('function');
  gateway.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
    await imbotV2(ctx).reply(event, `Received: ${event.data.message.text}`);
  });
  gateway.on('ONIMBOTV2COMMANDADD', async (event, ctx) => {
    await imbotV2(ctx).answer(event, 'Command executed');
  });
  gateway.on('ONIMBOTV2JOINCHAT', (event, ctx) =>
    imbotV2(ctx).send(event.data.dialogId, { message: 'Hello!', urlPreview: false }),
  );
  await gateway.close();
});
