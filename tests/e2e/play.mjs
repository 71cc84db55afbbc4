// Playing a table in real Chromium pages, for the end-to-end tests: open
// pages, open a table and sit, play a roll as players would, and check
// that every page agrees.
import assert from 'node:assert/strict';

/** The helpers, bound to a test file's relay and browser (`env`). */
export function play(env) {
  /** A page in its own browser context (its own key in localStorage).
   * Every `rejected` event the page's client dispatches and every refusal
   * the page shows (`say` events) are recorded (see `assertClean`), and
   * every `houseGone` is counted (`window.houseAlarms`). */
  async function openPage(url, context) {
    const ctx = context ?? (await env.browser.newContext());
    const page = await ctx.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e));
    await page.addInitScript(() => {
      window.rejections = [];
      window.refusalsShown = [];
      window.houseAlarms = 0;
      const dispatch = EventTarget.prototype.dispatchEvent;
      EventTarget.prototype.dispatchEvent = function (event) {
        if (event.type === 'rejected') window.rejections.push(JSON.stringify(event.detail));
        if (event.type === 'say' && /Refused/.test(event.detail.text)) window.refusalsShown.push(event.detail.text);
        if (event.type === 'houseGone') window.houseAlarms++;
        return dispatch.call(this, event);
      };
    });
    await page.goto(url);
    return page;
  }

  /** Fails on any page error, on any refusal the test did not provoke
   * (a `rejected` event, or a refusal shown as the page's message), and on
   * a "house has left" alarm while the house never left. */
  async function assertClean(page, { houseLeft = false } = {}) {
    assert.deepEqual(page.errors, [], 'no page error');
    if (!houseLeft) assert.equal(await page.evaluate(() => window.houseAlarms), 0, 'no false "the house has left"');
    assert.deepEqual(await page.evaluate(() => window.rejections), [], 'no unexpected refusal');
    // (Refusals clear themselves from the page after a while: every one
    // ever shown counts.)
    assert.deepEqual(await page.evaluate(() => window.refusalsShown), [], 'no refusal shown');
  }

  /** What each path delivered at this page's table (see
   * `connectionState().paths`). */
  async function pathsOf(page) {
    return page.evaluate(() => {
      const table = document.querySelector('bitcraps-table').getAttribute('table');
      return window.bitcraps.connectionState().paths[table];
    });
  }

  const table = (page) => page.locator('bitcraps-table');
  const data = (page, name) => table(page).getAttribute(`data-${name}`);

  async function waitOpen(page) {
    await page.waitForFunction(() => document.querySelector('bitcraps-table')?.dataset.open === 'true', null, {
      timeout: 15_000,
    });
  }

  /** House opens a table; players join and sit. Returns [house, ...players]. */
  async function setUp(players, query = '', deadline = 2000) {
    const house = await openPage(`${env.relay.url}/?deadline=${deadline}${query}`);
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
   * page shows roll number `n`; `afterRoll` (if given) runs as soon as the
   * shooter has clicked, before the roll completes. */
  async function playRoll(pages, n, { afterRoll } = {}) {
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
    await afterRoll?.();
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

  /** Every chip at the table: the bankroll, the balances and the bets. */
  function chips(s) {
    return s.bankroll + s.seats.reduce((sum, x) => sum + x.balance, 0) + s.bets.reduce((sum, b) => sum + b.stake, 0);
  }

  return { openPage, assertClean, pathsOf, table, data, waitOpen, setUp, stateOf, playRoll, assertAgreement, chips };
}
