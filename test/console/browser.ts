import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium (apt-get install chromium), which .ci/run installs. */
export const chromiumPath = process.env.B24GW_CHROMIUM ?? '/usr/bin/chromium';

export const chromiumAvailable = existsSync(chromiumPath);
if (!chromiumAvailable) {
  const message = `No chromium at ${chromiumPath}: the console's browser tests are SKIPPED (apt-get install chromium, or set B24GW_CHROMIUM)`;
  // CI installs it: there, a missing browser is a failure, never a silent skip.
  if (process.env.CI) throw new Error(message);
  console.warn(message);
}

export const launch = (): Promise<Browser> =>
  chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
