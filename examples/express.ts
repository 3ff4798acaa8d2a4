// The gateway's intake inside an Express app of your own; the worker runs in the same process.
import express from 'express';
import { Gateway } from 'b24-im-gateway';

const gateway = new Gateway({ db: process.env.DB ?? './events.db' });
gateway.on('ONIMBOTMESSAGEADD', (event, ctx) => ctx.log.info({ dialog: event.data.PARAMS.DIALOG_ID }, 'bot message'));

const app = express();
app.use(gateway.nodeHandler({ path: '/bitrix/events' })); // before any body parser: it reads the raw body
app.use(express.json());
app.get('/hello', (_req, res) => void res.json({ ok: true }));

gateway.start(); // the worker
const listener = app.listen(Number(process.env.PORT ?? 3000));
process.on('SIGTERM', () => listener.close(() => void gateway.close()));
