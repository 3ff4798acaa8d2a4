import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/** A fresh folder for one test's database files, removed by the returned function. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'b24gw-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A fresh folder for each test of the suite it is called in, removed after the test (after the
 * suite's own afterEach hooks registered later, which vitest runs first).
 */
export function tempDirEach(): { readonly dir: string } {
  let current: ReturnType<typeof tempDir> | undefined;
  beforeEach(() => {
    current = tempDir();
  });
  afterEach(() => {
    current?.cleanup();
    current = undefined;
  });
  return {
    get dir() {
      return current!.dir;
    },
  };
}

/** Polls `check` every 5 ms until it holds: false after `ms` (a wait, not an assertion). */
export const holdsWithin = async (check: () => boolean | Promise<boolean>, ms = 5_000): Promise<boolean> => {
  for (const end = Date.now() + ms; !(await check()); await new Promise((r) => setTimeout(r, 5)))
    if (Date.now() > end) return false;
  return true;
};

/** Resolves once `test` holds; throws after `ms`, naming `what` that never happened. */
export const until = async (
  test: () => boolean | Promise<boolean>,
  ms = 15_000,
  what = 'the condition',
): Promise<void> => {
  if (!(await holdsWithin(test, ms))) throw new Error(`timed out waiting for ${what}`);
};
