// The craps table in real Chromium pages against the real relay binary:
// several pages play one table over WebRTC and the relay, agree after
// every roll, survive a player leaving mid-roll and a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useRelayAndBrowser } from './harness.mjs';
import { play } from './play.mjs';

const env = useRelayAndBrowser();
const { openPage, assertClean, pathsOf, waitOpen, setUp, stateOf, data, playRoll, assertAgreement, chips } = play(env);

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
  assert.equal(chips(final), 1_000_000 + 2 * 1000, 'chips conserved');
  // The verify panel recomputes a roll in the browser and confirms it.
  const page = pages[1];
  await page.click('[data-verify] summary');
  await page.selectOption('[data-verify-round]', '5');
  await page.locator('[data-verify-result="true"]').waitFor();
  assert.match(await page.locator('[data-verify-out]').textContent(), /every reveal matches/);
  assert.equal(await page.locator('[data-verify-out] tr').count(), 1 + 3, 'a commitment per participant');
  // The data channels carried the game: every page took game frames over
  // the channel of each other player (players' table actions travel over
  // channels; the house's commitments only through the relay), and no
  // channel carried a frame that was refused.
  const keys = await Promise.all(pages.map(async (p) => (await stateOf(p)).me));
  for (const [i, p] of pages.entries()) {
    const paths = await pathsOf(p);
    for (const [j, key] of keys.entries()) {
      if (j === i || j === 0) continue;
      const channel = paths.channels[key];
      assert.ok(channel?.taken > 0, `page ${i} took game frames over page ${j}'s channel: ${JSON.stringify(paths)}`);
    }
    const sum = (key) => Object.values(paths.channels).reduce((n, c) => n + c[key], 0);
    console.log(`page ${i}: relay took ${paths.relay.taken}; channels took ${sum('taken')}, had ${sum('ignored')} already, refused ${sum('refused')}`);
    for (const channel of Object.values(paths.channels)) assert.equal(channel.refused, 0, 'no channel frame refused');
    assert.equal(paths.relay.refused, 0, 'no relay frame refused');
    if (i > 0) assert.ok(paths.direct.length >= 1, 'the page counts a direct peer');
    assert.equal(await p.locator('[data-peers]').textContent(), String(paths.direct.length), 'the header counts peers that carried the game');
  }
  for (const p of pages) await assertClean(p);
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
  // A refusal does not stay on the page for good: it clears by itself.
  const shownAt = Date.now();
  await house.waitForFunction(() => document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('[data-message]').textContent === '', null, { timeout: 12_000 });
  assert.ok(Date.now() - shownAt >= 6_000, 'long enough to read');
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
  // Joining, and joining again after the reload, raised no alarm.
  for (const p of pages) await assertClean(p);
  for (const p of pages) await p.context().close();
});

test('a second tab takes the table over: the first says so, takes no bets, and can take it back', async () => {
  const [house, first] = await setUp(1);
  await playRoll([house, first], 1);
  // The same browser (one key) opens the table in a second tab.
  const second = await openPage(first.url(), first.context());
  await waitOpen(second);
  await second.waitForFunction(() => document.querySelector('bitcraps-table').dataset.rolls === '1', null, { timeout: 15_000 });
  const notice = first.locator('[data-dead-end]');
  await notice.waitFor({ state: 'visible', timeout: 15_000 });
  assert.match(await notice.textContent(), /This table is open in another tab: this tab takes no more bets/);
  assert.equal(await first.locator('[data-take-back]').isVisible(), true, 'it offers to take the table back');
  assert.equal((await stateOf(first)).elsewhere, true);
  assert.equal(await first.locator('[data-relay]').textContent(), 'open in another tab');
  // The first tab takes no bets: a click is refused in words, and nobody
  // sees a bet from it.
  const before = await stateOf(first);
  await first.evaluate(() => document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('[data-area="field"]').dispatchEvent(new MouseEvent('click', { bubbles: true })));
  assert.match(await first.locator('[data-message]').textContent(), /open in another tab/);
  assert.deepEqual((await stateOf(first)).bets, before.bets);
  assert.equal(await first.locator('[data-roll]').isDisabled(), true);
  // The second tab plays on with the house.
  await playRoll([house, second], 2);
  await assertAgreement([house, second]);
  // The first tab takes the table back: it catches up, the second is
  // told, and play goes on from the first.
  await first.click('[data-take-back]');
  await waitOpen(first);
  await first.waitForFunction(() => document.querySelector('bitcraps-table').dataset.rolls === '2', null, { timeout: 15_000 });
  await second.locator('[data-dead-end]').waitFor({ state: 'visible', timeout: 15_000 });
  assert.match(await second.locator('[data-dead-end]').textContent(), /open in another tab/);
  await playRoll([house, first], 3);
  await assertAgreement([house, first]);
  for (const p of [house, first]) await assertClean(p);
  await first.context().close();
  await house.context().close();
});

