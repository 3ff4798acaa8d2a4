import { describe, expect, it } from 'vitest';
import { formFixture, jsonFixture } from '../../test/fixtures.js';
import { decodeBody } from '../wire/decode.js';
import { decodeForm } from '../wire/form.js';
import { orderKeyOf } from './keys.js';
import { parseEvent } from './registry.js';
import { both } from './testing/parse.js';

const OPENLINE_MEMBER = 'a223c6b3710f85df22e9377d6c4f7553';

describe('orderKeyOf', () => {
  it("a portal's lifecycle events share one key", () => {
    for (const name of ['app-install', 'app-uninstall', 'app-test'])
      expect(orderKeyOf(both(name))).toBe(`${OPENLINE_MEMBER}|app`);
  });

  it('an open line message delete takes the key of its chat on its line', () => {
    expect(orderKeyOf(both('openline-message-delete'))).toBe(`${OPENLINE_MEMBER}|ol|128|1024`);
    expect(orderKeyOf(both('openline-message-update'))).toBe(`${OPENLINE_MEMBER}|ol|128|1024`);
  });

  it('an empty list of items leaves the chat, and a page without LINE the line, empty', () => {
    const emptied = (name: string, list: string) => {
      const body = JSON.parse(jsonFixture(name)) as { data: Record<string, unknown> };
      body.data[list] = [];
      return orderKeyOf(parseEvent(decodeBody(JSON.stringify(body), 'json')));
    };
    expect(emptied('imconnector-message-update', 'MESSAGES')).toBe('bac1cd5c8940947a75e0d71b1a84e348|im|107|');
    expect(emptied('openline-message-add', 'DATA')).toBe(`${OPENLINE_MEMBER}|ol||`);
  });

  it('an unknown event has no key: it waits for nothing', () => {
    expect(orderKeyOf(parseEvent(decodeForm(formFixture('unknown-event-crm-deal-update'))))).toBeNull();
  });
});
