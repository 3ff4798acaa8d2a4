import { describe, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
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

  it('an unknown event has no key: it waits for nothing', () => {
    expect(orderKeyOf(parseEvent(decodeForm(formFixture('unknown-event-crm-deal-update'))))).toBeNull();
  });
});
