import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxCore, type SandboxOptions } from './core.js';
import { SandboxError } from './errors.js';
import * as actions from './events/actions.js';
import { chatbotAct, type ChatbotAct, type ChatbotOutcome } from './events/chatbots.js';
import { botAuthEntry } from './events/auth.js';
import * as build from './events/payloads/index.js';
import { deliverPayload, sendEvent, type DeliveryResult, type SendOptions } from './events/deliver.js';
import { scenarios, type ScenarioName, type ScenarioOptions, type ScenarioResult } from './events/scenarios.js';
import type { Faults, FaultsInput } from './faults.js';
import type { TokenPair } from './oauth.js';
import type { Portal, PortalInit } from './portal.js';
import type { DeliveryRecord, Recorder } from './recorder.js';
import { hex } from './ids.js';
import { createSandboxServer } from './server.js';

export interface InstallResult extends DeliveryResult {
  /** The OAuth pair sent in auth (valid against the sandbox's REST API and token endpoint). */
  tokens: { access_token: string; refresh_token: string };
}

export interface FaultControl {
  /** Changes some switches; the others keep their values. Returns the switches now in force. */
  set(f: FaultsInput): Faults;
  /** Back to normal: rate limit on with the plan's numbers, everything else off. */
  clear(): void;
  /** Every access token issued so far answers 401 expired_token from now on; with `refresh`, refresh tokens die too. */
  expireTokens(opts?: { refresh?: boolean; portal?: Portal }): void;
  readonly current: Faults;
}

/** A running fake Bitrix24: portals, OAuth server, REST API, event sender and recorder on one loopback port. */
export class Sandbox {
  readonly core: SandboxCore;
  readonly faults: FaultControl;
  #server: Server | undefined;

  constructor(opts: SandboxOptions = {}) {
    this.core = new SandboxCore(opts);
    const core = this.core;
    this.faults = {
      set: (f) => core.setFaults(f),
      clear: () => core.clearFaults(),
      expireTokens: (o) => core.tokens.expireAll(o),
      get current() {
        return core.faults;
      },
    };
  }

