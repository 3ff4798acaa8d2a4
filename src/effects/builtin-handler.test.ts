import { describe, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { parseEvent } from '../events/registry.js';
import { silentLogger } from '../log.js';
import type { ConnectorStateStore, DeliveredIds, EventMeta } from '../store/state/types.js';
import type { NewStatus, PortalRecord } from '../store/types.js';
import { decodeForm } from '../wire/form.js';
import type { HandlerContext } from '../worker/context.js';
import type { AnyEvent } from '../worker/handlers.js';
import { builtinHandler, type ChannelOptions } from './builtin.js';
import type { ChannelPayload } from './channel/types.js';

/*
 * The built-in handler alone, its channel, state and status outbox recorded: what it hands each of
 * them for each kind of event (builtin.test.ts runs it end to end over sockets).
 */

const event = (fixture: string, edit: (s: string) => string = (s) => s) =>
  parseEvent(decodeForm(edit(formFixture(fixture)))).event as AnyEvent;
const withTokens = { domain: 'portal.example', accessToken: 'a', refreshToken: 'r' } as PortalRecord;

function rig(
  o: {
    answer?: (p: ChannelPayload) => { externalIds?: string[] } | void;
    portal?: PortalRecord;
    channel?: boolean;
    format?: 'text' | 'markdown';
  } = {},
) {
  const sent: ChannelPayload[] = [];
  const signals: AbortSignal[] = [];
  const applied: [unknown, EventMeta][] = [];
  const delivered: [string, DeliveredIds[]][] = [];
  const statuses: NewStatus[][] = [];
  const state = {
    apply: async (e: unknown, meta: EventMeta) => void applied.push([e, meta]),
    recordDelivered: async (memberId: string, d: readonly DeliveredIds[]) => void delivered.push([memberId, [...d]]),
  } as unknown as ConnectorStateStore;
  const channel: ChannelOptions = {
    deliver: async (p, { signal }) => {
      sent.push(p);
      signals.push(signal);
      return o.answer?.(p);
    },
    ...(o.format ? { format: o.format } : {}),
  };
  const handler = builtinHandler({
    state,
    channel: o.channel === false ? undefined : channel,
    statuses: async (s) => void statuses.push(s),
  });
  const abort = new AbortController();
  const ctx = {
    eventId: 41,
    attempt: 1,
    memberId: 'member-1',
    delivery: 'webhook',
    portal: 'portal' in o ? o.portal : withTokens,
    bots: [],
    bot: undefined,
    log: silentLogger,
    signal: abort.signal,
  } as unknown as HandlerContext;
  return { handler, ctx, abort, sent, signals, applied, delivered, statuses };
}

describe('builtinHandler', () => {
  it("applies a message add, delivers it, learns the channel's ids and confirms the delivery under them", async () => {
    const r = rig({ answer: () => ({ externalIds: ['ch-1'] }) });
    const e = event('imconnector-message-add');
    const before = Date.now();
    await r.handler(e, r.ctx);
    expect(r.applied).toHaveLength(1);
    expect(r.applied[0]![0]).toBe(e);
    expect(r.applied[0]![1]).toMatchObject({ eventId: 41, memberId: 'member-1' });
    expect(r.applied[0]![1].receivedAt).toBeGreaterThanOrEqual(before);
    expect(r.sent.map((p) => p.type)).toEqual(['message.created']);
    expect(r.sent[0]!.portal).toEqual({ memberId: 'member-1', domain: 'portal.example' });
    expect(r.signals[0]).toBe(r.ctx.signal);
    expect(r.delivered).toEqual([['member-1', [{ line: 107, imMessageId: 86497, externalIds: ['ch-1'] }]]]);
    expect(r.statuses).toHaveLength(1);
    expect(r.statuses[0]).toEqual([
      { memberId: 'member-1', connector: 'myconnector', line: 107, eventId: 41, item: expect.any(String) as string },
    ]);
    expect(JSON.parse(r.statuses[0]![0]!.item)).toEqual({
      im: { chat_id: 1807, message_id: 86497 },
      message: { id: ['ch-1'] },
      chat: { id: 'channel-123' },
    });
  });

  it("stands in the delivery's own id for a new message when the channel names none", async () => {
    const r = rig();
    await r.handler(event('imconnector-message-add'), r.ctx);
    const id = r.sent[0]!.id;
    expect(id).toMatch(/\S/);
    expect(r.delivered[0]![1]).toEqual([{ line: 107, imMessageId: 86497, externalIds: [id] }]);
    expect(JSON.parse(r.statuses[0]![0]!.item).message).toEqual({ id: [id] });
  });

  it('confirms an update under the ids the event names, and records no delivered ids for it', async () => {
    const r = rig();
    await r.handler(event('imconnector-message-update-three-messages'), r.ctx);
    expect(r.sent.map((p) => p.type)).toEqual(['message.updated', 'message.updated', 'message.updated']);
    expect(r.delivered).toEqual([]);
    // One call for all three: the outbox takes them in one statement.
    expect(r.statuses).toHaveLength(1);
    const items = r.statuses[0]!.map((s) => JSON.parse(s.item) as { message: { id: string[] } });
    expect(items.map((i) => i.message.id)).toEqual(
      r.sent.map((p) => (p as { message: { externalIds: string[] } }).message.externalIds),
    );
    expect(items.every((i) => i.message.id.length > 0)).toBe(true);
  });

  it('confirms nothing for a delete or a dialog event, and nothing without an OAuth pair to call back with', async () => {
    const del = rig();
    await del.handler(event('imconnector-message-delete'), del.ctx);
    expect(del.sent.map((p) => p.type)).toEqual(['message.deleted']);
    expect(del.statuses).toEqual([]);
    const dialog = rig();
    await dialog.handler(event('imconnector-dialog-start'), dialog.ctx);
    expect(dialog.sent.map((p) => p.type)).toEqual(['dialog.started']);
    expect(dialog.statuses).toEqual([]);
    for (const portal of [undefined, { domain: 'x.example' } as PortalRecord]) {
      const r = rig({ portal, answer: () => ({ externalIds: ['ch-2'] }) });
      await r.handler(event('imconnector-message-add'), r.ctx);
      expect(r.statuses).toEqual([]);
      // The state still learns the ids, and the payload names the event's own domain when no portal does.
      expect(r.delivered[0]![1][0]!.externalIds).toEqual(['ch-2']);
      expect(r.sent[0]!.portal.domain).toBe(portal?.domain ?? 'some-domain.bitrix24.com');
    }
    const refreshOnly = rig({ portal: { domain: 'x.example', refreshToken: 'r' } as PortalRecord });
    await refreshOnly.handler(event('imconnector-message-add'), refreshOnly.ctx);
    expect(refreshOnly.statuses).toHaveLength(1);
  });

  it('only applies the state when no channel is set', async () => {
    const r = rig({ channel: false });
    await r.handler(event('imconnector-message-add'), r.ctx);
    expect(r.applied).toHaveLength(1);
    expect([r.sent, r.delivered, r.statuses]).toEqual([[], [], []]);
  });

  it('sends nothing more once the attempt is aborted, and records nothing of it', async () => {
    const r = rig({
      answer: () => {
        r.abort.abort(new Error('time limit'));
      },
    });
    await expect(r.handler(event('imconnector-message-update-three-messages'), r.ctx)).rejects.toThrow('time limit');
    expect(r.sent).toHaveLength(1);
    expect([r.delivered, r.statuses]).toEqual([[], []]);
  });

  it('converts the text to the format the channel asks for', async () => {
    const text = (format?: 'text' | 'markdown') => {
      const r = rig(format ? { format } : {});
      return r
        .handler(event('imconnector-message-add'), r.ctx)
        .then(() => (r.sent[0] as { message: { text: string } }).message.text);
    };
    expect(await text()).toBe('Klaus Weber: \nGuten Tag!');
    expect(await text('markdown')).toMatch(/\*\*Klaus Weber:\*\*/);
  });
});
