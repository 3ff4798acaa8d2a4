import { readdirSync, readFileSync } from 'node:fs';
import type { Rng } from './lib.js';

/**
 * Hostile bodies for POST /events, made from the PHP-generated fixtures: bit flips,
 * truncations, splices, random bytes, huge indexes, deep nesting, prototype keys, invalid
 * UTF-8, wrong content types. Every body is made from a seeded PRNG, so a run can be repeated.
 */

export interface Hostile {
  kind: string;
  body: Buffer;
  /** undefined: no Content-Type header at all. */
  contentType: string | undefined;
}

const dir = new URL('../../fixtures/events/', import.meta.url);
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.form'))
  .map((f) => f.slice(0, -5));
export const formSeeds = names.map((n) => Buffer.from(readFileSync(new URL(`${n}.form`, dir))));
export const jsonSeeds = names.map((n) => Buffer.from(readFileSync(new URL(`${n}.json`, dir))));

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';
const contentTypes: (string | undefined)[] = [
  FORM,
  JSON_TYPE,
  undefined,
  '',
  'text/plain',
  'text/html; charset=utf-8',
  'multipart/form-data; boundary=----x',
  'application/x-www-form-urlencoded; charset=latin1',
  'application/x-www-form-urlencoded; charset=UTF-8',
  'application/x-www-form-urlencoded;charset="utf-8"',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/xml',
  '*/*',
  'application/json; charset=utf-16',
  'application/x-www-form-urlencoded, application/json',
  ';;;',
  'form',
];

const invalidUtf8 = [
  [0xff],
  [0xfe],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0x80],
  [0xe2, 0x82],
  [0xf4, 0x90, 0x80, 0x80],
  [0xc3],
].map((b) => Buffer.from(b));
const percentBad = ['%ff', '%FE', '%c0%af', '%ED%A0%80', '%80', '%e2%82', '%', '%z', '%%', '%2', '%u0041', '%00'].map(
  (s) => Buffer.from(s),
);
const hugeIndexes = [
  '2147483648',
  '-2147483649',
  '99999999999999999999',
  '9223372036854775807',
  '-9223372036854775808',
  '9223372036854775808',
  '4294967296',
  '1e99',
  '0x7fffffff',
  '2147483647',
  '-2147483647',
  '00000000000000000001',
];
const protoInjections = [
  '&__proto__[polluted]=1',
  '&__proto__%5Bpolluted%5D=1',
  '&constructor[prototype][polluted]=1',
  '&constructor%5Bprototype%5D%5Bpolluted%5D=1',
  '&data[__proto__][MESSAGES]=x',
  '&auth[__proto__][application_token]=x',
  '&data[MESSAGES][0][__proto__][im]=1',
  '&__proto__=1',
  '&prototype[x]=1&toString=1&valueOf=1&hasOwnProperty=1',
  '&auth[constructor][name]=x',
].map((s) => Buffer.from(s));
const jsonProto = [
  '{"__proto__":{"polluted":1},"event":"ONAPPTEST","data":{},"auth":{}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"event":"ONIMCONNECTORMESSAGEUPDATE","data":{"__proto__":{"MESSAGES":[]}},"auth":{"__proto__":{"member_id":"x"}}}',
].map((s) => Buffer.from(s));
const formAlphabet = [
  'a',
  'b',
  'x',
  '0',
  '1',
  '[',
  ']',
  '[]',
  '=',
  '&',
  '%',
  '+',
  '.',
  ' ',
  '_',
  '%5B',
  '%5D',
  'data',
  'auth',
  'event',
  'MESSAGES',
  '__proto__',
  '\n',
  '\0',
  ';',
];

/** `a&a&a&…` without any `=`: each pair scans the rest of the body for `=` (see the report). */
export const noEqualsBody = (pairs: number) => Buffer.from('a&'.repeat(pairs));
const manyParams = Buffer.from('p=1&'.repeat(10_001));