  /** Binds the port and creates the first portal. */
  async listen(host = '127.0.0.1', port = 0, portal?: PortalInit): Promise<this> {
    const server = createSandboxServer(this);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) =>
        reject(new SandboxError('B24SB_LISTEN_FAILED', `Cannot listen on ${host}:${port}: ${e.message}`, { cause: e })),
      );
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.core.listening(`http://${shownHost}:${address.port}`);
    this.#server = server;
    if (this.core.portals.length === 0) this.core.addPortal(portal);
    return this;
  }

  /** http://127.0.0.1:PORT */
  get url(): string {
    return this.core.url;
  }
  /** Where the application refreshes tokens (what `${server_endpoint minus rest/}oauth/token/` gives). */
  get oauthUrl(): string {
    return `${this.core.url}/oauth/token/`;
  }
  get restUrl(): string {
    return `${this.core.url}/rest/`;
  }
  get clientId(): string {
    return this.core.clientId;
  }
  get clientSecret(): string {
    return this.core.clientSecret;
  }
  get portals(): readonly Portal[] {
    return this.core.portals;
  }
  /** The portal created at start. */
  get portal(): Portal {
    return this.core.portal();
  }
  get recorder(): Recorder {
    return this.core.recorder;
  }
  /** The sandbox clock; `advance` moves tokens, limits and timestamps forward together. */
  get clock(): { now(): number; advance(ms: number): void } {
    return this.core.clock;
  }

  addPortal(p?: PortalInit): Portal {
    return this.core.addPortal(p);
  }

  /** A portal by member_id or index (the first one by default). */
  getPortal(ref?: string | number): Portal {
    return this.core.portal(ref);
  }

  /** Marks the application installed and hands out an OAuth pair without sending ONAPPINSTALL. */
  issueTokens(portal: Portal, userId?: number): TokenPair {
    portal.installed = true;
    return this.core.tokens.issue(portal, userId);
  }

  /** An authorization code for grant_type=authorization_code (30 s, single use). */
  issueAuthCode(portal: Portal, userId?: number): string {
    portal.installed = true;
    return this.core.tokens.issueCode(portal, userId);
  }

  /**
   * Installs the application: binds ONAPPINSTALL to `handlerUrl` and sends it form-encoded
   * with a fresh OAuth pair and the portal's application_token.
   */
  async install(portal: Portal, handlerUrl: string): Promise<InstallResult> {
    portal.installed = true;
    portal.bind('ONAPPINSTALL', handlerUrl);
    const result = await sendEvent(
      this.core,
      portal,
      'ONAPPINSTALL',
      build.appInstall({ version: portal.appVersion, languageId: portal.languageId }),
      {
        handlerUrl,
      },
    );
    const auth = (result.deliveries[0]?.payload.auth ?? {}) as Record<string, string>;
    return { ...result, tokens: { access_token: auth.access_token ?? '', refresh_token: auth.refresh_token ?? '' } };
  }

  /**
   * Uninstalls as Bitrix24 does: the application and its tokens are gone first, then ONAPPUNINSTALL
   * (no OAuth pair, the old application_token) goes to the handlers that were bound, or `handlerUrl`.
   * A later install gets a new application_token.
   */
  async uninstall(portal: Portal, opts: { clean?: boolean; handlerUrl?: string } = {}): Promise<DeliveryResult> {
    const data = build.appUninstall({ languageId: portal.languageId, clean: opts.clean ?? false });
    const bound = portal.handlers.filter((h) => h.event === 'ONAPPUNINSTALL').map((h) => h.handler);
    portal.installed = false;
    this.core.tokens.revokePortal(portal);
    portal.forgetApplication();
    const targets = opts.handlerUrl ? [opts.handlerUrl] : bound;
    const results = await Promise.all(
      targets.map((handlerUrl) => sendEvent(this.core, portal, 'ONAPPUNINSTALL', data, { handlerUrl })),
    );
    portal.applicationToken = hex();
    const deliveries = results.flatMap((r) => r.deliveries);
    return { code: 'ONAPPUNINSTALL', ok: results.length > 0 && results.every((r) => r.ok), deliveries };
  }

  /** Sends `data` as event `code` to every handler bound for it (or only `opts.handlerUrl`). */
  sendEvent(portal: Portal, code: string, data: unknown, opts?: SendOptions): Promise<DeliveryResult> {
    return sendEvent(this.core, portal, code, data, opts);
  }

  /** Posts a complete event payload unchanged (e.g. a recorded or documented one) to `url`, form-encoded. */
  deliverPayload(portal: Portal, url: string, payload: Record<string, unknown>): Promise<DeliveryRecord> {
    return deliverPayload(this.core, portal, url, payload);
  }

  /** Builds a data.BOT entry with real tokens for a bot, for hand-made ONIMBOT* payloads. */
  botAuth(portal: Portal, bot: { id: number; code: string }): Record<string, unknown> {
    return botAuthEntry(this.core, portal, bot);
  }

  /** People acting in the portal; each action updates state and sends its event. */
  readonly act = {
    operatorWrites: (portal: Portal, input: actions.OperatorMessageInput, send?: SendOptions) =>
      actions.operatorWrites(this.core, portal, input, send),
    operatorEdits: (portal: Portal, messageId: number, text: string, send?: SendOptions) =>
      actions.operatorEdits(this.core, portal, messageId, text, send),
    operatorDeletes: (portal: Portal, messageId: number, send?: SendOptions) =>
      actions.operatorDeletes(this.core, portal, messageId, send),
    dialog: (portal: Portal, chatId: number, phase: 'start' | 'finish', send?: SendOptions) => {
      const chat = portal.chats.get(chatId);
      if (!chat) throw new SandboxError('B24SB_NOT_FOUND', `No chat ${chatId} on portal ${portal.memberId}`);
      return actions.dialogEvent(this.core, portal, chat, phase, send);
    },
    bot: (portal: Portal, kind: actions.BotEventKind, input: build.BotMessageInput, send?: SendOptions) =>
      actions.botEvent(this.core, portal, kind, input, send),
    /** A user with Chatbots 2.0 bots: joins, writes, edits, deletes, commands, reactions, contexts (ONIMBOTV2*, ONIMV2*). */
    chatbot: (portal: Portal, act: ChatbotAct): Promise<ChatbotOutcome> => chatbotAct(this.core, portal, act),
  };

  /**
   * An incoming webhook of `portal` for a user (default: the administrator): calls to
   * `${url}<method>` act as that user, and imbot.v2 methods then need the bot's botToken.
   */
  addWebhook(
    portal: Portal,
    opts: { userId?: number; scope?: string } = {},
  ): { url: string; userId: number; code: string } {
    const userId = opts.userId ?? portal.adminUserId;
    const code = portal.addWebhook(userId, opts.scope);
    return { url: `${portal.clientEndpoint}${userId}/${code}/`, userId, code };
  }

  /** Runs a scripted scenario; see ScenarioOptions for each one's knobs. */
  scenario(name: ScenarioName, opts: ScenarioOptions = {}): Promise<ScenarioResult> {
    const run = scenarios[name];
    if (!run) return Promise.reject(new SandboxError('B24SB_BAD_REQUEST', `Unknown scenario "${String(name)}"`));
    return run({ core: this.core, install: (p, url) => this.install(p, url) }, opts);
  }

  /** Closes the port; open connections are ended. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** Starts a sandbox on loopback (port 0 = any free port) with one portal. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  return new Sandbox(opts).listen(opts.host, opts.port, opts.portal);
}
