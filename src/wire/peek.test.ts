import { describe, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { decodeForm } from './form.js';
import { defaultLimits } from './limits.js';
import { claimOf, peekForm } from './peek.js';

describe('peekForm', () => {
  it('reads the same sender as the full decode, from every PHP-made fixture', () => {
    for (const name of [
      'imconnector-message-update',
      'openline-message-update',
      'imbot-message-update-group',
      'app-install',
      'app-uninstall',
    ]) {
      const body = formFixture(name);
      expect(peekForm(body, defaultLimits), name).toEqual(claimOf(decodeForm(body, defaultLimits)));
    }
  });

  it('takes the last of duplicates, as parse_str does, and plain or encoded brackets', () => {
    expect(
      peekForm('auth[member_id]=a&auth%5Bmember_id%5D=b&auth%5bapplication_token%5d=t&event=X&event=Y', defaultLimits),
    ).toEqual({ memberId: 'b', token: 't', event: 'Y' });
  });

  it('ignores everything else, however deep, and names over a limit', () => {
    const deep = `a${'[x]'.repeat(100)}=1&authx=1&auth[member_id][0]=n&auth${'[x]'.repeat(100)}=1`;
    expect(peekForm(deep, defaultLimits)).toEqual({});
  });
});
