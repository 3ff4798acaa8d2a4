import type { Env } from './environment.js';
import { pad } from './format.js';
import type { DemoResult, DemoStep } from './types.js';

// What the demo prints around the steps: the header, the summary table with PASS or FAIL, the gateway's log.

/** Where each piece runs. */
export function printHeader(env: Env): void {
  const { sb, gateway, channel, out, paint } = env;
  out(paint.bold('b24-im-gateway demo: a fake Bitrix24 portal, the gateway and an external channel, on loopback'));
  out('');
  out(`  ${pad('Bitrix24 (sandbox)', 19)} ${sb.url}   portal ${sb.portal.memberId}, client_id ${sb.clientId}`);
  out(`  ${pad('gateway', 19)} ${env.eventsUrl}   own process (pid ${gateway.pid}), SQLite ${env.dbFile}`);
  out(`  ${pad('channel', 19)} ${channel.url}   verifies Standard Webhooks signatures, text format ${env.format}`);
}

/** One row per step, the failures after the steps, then PASS or FAIL with the first reasons. */
export async function printSummary(env: Env, result: DemoResult): Promise<void> {
  const { out, paint } = env;
  const gatewayCell = (s: DemoStep) => (s.events.length ? s.events.map((e) => `#${e.id} ${e.status}`).join(', ') : '-');
  const rows = result.steps.map((s) => [
    String(s.n),
    s.title.replace(/ \(.*\)$/, ''),
    s.sent,
    gatewayCell(s),
    s.channel,
    s.back,
    s.failures.length ? 'FAIL' : 'ok',
  ]);
  const header = ['#', 'step', 'Bitrix24 sent', 'gateway', 'channel got', 'Bitrix24 got back', ''];
  const limits = [2, 48, 30, 12, 20, 44, 4];
  const fit = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}...` : s);
  const widths = header.map((h, i) => Math.min(limits[i]!, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(fit(c, widths[i]!), widths[i]!))
      .join('  ')
      .trimEnd();
  out('');
  out(paint.bold('Summary'));
  out(`  ${paint.bold(line(header))}`);
  for (const r of rows) {
    const text = `  ${line(r)}`;
    out(r[6] === 'ok' ? text : paint.bad(text));
  }
  const events = result.steps.reduce((n, s) => n + s.events.filter((e) => e.status === 'done').length, 0);
  const payloadCount = env.channel.hits.filter((h) => !h.repeat).length;
  const statusCount = env.sb.recorder.statuses({ kind: 'delivery' }).length;
  const customerCount = (await env.store.listCustomerActions({ status: 'sent' })).length;
  out('');
  for (const f of result.final) out(paint.bad(`  ${f}`));
  const failed = result.steps.filter((s) => s.failures.length > 0);
  if (result.pass) {
    out(
      paint.ok(
        paint.bold(
          `PASS: ${result.steps.length} steps checked; ${events} events done; ${payloadCount} signed channel payloads verified; ${statusCount} delivery statuses with message.id lists; ${customerCount} customer actions through the gateway`,
        ),
      ),
    );
  } else {
    const why = [...failed.map((s) => `step ${s.n}: ${s.failures[0]}`), ...result.final];
    const more = why.length > 3 ? `; and ${why.length - 3} more above` : '';
    out(paint.bad(paint.bold(`FAIL: ${why.slice(0, 3).join('; ') || 'see above'}${more}`)));
  }
}

/** The last lines the gateway logged, for a failed run. */
export function printGatewayLog(env: Env): void {
  const { gateway, out, paint } = env;
  out('');
  out(paint.dim(`gateway log (last lines of ${gateway.logFile}):`));
  for (const line of gateway.tail().slice(-15)) out(paint.dim(`  ${line}`));
}
