import { z } from 'zod';
import { SandboxError } from './errors.js';
import { hex } from './ids.js';
import { faultsInput } from './faults.js';
import { scenarioNames, type ScenarioName } from './events/scenarios.js';
import type { Portal } from './portal.js';
import type { Sandbox } from './sandbox.js';

/**
 * `/sandbox/...`: drive and inspect the sandbox over HTTP with JSON, so an application in
 * any language can use it. Every body field is optional unless noted; `portal` is a
 * member_id or an index and defaults to the first portal.
 */

export interface ControlAnswer {
  status: number;
  body: unknown;
}

const portalRef = z.union([z.string(), z.number().int().nonnegative()]).optional();
const url = z.url();

const schemas = {
  addPortal: z.strictObject({
    memberId: z.string().optional(),
    domain: z.string().optional(),
    applicationToken: z.string().optional(),
    status: z.enum(['L', 'F', 'D', 'T', 'P', 'S']).optional(),
    scope: z.string().optional(),
    languageId: z.string().optional(),
  }),
  install: z.strictObject({ portal: portalRef, handler: url }),
  applicationToken: z.strictObject({ portal: portalRef, applicationToken: z.string().min(1).optional() }),
  uninstall: z.strictObject({ portal: portalRef, handler: url.optional(), clean: z.boolean().optional() }),
  tokens: z.strictObject({ portal: portalRef, userId: z.number().int().positive().optional() }),
  event: z.strictObject({
    portal: portalRef,
    code: z.string().min(1),
    data: z.unknown(),
    handler: url.optional(),
    withTokens: z.boolean().optional(),
    userId: z.number().int().positive().optional(),
    scope: z.string().optional(),
  }),
  operatorWrites: z.strictObject({
    portal: portalRef,
    connector: z.string().min(1),
    line: z.number().int().positive(),
    externalChatId: z.string().min(1),
    externalUserId: z.string().optional(),
    text: z.string(),
    operatorId: z.number().int().positive().optional(),
    operatorName: z.string().optional(),
    handler: url.optional(),
  }),
  operatorEdits: z.strictObject({
    portal: portalRef,
    messageId: z.number().int().positive(),
    text: z.string(),
    handler: url.optional(),
  }),
  operatorDeletes: z.strictObject({
    portal: portalRef,
    messageId: z.number().int().positive(),
    handler: url.optional(),
  }),
  dialog: z.strictObject({
    portal: portalRef,
    chatId: z.number().int().positive(),
    phase: z.enum(['start', 'finish']),
    handler: url.optional(),
  }),
  bot: z.strictObject({
    portal: portalRef,
    kind: z.enum(['add', 'update', 'delete']),
    bots: z
      .array(z.strictObject({ id: z.number().int().positive(), code: z.string(), name: z.string().optional() }))
      .min(1),
    chatType: z.enum(['P', 'C']),
    chatId: z.number().int().positive(),
    messageId: z.number().int().positive(),
    text: z.string(),
    chatTitle: z.string().optional(),
    language: z.string().optional(),
    mention: z.boolean().optional(),
    handler: url.optional(),
  }),
  chatbot: z.discriminatedUnion('kind', [
    z.strictObject({
      portal: portalRef,
      kind: z.literal('join'),
      botId: z.number().int().positive(),
      chatId: z.number().int().positive().optional(),
      title: z.string().optional(),
      userId: z.number().int().positive().optional(),
    }),
    z.strictObject({
      portal: portalRef,
      kind: z.literal('write'),
      text: z.string(),
      botId: z.number().int().positive().optional(),
      chatId: z.number().int().positive().optional(),
      userId: z.number().int().positive().optional(),
      mention: z.boolean().optional(),
    }),
    z.strictObject({
      portal: portalRef,
      kind: z.literal('edit'),
      messageId: z.number().int().positive(),
      text: z.string(),
    }),
    z.strictObject({ portal: portalRef, kind: z.literal('delete'), messageId: z.number().int().positive() }),
    z.strictObject({
      portal: portalRef,
      kind: z.literal('command'),
      botId: z.number().int().positive(),
      command: z.string().min(1),
      params: z.string().optional(),
      chatId: z.number().int().positive().optional(),
      userId: z.number().int().positive().optional(),
      context: z.enum(['textarea', 'keyboard', 'menu']).optional(),
    }),
    z.strictObject({
      portal: portalRef,
      kind: z.literal('react'),
      messageId: z.number().int().positive(),
      reaction: z.string().optional(),
      action: z.enum(['add', 'delete']).optional(),
      userId: z.number().int().positive().optional(),
    }),
    z.strictObject({
      portal: portalRef,
      kind: z.literal('context'),
      botId: z.number().int().positive(),
      context: z.record(z.string(), z.unknown()),
      userId: z.number().int().positive().optional(),
    }),
  ]),
  webhook: z.strictObject({
    portal: portalRef,
    userId: z.number().int().positive().optional(),
    scope: z.string().optional(),
  }),
  scenario: z.looseObject({
    name: z.enum(scenarioNames as [ScenarioName, ...ScenarioName[]]),
    portal: portalRef,
    handler: url.optional(),
  }),
  expire: z.strictObject({ portal: portalRef, refresh: z.boolean().optional() }),
  clock: z.strictObject({ advanceMs: z.number() }),
};

