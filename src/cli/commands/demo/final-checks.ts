import type { Env } from './environment.js';
import { gatewayCalls } from './records.js';
import type { DemoResult } from './types.js';

/** The checks after the steps: the gateway still runs, every event is done and accounted for, nothing was refused or failed. */
export async function finalChecks(env: Env, result: DemoResult): Promise<void> {
  const gone = env.gateway.gone();
  if (gone) result.final.push(`the gateway process ${gone} during the run`);
  const events = await env.store.listEvents();
  const notDone = events.filter((e) => e.status !== 'done');
  if (notDone.length > 0)
    result.final.push(`events not done: ${notDone.map((e) => `#${e.id} ${e.code} ${e.status}`).join(', ')}`);
  const expected = result.steps.reduce((n, s) => n + s.events.length, 0);
  if (events.length !== expected)
    result.final.push(`the gateway stored ${events.length} events, the steps accounted for ${expected}`);
  const unsent = (await env.store.listCustomerActions()).filter((a) => a.status !== 'sent');
  if (unsent.length > 0)
    result.final.push(`customer actions not sent: ${unsent.map((a) => `#${a.id} ${a.type} ${a.status}`).join(', ')}`);
  if (env.channel.refused > 0)
    result.final.push(`the channel refused ${env.channel.refused} requests whose signature did not verify`);
  const statuses = env.sb.recorder.statuses();
  if (statuses.some((s) => !s.known)) result.final.push('a delivery status named a message the sandbox never sent');
  const failedCalls = gatewayCalls(env.sb, 0).filter((c) => c.httpStatus !== 200);
  if (failedCalls.length > 0) {
    const kinds = new Map<string, number>();
    for (const c of failedCalls) {
      const kind = `${c.method} ${c.httpStatus} ${c.error ?? ''}`.trim();
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    result.final.push(
      `${failedCalls.length} of the gateway's REST calls failed (${[...kinds].map(([k, n]) => `${k} x${n}`).join(', ')})`,
    );
  }
}