export function makeHostile(rng: Rng): Hostile {
  const json = rng.chance(0.2);
  const seeds = json ? jsonSeeds : formSeeds;
  const seed = rng.pick(seeds);
  const ct = json ? JSON_TYPE : FORM;
  const r = rng.next();
  let kind: string;
  let body: Buffer;
  if (r < 0.01) {
    kind = 'valid';
    body = seed;
  } else if (r < 0.015) {
    // A fresh ts makes a new event, so some hostile traffic really is stored.
    kind = 'valid-fresh';
    body = json
      ? Buffer.from(seed.toString().replace(/"ts":\s*"?\d+"?/, `"ts":${1_700_000_000 + rng.int(1e8)}`))
      : Buffer.from(seed.toString().replace(/ts=\d+/, `ts=${1_700_000_000 + rng.int(1e8)}`));
  } else if (r < 0.2) {
    kind = 'bitflip';
    body = Buffer.from(seed);
    for (let i = 1 + rng.int(8); i > 0; i--) {
      const at = rng.int(body.length);
      body[at] = body[at]! ^ (1 << rng.int(8));
    }
  } else if (r < 0.3) {
    kind = 'byte-set';
    body = Buffer.from(seed);
    const specials = [0x00, 0xff, 0x26, 0x3d, 0x5b, 0x5d, 0x25, 0x2b, 0x22, 0x7b, 0x7d, 0x0a];
    for (let i = 1 + rng.int(4); i > 0; i--)
      body[rng.int(body.length)] = rng.chance(0.5) ? rng.pick(specials) : rng.int(256);
  } else if (r < 0.4) {
    kind = 'truncate';
    body = seed.subarray(0, rng.int(seed.length));
  } else if (r < 0.5) {
    kind = 'splice';
    const other = rng.pick(rng.chance(0.8) ? seeds : json ? formSeeds : jsonSeeds);
    body = Buffer.concat([seed.subarray(0, rng.int(seed.length)), other.subarray(rng.int(other.length))]);
  } else if (r < 0.55) {
    kind = 'pairs-shuffled';
    const parts = seed.toString('latin1').split('&');
    const i = rng.int(parts.length);
    const j = rng.int(parts.length);
    if (rng.chance(0.5)) [parts[i], parts[j]] = [parts[j]!, parts[i]!];
    else parts.splice(i, 1);
    if (rng.chance(0.3)) parts.splice(j, 0, parts[i] ?? '');
    body = Buffer.from(parts.join('&'), 'latin1');
  } else if (r < 0.62) {
    kind = 'random-bytes';
    body = Buffer.alloc(rng.int(2048));
    for (let i = 0; i < body.length; i++) body[i] = rng.int(256);
  } else if (r < 0.69) {
    kind = 'random-form';
    let s = '';
    for (let i = rng.int(120); i > 0; i--) s += rng.pick(formAlphabet);
    body = Buffer.from(s);
  } else if (r < 0.74) {
    kind = 'huge-index';
    const huge = rng.pick(hugeIndexes);
    const s = seed.toString('latin1');
    body = Buffer.from(
      rng.chance(0.5)
        ? s.replace(/%5B(\d+)%5D/, `%5B${huge}%5D`)
        : `${s}&data[MESSAGES][${huge}][im][chat_id]=1&x[${huge}][]=1`,
      'latin1',
    );
  } else if (r < 0.79) {
    kind = 'deep';
    const depth = 20 + rng.int(300);
    const level = rng.pick(['[x]', '[]', '%5Bx%5D', '[0]', '[__proto__]']);
    if (json) body = Buffer.from(`${'['.repeat(depth * (rng.chance(0.1) ? 200 : 1))}1${']'.repeat(depth)}`);
    else body = Buffer.concat([seed, Buffer.from(`&data${level.repeat(depth)}=1`)]);
  } else if (r < 0.85) {
    kind = 'proto';
    body = json ? rng.pick(jsonProto) : Buffer.concat([seed, rng.pick(protoInjections)]);
    if (!json && rng.chance(0.5))
      body = Buffer.from(
        body
          .toString('latin1')
          .replace(/^event=/, '__proto__[event]=')
          .replace('auth%5B', rng.pick(['__proto__%5B', 'constructor%5B', 'auth%5B__proto__%5D%5B'])),
        'latin1',
      );
  } else if (r < 0.92) {
    kind = 'invalid-utf8';
    const at = rng.int(seed.length);
    body = Buffer.concat([
      seed.subarray(0, at),
      rng.chance(0.5) ? rng.pick(invalidUtf8) : rng.pick(percentBad),
      seed.subarray(at),
    ]);
  } else if (r < 0.925) {
    kind = 'many-params';
    body = manyParams;
  } else if (r < 0.93) {
    kind = 'no-equals';
    body = noEqualsBody(1 + rng.int(5_000));
  } else if (r < 0.935) {
    kind = 'empty';
    body = Buffer.alloc(0);
  } else if (r < 0.96) {
    kind = 'duplicate-keys';
    const s = seed.toString('latin1');
    body = Buffer.from(
      `${s}&${s
        .split('&')
        .slice(0, 1 + rng.int(6))
        .join('&')}&auth[application_token]=${rng.chance(0.5) ? '' : 'x'}`,
      'latin1',
    );
  } else {
    kind = 'wrong-type';
    body = seed;
  }
  let contentType: string | undefined = ct;
  if (kind === 'wrong-type' || rng.chance(0.08)) contentType = rng.pick(contentTypes);
  return { kind, body, contentType };
}
