// The table through the faults a player meets, in real Chromium pages
// against the real relay binary: a WebSocket that closes as a bet is
// placed, the relay killed (SIGKILL) and restarted on the same port during
// betting and again during a roll, a table nobody opened. Every page ends
// every roll in the same state, chips are conserved, no roll is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRelay, useRelayAndBrowser } from './harness.mjs';
import { play } from './play.mjs';

// (Tests below replace `env.relay`; the one running at the end is
// stopped and checked.)
const env = useRelayAndBrowser();

// Short in `npm test`; `scripts/long-faults.sh` runs them long.
const ROLLS = Number(process.env.BITCRAPS_FAULT_ROLLS ?? 8);
const HISTORY_ROLLS = Number(process.env.BITCRAPS_HISTORY_ROLLS ?? 10);
const WINDOW = process.env.BITCRAPS_HISTORY_WINDOW ?? '40';
const VERIFY_BIN = process.env.VERIFY_BIN ?? resolve(import.meta.dirname, '../../target/debug/bitcraps-verify');
const { openPage, assertClean, setUp, stateOf, data, playRoll, assertAgreement, chips } = play(env);

/** Kills the relay and starts a new one on the same port. */
async function restartRelay() {
  const { port } = env.relay;
  await env.relay.kill();
  env.relay = await startRelay([], { port });
}

/** Waits until every page is back at the table on the relay. */
async function waitJoined(pages) {
  for (const page of pages) {
    await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).joined, null, {
      timeout: 20_000,
    });
  }
}

const tableOf = (page) => page.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table'));

/** Waits until every page holds `n` rolls and the same state hash. */
async function waitRolls(pages, n) {
  for (const page of pages) {
    await page.waitForFunction((count) => document.querySelector('bitcraps-table').dataset.rolls === String(count), n, {
      timeout: 20_000,
    });
  }
}

for (const webrtc of ['off', 'on']) {
  test(`three pages play through a dropped socket and two relay crashes (WebRTC ${webrtc})`, async () => {
    const query = webrtc === 'off' ? '&webrtc=off' : '';
    // Deadlines longer than any outage here: what is tested is that
    // nothing is lost, not who is late.
    const pages = await setUp(2, query, 15_000);
    const [, a, b] = pages;
    await playRoll(pages, 1);
    await assertAgreement(pages);

    // The socket closes at the moment of a bet: the bet is kept and sent
    // after the resume, and everyone sees it.
    const bettor = (await data(a, 'shooter')) === 'true' ? b : a;
    const me = (await stateOf(bettor)).me;
    await bettor.evaluate(() => {
      window.bitcraps.ws.close();
      document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('[data-area="field"]').dispatchEvent(new MouseEvent('click', { bubbles: true }));
    });
    for (const page of pages) {
      await page.waitForFunction(
        (who) => {
          const s = window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table'));
          return s.bets.some((x) => x.player === who && x.bet === 'field');
        },
        me,
        { timeout: 15_000 },
      );
    }
    await bettor.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).waiting === 0);
    await playRoll(pages, 2);
    await assertAgreement(pages);

    // The relay crashes during betting and comes back on the same port.
    await restartRelay();
    await waitJoined(pages);
    await playRoll(pages, 3);
    await assertAgreement(pages);

    // ... and again while the dice are being rolled.
    const shooter = (await data(a, 'shooter')) === 'true' ? a : b;
    for (const page of [a, b]) await page.click('[data-area="field"]');
    for (const page of pages) {
      await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).bets.filter((x) => x.bet === 'field').length >= 2, null, {
        timeout: 15_000,
      });
    }
    await shooter.click('[data-roll]');
    await restartRelay();
    await waitRolls(pages, 4);
    await waitJoined(pages);
    const s = await assertAgreement(pages);
    assert.equal(chips(s), 1_000_000 + 2 * 1000, 'chips conserved');
    assert.deepEqual(s.recent.at(-1).forfeited, [], 'nobody was forfeited for the relay crashing');
    for (let n = 5; n <= 6; n++) {
      await playRoll(pages, n);
      await assertAgreement(pages);
    }
    // A newcomer after the restarts: the relay has only what the pages
    // gave it again; the game comes from a player, checked.
    const newcomer = await openPage(await a.evaluate(() => location.href));
    await newcomer.waitForFunction(() => document.querySelector('bitcraps-table').dataset.rolls === '6', null, { timeout: 20_000 });
    await newcomer.click('[data-sit]');
    pages.push(newcomer);
    for (const page of pages) {
      await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === 3, null, {
        timeout: 15_000,
      });
    }
    await assertAgreement(pages);
    for (let n = 7; n <= ROLLS; n++) {
      await playRoll(pages, n);
      await assertAgreement(pages);
    }
    const end = await stateOf(newcomer);
    assert.equal(end.rolls, Math.max(ROLLS, 6), 'no roll lost');
    assert.equal(chips(end), 1_000_000 + 3 * 1000, 'chips conserved');
    const tables = new Set(await Promise.all(pages.map(tableOf)));
    assert.equal(tables.size, 1);
    // Two relay crashes and a dropped socket, and yet no page said the
    // house had left, or showed a refusal.
    for (const page of pages) await assertClean(page);
    for (const page of pages) await page.context().close();
  });
}

