import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { tempDir } from '../helpers.js';
import { chromiumAvailable, launch } from './browser.js';
import { CHAT, EDITED, LINE, startConsoleRig, type ConsoleRig } from './seed.js';

// `npm run docs:console`: a screenshot of each page of the console into docs/console/, from the
// same story the browser tests use (a gateway the sandbox installed and fed).
const out = new URL('../../docs/console/', import.meta.url).pathname;

describe.skipIf(!chromiumAvailable)('console screenshots', () => {
  let tmp: ReturnType<typeof tempDir>;
  let rig: ConsoleRig;
  let browser: Browser;
  let page: Page;
  const shot = (name: string) => page.screenshot({ path: `${out}${name}.png`, fullPage: true });

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    tmp = tempDir();
    rig = await startConsoleRig(`${tmp.dir}/console.db`);
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  });
  afterAll(async () => {
    await browser?.close();
    await rig?.close();
    tmp?.cleanup();
  });

  it('takes each page', async () => {
    await page.goto(`${rig.admin}/console/`);
    await page.locator('.chart canvas').first().waitFor();
    await shot('overview');
    await page.goto(`${rig.admin}/console/#/events`);
    await page.locator('table.events tbody tr').first().waitFor();
    await shot('events');
    await page.goto(`${rig.admin}/console/#/events/${rig.deadId}`);
    await page.getByRole('heading', { name: `Event ${rig.deadId}` }).waitFor();
    await shot('event');
    await page.goto(`${rig.admin}/console/#/dead`);
    await page.locator('table.events tbody tr').first().waitFor();
    await page.getByLabel(`Select event ${rig.deadId}`).check();
    await shot('dead-letters');
    await page.goto(`${rig.admin}/console/#/conversations?portal=${rig.memberId}&line=${LINE}&chat=${CHAT}`);
    const edited = page.locator(`.msg[data-message="${EDITED}"]`);
    await edited.getByText(/Edited/).click();
    await shot('conversation');
    await page.goto(`${rig.admin}/console/#/portals`);
    await page.getByRole('heading', { name: 'Portals and bots' }).waitFor();
    await page.locator('dl.facts').first().waitFor();
    await shot('portals');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${rig.admin}/console/#/`);
    await page.locator('.chart canvas').first().waitFor();
    await shot('overview-dark');
  });
});
