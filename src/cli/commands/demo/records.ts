import type { CallRecord, Sandbox } from '@b24-im-gateway/sandbox';

// Reading the sandbox's recorder: where a step begins, and what the gateway called back.

/** The recorder's latest sequence number, over calls, deliveries, statuses and token requests. */
export const lastSeq = (sb: Sandbox): number =>
  Math.max(
    0,
    sb.recorder.calls().at(-1)?.seq ?? 0,
    sb.recorder.deliveries().at(-1)?.seq ?? 0,
    sb.recorder.statuses().at(-1)?.seq ?? 0,
    sb.recorder.tokenRequests().at(-1)?.seq ?? 0,
  );

/** The commands a batch call ran. */
export const batchCommands = (sb: Sandbox, batch: CallRecord): CallRecord[] =>
  sb.recorder.calls().filter((k) => k.batchSeq === batch.seq);

/** The gateway's REST calls: app.info, imconnector.send.status.delivery, and batches of those. */
/** What the gateway calls by itself: delivery statuses, and what the customers did. */
const GATEWAY_METHODS: ReadonlySet<string> = new Set([
  'imconnector.send.status.delivery',
  'imconnector.send.messages',
  'imconnector.update.messages',
  'imconnector.delete.messages',
  'imconnector.send.status.reading',
  'imconnector.chat.name.set',
]);

export function gatewayCalls(sb: Sandbox, after: number): CallRecord[] {
  const calls = sb.recorder.calls().filter((c) => c.seq > after && c.batchSeq === undefined);
  return calls.filter((c) => {
    if (c.method !== 'batch') return c.method === 'app.info' || GATEWAY_METHODS.has(c.method);
    const commands = batchCommands(sb, c);
    return commands.length > 0 && commands.every((k) => GATEWAY_METHODS.has(k.method));
  });
}
