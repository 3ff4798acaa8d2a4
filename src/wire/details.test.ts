import { describe, expect, it } from 'vitest';
import { modelDecode } from '../../test/wire/php-model.js';
import { GatewayError } from '../errors.js';
import { AnswerError, readCapped } from './capped.js';
import { decodeForm } from './form.js';
import { defaultLimits, type DecodeLimits } from './limits.js';
import { claimOf, peekForm } from './peek.js';

/** The decoded value, or the refusal with its path and message. */
const outcome = (body: string, limits: DecodeLimits = defaultLimits) => {
  try {
    return { ok: true as const, value: decodeForm(body, limits) };
  } catch (e) {
    if (!(e instanceof GatewayError)) throw e;
    return { ok: false as const, code: e.code, path: e.path, message: e.message };
  }
};

describe('decodeForm, case by case, against the parse_str model', () => {
  it('gives what PHP gives for names, keys, appends and lists', () => {
    for (const body of [
      'a=1&',
      '&&a=1&&',
      'a',
      '=x&b=2',
      'a=%4a%4A%6a',
      'a=%G1%4&b=%',
      'a=%G%4A%4a%4F%4f%46%66%09%30%39%2',
      'a=%%e2%82%ac%ZZ%2f%2F',
      'a=%2',
      'x[]=a&x[1]=b&x[]=c',
      'x[-5]=a&x[]=b',
      'x[3]=a&x[3]=b&x[]=c',
      'x[1]=a&x[0]=b',
      'x[0]=a&x[1]=b',
      'x[01]=a&x[-0]=b&x[1 ]=c',
      'x[9223372036854775808]=a&x[-9223372036854775809]=b&x[12345678901234567890]=c',
      'x[\t]=a&x[ ]=b&x[\u000b]=c',
      'a[b=1&a[c]x[d]=2&a]b=3',
      ' a.b=1&a b=2',
      'x[__proto__]=1&x[constructor][prototype]=2',
      'a=+x+&b=%2B',
    ])
      expect([body, outcome(body)]).toEqual([body, modelDecode(body)]);
  });

  it('refuses an index past int64 limits or the index limit, naming the parameter', () => {
    expect(outcome('x[9223372036854775807]=a')).toMatchObject({
      code: 'B24GW_INDEX_TOO_LARGE',
      path: 'x[9223372036854775807]',
    });
    expect(outcome('x[-9223372036854775808]=a')).toMatchObject({
      code: 'B24GW_INDEX_TOO_LARGE',
      path: 'x[-9223372036854775808]',
    });
    const small = { ...defaultLimits, maxIndex: 3 };
    expect(outcome('x[3]=a&x[-3]=b', small)).toMatchObject({ ok: true });
    expect(outcome('x[-4]=a', small)).toMatchObject({
      code: 'B24GW_INDEX_TOO_LARGE',
      path: 'x[-4]',
      message: 'Parameter "x[-4]" uses index -4, over the limit of 3',
    });
    expect(outcome('x[]=a&x[]=b&x[]=c&x[]=d&x[]=e', small)).toMatchObject({
      code: 'B24GW_INDEX_TOO_LARGE',
      message: 'Parameter "x[]" uses index 4, over the limit of 3',
    });
  });

  it('a name read once and kept is held again to the limits of each body', () => {
    expect(outcome('cached[a][b]=1&n[7]=1')).toMatchObject({ ok: true });
    expect(outcome('cached[a][b]=1', { ...defaultLimits, maxDepth: 1 })).toMatchObject({
      code: 'B24GW_TOO_DEEP',
      path: 'cached[a][b]',
      message: 'Parameter "cached[a][b]" nests deeper than 1 levels',
    });
    expect(outcome('cached[a][b]=1', { ...defaultLimits, maxDepth: 2 })).toMatchObject({ ok: true });
    expect(outcome('n[7]=1', { ...defaultLimits, maxIndex: 6 })).toMatchObject({ code: 'B24GW_INDEX_TOO_LARGE' });
    expect(outcome('n[7]=1', { ...defaultLimits, maxIndex: 7 })).toMatchObject({ ok: true });
    expect(outcome('n[-7]=1', { ...defaultLimits, maxIndex: 6 })).toMatchObject({ code: 'B24GW_INDEX_TOO_LARGE' });
    // Many names: the cache starts over, and names read after that decode alike.
    const many = Array.from({ length: 5_000 }, (_, i) => `k${i}=${i}`).join('&');
    expect(Object.keys(decodeForm(many))).toHaveLength(5_000);
    expect(outcome('cached[a][b]=1', { ...defaultLimits, maxDepth: 1 })).toMatchObject({ code: 'B24GW_TOO_DEEP' });
    const long = `l${'x'.repeat(300)}[a][b]`;
    expect(outcome(`${long}=1`)).toMatchObject({ ok: true });
    expect(outcome(`${long}=1`, { ...defaultLimits, maxDepth: 1 })).toMatchObject({ code: 'B24GW_TOO_DEEP' });
  });

  it('refuses too many pairs with the limit in its message', () => {
    expect(outcome('a=1&b=2&c=3', { ...defaultLimits, maxParams: 2 })).toMatchObject({
      code: 'B24GW_TOO_MANY_PARAMS',
      message: 'Body has more than 2 parameters',
    });
  });

  it('refuses a NUL, raw or encoded, in a name or a value, naming where', () => {
    expect(outcome('\0a=1')).toMatchObject({ code: 'B24GW_NUL_BYTE', path: '%00a' });
    expect(outcome('a=1&b\0c=2')).toMatchObject({ code: 'B24GW_NUL_BYTE', path: 'b%00c' });
    expect(outcome('a[b]=x%00')).toMatchObject({
      code: 'B24GW_NUL_BYTE',
      path: 'a[b]',
      message: 'Value of "a[b]" holds a NUL character',
    });
    expect(outcome('a%00b=1')).toMatchObject({
      code: 'B24GW_NUL_BYTE',
      path: 'a%00b',
      message: 'Parameter name "a%00b" holds a NUL character',
    });
  });

  it('refuses invalid UTF-8 after percent-decoding, a value naming its parameter, a name clipped', () => {
    expect(outcome('a[b]=%ff')).toMatchObject({
      code: 'B24GW_INVALID_UTF8',
      path: 'a[b]',
      message: 'Value of "a[b]" is not valid UTF-8 after percent-decoding',
    });
    const name = `${'n'.repeat(90)}%ff`;
    const r = outcome(`${name}=1`);
    expect(r).toMatchObject({ code: 'B24GW_INVALID_UTF8', path: undefined });
    expect(r.ok === false && r.message).toBe(
      `Parameter name "${name.slice(0, 80)}…" is not valid UTF-8 after percent-decoding`,
    );
    expect(outcome('%ff=1')).toMatchObject({
      message: 'Parameter name "%ff" is not valid UTF-8 after percent-decoding',
    });
  });

  it('reports the ranges of secret values only: by the last key of the name, with a value', () => {
    const secretsOf = (body: string) => {
      const ranges: number[] = [];
      decodeForm(body, defaultLimits, ranges);
      const found: string[] = [];
      for (let i = 0; i < ranges.length; i += 2) found.push(body.slice(ranges[i], ranges[i + 1]));
      return found;
    };
    expect(
      secretsOf('auth[access_token]=a&auth[refresh_token]=&application_token=c&x[access_token][y]=d&access_token'),
    ).toEqual(['a', '', 'c']);
    expect(secretsOf('auth[domain]=a&x[0]=b&auth[client_secret]=s')).toEqual(['s']);
  });

  it('keeps a __proto__ key as data, enumerable, never as a prototype', () => {
    const v = decodeForm('x[__proto__][a]=1') as { x: Record<string, unknown> };
    expect(Object.getPrototypeOf(v.x)).toBe(Object.prototype);
    expect(JSON.stringify(v)).toBe('{"x":{"__proto__":{"a":"1"}}}');
  });
});

