// A Chatbots 2.0 bot (imbot.v2.Bot.register with eventMode "webhook" and the gateway's /events).
import { Gateway, imbotV2, startServer } from 'b24-im-gateway';

const gateway = new Gateway({
  db: process.env.DB ?? './chatbot.db',
  bitrix: { clientId: process.env.B24_CLIENT_ID, clientSecret: process.env.B24_CLIENT_SECRET },
});

gateway.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
  await imbotV2(ctx).reply(event, `Received: ${event.data.message.text}`);
});
gateway.on('ONIMBOTV2COMMANDADD', async (event, ctx) => {
  await imbotV2(ctx).answer(event, 'Command executed');
});
gateway.on('ONIMBOTV2JOINCHAT', (event, ctx) => imbotV2(ctx).send(event.data.dialogId, { message: 'Hello!' }));

const server = await startServer(gateway, { port: Number(process.env.PORT ?? 3000) });
process.on('SIGTERM', () => void server.close());
