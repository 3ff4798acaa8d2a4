import { connectorCodes } from '../../../events/registry.js';
import { callRest, httpBuildQuery } from '@b24-im-gateway/sandbox';
import type { Env } from './environment.js';
import { short } from './format.js';
import { step } from './step.js';
import type { DemoResult } from './types.js';

// The first steps: the application is installed and binds its handlers, as its install handler would.

/** The demo application's connector and Open Line. */
export const CONNECTOR = 'demo_channel';
export const LINE = 1;

/** The events the demo application binds to the gateway, as its install handler would. */
const BOUND_EVENTS = [...connectorCodes, 'ONOPENLINEMESSAGEUPDATE'];

/** Installs the application and binds its handlers; returns the access token the application then uses. */
export async function setUp(env: Env, result: DemoResult): Promise<string> {
  const { sb, portal, paint } = env;
  let accessToken = '';

  await step(env, result, 'Install the application (ONAPPINSTALL, confirmed by app.info)', async (s) => {
    const installed = await sb.install(portal, env.eventsUrl);
    accessToken = installed.tokens.access_token;
    const [id] = s.delivered(installed);
    s.printBack();
    const appInfo = sb.recorder
      .calls({ method: 'app.info' })
      .filter((c) => c.seq > s.mark && c.memberId === portal.memberId && c.httpStatus === 200);
    s.check(appInfo.length === 1, `expected one successful app.info call-back for the portal, saw ${appInfo.length}`);
    if (id === undefined) return;
    await s.done([id]);
    const stored = await env.store.getPortal(portal.memberId);
    // With an OAuth client the gateway binds the install to its member_id by spending its refresh
    // token, so the stored pair is the one the authorization server answered with.
    const exchanged = sb.recorder.tokenRequests().some((t) => t.ok && t.memberId === portal.memberId);
    s.check(
      stored?.domain === portal.domain && !!stored.accessToken && exchanged,
      'the portal and its freshly exchanged tokens were not stored',
    );
    accessToken = stored?.accessToken ?? accessToken;
    if (stored)
      s.line(
        'gateway store',
        `portal ${short(stored.memberId)} at ${stored.domain}: application_token and OAuth pair kept`,
      );
    s.channelGot(id, []);
  });

  await step(
    env,
    result,
    'The application binds its handlers (one batch: imconnector.register/activate, event.bind, imbot.register)',
    async (s) => {
      const icon = 'data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=';
      const cmd: Record<string, string> = {
        register: `imconnector.register?${httpBuildQuery({ ID: CONNECTOR, NAME: 'Demo channel', ICON: { DATA_IMAGE: icon }, PLACEMENT_HANDLER: `${env.gateway.url}/placement` })}`,
        activate: `imconnector.activate?${httpBuildQuery({ CONNECTOR, LINE, ACTIVE: 1 })}`,
        ...Object.fromEntries(
          BOUND_EVENTS.map((e) => [
            `bind_${e.toLowerCase()}`,
            `event.bind?${httpBuildQuery({ event: e, handler: env.eventsUrl })}`,
          ]),
        ),
        bot: `imbot.register?${httpBuildQuery({ CODE: 'demo_bot', TYPE: 'B', OPENLINE: 'Y', EVENT_HANDLER: env.eventsUrl, PROPERTIES: { NAME: 'Demo Bot', COLOR: 'AQUA' } })}`,
      };
      const reply = await callRest(sb.restUrl, 'batch', { auth: accessToken, halt: 1, cmd });
      const body = reply.body as {
        result?: { result?: Record<string, unknown>; result_error?: Record<string, unknown> | unknown[] };
      };
      const errors = body.result?.result_error;
      const errorCount = errors ? Object.keys(errors).length : 0;
      const results = body.result?.result ?? {};
      const registered = (results.register as { result?: unknown } | undefined)?.result === true;
      const botId = results.bot;
      s.line(
        'application -> Bitrix24',
        `${paint.bold('batch')} of ${Object.keys(cmd).length}: imconnector.register ${CONNECTOR}, imconnector.activate line ${LINE}, event.bind x${BOUND_EVENTS.length} -> ${env.eventsUrl}, imbot.register demo_bot`,
      );
      s.line(
        '',
        `<- ${reply.status === 200 && errorCount === 0 ? paint.ok('200') : paint.bad(String(reply.status))}, connector registered: ${registered}, bot id ${String(botId)}, ${errorCount} errors`,
      );
      s.check(
        reply.status === 200 && errorCount === 0 && registered && typeof botId === 'number',
        `the setup batch failed: ${JSON.stringify(errors ?? body).slice(0, 200)}`,
      );
      const bound = portal.handlers.filter((h) => h.handler === env.eventsUrl);
      const byBot = bound.filter((h) => h.botId !== undefined).length;
      s.line(
        '',
        paint.dim(
          `handlers now bound to the gateway: ${bound.length} (${bound.length - byBot - 1} by event.bind, ${byBot} by imbot.register, ONAPPINSTALL by the install)`,
        ),
      );
      s.check(
        bound.length - byBot - 1 === BOUND_EVENTS.length,
        `expected ${BOUND_EVENTS.length} handlers bound by event.bind`,
      );
      s.sent = 'REST setup (batch)';
    },
  );

  return accessToken;
}
