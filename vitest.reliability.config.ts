import { defineConfig } from 'vitest/config';

/**
 * `npm run test:reliability`: crash, outage, duplicate, hostile-input and forged-traffic
 * scenarios against the built gateway (run `npm run build` first). Files run one at a time
 * in one forked process, so the gateway processes they start have the machine's cores.
 */
export default defineConfig({
  test: {
    // The decoder's properties run lean in npm test, and at length here.
    include: ['test/reliability/**/*.test.ts', 'test/wire/decode-properties.test.ts'],
    // Gateways made without a logger log at info; the scenarios' own reports would drown.
    env: { RELIABILITY_PROPERTY_RUNS: process.env.RELIABILITY_PROPERTY_RUNS ?? '3000', B24GW_LOG_LEVEL: 'silent' },
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 600_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
