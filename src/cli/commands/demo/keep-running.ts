import type { Env } from './environment.js';

/** With --keep: prints the URLs, then the live traffic, until the signal. */
export async function keepRunning(env: Env): Promise<void> {
  const { sb, channel, gateway, out, paint } = env;
  out('');
  out(paint.bold('Everything keeps running; Ctrl+C stops it and removes the temporary files.'));
  out(`  sandbox control API  ${sb.url}/sandbox              (GET: URLs, client id/secret, portals)`);
  out(`  sandbox recorder     ${sb.url}/sandbox/calls   ${sb.url}/sandbox/deliveries   ${sb.url}/sandbox/statuses`);
  out(`  gateway              ${env.eventsUrl}   ${gateway.url}/healthz   metrics: ${gateway.adminUrl}/metrics`);
  out(`  channel              ${channel.url}`);
  out(`  gateway database     ${env.dbFile}   (b24-im-gateway events --db ${env.dbFile})`);
  out(`  gateway log          ${gateway.logFile}`);
  out(
    `  more traffic:        curl -s -X POST ${sb.url}/sandbox/scenario -H 'content-type: application/json' -d '{"name":"conversation"}'`,
  );
  out('');
  const offs = [
    sb.recorder.on('delivery', (d) =>
      out(`${paint.b24('Bitrix24 -> gateway ')} ${d.code} <- ${d.status || 'no answer'}`),
    ),
    sb.recorder.on(
      'call',
      (c) =>
        c.batchSeq === undefined &&
        out(`${paint.b24('REST                ')} ${c.method} <- ${c.httpStatus}${c.error ? ` ${c.error}` : ''}`),
    ),
  ];
  channel.onHit = (h) =>
    out(`${paint.ch('gateway -> channel  ')} ${h.payload.type} ${h.payload.id}${h.repeat ? ' (repeat)' : ''}`);
  try {
    const signal = env.signal;
    if (signal && !signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    else if (!signal) await new Promise<void>(() => undefined);
  } finally {
    for (const off of offs) off();
    channel.onHit = undefined;
  }
  out('Stopping.');
}
