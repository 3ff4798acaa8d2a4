import { defineConfig } from 'vitest/config';

/** The unit tests of each core folder: what `npm run test:mutation` runs against that folder's mutants. */
const tests: Record<string, string[]> = {
  wire: ['src/wire/**/*.test.ts', 'test/wire/*.test.ts'],
  events: ['src/events/**/*.test.ts'],
  verify: ['src/verify/**/*.test.ts', 'src/intake/intake.test.ts'],
  // The conformance suite on SQLite runs every shared query; `store/postgres` has PostgreSQL's run of it.
  // Retention's tests drive the pruning loop (prune.ts).
  store: [
    'src/store/**/*.test.ts',
    'src/worker/retention.test.ts',
    'test/store/sqlite.test.ts',
    'test/store/complete.test.ts',
    'test/store/faults.test.ts',
    'test/store/durability.test.ts',
  ],
  'store/postgres': ['test/store/postgres.test.ts', 'src/store/postgres/**/*.test.ts'],
  worker: ['src/worker/**/*.test.ts', 'src/queue/**/*.test.ts'],
  effects: ['src/effects/**/*.test.ts'],
};
const mutated = process.env.B24GW_MUTATE ?? 'wire';
// The most specific entry: `store/postgres/run.ts` is tested as `store/postgres` is.
const folder =
  Object.keys(tests)
    .filter((k) => mutated === k || mutated.startsWith(`${k}/`))
    .sort((a, b) => b.length - a.length)[0] ?? mutated.split('/')[0]!;

export default defineConfig({
  test: {
    include: tests[folder] ?? [`src/${folder}/**/*.test.ts`],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    env: { B24GW_HOSTILE_BYTES: String(64 << 10) },
  },
});
