// The gateway's intake in a Hono app (Bun, Deno, Cloudflare-style runtimes, or @hono/node-server).
import { Hono } from 'hono';
import { Gateway } from 'b24-im-gateway';

const gateway = new Gateway({ db: process.env.DB ?? './events.db' });
gateway.on('ONIMCONNECTORMESSAGEADD', (event, ctx) => ctx.log.info({ line: event.data.LINE }, 'operator wrote'));
gateway.start();

const app = new Hono();
app.post('/bitrix/events', (c) => gateway.fetch(c.req.raw));
app.get('/hello', (c) => c.json({ ok: true }));

export default app;