const handlerOpt = (handler: string | undefined) => (handler ? { handlerUrl: handler } : {});

function portalSummary(p: Portal) {
  return {
    memberId: p.memberId,
    domain: p.domain,
    applicationToken: p.applicationToken,
    clientEndpoint: p.clientEndpoint,
    serverEndpoint: p.serverEndpoint,
    status: p.status,
    scope: p.scope,
    installed: p.installed,
  };
}

function portalState(p: Portal) {
  return {
    ...portalSummary(p),
    handlers: p.handlers,
    connectors: [...p.connectors.values()].map(({ params: _params, ...c }) => c),
    lines: [...p.lines.values()],
    bots: [...p.bots.values()],
    chats: [...p.chats.values()],
    messages: [...p.messages.values()],
    chatbots: {
      bots: [...p.chatbots.settings.entries()].map(([id, { queue, owner, ...s }]) => ({
        id,
        ...s,
        owner: owner.kind,
        queued: queue.size,
      })),
      chats: [...p.chatbots.chats.values()].map((c) => ({ ...c, members: [...c.members], managers: [...c.managers] })),
      messages: [...p.chatbots.messages.values()],
      commands: [...p.chatbots.commands.values()],
      subscribedUsers: [...p.chatbots.users.values()]
        .filter((u) => u.subscribed)
        .map((u) => ({ userId: u.userId, queued: u.queue.size })),
    },
  };
}

const query = (u: URL, name: string): string | undefined => u.searchParams.get(name) ?? undefined;
const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

