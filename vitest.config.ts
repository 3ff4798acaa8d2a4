import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The sandbox package's tests sit beside its code, like the gateway's.
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
    // The reliability suite runs on its own: npm run test:reliability.
    exclude: ['test/reliability/**', '**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Gateways made without a logger log at info; the tests' own would drown the report.
    env: { B24GW_LOG_LEVEL: 'silent' },
  },
});
