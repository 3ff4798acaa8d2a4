import { type Command, InvalidArgumentError, Option } from 'commander';
import { planLimits, type Plan } from '../limits.js';
import { startSandbox, type Sandbox } from '../sandbox.js';
import { action } from './fail.js';

export interface SandboxCliOptions {
  host: string;
  port: number;
  handler?: string;
  tokenTtl: number;
  plan: Plan;
  clientId?: string;
  clientSecret?: string;
  quiet?: boolean;
}

const help = (invocation: string): string => `
A fake Bitrix24 on loopback that speaks the real protocol, for testing any Bitrix24
application (this gateway or another) without a real portal:

  /oauth/token/        authorization server (refresh_token, authorization_code; refresh tokens single-use)
  /rest/<method>       REST API: app.info, event.bind/unbind/get/test, batch, imconnector.*, imbot.register,
                       with the leaky-bucket (503 QUERY_LIMIT_EXCEEDED) and operating-time (429) limits
  /sandbox/...         control API (JSON): install, send events, run scenarios, switch faults, read the recorder

Events go out as Bitrix24 sends them: form-encoded POSTs built like PHP http_build_query,
with fresh tokens and the portal's application_token, never re-sent on failure.

Examples:
  ${invocation} --port 8090 --handler http://127.0.0.1:3000/events
  curl -s -X POST http://127.0.0.1:8090/sandbox/scenario -H 'content-type: application/json' \\
       -d '{"name":"conversation","messages":3}'
  curl -s -X POST http://127.0.0.1:8090/sandbox/faults -d '{"outage":"http503"}'
  curl -s http://127.0.0.1:8090/sandbox/deliveries
  curl -s http://127.0.0.1:8090/sandbox            # endpoints, credentials, portals, switches

Every route, switch and error code: the README of @b24-im-gateway/sandbox.
`;

const url = (value: string): string => {
  try {
    const u = new URL(value);
    if (u.protocol === 'http:' || u.protocol === 'https:') return value;
  } catch {
    // fall through
  }
  throw new InvalidArgumentError(`--handler must be an http(s) URL, got "${value}"`);
};

/** Digits only: no sign, exponent or hex, which Number() would take. */
const wholeNumber =
  (name: string) =>
  (value: string): number => {
    if (/^\d{1,9}$/.test(value)) return Number(value);
    throw new InvalidArgumentError(`${name} must be a whole number, got "${value}"`);
  };

/**
 * Adds the command that runs the sandbox: `b24-sandbox serve` (its default command) and
 * `b24-im-gateway sandbox` are this one command.
 */
export function registerSandboxCommand(program: Command, name = 'sandbox', opts: { isDefault?: boolean } = {}): void {
  program
    .command(name, { isDefault: opts.isDefault ?? false })
    .description(
      'Run a fake Bitrix24 portal (OAuth, REST, events, limits, faults) on loopback for testing applications',
    )
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', wholeNumber('--port'), 0)
    .option('--handler <url>', 'install the application at start: send ONAPPINSTALL to this URL', url)
    .option('--token-ttl <seconds>', 'access token lifetime in seconds', wholeNumber('--token-ttl'), 3600)
    .addOption(
      new Option('--plan <plan>', 'rate-limit plan: standard (50 burst, 2/s) or enterprise (250, 5/s)')
        .choices(['standard', 'enterprise'])
        .default('standard'),
    )
    .option('--client-id <id>', 'OAuth client_id the token endpoint accepts (random by default)')
    .option('--client-secret <secret>', 'OAuth client_secret the token endpoint accepts (random by default)')
    .option('--quiet', 'do not print each REST call and event delivery')
    .addHelpText('after', help(opts.isDefault ? program.name() : `${program.name()} ${name}`))
    .action(
      action(async (o: SandboxCliOptions) => {
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          await runSandbox(o, stop.signal);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );
}

/** Starts the sandbox, prints how to use it, and runs until `signal` aborts; then stops cleanly. */
export async function runSandbox(
  o: SandboxCliOptions,
  signal: AbortSignal,
  out: (line: string) => void = console.log,
): Promise<Sandbox> {
  const sb = await startSandbox({
    host: o.host,
    port: o.port,
    tokenTtlSeconds: o.tokenTtl,
    plan: o.plan,
    ...(o.clientId ? { clientId: o.clientId } : {}),
    ...(o.clientSecret ? { clientSecret: o.clientSecret } : {}),
  });
  const p = sb.portal;
  const limits = planLimits[o.plan];
  out(`Bitrix24 sandbox listening on ${sb.url}`);
  out('');
  out(`  OAuth token endpoint  ${sb.oauthUrl}`);
  out(`  REST API              ${sb.restUrl}<method>  (server_endpoint and client_endpoint)`);
  out(`  Control API           ${sb.url}/sandbox`);
  out(`  client_id             ${sb.clientId}`);
  out(`  client_secret         ${sb.clientSecret}`);
  out(`  portal member_id      ${p.memberId}`);
  out(`  portal domain         ${p.domain}`);
  out(`  application_token     ${p.applicationToken}`);
  out(
    `  plan                  ${o.plan} (${limits.burst} burst, ${limits.drainPerSecond}/s), access tokens live ${o.tokenTtl} s`,
  );
  out('');

  const unsubscribe: (() => void)[] = [];
  if (!o.quiet) {
    unsubscribe.push(
      sb.recorder.on('call', (c) => {
        if (c.transport !== 'batch') out(`rest   ${c.httpStatus} ${c.method}${c.error ? ` ${c.error}` : ''}`);
      }),
      sb.recorder.on('delivery', (d) =>
        out(`event  ${d.status || 'no answer'} ${d.code} -> ${d.url}${d.error ? ` (${d.error})` : ''}`),
      ),
      sb.recorder.on('token', (t) => out(`oauth  ${t.ok ? 200 : t.error} ${t.grantType}`)),
    );
  }

  if (o.handler) {
    const installed = await sb.install(p, o.handler);
    out(
      installed.ok
        ? `Installed: ONAPPINSTALL delivered to ${o.handler}`
        : `Install event to ${o.handler} failed (${installed.deliveries[0]?.error ?? installed.deliveries[0]?.status}); retry with POST /sandbox/install`,
    );
  } else {
    out(
      `Install the application: curl -s -X POST ${sb.url}/sandbox/install -H 'content-type: application/json' -d '{"handler":"<your handler URL>"}'`,
    );
  }
  out(
    `Then e.g.:                curl -s -X POST ${sb.url}/sandbox/scenario -H 'content-type: application/json' -d '{"name":"conversation"}'`,
  );
  out(
    `Inspect:                  curl -s ${sb.url}/sandbox/calls   |   ${sb.url}/sandbox/deliveries   |   ${sb.url}/sandbox/statuses`,
  );
  out('Press Ctrl+C to stop.');

  if (!signal.aborted)
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  for (const off of unsubscribe) off();
  await sb.stop();
  out('Sandbox stopped.');
  return sb;
}
