// Cluster mode in the browser: a real nats-server (JetStream) and three
// relay binaries sharing its rooms; the house's page on one relay, each
// player's page on another. They play one table, roll after roll, and
// every page agrees on every roll with no chip lost; then, at another
// table, 20 rolls, one relay is killed (SIGKILL) as the shooter rolls the
// 10th: its page goes on through another relay, the roll completes, and
// every page ends with the same state and a transcript that verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, launchBrowser, startRelay } from './harness.mjs';
import { play } from './play.mjs';

const ROLLS = Number(process.env.BITCRAPS_CLUSTER_ROLLS ?? 4);
// The failover game: its rolls, and the roll its relay dies in.
const GAME = Number(process.env.BITCRAPS_CLUSTER_GAME ?? 20);
const KILL_AT = Math.ceil(GAME / 2);
const VERIFY_BIN = process.env.VERIFY_BIN ?? resolve(import.meta.dirname, '../../target/debug/bitcraps-verify');
const killed = new Set();
const env = { relay: null, browser: null };
const relays = [];
let nats = null;
let dir = null;

/** nats-server with JetStream on a free loopback port (the set-up installs
 * Debian's package). */
async function startNats() {
  const port = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'bitcraps-e2e-nats-'));
  writeFileSync(join(dir, 'nats.conf'), `listen: 127.0.0.1:${port}\njetstream { store_dir: "${join(dir, 'js')}" }\n`);
  const bin = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server';
  const child = spawn(bin, ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => { socket.end(); resolve(true); });
      socket.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error('nats-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: `nats://127.0.0.1:${port}` };
}

before(async () => {
  nats = await startNats();
  for (let i = 0; i < 3; i++) relays.push(await startRelay(['--nats', nats.url]));
  env.relay = relays[0];
  env.browser = await launchBrowser();
});

after(async () => {
  await env.browser?.close();
  for (const relay of relays) {
    if (killed.has(relay)) continue;
    const status = await relay.stop();
    assert.equal(status?.code, 0, `relay did not exit cleanly on SIGTERM:\n${relay.output()}`);
  }
  nats?.child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const { openPage, waitOpen, playRoll, assertAgreement, assertClean, stateOf, chips } = play(env);

test('three pages, each on its own relay of a cluster, play one table and agree on every roll', async () => {
  const house = await openPage(`${relays[0].url}/?deadline=2000`);
  await house.click('[data-open]');
  await waitOpen(house);
  const link = new URL(await house.evaluate(() => location.href));
  const pages = [house];
  for (const relay of relays.slice(1)) {
    const url = new URL(link);
    url.port = String(relay.port);
    const page = await openPage(url.toString());
    await waitOpen(page);
    await page.click('[data-sit]');
    pages.push(page);
  }
  for (const page of pages) {
    await page.waitForFunction(
      () => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === 2,
      null,
      { timeout: 15_000 },
    );
  }
  const total = chips(await stateOf(house));
  for (let n = 1; n <= ROLLS; n++) {
    await playRoll(pages, n);
    await assertAgreement(pages);
  }
  for (const page of pages) {
    assert.equal(chips(await stateOf(page)), total, 'no chip made or lost');
    await assertClean(page);
  }
  // The pages really were on three relays: each relay stored frames.
  for (const relay of relays) {
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    const published = Number(/bitcraps_cluster_total\{event="published"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    assert.ok(published > 0, `relay ${relay.port} stored its page's frames`);
  }
});

test('a relay killed as the shooter rolls: its page goes on through another, the roll completes, the game verifies', async () => {
  const ws = (relay) => relay.url.replace('http:', 'ws:') + '/ws';
  // Each page knows the three relays, its own first.
  const list = (i) => [0, 1, 2].map((k) => ws(relays[(i + k) % 3])).join(',');
  const house = await openPage(`${relays[0].url}/?deadline=2000&relay=${encodeURIComponent(list(0))}`);
  await house.click('[data-open]');
  await waitOpen(house);
  const table = await house.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table'));
  const pages = [house];
  for (const i of [1, 2]) {
    const page = await openPage(`${relays[i].url}/?deadline=2000&table=${table}&relay=${encodeURIComponent(list(i))}`);
    await waitOpen(page);
    await page.click('[data-sit]');
    pages.push(page);
  }
  for (const page of pages) {
    await page.waitForFunction(
      () => window.bitcraps.state(document.querySelector('bitcraps-table').getAttribute('table')).seats.length === 2,
      null,
      { timeout: 15_000 },
    );
  }
  const total = chips(await stateOf(house));
  const victim = relays[1];
  const before = await pages[1].evaluate(() => window.bitcraps.connectionState().relayUrl);
  assert.equal(before, ws(victim), 'the first player plays through the relay that dies');
  let n = 0;
  for (; n < KILL_AT - 1; ) await playRoll(pages, ++n);
  const started = Date.now();
  await playRoll(pages, ++n, {
    afterRoll: async () => {
      killed.add(victim);
      await victim.kill();
    },
  });
  const took = Date.now() - started;
  const after = await pages[1].evaluate(() => window.bitcraps.connectionState().relayUrl);
  assert.notEqual(after, ws(victim), 'the page moved to another relay');
  assert.match(await pages[1].locator('bitcraps-table').evaluate((t) => t.shadowRoot.querySelector('[data-relay]').textContent), /via 127\.0\.0\.1:/);
  console.log(`relay killed mid-roll: the roll completed ${took} ms after the bets began; page now on ${after}`);
  for (; n < GAME; ) await playRoll(pages, ++n);
  const agreed = await assertAgreement(pages);
  for (const page of pages) {
    assert.equal(chips(await stateOf(page)), total, 'no chip made or lost');
    await assertClean(page);
  }
  // The whole game checks out, from every page (the one that lost its
  // relay among them), with bitcraps-verify.
  for (const [i, page] of pages.entries()) {
    const bytes = await page.evaluate((t) => Array.from(window.bitcraps.transcript(t)), table);
    const file = join(dir, `failover-${i}.bctx`);
    writeFileSync(file, Buffer.from(bytes));
    const report = JSON.parse(execFileSync(VERIFY_BIN, [file, '--json'], { encoding: 'utf8' }));
    assert.equal(report.ok, true, `page ${i}'s transcript`);
    assert.equal(report.rolls.length, GAME);
    assert.equal(report.stateHash, agreed.stateHash);
  }
});
