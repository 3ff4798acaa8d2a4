import { describe, expect, it } from 'vitest';
import { scrub } from './errors.js';

describe('scrub', () => {
  it('replaces each known secret of 8 characters or more, and leaves shorter ones (they would match ordinary words)', () => {
    expect(scrub('token 12345678 and 12345678', ['12345678'])).toBe('token REDACTED and REDACTED');
    expect(scrub('a bc def', ['bc', '', null, undefined])).toBe('a bc def');
  });

  it('replaces the value of anything that looks like auth= or access_token: in the text', () => {
    expect(scrub('auth=abc123&x=1 access_token: "zzz" refresh_token=q, client_secret:w} CLIENT_SECRET = v', [])).toBe(
      'auth=REDACTED&x=1 access_token: "REDACTED" refresh_token=REDACTED, client_secret:REDACTED} CLIENT_SECRET = REDACTED',
    );
    expect(scrub('author=me', [])).toBe('author=me');
  });
});
