import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';
import { afterEach, expect, it } from 'vitest';
import { Gateway, imbotV2, type RunningServer } from '../src/index.js';
import { tempDir } from './helpers.js';

/**
 * The README's examples, read from README.md itself: if the README's code stops working, this
 * file fails. The connector example runs as written against the sandbox (a fake Bitrix24), with
 * only these changes, each of which must find its text: the package import points at the source,
 * the database at a temporary file, the port at any free one, the OAuth server and the allowed
 * domain at the sandbox, and the SIGTERM line is left to the test.
 */
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The first TypeScript block under a README heading. */
function example(heading: string): string {
  const at = readme.indexOf(`\n## ${heading}\n`);
  const block = at < 0 ? null : /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error(`README.md has no TypeScript example under "## ${heading}"`);
  return block[1]!;
}

/** Replaces text that must be there. */
function edit(code: string, from: string, to: string): string {
  if (!code.includes(from)) throw new Error(`the README example no longer holds: ${from}`);
  return code.replace(from, to);
}

const sent: string[] = [];
const myMessenger = {
  send: async (chat: string, text: string | null) => (sent.push(`send ${chat} ${text}`), { id: `m-${sent.length}` }),
  edit: async (id: string | undefined, text: string | null) => void sent.push(`edit ${id} ${text}`),
  remove: async (id: string | undefined) => void sent.push(`remove ${id}`),
};

const tmp = tempDir();
let server: RunningServer | undefined;
let sb: Sandbox | undefined;
afterEach(async () => {
  await server?.close();
  await sb?.stop();
  tmp.cleanup();
});

it('the README connector example runs as written: channel send, edit and delete, the dialog handler and the bot handler', async () => {
  sb = await startSandbox();
  process.env.B24_CLIENT_ID = sb.clientId;
  process.env.B24_CLIENT_SECRET = sb.clientSecret;
  let code = example('Writing a connector');
  code = edit(
    code,
    "from 'b24-im-gateway'",
    `from ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))}`,
  );
  code = edit(
    code,
    "db: './connector.db',",
    `db: ${JSON.stringify(`${tmp.dir}/connector.db`)}, allowDomains: ['127.0.0.1:*'],`,
  );
  code = edit(code, 'bitrix: { clientId:', `bitrix: { oauthServer: ${JSON.stringify(sb.url)}, clientId:`);
  code = edit(code, '{ port: 3000 }', '{ port: 0 }');
  code = edit(code, "process.on('SIGTERM', () => void server.close());", '');
  const module = `${tmp.dir}/readme-connector.ts`;
  writeFileSync(
    module,
    `const myMessenger = (globalThis as unknown as { myMessenger: never }).myMessenger;\n${code}\nexport { gateway, server };\n`,
  );
  (globalThis as unknown as { myMessenger: typeof myMessenger }).myMessenger = myMessenger;
  const loaded = (await import(module)) as { gateway: Gateway; server: RunningServer };
  server = loaded.server;
  const { gateway } = loaded;
  const events = `${server.url}/events`;

  // Installed through the sandbox's OAuth server, bound, with a v1 bot registered by the application.
  const portal = sb.portal;
  expect((await sb.install(portal, events)).deliveries[0]?.status).toBe(200);
  for (const e of [
    'ONIMCONNECTORMESSAGEADD',
    'ONIMCONNECTORMESSAGEUPDATE',
    'ONIMCONNECTORMESSAGEDELETE',
    'ONIMCONNECTORDIALOGSTART',
  ])
    portal.bind(e, events);
  const botId = await gateway.bitrix.forPortal(portal.memberId).call<number>('imbot.register', {
    CODE: 'readme_bot',
    TYPE: 'B',
    OPENLINE: 'Y',
    EVENT_HANDLER: events,
    PROPERTIES: { NAME: 'Readme Bot' },
  });

  const chat = portal.chatFor('myconnector', 1, 'ext-chat', 'ext-user');
  expect((await sb.act.dialog(portal, chat.id, 'start')).deliveries[0]?.status).toBe(200);
  const m = await sb.act.operatorWrites(portal, {
    connector: 'myconnector',
    line: 1,
    externalChatId: 'ext-chat',
    text: 'Hello',
  });
  // The channel's id reaches Bitrix24 with the delivery status: the edit and the delete carry it.
  await sb.recorder.waitFor('status', (st) => st.messageId === m.message.id, 20_000);
  expect((await sb.act.operatorEdits(portal, m.message.id, 'Hello again')).deliveries[0]?.status).toBe(200);
  expect((await sb.act.operatorDeletes(portal, m.message.id)).deliveries[0]?.status).toBe(200);
  const bot = await sb.act.bot(portal, 'update', {
    bots: [{ id: botId, code: 'readme_bot' }],
    chatType: 'P',
    chatId: 1157,
    messageId: 84351,
    text: 'edited for the bot',
  });
  expect(bot.deliveries[0]?.status).toBe(200);
  await gateway.drain();

  expect(sent).toEqual(['send ext-chat <b>Sandbox Operator:</b> <br>Hello', 'edit m-1 Hello again', 'remove m-1']);
  const replies = sb.recorder.calls({ method: 'imbot.message.add' }).map((c) => c.params);
  expect(replies).toEqual([expect.objectContaining({ BOT_ID: botId, MESSAGE: 'Noted.' })]);
  expect(String(replies[0]!.DIALOG_ID)).not.toBe('');
  expect(await gateway.store.countEvents(['done', 'retry', 'dead'])).toEqual({ done: 6, retry: 0, dead: 0 });
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
