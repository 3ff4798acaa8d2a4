import { defineConfig } from 'vitest/config';

/** `npm run docs:console`: the console's screenshots (test/console/screenshots.shots.ts), apart from the tests. */
export default defineConfig({
  test: {
    include: ['test/console/*.shots.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
