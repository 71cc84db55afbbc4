// The craps table in real Chromium pages against the real relay binary:
// several pages play one table over WebRTC and the relay, agree after
// every roll, survive a player leaving mid-roll and a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelayAndBrowser } from './harness.mjs';

const env = useRelayAndBrowser();

/** A page in its own browser context (its own key in localStorage). */
async function openPage(url, context) {
  const ctx = context ?? (await env.browser.newContext());
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e));
  await page.goto(url);
  return page;
}

const table = (page) => page.locator('bitcraps-table');
const data = (page, name) => table(page).getAttribute(`data-${name}`);

async function waitOpen(page) {
  await page.waitForFunction(() => document.querySelector('bitcraps-table')?.dataset.open === 'true', null, {
    timeout: 15_000,
  });
}

/** House opens a table; players join and sit. Returns [house, ...players]. */
async function setUp(players, query = '') {
  const house = await openPage(`${env.relay.url}/?deadline=2000${query}`);
  await house.click('[data-open]');
  await waitOpen(house);
  const url = await house.evaluate(() => location.href);
  const pages = [house];
  for (let i = 0; i < players; i++) {
    const page = await openPage(url);
    await waitOpen(page);
    await page.click('[data-sit]');
    pages.push(page);
  }
  // Everyone sees every seat before play starts.
  for (const page of pages) {
    await page.waitForFunction((n) => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === n, players);
  }
  return pages;
}

