// The pictures in the README, taken by the test run in real Chromium at a
// desktop (1280x800) and a phone (390x844) size: the lobby, a table in the
// middle of a game, and the verify panel checking a roll. Each is taken
// once the page shows what the picture is of, and nothing on the phone
// scrolls sideways. They go to docs/screenshots/ (or
// $BITCRAPS_SCREENSHOTS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { useRelayAndBrowser } from './harness.mjs';
import { play } from './play.mjs';

const env = useRelayAndBrowser();
const { openPage, assertClean, waitOpen, playRoll, stateOf } = play(env);
const DIR = process.env.BITCRAPS_SCREENSHOTS ?? fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

/** A page of `size` that does not scroll sideways, pictured as `name`. */
async function picture(page, size, name) {
  await page.setViewportSize(SIZES[size]);
  // (Animations and the caret off: the same page, the same picture.)
  await page.addStyleTag({ content: '*, *::before, *::after { animation: none !important; transition: none !important; caret-color: transparent !important; }' });
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, view: window.innerWidth }));
  assert.ok(widths.page <= widths.view, `${name} at ${size}: nothing scrolls sideways (${JSON.stringify(widths)})`);
  await page.screenshot({ path: `${DIR}/${name}-${size}.png` });
}

test('screenshots: the lobby, a table mid-game and the verify panel, on a desktop and a phone', async () => {
  mkdirSync(DIR, { recursive: true });
  const house = await openPage(`${env.relay.url}/?deadline=2000`);
  await house.locator('[data-open-form]').waitFor({ state: 'visible' });
  await house.fill('[data-open-name]', 'Friday night craps');
  await house.fill('[data-open-min]', '1');
  await house.fill('[data-open-max]', '500');
  await house.click('[data-open]');
  await waitOpen(house);
  const table = await house.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table'));
  const url = await house.evaluate(() => location.href);
  const players = [];
  for (const name of ['Zoë', 'Sam']) {
    const page = await openPage(url);
    await waitOpen(page);
    await page.fill('[data-name]', name);
    await page.press('[data-name]', 'Enter');
    await page.click('[data-sit]');
    players.push(page);
  }
  const pages = [house, ...players];
  for (const page of pages) {
    await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === 2);
  }

  // The lobby, with this table in it.
  const visitor = await openPage(`${env.relay.url}/`);
  await visitor.locator(`[data-join-table="${table}"]`).waitFor({ state: 'visible', timeout: 15_000 });
  for (const size of ['desktop', 'phone']) await picture(visitor, size, 'lobby');

  // A few rolls in: results marked, a chat line, and bets on the felt
  // (each player's chips in its colour, yours in gold).
  for (let n = 1; n <= 3; n++) await playRoll(pages, n);
  for (const page of players) {
    for (const area of ['field', 'hard-8', 'any-seven']) await page.click(`[data-area="${area}"]`);
  }
  await players[1].waitForFunction(() => document.querySelector('bitcraps-table')?.shadowRoot?.querySelectorAll('[data-area="field"] .bc-chip-on').length === 2);
  await players[0].fill('[data-chat-text]', 'Hot dice tonight!');
  await players[0].press('[data-chat-text]', 'Enter');
  await players[1].locator('[data-chat-lines] li').first().waitFor();
  const s = await stateOf(players[1]);
  assert.equal(s.rolls, 3);
  for (const size of ['desktop', 'phone']) await picture(players[1], size, 'table');

  // The verify panel, open on the last roll, checking out.
  const verify = players[1].locator('[data-verify]');
  await verify.locator('summary').click();
  await players[1].locator('[data-verify-result="true"]').waitFor({ timeout: 10_000 });
  for (const size of ['desktop', 'phone']) {
    await picture(players[1], size, 'verify');
    await verify.scrollIntoViewIfNeeded();
    await players[1].screenshot({ path: `${DIR}/verify-${size}.png` });
  }
  for (const page of [...pages, visitor]) await assertClean(page);
  for (const page of [...pages, visitor]) await page.context().close();
});
