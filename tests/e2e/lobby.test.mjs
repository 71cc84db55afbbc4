// The lobby in real Chromium pages against the real relay binary: a house
// opens a table with its own name, limits and bankroll and lists it; a new
// player finds it on the landing page, joins in one click and sits; the
// table leaves the list when its house leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelayAndBrowser } from './harness.mjs';
import { play } from './play.mjs';

const env = useRelayAndBrowser();
const { openPage, assertClean, waitOpen, stateOf } = play(env);

const tableOf = (page) => page.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table'));

test('a listed table is in the lobby with its name and limits, and a player joins it in one click', async () => {
  const house = await openPage(`${env.relay.url}/?deadline=2000`);
  await house.locator('[data-open-form]').waitFor({ state: 'visible' });
  await house.fill('[data-open-name]', 'Zoë\'s <i>table</i>');
  await house.fill('[data-open-bankroll]', '50000');
  await house.fill('[data-open-min]', '5');
  await house.fill('[data-open-max]', '200');
  await house.click('[data-open]');
  await waitOpen(house);
  const table = await tableOf(house);
  const rules = await stateOf(house);
  assert.deepEqual([rules.minBet, rules.maxBet, rules.bankroll], [5, 200, 50_000], 'the table as chosen');

  // A player opens the landing page: the table is listed, its name as text.
  const player = await openPage(`${env.relay.url}/`);
  const join = player.locator(`[data-join-table="${table}"]`);
  await join.waitFor({ state: 'visible', timeout: 15_000 });
  const row = player.locator('[data-tables-body] tr', { has: join });
  const cells = await row.locator('td').allTextContents();
  assert.deepEqual(cells.slice(0, 4), ["Zoë's <i>table</i>", '0 players', '5–200', '50,000']);
  assert.equal(await row.locator('i').count(), 0, 'the name is text, not markup');

  // One click: at the table, with the house's limits.
  await join.click();
  await waitOpen(player);
  assert.equal(await tableOf(player), table);
  await player.click('[data-sit]');
  for (const page of [house, player]) {
    await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === 1);
  }
  assert.equal(await player.locator('[data-limits]').textContent(), '5–200');

  // A third page sees the player there; the house leaves, the table goes.
  const watcher = await openPage(`${env.relay.url}/`);
  const listed = watcher.locator(`[data-join-table="${table}"]`);
  await listed.waitFor({ state: 'visible', timeout: 15_000 });
  const watcherRow = watcher.locator('[data-tables-body] tr', { has: listed });
  assert.equal(await watcherRow.locator('td').nth(1).textContent(), '1 player');
  for (const page of [house, player, watcher]) await assertClean(page);
  await house.context().close();
  await listed.waitFor({ state: 'detached', timeout: 20_000 });
  await player.context().close();
  await watcher.context().close();
});

test('an unlisted table stays out of the lobby', async () => {
  const house = await openPage(`${env.relay.url}/`);
  await house.locator('[data-open-form]').waitFor({ state: 'visible' });
  await house.uncheck('[data-open-listed]');
  await house.click('[data-open]');
  await waitOpen(house);
  const table = await tableOf(house);
  // In the room (a listing goes as the join completes), and a moment more.
  await house.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).joined);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const tables = await house.evaluate(() => window.bitcraps.listedTables());
  assert.ok(!tables.some((t) => t.table === table), 'not listed');
  await assertClean(house);
  await house.context().close();
});
