// Mutation testing of one core folder at a time: `npm run test:mutation -- wire verify` (scripts/mutation.mjs).
// Each folder's mutants meet only the tests written for it (vitest.mutation.config.ts), one or two at a time.
import process from 'node:process';

const folder = process.env.B24GW_MUTATE ?? 'wire';
/** A folder's path may go deeper (`store/queries`), or name files (`store/*.ts`, the folder's own files only): its report is named with dashes. */
const name = folder.replaceAll('/', '-').replaceAll('*', 'top');
const files = folder.endsWith('.ts') ? `src/${folder}` : `src/${folder}/**/*.ts`;

const coverage = process.env.B24GW_MUTATE_COVERAGE ?? 'perTest';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  // Migrations are DDL: a mutant of one breaks every store test, and each would run them all.
  mutate: [files, '!src/**/*.test.ts', '!src/store/*/migrations.ts'],
  // perTest runs a mutant against the tests that reached it; B24GW_MUTATE_COVERAGE=all runs every
  // related test for each, a check on that (deliver.ts scored 73.7 % either way).
  coverageAnalysis: coverage,
  concurrency: Number(process.env.B24GW_MUTATE_CONCURRENCY ?? 2),
  timeoutMS: 20_000,
  // The first run of a folder's whole suite, on a busy machine.
  dryRunTimeoutMinutes: 30,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  tempDirName: `.stryker-tmp/${name}`,
  // Runs of other folders may be under way: their sandboxes are not copied into this one.
  ignorePatterns: ['/.stryker-tmp', '/reports', '/bench/results', '/coverage'],
  cleanTempDir: 'always',
  ignoreStatic: coverage === 'perTest',
  incremental: false,
};
