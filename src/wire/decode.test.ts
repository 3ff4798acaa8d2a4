import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.js';
import { bodyText, decodeBody, formatOf } from './decode.js';
import { decodeForm } from './form.js';
import { decodeJson } from './json.js';
import { defaultLimits } from './limits.js';
import { REDACTED, redactRanges, redactedJson } from './redact.js';
import { isWireObject } from './types.js';

/** The coded refusal a call ends in, with its path when it names one. */
const refusal = (fn: () => unknown): { code: string; path?: string } => {
  try {
    fn();
  } catch (e) {
    if (e instanceof GatewayError) return e.path === undefined ? { code: e.code } : { code: e.code, path: e.path };
    throw e;
  }
  throw new Error('not refused');
};

describe('formatOf', () => {
  it('reads a form without a header, and the form and JSON types with their parameters, in any case', () => {
    for (const t of [
      null,
      undefined,
      '',
      'application/x-www-form-urlencoded',
      'Application/X-WWW-Form-Urlencoded; charset=UTF-8',
    ])
      expect(formatOf(t), String(t)).toBe('form');
    for (const t of [
      'application/json',
      'application/json; charset="utf-8"',
      'APPLICATION/JSON;charset=utf8',
      'application/vnd.event+json',
    ])
      expect(formatOf(t), t).toBe('json');
  });

  it('reads a type with spaces around it and other parameters beside its charset', () => {
    expect(formatOf(' application/json ; boundary=x; charset=utf-8')).toBe('json');
    expect(formatOf('application/json; foo=bar')).toBe('json');
    expect(() => formatOf('text/vnd.event+json')).toThrow(
      expect.objectContaining({ code: 'B24GW_UNSUPPORTED_MEDIA_TYPE' }),
    );
  });

  it('refuses other types and charsets', () => {
    for (const t of [
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/xml',
      'json',
      'application/json; charset=latin1',
      'application/x-www-form-urlencoded; charset=windows-1251',
    ])
      expect(
        refusal(() => formatOf(t)),
        t,
      ).toEqual({ code: 'B24GW_UNSUPPORTED_MEDIA_TYPE' });
  });
});

describe('bodyText', () => {
  it('refuses an empty body and bytes that are not UTF-8; reads only the bytes of a view', () => {
    expect(refusal(() => bodyText(''))).toEqual({ code: 'B24GW_EMPTY_BODY' });
    expect(refusal(() => bodyText(new Uint8Array(0)))).toEqual({ code: 'B24GW_EMPTY_BODY' });
    expect(refusal(() => bodyText(Buffer.from([0x61, 0x3d, 0xff])))).toEqual({ code: 'B24GW_INVALID_UTF8' });
    const whole = Buffer.from('xxa=€yy');
    expect(bodyText(whole.subarray(2, whole.length - 2))).toBe('a=€');
    expect(bodyText('a=1')).toBe('a=1');
  });

  it('measures the limit in bytes, and takes a body exactly at it', () => {
    const limits = { ...defaultLimits, maxBodyBytes: 4 };
    expect(bodyText('a=€', { ...defaultLimits, maxBodyBytes: 5 })).toBe('a=€');
    expect(refusal(() => bodyText('a=€', limits))).toEqual({ code: 'B24GW_BODY_TOO_LARGE' });
    expect(refusal(() => bodyText(Buffer.from('a=€'), limits))).toEqual({ code: 'B24GW_BODY_TOO_LARGE' });
  });
});

describe('decodeJson', () => {
  it('refuses what is not JSON, and JSON that is not an object', () => {
    for (const b of ['{', '', 'event=x', '{"a":1,}'])
      expect(
        refusal(() => decodeJson(b, defaultLimits)),
        b,
      ).toEqual({ code: 'B24GW_MALFORMED_JSON' });
    for (const b of ['[]', '[{"a":1}]', '1', '"x"', 'null', 'true'])
      expect(
        refusal(() => decodeJson(b, defaultLimits)),
        b,
      ).toEqual({ code: 'B24GW_NOT_AN_OBJECT' });
  });

  it('refuses U+0000 in any value or key, naming where; an escaped backslash before u0000 is text', () => {
    expect(refusal(() => decodeJson('{"data":{"x":["ok","a\\u0000"]}}', defaultLimits))).toEqual({
      code: 'B24GW_NUL_BYTE',
      path: 'data[x][1]',
    });
    expect(refusal(() => decodeJson('{"data":{"k\\u0000":1}}', defaultLimits))).toEqual({
      code: 'B24GW_NUL_BYTE',
      path: 'data[k\\u0000]',
    });
    expect(refusal(() => decodeJson('{"\\u0000":1}', defaultLimits))).toEqual({
      code: 'B24GW_NUL_BYTE',
      path: '\\u0000',
    });
    expect(decodeJson('{"a":"\\\\u0000","n":null,"b":[true,1.5]}', defaultLimits)).toEqual({
      a: '\\u0000',
      n: null,
      b: [true, 1.5],
    });
  });

  it('keeps __proto__ as an own key, polluting nothing', () => {
    const v = decodeJson('{"__proto__":{"polluted":1}}', defaultLimits);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('decodeBody', () => {
  it('decodes each format by its own rules', () => {
    expect(decodeBody('a[b]=1&c=2', 'form')).toEqual({ a: { b: '1' }, c: '2' });
    expect(decodeBody('{"a":{"b":1}}', 'json')).toEqual({ a: { b: 1 } });
    expect(refusal(() => decodeBody('a=1', 'json'))).toEqual({ code: 'B24GW_MALFORMED_JSON' });
    expect(refusal(() => decodeBody('', 'json'))).toEqual({ code: 'B24GW_EMPTY_BODY' });
  });
});

describe('redaction', () => {
  it('replaces the secret values the decoder found, and nothing else, byte for byte', () => {
    const body =
      'event=x&auth%5Baccess_token%5D=abc&data%5BBOT%5D%5B5%5D%5BAUTH%5D%5Brefresh_token%5D=r%2B1&auth%5Bdomain%5D=d&auth%5Bapplication_token%5D=';
    const ranges: number[] = [];
    decodeForm(body, defaultLimits, ranges);
    expect(redactRanges(body, ranges)).toBe(
      `event=x&auth%5Baccess_token%5D=${REDACTED}&data%5BBOT%5D%5B5%5D%5BAUTH%5D%5Brefresh_token%5D=${REDACTED}&auth%5Bdomain%5D=d&auth%5Bapplication_token%5D=${REDACTED}`,
    );
    expect(redactRanges(body, [])).toBe(body);
  });

  it('JSON: string values of secret names, at any depth; other values and names kept', () => {
    const v = {
      auth: { access_token: 'a', domain: 'd', expires: 5 },
      data: { BOT: [{ AUTH: { refresh_token: 'r', client_secret: 's' } }] },
      refresh_token: 7,
    };
    expect(JSON.parse(redactedJson(v))).toEqual({
      auth: { access_token: REDACTED, domain: 'd', expires: 5 },
      data: { BOT: [{ AUTH: { refresh_token: REDACTED, client_secret: REDACTED } }] },
      refresh_token: 7,
    });
    expect(JSON.parse(redactedJson(v, new Set(['domain'])))).toMatchObject({
      auth: { access_token: 'a', domain: REDACTED },
    });
  });
});

it('isWireObject: a plain object, not null, not a list', () => {
  expect([{}, { a: 1 }, [], null, 'x', 1].map(isWireObject)).toEqual([true, true, false, false, false, false]);
});
