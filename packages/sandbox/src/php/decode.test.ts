import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SandboxError } from '../errors.js';
import { PhpArray, type PhpValue } from './array.js';
import { decodeForm, decodeJson, parseStr, urldecode } from './decode.js';
import { httpBuildQuery } from './encode.js';

/** One parse_str call made by PHP 8.2 (fixtures/php/make-fixtures.php). */
interface PhpCase {
  name: string;
  input: string;
  /** json_encode of the result. */
  output: unknown;
  /** The result's entries in order, each [key type i|s, key, value or nested entries]. */
  entries: PhpEntry[];
  invalid_utf8?: boolean;
  warnings?: string[];
}
type PhpEntry = ['i' | 's', string | { hex: string }, string | { hex: string } | PhpEntry[]];

const cases = JSON.parse(
  readFileSync(new URL('../../../../fixtures/parse_str/cases.json', import.meta.url), 'utf8'),
) as PhpCase[];

/** The parsed array in the fixtures' entry form: key types and order are checked, not only json_encode's view. */
function entriesOf(array: PhpArray): PhpEntry[] {
  return [...array.entries].map(([key, value]): PhpEntry => [
    typeof key === 'bigint' ? 'i' : 's',
    String(key),
    entryValue(value),
  ]);
}
const entryValue = (v: PhpValue): string | PhpEntry[] => (typeof v === 'string' ? v : entriesOf(v));

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    if (e instanceof SandboxError) return e.code;
    throw e;
  }
  return undefined;
};

describe('parseStr gives what PHP 8.2 parse_str gives', () => {
  it('has the ground truth', () => {
    expect(cases.length).toBeGreaterThan(200);
  });

  for (const c of cases) {
    it(c.name, () => {
      // PHP keeps bytes that are not UTF-8; a JS string cannot, so the sandbox refuses them.
      if (c.invalid_utf8) return expect(codeOf(() => parseStr(c.input))).toBe('B24SB_INVALID_UTF8');
      const { array, warnings } = parseStr(c.input);
      expect(entriesOf(array)).toEqual(c.entries);
      expect(warnings.map((w) => `parse_str(): ${w}`)).toEqual(c.warnings ?? []);
    });
  }
});

describe('decodeForm', () => {
  it('is an object of parameters at the top, lists below', () => {
    expect(decodeForm('0=a&1=b').params).toEqual({ 0: 'a', 1: 'b' });
    expect(decodeForm('MESSAGES[0][message][id][]=x&MESSAGES[0][im][chat_id]=5').params).toEqual({
      MESSAGES: [{ message: { id: ['x'] }, im: { chat_id: '5' } }],
    });
  });

  it('reads back what httpBuildQuery writes', () => {
    const data = {
      event: 'ONAPPTEST',
      data: { list: ['a', 'b c', 'ü&='], n: '1' },
      auth: { domain: 'x.bitrix24.com' },
    };
    expect(decodeForm(httpBuildQuery(data)).params).toEqual(data);
  });

  it('keeps __proto__ an own key', () => {
    const { params } = decodeForm('__proto__[x]=1&a[__proto__]=2');
    expect(Object.keys(params)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('drops pairs past max_input_vars with PHP’s warning', () => {
    const { params, warnings } = decodeForm('a=1&b=2&c=3', { maxInputVars: 2, maxNestingLevel: 64 });
    expect(params).toEqual({ a: '1', b: '2' });
    expect(warnings).toEqual(['Input variables exceeded 2. To increase the limit change max_input_vars in php.ini.']);
  });
});

describe('urldecode and JSON', () => {
  it('keeps a stray % and a NUL in a value, as PHP does', () => {
    expect(urldecode('100%+sure%zz%4')).toBe('100% sure%zz%4');
    expect(parseStr('a=x%00y').array.get('a')).toBe('x\0y');
  });

  it('refuses JSON that is not an object of parameters', () => {
    expect(codeOf(() => decodeJson('{'))).toBe('B24SB_MALFORMED_JSON');
    expect(codeOf(() => decodeJson('[1]'))).toBe('B24SB_NOT_AN_OBJECT');
    expect(decodeJson('{"auth":"t","__proto__":{"x":1}}')).toEqual(JSON.parse('{"auth":"t","__proto__":{"x":1}}'));
  });
});
