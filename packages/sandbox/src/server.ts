import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { handleControl } from './control.js';
import { SandboxError } from './errors.js';
import { readBody, requestParams, sendJson } from './http.js';
import { tokenEndpoint } from './oauth.js';
import { handleRest } from './rest/dispatch.js';
import type { Sandbox } from './sandbox.js';

const OUTAGE_PAGE =
  '<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>503 Service Temporarily Unavailable</h1></body></html>';

/** The one HTTP server: /oauth/token/ (authorization server), /rest/<method> (portal REST API), /sandbox/* (control). */
export function createSandboxServer(sb: Sandbox): Server {
  return createServer((req, res) => {
    route(sb, req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const error =
        e instanceof SandboxError
          ? e
          : e instanceof z.ZodError
            ? new SandboxError('B24SB_BAD_REQUEST', z.prettifyError(e))
            : new SandboxError('B24SB_INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
      sendJson(res, error.status, { error: error.code, error_description: error.message });
    });
  });
}

async function route(sb: Sandbox, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const u = new URL(req.url ?? '/', 'http://sandbox.invalid');
  const method = (req.method ?? 'GET').toUpperCase();
  const body = await readBody(req);

  if (u.pathname === '/sandbox' || u.pathname.startsWith('/sandbox/')) {
    const json: unknown = body.byteLength === 0 ? {} : parseJson(body);
    const answer = await handleControl(sb, method, u, json);
    sendJson(res, answer.status, answer.body);
    return;
  }

  const isOAuth = u.pathname === '/oauth/token' || u.pathname === '/oauth/token/';
  // /rest/<method>, or an incoming webhook's /rest/<userId>/<code>/<method>.
  const rest = /^\/rest\/(?:(\d+)\/([^/]+)\/)?([^/]+?)(?:\.json)?\/?$/.exec(u.pathname);
  if (!isOAuth && !rest) {
    throw new SandboxError(
      'B24SB_NOT_FOUND',
      `No route ${u.pathname}; use /rest/<method>, /rest/<userId>/<webhook code>/<method>, /oauth/token/ or /sandbox`,
    );
  }

  // Outage and slowness hit the portal and the authorization server, never the control API.
  const { outage, slowMs, slowOAuthMs } = sb.faults.current;
  if (outage === 'reset') {
    req.socket.destroy();
    return;
  }
  if (outage === 'http503') {
    res.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8', 'Retry-After': '5' });
    res.end(OUTAGE_PAGE);
    return;
  }
  if (slowMs > 0) await sleep(slowMs);

  const { params, transport, warnings } = requestParams(req, u, body);
  if (isOAuth) {
    if (slowOAuthMs > 0) await sleep(slowOAuthMs);
    const answer = tokenEndpoint(params, {
      tokens: sb.core.tokens,
      recorder: sb.core.recorder,
      clock: sb.core.clock,
      clientId: sb.clientId,
      clientSecret: sb.clientSecret,
      authDomain: sb.core.hostPort,
    });
    sendJson(res, answer.status, answer.body);
    return;
  }
  const answer = await handleRest(sb.core, {
    method: decodeURIComponent(rest![3]!),
    ...(rest![1] === undefined ? {} : { webhook: { userId: Number(rest![1]), code: decodeURIComponent(rest![2]!) } }),
    params,
    transport,
    warnings,
    ...(req.headers.host ? { host: req.headers.host } : {}),
  });
  sendJson(res, answer.status, answer.body);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new SandboxError('B24SB_MALFORMED_JSON', `Control bodies are JSON: ${(e as Error).message}`);
  }
}