test('a player leaves with its bets down and its chips, or is told why it cannot yet', async () => {
  const [house, stayer, leaver] = await setUp(2);
  await playRoll([house, stayer, leaver], 1);
  const me = (await stateOf(leaver)).me;
  // A pass line bet cannot come down: leaving is refused, in words.
  const onPass = (await stateOf(leaver)).bets.some((b) => b.player === me && b.bet === 'pass');
  if (onPass) {
    await leaver.click('[data-leave]');
    assert.match(await leaver.locator('[data-message]').textContent(), /your pass bet stays until the dice decide it/);
    assert.equal(await leaver.locator('[data-view]').isVisible(), true, 'still at the table');
    while ((await stateOf(leaver)).bets.some((b) => b.player === me && b.bet === 'pass')) {
      const n = (await stateOf(house)).rolls + 1;
      await playRoll([house, stayer, leaver], n);
    }
  }
  // Bets that may come down: a field bet and a place bet on six.
  await leaver.click('[data-area="field"]');
  await leaver.click('[data-chip-value="6"]');
  await leaver.selectOption('[data-mode]', 'place');
  await leaver.click('[data-number="6"]');
  const before = await stateOf(leaver);
  const mine = before.bets.filter((b) => b.player === me);
  assert.ok(mine.some((b) => b.bet === 'field') && mine.some((b) => b.bet === 'place-6'), JSON.stringify(mine));
  const owned = before.seats.find((x) => x.player === me).balance + mine.reduce((n, b) => n + b.stake, 0);
  for (const page of [house, stayer]) {
    await page.waitForFunction((who) => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).bets.filter((b) => b.player === who).length >= 2, me, { timeout: 15_000 });
  }
  await house.evaluate(() => {
    window.leftWith = null;
    window.bitcraps.addEventListener('left', (e) => { window.leftWith = e.detail.balance; });
  });
  await leaver.click('[data-leave]');
  await leaver.locator('button[data-open]').waitFor({ state: 'visible', timeout: 15_000 });
  // The others see the seat and its bets gone; the next roll takes the
  // leave in, and the house kept nothing of the leaver's.
  const n = (await stateOf(house)).rolls + 1;
  await playRoll([house, stayer], n);
  await assertAgreement([house, stayer]);
  const after = await stateOf(house);
  assert.ok(!after.seats.some((x) => x.player === me), 'the seat is gone');
  assert.ok(!after.bets.some((b) => b.player === me), 'and its bets');
  const rolled = after.recent.at(-1).results.filter((r) => r.player === me);
  assert.deepEqual(rolled, [], 'none of its bets was in the roll');
  assert.equal(await house.evaluate(() => window.leftWith), owned, 'it left with its balance and every stake back');
  for (const p of [house, stayer]) await assertClean(p);
  for (const p of [house, stayer, leaver]) await p.context().close();
});

/** A bet result's effect on its player's chips (the engine's `paid` is the
 * profit plus the stake when the stake comes back). */
function netOf(r) {
  if (r.outcome === 'win' || r.outcome === 'push') return r.paid - r.stake;
  if (r.outcome === 'win-stays') return r.paid;
  if (r.outcome === 'lose') return -r.stake;
  return 0;
}

