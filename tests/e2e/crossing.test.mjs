// A bet clicked at the same instant the shooter rolls: three Chromium pages
// (the house and two players) on the real relay, twenty times. No round is
// called off, and every bet lands in the roll it was clicked in or the next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelayAndBrowser } from './harness.mjs';
import { play } from './play.mjs';

const env = useRelayAndBrowser();
const { setUp, assertClean, stateOf, data, assertAgreement } = play(env);
const ROLLS = Number(process.env.BITCRAPS_CROSSING_ROLLS ?? 20);

test('a bet clicked as the shooter rolls lands in this roll or the next, never calling it off', async () => {
  const pages = await setUp(2);
  for (const page of pages) {
    await page.evaluate(() => {
      window.calledOff = 0;
      window.bitcraps.addEventListener('roundAborted', () => window.calledOff++);
    });
  }
  const clicks = new Map(); // player -> chips clicked onto the field
  const landed = { same: 0, next: 0 };
  for (let n = 1; n <= ROLLS; n++) {
    const players = pages.slice(1);
    let shooter = null;
    for (const page of players) if ((await data(page, 'shooter')) === 'true') shooter = page;
    assert.ok(shooter, `roll ${n}: one player can roll`);
    const bettor = players.find((p) => p !== shooter);
    const me = (await stateOf(bettor)).me;
    // Both at the same instant.
    await Promise.all([bettor.click('[data-area="field"]'), shooter.click('[data-roll]')]);
    clicks.set(me, (clicks.get(me) ?? 0) + 5);
    for (const page of pages) {
      await page.waitForFunction((count) => document.querySelector('bitcraps-table').dataset.rolls === String(count), n, {
        timeout: 15_000,
      });
    }
    const s = await assertAgreement(pages);
    const inThisRoll = s.recent.at(-1).results.some((r) => r.player === me && r.bet === 'field');
    if (inThisRoll) landed.same++;
    else landed.next++;
  }
  // Every chip clicked is in a roll's results or still on the field for
  // the next roll: nothing lost, nothing doubled.
  const final = await stateOf(pages[0]);
  const table = await pages[0].evaluate(() => document.querySelector('bitcraps-table').getAttribute('table'));
  const rolls = await pages[0].evaluate((t) => window.bitcraps.rolls(t), table);
  for (const [player, clicked] of clicks) {
    const rolled = rolls.flatMap((r) => r.results).filter((r) => r.player === player && r.bet === 'field');
    const staked = rolled.reduce((sum, r) => sum + r.stake, 0);
    const waiting = final.bets.filter((b) => b.player === player && b.bet === 'field').reduce((sum, b) => sum + b.stake, 0);
    assert.equal(staked + waiting, clicked, `every chip ${player.slice(0, 6)} clicked was rolled once`);
  }
  for (const page of pages) {
    assert.equal(await page.evaluate(() => window.calledOff), 0, 'no round called off');
    await assertClean(page);
  }
  console.log(`crossing: ${ROLLS} rolls, bet in the same roll ${landed.same}, in the next ${landed.next}`);
  for (const p of pages) await p.context().close();
});
