// A v1 chat bot (registered with imbot.register): answers every message in its dialogs.
import { Gateway, startServer } from 'b24-im-gateway';

const gateway = new Gateway({
  db: process.env.DB ?? './bot.db',
  bitrix: { clientId: process.env.B24_CLIENT_ID, clientSecret: process.env.B24_CLIENT_SECRET },
});

gateway.on('ONIMBOTMESSAGEADD', async (event, ctx) => {
  // ctx.bot is the bot the event is for, with its own auth; ctx.rest calls the portal.
  await ctx.rest.call('imbot.message.add', {
    BOT_ID: ctx.bot?.id,
    DIALOG_ID: event.data.PARAMS.DIALOG_ID,
    MESSAGE: `You wrote: ${event.data.PARAMS.MESSAGE}`,
  });
});

const server = await startServer(gateway, { port: Number(process.env.PORT ?? 3000) });
process.on('SIGTERM', () => void server.close());
