import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it, onTestFailed } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { isGatewayError } from '../errors.js';
import { decodeForm } from '../wire/form.js';
import { isWireObject, type WireObject } from '../wire/types.js';
import { unknownEventSchema } from './envelope.js';
import { eventSchemas, isEventCode, normalizeCode, parseEvent } from './registry.js';

const fixtures = readdirSync(new URL('../../fixtures/events/', import.meta.url))
  .filter((f) => f.endsWith('.form'))
  .map((f) => decodeForm(formFixture(f.slice(0, -5))));

/** Every path to a value in a decoded body. */
const pathsOf = (value: unknown, path: string[] = []): string[][] =>
  isWireObject(value) || Array.isArray(value)
    ? [path, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...path, k]))]
    : [path];

/** A copy of `wire` with the value at `path` replaced (or removed, for undefined). */
function withValue(wire: WireObject, path: string[], value: unknown): WireObject {
  const copy = structuredClone(wire);
  if (path.length === 0) return copy;
  let at: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  if (value === undefined) delete at[path.at(-1)!];
  else at[path.at(-1)!] = value;
  return copy;
}

const oddValue = fc.oneof(
  fc.constantFrom(
    undefined,
    '',
    '0',
    '00123',
    '-5',
    '1e3',
    ' 7',
    '9007199254740993',
    'abc',
    12,
    1.5,
    [],
    {},
    ['x'],
    { 0: 'a' },
    JSON.parse('{"__proto__":"x"}') as unknown,
  ),
  fc.string({ maxLength: 8 }),
  fc.integer(),
);

/** A new seed each run (PROPERTY_SEED replays one), printed when the property fails. */
const seed = Number(process.env.PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('parseEvent runs compiled schemas', () => {
  it('accepts, refuses and outputs exactly what the schemas themselves do, on every fixture with one value changed', () => {
    onTestFailed(() => console.error(`compiled schemas: replay with PROPERTY_SEED=${seed}`));
    let refused = 0;
    fc.assert(
      fc.property(fc.nat(), fc.nat(), oddValue, (f, p, value) => {
        const base = fixtures[f % fixtures.length]!;
        const paths = pathsOf(base);
        const wire = withValue(base, paths[p % paths.length]!, value);
        const code = typeof wire.event === 'string' ? normalizeCode(wire.event) : '';
        const schema = isEventCode(code) ? eventSchemas[code] : unknownEventSchema;
        const runtime = schema.safeParse(typeof wire.event === 'string' ? { ...wire, event: code } : wire);
        let compiled: unknown;
        try {
          compiled = parseEvent(wire).event;
        } catch (e) {
          expect(isGatewayError(e)).toBe(true);
          refused++;
          expect(runtime.success && code !== '').toBe(false);
          return;
        }
        expect(runtime.success).toBe(true);
        expect(compiled).toEqual(runtime.data);
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 1500), seed },
    );
    // The mutations must reach both sides: some refused, most not.
    expect(refused).toBeGreaterThan(100);
  });
});