test('after every roll each page marks what won and lost, says the net and the call, and keeps the bar true', async () => {
  const pages = await setUp(2);
  const [, a] = pages;
  // A bet placed from the keyboard: the field area is a button.
  await a.focus('[data-area="field"]');
  await a.keyboard.press('Enter');
  await a.keyboard.press(' ');
  let s = await stateOf(a);
  assert.equal(s.bets.find((x) => x.player === s.me && x.bet === 'field')?.stake, 10, 'Enter or Space on an area bets the chosen chip');
  await a.keyboard.press('Delete');
  s = await stateOf(a);
  assert.ok(!s.bets.some((x) => x.player === s.me && x.bet === 'field'), 'Delete takes it down');
  await a.keyboard.press('Enter');
  s = await stateOf(a);
  // On the felt: a chip of this player's, in gold, with its stake.
  const chip = a.locator('[data-area="field"] .bc-chip-on.bc-mine text');
  assert.equal(await chip.textContent(), '5');
  let marked = 0;
  for (let n = 1; n <= 6; n++) {
    await playRoll(pages, n);
    for (const page of pages.slice(1)) {
      s = await stateOf(page);
      const roll = s.recent.at(-1);
      const mine = roll.results.filter((r) => r.player === s.me);
      const net = mine.reduce((t, r) => t + netOf(r), 0);
      const message = await page.locator('[data-message]').textContent();
      const sign = net > 0 ? `+${net}` : String(net);
      if (mine.length) assert.ok(message.endsWith(`(${sign}).`), `roll ${n}: "${message}" says ${sign}`);
      if (roll.sevenOut) assert.match(message, /^Seven out, line away/);
      // Every area marked with its amount; together, the net.
      const marks = await page.$$eval('[data-net]', (els) => els.map((e) => Number(e.dataset.net)));
      const decided = mine.filter((r) => ['win', 'win-stays', 'lose'].includes(r.outcome));
      assert.equal(marks.length > 0, decided.length > 0, `roll ${n}: marks where bets were decided`);
      assert.equal(marks.reduce((t, x) => t + x, 0), decided.reduce((t, r) => t + netOf(r), 0), `roll ${n}: the marks add up`);
      marked += marks.length;
      assert.equal(await page.locator('[data-last-net]').textContent(), mine.length ? sign : '—');
      const seat = s.seats.find((x) => x.player === s.me);
      assert.equal(await page.locator('[data-my-balance]').textContent(), String(seat.balance));
      const onTable = s.bets.filter((x) => x.player === s.me).reduce((t, x) => t + x.stake, 0);
      assert.equal(await page.locator('[data-on-table]').textContent(), String(onTable));
    }
  }
  assert.ok(marked > 0, 'some bets were decided and marked');
  if (process.env.BITCRAPS_SCREENSHOTS) {
    for (const [w, h] of [[1280, 800], [390, 844]]) {
      await a.setViewportSize({ width: w, height: h });
      await a.screenshot({ path: `${process.env.BITCRAPS_SCREENSHOTS}/results-${w}.png`, fullPage: false });
    }
  }
  for (const p of pages) await assertClean(p);
  for (const p of pages) await p.context().close();
});

test('on a 390x844 phone the whole table fits: no sideways scrolling, and bets and rolls work', async () => {
  const phone = () => env.browser.newContext({ viewport: { width: 390, height: 844 } });
  const house = await openPage(`${env.relay.url}/?deadline=2000`, await phone());
  await house.click('[data-open]');
  await waitOpen(house);
  const player = await openPage(await house.evaluate(() => location.href), await phone());
  await waitOpen(player);
  await player.click('[data-sit]');
  for (const page of [house, player]) {
    await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === 1);
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      view: window.innerWidth,
      layout: document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('.bc-layout-wrap').scrollWidth,
      wrap: document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('.bc-layout-wrap').clientWidth,
      svg: document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('.bc-layout').getBoundingClientRect().width,
    }));
    assert.ok(widths.page <= widths.view, `the page does not scroll sideways: ${JSON.stringify(widths)}`);
    assert.ok(widths.layout <= widths.wrap, `nor does the layout: ${JSON.stringify(widths)}`);
    assert.equal(await page.locator('.bc-layout').getAttribute('viewBox'), '0 0 450 604', 'the phone layout');
  }
  // Every area on the felt is on screen horizontally, and big enough to tap.
  const boxes = await player.$$eval('[data-area] rect', (rects) => rects.map((r) => r.getBoundingClientRect()).map((b) => [b.left, b.right, b.height]));
  for (const [left, right, height] of boxes) {
    assert.ok(left >= 0 && right <= 390, `an area at ${left}..${right} is on screen`);
    assert.ok(height >= 26, `an area ${height} px high can be tapped`);
  }
  await playRoll([house, player], 1);
  await assertAgreement([house, player]);
  if (process.env.BITCRAPS_SCREENSHOTS) await player.screenshot({ path: `${process.env.BITCRAPS_SCREENSHOTS}/phone-390.png`, fullPage: true });
  for (const p of [house, player]) await assertClean(p);
  for (const p of [house, player]) await p.context().close();
});

