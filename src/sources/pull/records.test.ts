import { describe, expect, it } from 'vitest';
import { fetchFixture, formFixture } from '../../../test/fixtures.js';
import { parseEvent } from '../../events/registry.js';
import type { PullCursor } from '../../store/types.js';
import { decodeForm } from '../../wire/form.js';
import { fetchedRecord, offlineRecord } from './records.js';

const cursor: PullCursor = {
  id: 1,
  memberId: 'm1',
  kind: 'bot',
  target: '456',
  position: null,
  status: 'active',
  dueAt: 0,
  attempts: 1,
  lastError: null,
  pulled: 0,
  pulledAt: null,
  leaseOwner: 'w',
  leaseUntil: 1,
};

describe('pulled records', () => {
  it('an Event.get item becomes the typed event a webhook gives, keyed by its eventId, with no token', () => {
    const r = fetchedRecord(fetchFixture('imbotv2-message-add'), cursor, 'a.bitrix24.com', 5_000);
    expect(r).toMatchObject({
      dedupKey: 'fetch:m1:bot456:1001',
      code: 'ONIMBOTV2MESSAGEADD',
      known: true,
      status: 'pending',
      orderKey: 'm1|chat|5',
      contentType: 'json',
      ts: Math.floor(Date.parse('2025-01-15T10:30:00+02:00') / 1000),
    });
    const event = JSON.parse(r.event) as { data: unknown; auth: Record<string, unknown> };
    const hooked = parseEvent(decodeForm(formFixture('imbotv2-message-add')));
    const { bot: _bot, ...data } = event.data as Record<string, unknown>;
    const { bot: _hookBot, ...hookData } = (hooked.event as { data: Record<string, unknown> }).data;
    expect(data).toEqual(hookData);
    expect(event.auth).toEqual({ domain: 'a.bitrix24.com', member_id: 'm1', application_token: 'REDACTED' });
    // The same item again has the same key: stored once.
    expect(fetchedRecord(fetchFixture('imbotv2-message-add'), cursor, 'a.bitrix24.com', 9_000).dedupKey).toBe(
      r.dedupKey,
    );
  });

  it('an item that fails its schema is kept as invalid, with the reason', () => {
    const item = structuredClone(fetchFixture('imbotv2-message-add')) as { data: { message: { id: unknown } } };
    item.data.message.id = 'seven';
    const r = fetchedRecord(item, cursor, 'a.bitrix24.com', 1);
    expect(r).toMatchObject({ status: 'invalid', code: 'ONIMBOTV2MESSAGEADD', dedupKey: 'fetch:m1:bot456:1001' });
    expect(r.error).toMatch(/data\[message\]\[id\]/);
  });

  it("an offline record becomes the event with its data, the user of EVENT_ADDITIONAL, keyed by the record's ID", () => {
    const hooked = parseEvent(decodeForm(formFixture('imconnector-message-update')));
    const data = (hooked.event as { data: unknown }).data;
    const r = offlineRecord(
      {
        ID: '17',
        TIMESTAMP_X: '2024-07-18T12:32:31+02:00',
        EVENT_NAME: 'ONIMCONNECTORMESSAGEUPDATE',
        EVENT_DATA: data,
        EVENT_ADDITIONAL: { user_id: 3 },
        MESSAGE_ID: 'abc',
      },
      'm1',
      'a.bitrix24.com',
      1,
    );
    expect(r).toMatchObject({
      dedupKey: 'offline:m1:17',
      code: 'ONIMCONNECTORMESSAGEUPDATE',
      status: 'pending',
      orderKey: hooked.known ? expect.stringMatching(/^m1\|im\|/) : null,
    });
    const event = JSON.parse(r.event) as { data: unknown; auth: { user_id: number }; offline: unknown };
    expect(event.data).toEqual(data);
    expect(event.auth.user_id).toBe(3);
    expect(event.offline).toEqual({ id: '17', messageId: 'abc', additional: { user_id: 3 } });
  });

  it("PHP's false for no data is no data; a record that is no event is kept as invalid", () => {
    const plain = offlineRecord(
      { ID: 1, EVENT_NAME: 'ONCRMDEALUPDATE', EVENT_DATA: false, EVENT_ADDITIONAL: false, MESSAGE_ID: 1 },
      'm1',
      'd',
      1,
    );
    expect(plain).toMatchObject({ status: 'pending', known: false, code: 'ONCRMDEALUPDATE' });
    expect(JSON.parse(plain.event)).not.toHaveProperty('data');
    const bad = offlineRecord(
      { ID: 2, EVENT_NAME: 'ONIMCONNECTORMESSAGEADD', EVENT_DATA: { MESSAGES: 'x' }, MESSAGE_ID: 2 },
      'm1',
      'd',
      1,
    );
    expect(bad).toMatchObject({ status: 'invalid', orderKey: null, dedupKey: 'offline:m1:2' });
    const nameless = offlineRecord({ ID: 3 }, 'm1', 'd', 1);
    expect(nameless.status).toBe('invalid');
  });
});