function stateOf(page) {
  return page.evaluate(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')));
}

/** Each player bets (pass on the come-out, field otherwise), waits until
 * every page has seen the bets, then the shooter rolls; returns once every
 * page shows roll number `n`. */
async function playRoll(pages, n) {
  const players = pages.slice(1);
  for (const page of players) {
    const s = await stateOf(page);
    const mine = s.bets.filter((b) => b.player === s.me);
    if (s.point === 0 && !mine.some((b) => b.bet === 'pass')) {
      await page.click('[data-area="pass"]');
    } else {
      await page.click('[data-area="field"]');
    }
    assert.equal(await page.locator('[data-message]').textContent(), '', 'bet accepted');
  }
  // Every page must have seen every player's bets before the roll: a bet
  // still in flight when the shooter commits makes the peers' tables
  // differ, and the round is (rightly) called off.
  const expected = [];
  for (const page of players) {
    const s = await stateOf(page);
    expected.push(...s.bets.filter((b) => b.player === s.me));
  }
  for (const page of pages) {
    await page.waitForFunction(
      (want) => {
        const s = window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table'));
        return want.every((w) => s.bets.some((b) => b.player === w.player && b.bet === w.bet && b.stake === w.stake));
      },
      expected,
      { timeout: 15_000 },
    );
  }
  let shooter = null;
  for (const page of players) if ((await data(page, 'shooter')) === 'true') shooter = page;
  assert.ok(shooter, 'one player can roll');
  await shooter.click('[data-roll]');
  for (const page of pages) {
    await page.waitForFunction((count) => document.querySelector('bitcraps-table').dataset.rolls === String(count), n, {
      timeout: 15_000,
    });
  }
}

async function assertAgreement(pages) {
  const states = await Promise.all(pages.map(stateOf));
  const [first] = states;
  for (const s of states) {
    assert.equal(s.stateHash, first.stateHash, 'same state hash');
    assert.equal(s.point, first.point, 'same point');
    assert.deepEqual(s.seats, first.seats, 'same balances');
    assert.equal(s.bankroll, first.bankroll, 'same bankroll');
    assert.deepEqual(s.recent.at(-1).dice, first.recent.at(-1).dice, 'same dice');
  }
  const shown = await Promise.all(pages.map((p) => data(p, 'dice')));
  assert.ok(shown.every((d) => d === shown[0]), `dice shown ${shown}`);
  return first;
}

test('three pages play twenty rolls and agree after every one, over WebRTC', async () => {
  const pages = await setUp(2);
  // Data channels open between every pair of pages.
  for (const page of pages) {
    await page.waitForFunction(
      () => Object.values(window.bitcraps.connectionState().peers).filter((s) => s === 'open').length === 2,
      null,
      { timeout: 15_000 },
    );
  }
  for (let n = 1; n <= 20; n++) {
    await playRoll(pages, n);
    await assertAgreement(pages);
  }
  const final = await stateOf(pages[0]);
  assert.equal(final.rolls, 20);
  assert.equal(final.recent.length, 12, 'the state carries the last 12 rolls');
  // The whole history comes a slice at a time, oldest first.
  const rolls = await pages[0].evaluate(() => {
    const table = document.querySelector('bitcraps-table').getAttribute('table');
    return { all: window.bitcraps.rolls(table), after15: window.bitcraps.rolls(table, 15), two: window.bitcraps.rolls(table, 0, 2) };
  });
  assert.deepEqual(rolls.all.map((r) => r.round), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(rolls.after15.map((r) => r.round), [16, 17, 18, 19, 20]);
  assert.deepEqual(rolls.two.map((r) => r.round), [1, 2]);
  assert.deepEqual(rolls.all.slice(-12), final.recent);
  assert.equal(await pages[0].locator('[data-verify-round] option').count(), 20, 'every roll can be verified');
  const chips = final.bankroll + final.seats.reduce((sum, s) => sum + s.balance, 0) + final.bets.reduce((sum, b) => sum + b.stake, 0);
  assert.equal(chips, 1_000_000 + 2 * 1000, 'chips conserved');
  // The verify panel recomputes a roll in the browser and confirms it.
  const page = pages[1];
  await page.click('[data-verify] summary');
  await page.selectOption('[data-verify-round]', '5');
  await page.locator('[data-verify-result="true"]').waitFor();
  assert.match(await page.locator('[data-verify-out]').textContent(), /every reveal matches/);
  assert.equal(await page.locator('[data-verify-out] tr').count(), 1 + 3, 'a commitment per participant');
  for (const p of pages) assert.deepEqual(p.errors, []);
  for (const p of pages) await p.context().close();
});

test('with WebRTC off, the relay carries the game', async () => {
  const house = await openPage(`${env.relay.url}/?deadline=2000&webrtc=off`);
  await house.click('[data-open]');
  await waitOpen(house);
  const url = await house.evaluate(() => location.href);
  const player = await openPage(url);
  await waitOpen(player);
  await player.click('[data-sit]');
  const pages = [house, player];
  for (const page of pages) {
    await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === 1);
  }
  for (let n = 1; n <= 3; n++) {
    await playRoll(pages, n);
    await assertAgreement(pages);
  }
  for (const page of pages) {
    const c = await page.evaluate(() => window.bitcraps.connectionState());
    assert.equal(c.webrtc, false);
    assert.deepEqual(c.peers, {});
    assert.equal(await page.locator('[data-peers]').textContent(), 'off');
  }
  for (const p of pages) await p.context().close();
});

test('a refused bet shows its reason', async () => {
  const [house, player] = await setUp(1);
  await player.click('[data-area="pass-odds"]');
  assert.match(await player.locator('[data-message]').textContent(), /^Refused: .*come-out/);
  await player.click('[data-chip-value="5"]');
  await player.selectOption('[data-mode]', 'place');
  await player.click('[data-number="6"]');
  assert.match(await player.locator('[data-message]').textContent(), /multiple of 6/);
  // Buying in adds chips (and is only possible between rolls).
  const balance = async () => (await stateOf(player)).seats[0].balance;
  const start = await balance();
  await player.click('[data-buy-in]');
  assert.equal(await balance(), start + 500);
  // The house cannot bet at all.
  await house.click('[data-area="field"]');
  assert.match(await house.locator('[data-message]').textContent(), /banker cannot bet/);
  for (const p of [house, player]) await p.context().close();
});

test('a player who leaves mid-roll forfeits and the others play on', async () => {
  const pages = await setUp(2);
  await playRoll(pages, 1);
  const [house, a, b] = pages;
  // Both players bet; the one who is not the shooter closes its page.
  await a.click('[data-area="field"]');
  await b.click('[data-area="field"]');
  for (const page of pages) {
    await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).bets.filter((x) => x.bet === 'field').length === 2);
  }
  const shooter = (await data(a, 'shooter')) === 'true' ? a : b;
  const leaver = shooter === a ? b : a;
  const leaverId = (await stateOf(leaver)).me;
  await leaver.context().close();
  await shooter.click('[data-roll]');
  for (const page of [house, shooter]) {
    await page.waitForFunction(() => document.querySelector('bitcraps-table').dataset.rolls === '2', null, { timeout: 15_000 });
  }
  const s = await assertAgreement([house, shooter]);
  assert.ok(!s.seats.some((seat) => seat.player === leaverId), 'the absent player left the table');
  assert.ok(!s.bets.some((bet) => bet.player === leaverId), 'and lost its bets');
  assert.deepEqual(s.recent.at(-1).forfeited, [[leaverId, 'no-commit']]);
  // And the game goes on.
  await playRoll([house, shooter], 3);
  await assertAgreement([house, shooter]);
  for (const p of [house, shooter]) await p.context().close();
});

test('a reloaded page resumes its seat and plays on', async () => {
  const pages = await setUp(1);
  const [house, player] = pages;
  await playRoll(pages, 1);
  await playRoll(pages, 2);
  const before = await stateOf(player);
  await player.reload();
  await waitOpen(player);
  await player.waitForFunction(() => document.querySelector('bitcraps-table').dataset.rolls === '2', null, { timeout: 15_000 });
  const after = await stateOf(player);
  assert.equal(after.me, before.me, 'same key after reload');
  assert.deepEqual(after.seats, before.seats, 'same seat and balance');
  assert.equal(after.stateHash, before.stateHash);
  assert.equal(await player.locator('[data-sit]').isHidden(), true, 'still seated');
  await playRoll([house, player], 3);
  await assertAgreement([house, player]);
  for (const p of pages) await p.context().close();
});