test('undo, clear and repeat do what they say', async () => {
  const [house, player] = await setUp(1);
  const mine = async () => {
    const s = await stateOf(player);
    return Object.fromEntries(s.bets.filter((b) => b.player === s.me).map((b) => [b.bet, b.stake]));
  };
  const message = () => player.locator('[data-message]').textContent();
  await player.click('[data-area="field"]');
  await player.click('[data-area="hard-8"]');
  assert.deepEqual(await mine(), { field: 5, 'hard-8': 5 });
  await player.click('[data-undo]');
  assert.deepEqual(await mine(), { field: 5 }, 'Undo took down the last bet');
  await player.click('[data-area="big-8"]');
  await player.click('[data-clear]');
  assert.deepEqual(await mine(), {}, 'Clear took down every bet');
  assert.equal(await message(), 'Cleared.');
  await player.click('[data-undo]');
  assert.equal(await message(), 'Nothing of yours to take down.');
  // A roll decides a field bet; Repeat puts it back with its stake.
  await player.click('[data-chip-value="10"]');
  await player.click('[data-area="field"]');
  await player.click('[data-roll]');
  for (const page of [house, player]) {
    await page.waitForFunction(() => document.querySelector('bitcraps-table').dataset.rolls === '1', null, { timeout: 15_000 });
  }
  assert.deepEqual(await mine(), {}, 'the roll decided the field bet');
  await player.click('[data-chip-value="1"]');
  await player.click('[data-rebet]');
  assert.deepEqual(await mine(), { field: 10 }, 'Repeat placed it again, at its own stake');
  assert.equal(await message(), 'Repeated: field 10.');
  // What the player did here, the house saw.
  await house.waitForFunction((who) => {
    const s = window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table'));
    return s.bets.some((b) => b.player === who && b.bet === 'field' && b.stake === 10);
  }, (await stateOf(player)).me, { timeout: 15_000 });
  for (const p of [house, player]) await assertClean(p);
  for (const p of [house, player]) await p.context().close();
});

test("a player's name shows on every page, as text, and stays with the browser", async () => {
  const pages = await setUp(2);
  const [, a] = pages;
  const me = (await stateOf(a)).me;
  const name = '<b>Zoë</b>';
  await a.fill('[data-name]', name);
  await a.locator('[data-name]').dispatchEvent('change');
  for (const page of pages) {
    await page.waitForFunction(([who, want]) => {
      const s = window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table'));
      return s.names?.[who] === want;
    }, [me, name], { timeout: 15_000 });
    const seat = page.locator(`[data-seats] li[data-player="${me}"]`);
    await seat.waitFor();
    assert.ok((await seat.textContent()).startsWith(name), 'the seat shows the name');
    assert.equal(await seat.locator('b').count(), 0, 'as text, not markup');
  }
  // Reloaded, the page keeps the name (with the key) and does not send it again.
  await a.reload();
  await waitOpen(a);
  assert.equal(await a.locator('[data-name]').inputValue(), name);
  await playRoll(pages, 1);
  const s = await stateOf(pages[0]);
  assert.equal(s.names[me], name);
  for (const p of pages) await assertClean(p);
  for (const p of pages) await p.context().close();
});

test('the shooter sees its time to roll count down, and so does everyone else', async () => {
  const pages = await setUp(2);
  await playRoll(pages, 1);
  const seconds = (page) => page.locator('[data-shooter-clock]').getAttribute('data-seconds').then(Number);
  for (const page of pages) {
    await page.locator('[data-shooter-clock]').waitFor();
    const first = await seconds(page);
    assert.ok(first > 20 && first <= 30, `a 30 s countdown: ${first}`);
  }
  let shooter = null;
  for (const page of pages.slice(1)) if ((await data(page, 'shooter')) === 'true') shooter = page;
  assert.match(await shooter.locator('[data-shooter-clock]').textContent(), /^You have \d+ s to roll$/);
  const before = await seconds(pages[0]);
  await pages[0].waitForFunction((b) => Number(document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('[data-shooter-clock]').dataset.seconds) < b, before, { timeout: 5_000 });
  // Play goes on.
  await playRoll(pages, 2);
  for (const p of pages) await assertClean(p);
  for (const p of pages) await p.context().close();
});

test('a chat line reaches every page at the table, as text, under its sender', async () => {
  const pages = await setUp(2);
  const [house, a] = pages;
  await a.fill('[data-name]', 'Ann');
  await a.locator('[data-name]').dispatchEvent('change');
  const me = (await stateOf(a)).me;
  await house.waitForFunction((who) => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).names?.[who] === 'Ann', me, { timeout: 15_000 });
  await a.fill('[data-chat-text]', '<i>good luck</i> 🎲');
  await a.press('[data-chat-text]', 'Enter');
  for (const page of pages) {
    const line = page.locator(`[data-chat-lines] li[data-from="${me}"]`);
    await line.waitFor({ timeout: 15_000 });
    const text = await line.textContent();
    assert.equal(text, `${page === a ? 'You' : 'Ann'}: <i>good luck</i> 🎲`);
    assert.equal(await line.locator('i').count(), 0, 'shown as text, not markup');
  }
  assert.equal(await a.locator('[data-chat-text]').inputValue(), '', 'the box empties once sent');
  for (const p of pages) await assertClean(p);
  for (const p of pages) await p.context().close();
});

