// An Open Lines connector: operators' messages go to your messenger, its ids go back to Bitrix24
// as delivery statuses. Run: B24_CLIENT_ID=... B24_CLIENT_SECRET=... node connector.js
import { Gateway, startServer, type ChannelPayload } from 'b24-im-gateway';

// Your messenger; here it only prints, and makes up the ids a real one would give.
let sent = 0;
const myMessenger = {
  send: async (chatId: string, text: string | null) => {
    console.log(`to ${chatId}: ${text ?? ''}`);
    return { id: `my-msg-${++sent}` };
  },
};

const gateway = new Gateway({
  db: process.env.DB ?? './connector.db',
  bitrix: {
    clientId: process.env.B24_CLIENT_ID,
    clientSecret: process.env.B24_CLIENT_SECRET,
    // For the sandbox: its OAuth server, and its loopback domain on the allow-list.
    ...(process.env.B24_OAUTH_SERVER ? { oauthServer: process.env.B24_OAUTH_SERVER } : {}),
  },
  ...(process.env.B24_ALLOW_DOMAINS ? { allowDomains: process.env.B24_ALLOW_DOMAINS.split(',') } : {}),
  channel: {
    format: 'text',
    deliver: async (payload: ChannelPayload) => {
      if (payload.type !== 'message.created') return; // 2xx for what you do not handle
      const message = await myMessenger.send(payload.chat.externalId, payload.message.text);
      return { externalIds: [message.id] }; // Bitrix24 learns your id of the message
    },
  },
});

gateway.on('ONIMCONNECTORDIALOGSTART', (event, ctx) => {
  for (const item of event.data.DATA ?? event.data.MESSAGES ?? [])
    ctx.log.info({ session: item.session.id }, 'dialog started');
});

const server = await startServer(gateway, { port: Number(process.env.PORT ?? 3000) });
console.log(`listening on ${server.url}/events`);
process.on('SIGTERM', () => void server.close());