describe('peekForm and claimOf', () => {
  it('reads a field with no value as empty, and a value with = in it whole', () => {
    expect(peekForm('auth[member_id]&event=A=B&auth[application_token]=t%3D', defaultLimits)).toEqual({
      memberId: '',
      event: 'A=B',
      token: 't=',
    });
    expect(peekForm('event&x=1', defaultLimits)).toEqual({ event: '' });
    expect(peekForm('&event=E&&auth[member_id]=m&', defaultLimits)).toEqual({ event: 'E', memberId: 'm' });
  });

  it('reads only auth[member_id], auth[application_token] and event, at any place in the body', () => {
    expect(
      peekForm(
        'x=1&auth=2&auth[member_id]=m&authority[member_id]=no&eventual=no&event=E&auth[domain]=d',
        defaultLimits,
      ),
    ).toEqual({
      memberId: 'm',
      event: 'E',
    });
    expect(peekForm(`auth[member_id]=m&auth${'%5B'.repeat(20)}member_id]=x`, defaultLimits)).toEqual({ memberId: 'm' });
    expect(peekForm('a=1&e=2', defaultLimits)).toEqual({});
    expect(() => peekForm('auth[member_id]=%ff', defaultLimits)).toThrow(
      expect.objectContaining({ code: 'B24GW_INVALID_UTF8', path: 'auth[member_id]' }),
    );
  });

  it('ignores a name longer than any of the three can be written, even one that would read as one', () => {
    const long = `auth[member_id]${'x'.repeat(60)}`;
    expect(decodeForm(`${long}=m`)).toEqual({ auth: { member_id: 'm' } });
    expect(peekForm(`${long}=m`, defaultLimits)).toEqual({});
  });

  it('claimOf takes strings only, from an auth object only', () => {
    expect(claimOf({ event: 'E', auth: { member_id: 'm', application_token: 't' } })).toEqual({
      event: 'E',
      memberId: 'm',
      token: 't',
    });
    expect(claimOf({ event: 1, auth: { member_id: 2, application_token: null } })).toEqual({});
    expect(claimOf({ auth: ['m'] })).toEqual({});
    expect(claimOf({ auth: null })).toEqual({});
    expect(claimOf({ auth: 'member_id' })).toEqual({});
  });
});

describe('readCapped', () => {
  it('takes an answer exactly at the cap, declared or streamed, and an empty one', async () => {
    expect(await readCapped(new Response('x'.repeat(10), { headers: { 'content-length': '10' } }), 10)).toBe(
      'x'.repeat(10),
    );
    expect(await readCapped(new Response(null), 10)).toBe('');
    const e = await readCapped(new Response('x'.repeat(11), { headers: { 'content-length': '11' } }), 10).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(AnswerError);
    expect(e).toMatchObject({ name: 'AnswerError', message: 'answer is 11 bytes, over the 10 byte limit' });
  });
});
