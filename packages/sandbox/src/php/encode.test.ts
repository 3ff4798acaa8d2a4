import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { httpBuildQuery, phpFloat, urlencode } from './encode.js';

const eventsDir = fileURLToPath(new URL('../../../../fixtures/events', import.meta.url));
const fixtureNames = readdirSync(eventsDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length));

describe('httpBuildQuery against the real PHP fixtures', () => {
  it('finds the fixtures', () => {
    expect(fixtureNames.length).toBeGreaterThan(20);
  });

  it.each(fixtureNames)('%s: the .json payload encodes to the .form body byte for byte', (name) => {
    const payload: unknown = JSON.parse(readFileSync(join(eventsDir, `${name}.json`), 'utf8'));
    const form = readFileSync(join(eventsDir, `${name}.form`));
    expect(Buffer.from(httpBuildQuery(payload), 'utf8').equals(form)).toBe(true);
  });
});

// [name, json, form]: form is PHP 8.2's http_build_query(json_decode(json, true)).
// PHP floats that JS cannot tell from ints (1e14, -0.0) are left out: JS safe integers encode as PHP ints.
const phpCases: [string, string, string][] = [
  ['bools', '{"t":true,"f":false}', 't=1&f=0'],
  ['null and empties', '{"n":null,"e":[],"x":{"y":[],"z":null},"k":"v"}', 'k=v'],
  [
    'specials',
    '{"s":"a b~*\'()!$&=+\\/?#[]@,;:\\"<>%\\\\^`{|}","u":"Grüße 🙂 中文","nl":"line1\\r\\nline2\\ttab","nul":"a\\u0000b"}',
    's=a+b%7E%2A%27%28%29%21%24%26%3D%2B%2F%3F%23%5B%5D%40%2C%3B%3A%22%3C%3E%25%5C%5E%60%7B%7C%7D&u=Gr%C3%BC%C3%9Fe+%F0%9F%99%82+%E4%B8%AD%E6%96%87&nl=line1%0D%0Aline2%09tab&nul=a%00b',
  ],
  ['keys', '{"a b":1,"ü":2,"x[y]":3,"data":{"k y":["z"]}}', 'a+b=1&%C3%BC=2&x%5By%5D=3&data%5Bk+y%5D%5B0%5D=z'],
  [
    'lists',
    '{"l":["a","b",{"c":"d"}],"num":{"5":"five","10":"ten"}}',
    'l%5B0%5D=a&l%5B1%5D=b&l%5B2%5D%5Bc%5D=d&num%5B5%5D=five&num%5B10%5D=ten',
  ],
  ['ints', '{"i":0,"neg":-42,"big":9007199254740991}', 'i=0&neg=-42&big=9007199254740991'],
  [
    'floats',
    '{"a":0.0001,"b":10000000000000,"c":123.456,"d":100,"e":0.5,"f":0.00015,"g":12345678901234.5,"h":99999999999999.98,"i":0.7999999999999999,"j":0.3333333333333333,"k":-2.5,"l":0.000099999999999999,"m":150000000000000000000,"n":5e-324,"o":1.7976931348623157e+308,"q":2.5,"r":0.125,"t":123456789012345.6}',
    'a=0.0001&b=10000000000000&c=123.456&d=100&e=0.5&f=0.00015&g=12345678901234&h=1.0E%2B14&i=0.8&j=0.33333333333333&k=-2.5&l=9.9999999999999E-5&m=1.5E%2B20&n=4.9406564584125E-324&o=1.7976931348623E%2B308&q=2.5&r=0.125&t=1.2345678901235E%2B14',
  ],
];

describe('httpBuildQuery against PHP 8.2 edge cases', () => {
  it.each(phpCases)('%s', (_name, json, form) => {
    expect(httpBuildQuery(JSON.parse(json))).toBe(form);
  });

  it('keeps Map order for mixed keys, as a PHP array does', () => {
    expect(
      httpBuildQuery(
        new Map<string, unknown>([
          ['b', 1],
          ['2', 2],
        ]),
      ),
    ).toBe('b=1&2=2');
    expect(httpBuildQuery({ b: 1, 2: 2 })).toBe('2=2&b=1');
  });

  it('skips undefined like null and writes a Date as Unix seconds', () => {
    expect(httpBuildQuery({ a: [undefined, 'x'], d: new Date(1_700_000_000_500) })).toBe('a%5B1%5D=x&d=1700000000');
  });

  it('gives an empty string when nothing is left to send', () => {
    expect(httpBuildQuery({})).toBe('');
    expect(httpBuildQuery({ a: [], b: null })).toBe('');
  });
});

describe('phpFloat', () => {
  it('rounds half to even on the exact binary value, as zend_dtoa does', () => {
    expect(phpFloat(12345678901234.5)).toBe('12345678901234');
    expect(phpFloat(12345678901235.5)).toBe('12345678901236');
  });

  it('writes NaN, infinities and negative zero as PHP does', () => {
    expect(phpFloat(Number.NaN)).toBe('NAN');
    expect(phpFloat(Number.POSITIVE_INFINITY)).toBe('INF');
    expect(phpFloat(Number.NEGATIVE_INFINITY)).toBe('-INF');
    expect(phpFloat(-0)).toBe('-0');
  });
});

describe('urlencode', () => {
  it('keeps only A-Za-z0-9 - _ . and turns a space into +', () => {
    expect(urlencode('aZ09-_. ~')).toBe('aZ09-_.+%7E');
  });
});
