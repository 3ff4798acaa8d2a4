import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { tempDir } from '../helpers.js';
import { chromiumAvailable, launch } from './browser.js';
import { CHAT, EDITED, LINE, startConsoleRig, type ConsoleRig } from './seed.js';

const TOKEN = 'console-browser-token-77c2';

// The console in a real browser (Debian's chromium, driven by playwright-core), over real HTTP,
// against a gateway the sandbox installed and fed: what a person does with it, step by step.
describe.skipIf(!chromiumAvailable)('the console in chromium', () => {
  let tmp: ReturnType<typeof tempDir>;
  let rig: ConsoleRig;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    tmp = tempDir();
    rig = await startConsoleRig(`${tmp.dir}/console.db`, TOKEN);
    browser = await launch();
    // The browser's own basic auth, the token as the password: what a person types when asked.
    context = await browser.newContext({ httpCredentials: { username: 'ops', password: TOKEN } });
    // Offline: nothing but the admin listener may be reached.
    await context.route(
      (url) => !url.href.startsWith(rig.admin),
      (route) => route.abort(),
    );
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await rig?.close();
    tmp?.cleanup();
  });

  it('loads the overview: the queue, live charts and the portal at a glance', async () => {
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('pageerror', (e) => failed.push(e.message));
    await page.goto(`${rig.admin}/`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await expect
      .poll(() => page.locator('.stat', { hasText: 'dead letters' }).locator('.stat-value').textContent())
      .toBe('1');
    // uPlot draws each chart on a canvas; its legend names the series.
    expect(await page.locator('.chart canvas').count()).toBe(2);
    await expect.poll(() => page.locator('.chart').first().textContent()).toContain('done');
    expect(await page.locator('section[aria-labelledby="overview-portals"] table').textContent()).toContain(
      rig.sb.portal.domain,
    );
    expect(failed).toEqual([]);
  });

  it('filters the events by status, with the keyboard, and opens one', async () => {
    // To the events page by keyboard: a link of the navigation, then Enter.
    await page.getByRole('link', { name: 'Events', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    await page.getByLabel('Status').selectOption('dead');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => page.url()).toContain('status=dead');
    const rows = page.locator('table.events tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-id')).toBe(String(rig.deadId));
    // "/" jumps to the search box; a Bitrix24 message id finds the events that name it.
    await page.keyboard.press('/');
    await page.keyboard.type(String(EDITED));
    await page.getByLabel('Status').selectOption('');
    await page.keyboard.press('Enter');
    await expect.poll(() => rows.count()).toBe(3);

    await page.getByLabel('Search').fill('');
    await page.getByLabel('Status').selectOption('dead');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => rows.count()).toBe(1);
    await rows
      .first()
      .getByRole('link', { name: String(rig.deadId) })
      .click();
    await page.getByRole('heading', { name: `Event ${rig.deadId}` }).waitFor();
    const attempts = page.locator('section[aria-labelledby="attempts"]');
    await expect.poll(() => attempts.textContent()).toContain('the channel answered 502 Bad Gateway');
    expect(await page.locator('section[aria-labelledby="channel"]').textContent()).toContain(
      `webhook-id: evt_${rig.deadId}_0`,
    );
    expect(await page.locator('.timeline li').allTextContents()).toEqual([
      expect.stringContaining('received'),
      expect.stringContaining('attempt started'),
      expect.stringContaining('attempt failed'),
    ]);
    expect(await page.locator('section[aria-labelledby="raw"] pre').textContent()).not.toContain(
      rig.sb.portal.applicationToken,
    );
  });

  it('replays a dead letter after a confirmation and shows it done without a reload', async () => {
    await page.getByRole('link', { name: 'Dead letters' }).click();
    await page.getByRole('heading', { name: 'Dead letters' }).waitFor();
    const marker = await page.evaluate<number>('window.kept = Date.now()');
    await page.getByLabel(`Select event ${rig.deadId}`).check();
    await page.getByRole('button', { name: 'Replay selected (1)…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Replay 1 event?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Replay', exact: true }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('1 of 1 put back to pending');
    const replayed = page.locator(`.replayed li[data-id="${rig.deadId}"]`);
    await expect.poll(() => replayed.textContent(), { timeout: 20_000 }).toContain('done');
    await expect.poll(() => page.getByText('No dead letters.').count()).toBe(1);
    // The same page all along: what the script set is still there.
    expect(await page.evaluate<number>('window.kept')).toBe(marker);
  });

  it("shows a conversation's dialogs and a message's edit history", async () => {
    await page.getByRole('link', { name: 'Conversations' }).click();
    await page.getByRole('link', { name: `Line ${LINE}` }).click();
    await page.getByRole('link', { name: CHAT }).click();
    const edited = page.locator(`.msg[data-message="${EDITED}"]`);
    await edited.waitFor();
    expect(await edited.locator('.msg-text').textContent()).toBe('Guten Tag, Klaus! Wie kann ich helfen?');
    await edited.getByText('Edited 2 times').click();
    expect(await edited.locator('.history li').allTextContents()).toEqual([
      expect.stringContaining('first: [b]Anna:[/b] Guten Tag!'),
      expect.stringContaining('edit: Guten Tag! Wie kann ich helfen?'),
      expect.stringContaining('edit: Guten Tag, Klaus! Wie kann ich helfen?'),
    ]);
    expect(await page.locator('.msg.deleted').count()).toBe(1);
    expect(await page.locator('.dialogs').textContent()).toMatch(/Session 3281\s*open · follows 3280/);
  });

  it('switches to dark and back, and the page follows', async () => {
    const background = () => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    await page.getByLabel('Theme').selectOption('light');
    await expect.poll(() => page.evaluate<string>('document.documentElement.dataset.theme')).toBe('light');
    const light = await background();
    await page.getByLabel('Theme').selectOption('dark');
    await expect.poll(() => page.evaluate<string>('document.documentElement.dataset.theme')).toBe('dark');
    await expect.poll(background).not.toBe(light);
  });
});
