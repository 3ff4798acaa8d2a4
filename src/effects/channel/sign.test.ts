import { createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { generateSecret, secretKey, sign, verifySignature } from './sign.js';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const other = generateSecret();
const body = '{"type":"message.updated","id":"evt_7_0"}';
const now = () => Math.floor(Date.now() / 1000);

/** The documented algorithm, written out independently of sign.ts. */
const expectedSignature = (s: string, id: string, ts: number, b: string) =>
  'v1,' +
  createHmac('sha256', Buffer.from(s.replace(/^whsec_/, ''), 'base64'))
    .update(`${id}.${ts}.${b}`)
    .digest('base64');

const headersFor = (s: string, id = 'evt_7_0', ts = now(), b = body) => ({
  'webhook-id': id,
  'webhook-timestamp': String(ts),
  'webhook-signature': sign(s, id, ts, b),
});

describe('sign', () => {
  it('matches the Standard Webhooks reference test vector', () => {
    // From the spec's JavaScript library tests: interoperability with every conforming verifier.
    expect(sign(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('is HMAC-SHA256 of "id.timestamp.body" keyed with the decoded secret', () => {
    const unicode = '{"text":"Привет 👋🏽 & <b>"}';
    expect(sign(other, 'evt_1_2', 1773760030, unicode)).toBe(expectedSignature(other, 'evt_1_2', 1773760030, unicode));
  });

  it('accepts a secret without the whsec_ prefix, refuses a short or mistyped one', () => {
    expect(sign(secret.slice(6), 'a', 1, 'b')).toBe(sign(secret, 'a', 1, 'b'));
    expect(secretKey(generateSecret())).toHaveLength(32);
    expect(() => sign('whsec_c2hvcnQ=', 'a', 1, 'b')).toThrow(/at least 24/);
    expect(() => sign('whsec_MfKQ9r8GKYqrTwjUPD8I!PZIo2LaLaSw', 'a', 1, 'b')).toThrow(/base64/);
    expect(() => sign('', 'a', 1, 'b')).toThrow();
  });

  it('refuses an id or timestamp that would make the signed string ambiguous', () => {
    expect(() => sign(secret, 'evt.1', 1, 'b')).toThrow(/dots/);
    expect(() => sign(secret, '', 1, 'b')).toThrow();
    expect(() => sign(secret, 'a', 1.5, 'b')).toThrow(/unix seconds/);
    expect(() => sign(secret, 'a', -1, 'b')).toThrow(/unix seconds/);
    expect(sign(secret, 'a', 0, 'b')).toBe(expectedSignature(secret, 'a', 0, 'b'));
  });
});

describe('verifySignature', () => {
  it('accepts a valid request: plain object, any header case, Fetch Headers, Buffer body', () => {
    const h = headersFor(secret);
    expect(verifySignature(secret, h, body)).toBe(true);
    const upper = {
      'Webhook-Id': h['webhook-id'],
      'WEBHOOK-TIMESTAMP': h['webhook-timestamp'],
      'Webhook-Signature': h['webhook-signature'],
    };
    expect(verifySignature(secret, upper, body)).toBe(true);
    expect(verifySignature(secret, new Headers(h), Buffer.from(body))).toBe(true);
  });

  it('supports rotation: several secrets, several signatures, other schemes ignored', () => {
    const ts = now();
    const both = `v1a,AAAA ${sign(other, 'evt_7_0', ts, body)}  ${sign(secret, 'evt_7_0', ts, body)}`;
    const h = { 'webhook-id': 'evt_7_0', 'webhook-timestamp': String(ts), 'webhook-signature': both };
    expect(verifySignature(secret, h, body)).toBe(true);
    expect(verifySignature([generateSecret(), other], headersFor(other), body)).toBe(true);
  });

  it('rejects a changed body, id or timestamp, a wrong secret and missing headers', () => {
    const ts = now();
    const h = headersFor(secret, 'evt_7_0', ts);
    expect(verifySignature(secret, h, body + ' ')).toBe(false);
    expect(verifySignature(secret, { ...h, 'webhook-id': 'evt_7_1' }, body)).toBe(false);
    // One second off the signed one, whatever the clock says now.
    expect(verifySignature(secret, { ...h, 'webhook-timestamp': String(ts - 1) }, body)).toBe(false);
    expect(verifySignature(other, h, body)).toBe(false);
    expect(verifySignature(secret, { ...h, 'webhook-signature': 'v1,' }, body)).toBe(false);
    expect(verifySignature(secret, { ...h, 'webhook-signature': h['webhook-signature'].slice(0, 20) }, body)).toBe(
      false,
    );
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const { [name]: _gone, ...rest } = h;
      expect(verifySignature(secret, rest, body), name).toBe(false);
    }
  });

  it('rejects a timestamp outside the tolerance, either way', () => {
    expect(verifySignature(secret, headersFor(secret, 'evt_7_0', now() - 301), body)).toBe(false);
    expect(verifySignature(secret, headersFor(secret, 'evt_7_0', now() + 301), body)).toBe(false);
    expect(verifySignature(secret, headersFor(secret, 'evt_7_0', now() - 290), body)).toBe(true);
    expect(verifySignature(secret, headersFor(secret, 'evt_7_0', now() - 3600), body, 7200)).toBe(true);
    expect(verifySignature(secret, { ...headersFor(secret), 'webhook-timestamp': 'soon' }, body)).toBe(false);
  });

  it('refuses a timestamp with anything but digits, even signed as sent', () => {
    for (const ts of [`${now()}x`, `x${now()}`, ` ${now()}`, `${now()}.0`]) {
      const sig = 'v1,' + createHmac('sha256', secretKey(secret)).update(`evt_7_0.${ts}.${body}`).digest('base64');
      const h = { 'webhook-id': 'evt_7_0', 'webhook-timestamp': ts, 'webhook-signature': sig };
      expect(verifySignature(secret, h, body), ts).toBe(false);
    }
  });

  it('accepts a timestamp exactly at the tolerance', () => {
    const at = now();
    vi.spyOn(Date, 'now').mockReturnValue(at * 1000);
    try {
      expect(verifySignature(secret, headersFor(secret, 'evt_7_0', at - 300), body)).toBe(true);
      expect(verifySignature(secret, headersFor(secret, 'evt_7_0', at - 301), body)).toBe(false);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('checks only v1 signatures: a valid HMAC under another scheme does not count', () => {
    const h = headersFor(secret);
    const mac = h['webhook-signature'].slice(3);
    for (const scheme of ['v2', 'v1a', 'x1']) {
      expect(verifySignature(secret, { ...h, 'webhook-signature': `${scheme},${mac}` }, body), scheme).toBe(false);
    }
  });

  it('reads a header given as a list (as node:http gives repeated headers), joined by spaces', () => {
    const h = headersFor(secret);
    const listed = { ...h, 'webhook-signature': ['v1,AAAA', h['webhook-signature']] };
    expect(verifySignature(secret, listed, body)).toBe(true);
  });
});
