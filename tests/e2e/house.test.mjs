// A house that goes away, in real Chromium pages on the real relay: the
// table ends on every page alike, every stake goes back, the closed table
// says so and leads back to the lobby, and nothing shows as a refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelayAndBrowser } from './harness.mjs';
import { play } from './play.mjs';

const env = useRelayAndBrowser();
const { assertClean, setUp, stateOf, data, playRoll } = play(env);

const tableState = () => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table'));

/** What a player owns: its balance and its chips on the table. */
async function ownedChips(page) {
  const s = await stateOf(page);
  const seat = s.seats.find((x) => x.player === s.me);
  return { me: s.me, chips: seat.balance + s.bets.filter((x) => x.player === s.me).reduce((n, x) => n + x.stake, 0) };
}

/** Every page's table closed alike, no stake left on it, and each player
 * in `owned` back with every chip it had. */
async function assertClosedAlike(pages, owned) {
  const states = await Promise.all(pages.map((p) => p.evaluate(tableState)));
  for (const s of states) {
    assert.equal(s.closed, true);
    assert.deepEqual(s.bets, [], 'every stake came down');
    for (const { me, chips } of owned) {
      assert.equal(s.seats.find((x) => x.player === me)?.balance, chips, 'and went back to its player');
    }
    assert.equal(s.stateHash, states[0].stateHash, 'alike on every page');
  }
}

/** Each player puts chips on the pass line (come-out) or the field. */
async function betAll(players) {
  for (const page of players) {
    const s = await stateOf(page);
    await page.click(s.point === 0 ? '[data-area="pass"]' : '[data-area="field"]');
  }
  for (const page of players) {
    await page.waitForFunction((n) => {
      const s = window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table'));
      return s.bets.length >= n;
    }, players.length, { timeout: 15_000 });
  }
}

/** The house closes its tab; the shooter presses Roll; every player's page
 * closes the table within the deadline (2 s here) and offers the lobby. */
async function houseLeavesAndShooterRolls(house, players) {
  const banker = (await stateOf(house)).me;
  await house.context().close();
  // Every player sees the house away from the table at once.
  for (const page of players) {
    await page.locator(`[data-seats] li[data-player="${banker}"][data-present="false"]`).waitFor({ timeout: 15_000 });
    assert.match(await page.locator(`[data-seats] li[data-player="${banker}"]`).textContent(), /away/);
  }
  let shooter = null;
  for (const page of players) if ((await data(page, 'shooter')) === 'true') shooter = page;
  assert.ok(shooter, 'a player has the dice');
  const asked = Date.now();
  await shooter.click('[data-roll]');
  for (const page of players) {
    await page.locator('[data-dead-end]').waitFor({ state: 'visible', timeout: 15_000 });
    assert.match(await page.locator('[data-dead-end]').textContent(), /The house has gone \(it did not start the roll/);
    assert.match(await page.locator('[data-round]').textContent(), /This table has closed/);
  }
  return Date.now() - asked;
}

test('the house gone mid-game: the table closes on every page with every stake back', async () => {
  const [house, a, b] = await setUp(2);
  await playRoll([house, a, b], 1);
  await betAll([a, b]);
  const before = await Promise.all([a, b].map(ownedChips));
  const took = await houseLeavesAndShooterRolls(house, [a, b]);
  await assertClosedAlike([a, b], before);
  console.log(`house gone mid-game: table closed ${took} ms after Roll (deadline 2000 ms)`);
  for (const page of [a, b]) {
    await assertClean(page, { houseLeft: true });
    await page.click('[data-back]');
    await page.locator('button[data-open]').waitFor({ state: 'visible' });
  }
  for (const page of [a, b]) await page.context().close();
});

test('the house gone before the first roll: the table closes on every page alike', async () => {
  const [house, a, b] = await setUp(2);
  await betAll([a, b]);
  await houseLeavesAndShooterRolls(house, [a, b]);
  await assertClosedAlike([a, b], []);
  for (const page of [a, b]) await assertClean(page, { houseLeft: true });
  for (const page of [a, b]) await page.context().close();
});

test('the house gone mid-game and nobody pressing Roll: the table closes within its bound on every page', async () => {
  // A 2 s shooter's wait: the house has it plus a minute to pass the dice.
  const pages = await setUp(2, '&shooter=2000');
  const [house, a, b] = pages;
  await playRoll(pages, 1);
  await betAll([a, b]);
  const before = await Promise.all([a, b].map(ownedChips));
  const gone = Date.now();
  await house.context().close();
  // Nobody presses Roll. Bound: the shooter's 2 s + 60 s (relay time),
  // plus a tick's grace.
  for (const page of [a, b]) {
    await page.locator('[data-dead-end]').waitFor({ state: 'visible', timeout: 75_000 });
    assert.match(await page.locator('[data-dead-end]').textContent(), /The house has gone/);
  }
  const took = Date.now() - gone;
  assert.ok(took <= 2_000 + 60_000 + 5_000, `closed ${took} ms after the house left`);
  await assertClosedAlike([a, b], before);
  console.log(`house gone, nobody rolling: table closed ${took} ms after the house left (bound 62 s)`);
  for (const page of [a, b]) await assertClean(page, { houseLeft: true });
  for (const page of [a, b]) await page.context().close();
});