test('a page that joins after the history left the relay catches up from a player, checked', async () => {
  // A relay whose rooms keep 40 frames: ten rolls are well past it.
  const { port } = env.relay;
  await env.relay.stop();
  env.relay = await startRelay(['--replay-frames', WINDOW], { port });
  const pages = await setUp(2, '&webrtc=off', 15_000);
  for (let n = 1; n <= HISTORY_ROLLS; n++) await playRoll(pages, n);
  const late = await openPage(await pages[1].evaluate(() => location.href));
  await late.waitForFunction((n) => document.querySelector('bitcraps-table').dataset.rolls === String(n), HISTORY_ROLLS, {
    timeout: 60_000,
  });
  const [first] = await Promise.all([stateOf(pages[0])]);
  // The relay could not give it the whole history (it said so), yet the
  // page caught up.
  const metrics = await (await fetch(`${env.relay.url}/metrics`)).text();
  const metric = (name) => Number(metrics.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN);
  assert.ok(metric('bitcraps_resume_gaps_total') >= 1, 'the history was past the relay window');
  console.log(`history: ${metric('bitcraps_frames_in_total')} client frames, window ${WINDOW}, ${HISTORY_ROLLS} rolls`);
  const mine = await stateOf(late);
  assert.equal(mine.stateHash, first.stateHash, 'the same game');
  const table = await tableOf(late);
  // It took the state the players signed after a recent roll (a few
  // kilobytes, not the whole game), and holds the rolls since, each the
  // same as the players'.
  const rolls = await late.evaluate((t) => window.bitcraps.rolls(t, 0, 1000), table);
  const theirs = await pages[0].evaluate((t) => window.bitcraps.rolls(t, 0, 1000), table);
  assert.ok(rolls.length < HISTORY_ROLLS, `from a checkpoint: ${rolls.length} rolls held`);
  assert.deepEqual(rolls, theirs.slice(theirs.length - rolls.length), 'the same rolls since it');
  // Its transcript starts from that checkpoint, with the players'
  // signatures on it: the command-line checker takes it and says so.
  const dir = mkdtempSync(join(tmpdir(), 'bitcraps-late-'));
  try {
    const file = join(dir, 'late.bctx');
    writeFileSync(file, Buffer.from(await late.evaluate((t) => Array.from(window.bitcraps.transcript(t)), table)));
    const report = JSON.parse(execFileSync(VERIFY_BIN, [file, '--json'], { encoding: 'utf8' }));
    assert.equal(report.ok, true);
    assert.ok(report.from && report.from.rollsBefore === HISTORY_ROLLS - rolls.length, JSON.stringify(report.from));
    assert.ok(report.from.signedBy.length >= 1 && report.from.signedBy.length <= report.from.voters);
    assert.deepEqual(report.rolls.map((r) => r.dice), rolls.map((r) => r.dice));
    assert.equal(report.stateHash, mine.stateHash);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await late.click('[data-sit]');
  pages.push(late);
  for (const page of pages) {
    await page.waitForFunction(() => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === 3, null, {
      timeout: 15_000,
    });
  }
  await playRoll(pages, HISTORY_ROLLS + 1);
  await assertAgreement(pages);
  for (const page of pages) await assertClean(page);
  for (const page of pages) await page.context().close();
});

test('a link to a table nobody opened says so and leads back to the lobby', async () => {
  const page = await openPage(`${env.relay.url}/?table=${'ab'.repeat(16)}`);
  const deadEnd = page.locator('[data-dead-end]');
  await deadEnd.waitFor({ state: 'visible', timeout: 15_000 });
  assert.match(await deadEnd.textContent(), /No such table, or it has closed/);
  await page.click('[data-back]');
  await page.locator('button[data-open]').waitFor({ state: 'visible' });
  assert.equal(new URL(page.url()).searchParams.get('table'), null, 'the link no longer names the table');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a full table says so, with the way back to the lobby, where it shows as full', async () => {
  const { port } = env.relay;
  await env.relay.stop();
  env.relay = await startRelay(['--max-peers-per-room', '2'], { port });
  const house = await openPage(`${env.relay.url}/`);
  await house.click('button[data-open]');
  await house.waitForFunction(() => document.querySelector('bitcraps-table')?.dataset.open === 'true', null, { timeout: 15_000 });
  const url = await house.evaluate(() => location.href);
  const table = await tableOf(house);
  const player = await openPage(url);
  await player.waitForFunction(() => document.querySelector('bitcraps-table')?.dataset.open === 'true', null, { timeout: 15_000 });
  const late = await openPage(url);
  const deadEnd = late.locator('[data-dead-end]');
  await deadEnd.waitFor({ state: 'visible', timeout: 15_000 });
  assert.match(await deadEnd.textContent(), /This table is full right now/);
  await late.click('[data-back]');
  const join = late.locator(`[data-join-table="${table}"]`);
  await join.waitFor({ state: 'visible', timeout: 15_000 });
  assert.equal(await join.textContent(), 'Full');
  assert.ok(await join.isDisabled(), 'a full table cannot be joined from the lobby');
  for (const page of [house, player, late]) await assertClean(page);
  for (const page of [house, player, late]) await page.context().close();
});

test('a full relay says so in words on the page', async () => {
  const { port } = env.relay;
  await env.relay.stop();
  env.relay = await startRelay(['--max-connections', '1'], { port });
  const house = await openPage(`${env.relay.url}/`);
  await house.click('button[data-open]');
  await house.waitForFunction(() => document.querySelector('bitcraps-table')?.dataset.open === 'true', null, { timeout: 15_000 });
  const url = await house.evaluate(() => location.href);
  const player = await openPage(url);
  await player.waitForFunction(() => /relay is full/.test(document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('[data-message]')?.textContent ?? ''), null, {
    timeout: 15_000,
  });
  assert.match(await player.locator('[data-message]').textContent(), /refused the connection: relay is full \(HTTP 503\)/);
  assert.deepEqual(player.errors, []);
  for (const page of [house, player]) await page.context().close();
  // The relay this file ends with has the default limits.
  await env.relay.stop();
  env.relay = await startRelay([], { port });
});