/** Routes one control request; `body` is the parsed JSON body ({} when empty). */
export async function handleControl(sb: Sandbox, method: string, u: URL, body: unknown): Promise<ControlAnswer> {
  const path = u.pathname.replace(/\/+$/, '') || '/sandbox';
  const ok = (b: unknown): ControlAnswer => ({ status: 200, body: b });
  const portalOf = (ref: string | number | undefined) =>
    sb.getPortal(typeof ref === 'string' && /^\d+$/.test(ref) ? Number(ref) : ref);
  const memberFilter = () => {
    const p = query(u, 'portal');
    return p === undefined ? undefined : portalOf(p).memberId;
  };
  const route = `${method} ${path}`;

  switch (route) {
    case 'GET /sandbox':
      return ok({
        url: sb.url,
        oauthUrl: sb.oauthUrl,
        restUrl: sb.restUrl,
        clientId: sb.clientId,
        clientSecret: sb.clientSecret,
        now: sb.clock.now(),
        portals: sb.portals.map(portalSummary),
        faults: sb.faults.current,
        scenarios: scenarioNames,
      });
    case 'GET /sandbox/portals':
      return ok(sb.portals.map(portalSummary));
    case 'POST /sandbox/portals':
      return ok(portalSummary(sb.addPortal(schemas.addPortal.parse(body))));
    case 'POST /sandbox/portals/application-token': {
      // The portal's events then carry another application_token, as after a reinstall the application never heard of.
      const b = schemas.applicationToken.parse(body);
      const portal = portalOf(b.portal);
      portal.applicationToken = b.applicationToken ?? hex();
      return ok(portalSummary(portal));
    }
    case 'GET /sandbox/state':
      return ok(portalState(portalOf(query(u, 'portal'))));
    case 'POST /sandbox/install': {
      const b = schemas.install.parse(body);
      return ok(await sb.install(portalOf(b.portal), b.handler));
    }
    case 'POST /sandbox/uninstall': {
      const b = schemas.uninstall.parse(body);
      return ok(
        await sb.uninstall(portalOf(b.portal), {
          ...(b.clean === undefined ? {} : { clean: b.clean }),
          ...(b.handler ? { handlerUrl: b.handler } : {}),
        }),
      );
    }
    case 'POST /sandbox/tokens': {
      const b = schemas.tokens.parse(body);
      const portal = portalOf(b.portal);
      return ok({
        ...sb.issueTokens(portal, b.userId),
        member_id: portal.memberId,
        client_endpoint: portal.clientEndpoint,
      });
    }
    case 'POST /sandbox/oauth/code': {
      const b = schemas.tokens.parse(body);
      return ok({ code: sb.issueAuthCode(portalOf(b.portal), b.userId) });
    }
    case 'POST /sandbox/events': {
      const b = schemas.event.parse(body);
      return ok(
        await sb.sendEvent(portalOf(b.portal), b.code, b.data, {
          ...handlerOpt(b.handler),
          ...(b.withTokens === undefined ? {} : { withTokens: b.withTokens }),
          ...(b.userId === undefined ? {} : { userId: b.userId }),
          ...(b.scope === undefined ? {} : { scope: b.scope }),
        }),
      );
    }
    case 'POST /sandbox/act/operator-writes': {
      const { portal, handler, ...input } = schemas.operatorWrites.parse(body);
      const m = await sb.act.operatorWrites(portalOf(portal), input, handlerOpt(handler));
      return ok({ chatId: m.chat.id, messageId: m.message.id, sessionId: m.chat.sessionId, delivery: m.delivery });
    }
    case 'POST /sandbox/act/operator-edits': {
      const b = schemas.operatorEdits.parse(body);
      return ok(await sb.act.operatorEdits(portalOf(b.portal), b.messageId, b.text, handlerOpt(b.handler)));
    }
    case 'POST /sandbox/act/operator-deletes': {
      const b = schemas.operatorDeletes.parse(body);
      return ok(await sb.act.operatorDeletes(portalOf(b.portal), b.messageId, handlerOpt(b.handler)));
    }
    case 'POST /sandbox/act/dialog': {
      const b = schemas.dialog.parse(body);
      return ok(await sb.act.dialog(portalOf(b.portal), b.chatId, b.phase, handlerOpt(b.handler)));
    }
    case 'POST /sandbox/act/bot': {
      const { portal, kind, handler, ...input } = schemas.bot.parse(body);
      return ok(await sb.act.bot(portalOf(portal), kind, input, handlerOpt(handler)));
    }
    case 'POST /sandbox/act/chatbot': {
      const { portal, ...act } = schemas.chatbot.parse(body);
      return ok(await sb.act.chatbot(portalOf(portal), act));
    }
    case 'POST /sandbox/webhooks': {
      const b = schemas.webhook.parse(body);
      return ok(
        sb.addWebhook(portalOf(b.portal), {
          ...(b.userId === undefined ? {} : { userId: b.userId }),
          ...(b.scope === undefined ? {} : { scope: b.scope }),
        }),
      );
    }
    case 'POST /sandbox/scenario': {
      const { name, handler, portal, ...opts } = schemas.scenario.parse(body);
      return ok(
        await sb.scenario(name, {
          ...opts,
          ...(portal === undefined ? {} : { portal }),
          ...(handler ? { handlerUrl: handler } : {}),
        }),
      );
    }
    case 'GET /sandbox/calls':
      return ok(sb.recorder.calls({ method: query(u, 'method'), memberId: memberFilter() }));
    case 'GET /sandbox/deliveries':
      return ok(sb.recorder.deliveries({ code: query(u, 'code')?.toUpperCase(), memberId: memberFilter() }));
    case 'GET /sandbox/statuses': {
      const kind = query(u, 'kind');
      return ok(
        sb.recorder.statuses({
          kind: kind === 'delivery' || kind === 'reading' ? kind : undefined,
          messageId: num(query(u, 'messageId')),
          memberId: memberFilter(),
        }),
      );
    }
    case 'GET /sandbox/token-requests':
      return ok(sb.recorder.tokenRequests());
    case 'DELETE /sandbox/recorder':
      sb.recorder.clear();
      return ok({ cleared: true });
    case 'GET /sandbox/faults':
      return ok(sb.faults.current);
    case 'POST /sandbox/faults':
      return ok(sb.faults.set(faultsInput.parse(body)));
    case 'DELETE /sandbox/faults':
      sb.faults.clear();
      return ok(sb.faults.current);
    case 'POST /sandbox/faults/expire-tokens': {
      const b = schemas.expire.parse(body);
      sb.faults.expireTokens({
        ...(b.refresh === undefined ? {} : { refresh: b.refresh }),
        ...(b.portal === undefined ? {} : { portal: portalOf(b.portal) }),
      });
      return ok({ expired: true });
    }
    case 'POST /sandbox/clock': {
      const b = schemas.clock.parse(body);
      sb.clock.advance(b.advanceMs);
      return ok({ now: sb.clock.now() });
    }
    default:
      throw new SandboxError('B24SB_NOT_FOUND', `No control route ${route}; GET /sandbox lists what there is`);
  }
}