test('each bet area says what it pays, its house edge and the limits, on hover and on a long press', async () => {
  const [house, player] = await setUp(1);
  const help = (area) => player.locator(`[data-area="${area}"] title`).textContent();
  assert.equal(await help('field'), 'FIELD · 3 4 9 10 11 · 2 and 12 pay double: pays up to 2:1 · house edge 5.556% · bets 1–10,000');
  assert.match(await help('number-6'), /^place 6: pays up to 7:6 · house edge 1\.515% · bets 1–10,000$/);
  await player.selectOption('[data-mode]', 'lay');
  assert.match(await help('number-4'), /^lay 4: pays up to /, 'the numbers follow the menu');
  // A long press (a context menu) shows it in words.
  await player.locator('[data-area="any-seven"]').dispatchEvent('contextmenu');
  assert.match(await player.locator('[data-message]').textContent(), /pays up to 4:1 · house edge 16\.667%/);
  // Sound is off until the player turns it on, and stays as chosen; a
  // roll with it on plays without a hitch.
  const sound = player.locator('[data-sound]');
  assert.equal(await sound.getAttribute('aria-pressed'), 'false');
  await sound.click();
  assert.equal(await sound.textContent(), 'Sound on');
  assert.equal(await player.evaluate(() => localStorage.getItem('bitcraps-sound')), 'on');
  await player.selectOption('[data-mode]', 'place');
  await playRoll([house, player], 1);
  for (const p of [house, player]) await assertClean(p);
  for (const p of [house, player]) await p.context().close();
});

test('a whole round from the keyboard: sit, bet, roll, read the result', async () => {
  const house = await openPage(`${env.relay.url}/?deadline=2000`);
  await house.click('[data-open]');
  await waitOpen(house);
  const player = await openPage(await house.evaluate(() => location.href));
  await waitOpen(player);
  const key = async (selector, k = 'Enter') => {
    await player.focus(selector);
    await player.keyboard.press(k);
  };
  await key('[data-sit]');
  await player.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === 1);
  await key('[data-chip-value="10"]', ' ');
  await key('[data-area="pass"]');
  await key('[data-area="field"]', ' ');
  let s = await stateOf(player);
  assert.deepEqual(
    s.bets.filter((b) => b.player === s.me).map((b) => [b.bet, b.stake]).sort(),
    [['field', 10], ['pass', 10]],
  );
  await house.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).bets.length === 2);
  await key('[data-roll]');
  await player.waitForFunction(() => document.querySelector('bitcraps-table').dataset.rolls === '1', null, { timeout: 15_000 });
  // The result, in words, in the live region a screen reader reads.
  const message = player.locator('[data-message]');
  assert.equal(await message.getAttribute('role'), 'status');
  assert.match(await message.textContent(), /: you (win|lose|break even)/);
  for (const p of [house, player]) await assertClean(p);
  for (const p of [house, player]) await p.context().close();
});

test('a place bet is off on the come-out until its player calls it working, on every page', async () => {
  const [house, player] = await setUp(1);
  await player.click('[data-chip-value="6"]');
  await player.selectOption('[data-mode]', 'place');
  await player.click('[data-number="6"]');
  const mark = player.locator('[data-area="number-6"] [data-working]');
  assert.equal(await mark.textContent(), 'OFF', 'off by default on the come-out');
  await player.check('[data-call-working]');
  await player.click('[data-number="6"]');
  assert.equal(await mark.textContent(), 'ON');
  const working = (page) =>
    page.evaluate(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).bets.find((b) => b.bet === 'place-6')?.working);
  for (const page of [house, player]) await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).bets.find((b) => b.bet === 'place-6')?.working === true);
  // Called off again, on every page; a bet that is not a place or buy bet
  // cannot be called either way.
  await player.click('[data-number="6"]');
  for (const page of [house, player]) await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).bets.find((b) => b.bet === 'place-6')?.working === false);
  assert.equal(await working(player), false);
  await player.click('[data-area="field"]');
  assert.match(await player.locator('[data-message]').textContent(), /^Refused: no field bet of yours/);
  for (const p of [house, player]) await p.context().close();
});
