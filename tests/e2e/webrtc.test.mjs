// Data channels that really carry the game, in real Chromium pages against
// the real relay binary and a real TURN server (Debian's coturn): the game
// frames each page took are counted per path (straight over a data
// channel, through TURN, through the relay); a channel killed mid-game
// comes back within seconds while the game goes on; with the TURN-only
// policy the game plays through coturn.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { startRelay, launchBrowser, freePort } from './harness.mjs';
import { play } from './play.mjs';

const env = { relay: null, browser: null };
const { assertClean: assertGameClean, setUp: setUpGame, stateOf, playRoll, assertAgreement, chips } = play(env);

/** The table with `players`, each page's WebRTC warnings recorded (a
 * candidate that came before its description, a failed offer). */
async function setUp(players, query) {
  const pages = await setUpGame(players, query);
  for (const page of pages) {
    page.webrtcWarnings = [];
    page.on('console', (m) => {
      if (/WebRTC/.test(m.text())) page.webrtcWarnings.push(m.text());
    });
  }
  return pages;
}

async function assertClean(page) {
  await assertGameClean(page);
  assert.deepEqual(page.webrtcWarnings, [], 'no WebRTC warning');
}
const SECRET = randomBytes(16).toString('hex');
let coturn = null;
let coturnOutput = '';

/** Resolves once a STUN Binding request to 127.0.0.1:`port` is answered. */
async function answersStun(port, timeoutMs) {
  const socket = createSocket('udp4');
  const request = Buffer.concat([Buffer.from([0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]), randomBytes(12)]);
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      socket.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.send(request, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

before(async () => {
  const port = await freePort();
  const relayPorts = 40_000 + (port % 200) * 100;
  coturn = spawn('turnserver', [
    '-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    `--min-port=${relayPorts}`, `--max-port=${relayPorts + 99}`,
    '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=bitcraps.test',
    // Loopback is where these tests live; a real deployment denies it.
    '--allow-loopback-peers', '--no-tls', '--no-dtls', '--no-cli', '--log-file=stdout',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  coturn.stdout.on('data', (d) => { coturnOutput += d; });
  coturn.stderr.on('data', (d) => { coturnOutput += d; });
  let up = false;
  for (let i = 0; i < 100 && !up; i++) up = await answersStun(port, 100);
  assert.ok(up, `coturn did not start:\n${coturnOutput}`);
  env.relay = await startRelay(['--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', SECRET]);
  env.browser = await launchBrowser();
});

after(async () => {
  await env.browser?.close();
  const status = await env.relay?.stop();
  coturn?.kill();
  assert.equal(status?.code, 0, `relay did not exit cleanly on SIGTERM:\n${env.relay?.output()}`);
});

/** The game frames that reached a page, per path: `relay`, `direct` (a
 * data channel straight to the peer), `turn` (a data channel through
 * coturn), `gone` (channels closed since): each `{ first, carried }`
 * (frames that came there first and were taken; every frame that came,
 * the other path's copy being a recognised duplicate); `perPeer` (frames
 * each peer's channels carried) and everything refused. */
function pathTotals(page) {
  return page.evaluate(() => {
    const table = document.querySelector('bitcraps-table').getAttribute('table');
    const c = window.bitcraps.connectionState();
    const paths = c.paths[table];
    const path = (first, carried) => ({ first, carried });
    const totals = {
      relay: path(paths.relay.taken, paths.relay.taken + paths.relay.ignored),
      direct: path(0, 0),
      turn: path(0, 0),
      gone: path(0, 0),
      refused: paths.relay.refused,
      perPeer: {},
    };
    for (const [key, channel] of Object.entries(paths.channels)) {
      const route = totals[c.routes[`${table}/${key}`] ?? 'gone'];
      route.first += channel.taken;
      route.carried += channel.taken + channel.ignored;
      totals.refused += channel.refused;
      totals.perPeer[key] = channel.taken + channel.ignored;
    }
    return totals;
  });
}

const show = (t) => ['relay', 'direct', 'turn', 'gone'].map((p) => `${p} ${t[p].carried} (${t[p].first} first)`).join(', ');

/** Waits until every page has an open data channel to each other page,
 * with a known route; returns the routes seen. */
async function waitChannels(pages, timeout = 20_000) {
  const routes = [];
  for (const page of pages) {
    const handle = await page.waitForFunction(
      (n) => {
        const c = window.bitcraps.connectionState();
        const open = Object.entries(c.peers).filter(([id, s]) => s === 'open' && c.routes[id]);
        return open.length === n && open.map(([id]) => c.routes[id]);
      },
      pages.length - 1,
      { timeout },
    );
    routes.push(...(await handle.jsonValue()));
  }
  return routes;
}

const keyOf = async (page) => (await stateOf(page)).me;

test('with WebRTC on, the game frames between pages cross the data channels', async () => {
  const pages = await setUp(2);
  const routes = await waitChannels(pages);
  assert.deepEqual([...new Set(routes)], ['direct'], 'every channel runs straight between the pages (loopback)');
  for (let n = 1; n <= 3; n++) {
    await playRoll(pages, n);
    await assertAgreement(pages);
  }
  const keys = await Promise.all(pages.map(keyOf));
  let first = 0;
  for (const [i, page] of pages.entries()) {
    const t = await pathTotals(page);
    console.log(`page ${i}: ${show(t)}, refused ${t.refused}`);
    assert.ok(t.direct.carried > 0, `page ${i} got game frames over direct channels`);
    first += t.direct.first;
    assert.equal(t.turn.carried, 0);
    assert.equal(t.refused, 0, 'nothing refused on any path');
    // Each player's table actions reached every other page over its
    // channel.
    for (const [j, key] of keys.entries()) {
      if (j !== i && j !== 0) assert.ok(t.perPeer[key] > 0, `page ${i} took page ${j}'s frames over their channel`);
    }
  }
  assert.ok(first > 0, 'some game frames came over a direct channel before the relay\'s copy');
  for (const p of pages) await assertClean(p);
  for (const p of pages) await p.context().close();
});

test('a data channel killed mid-game comes back within seconds, and the game never stalls', async () => {
  const pages = await setUp(2);
  const [house, one, two] = pages;
  await waitChannels(pages);
  await playRoll(pages, 1);
  const [houseKey, oneKey, twoKey] = await Promise.all(pages.map(keyOf));
  const table = await house.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table'));
  const kill = (page, peer) =>
    page.evaluate((id) => {
      const entry = window.bitcraps.peers.get(id);
      entry.pc.close();
      return Boolean(entry);
    }, `${table}/${peer}`);
  // Killed from both ends of a pairing: between the players by the end
  // that calls (the lower key), between player two and the house by the
  // end that answers (it asks the other to call again).
  const killedAt = Date.now();
  assert.ok(oneKey < twoKey ? await kill(one, twoKey) : await kill(two, oneKey));
  assert.ok(twoKey > houseKey ? await kill(two, houseKey) : await kill(house, twoKey));
  // The game goes on at once, through the relay.
  await playRoll(pages, 2);
  await assertAgreement(pages);
  await waitChannels(pages, 15_000);
  const back = Date.now() - killedAt;
  console.log(`channels back ${back} ms after they were killed (a roll was played meanwhile)`);
  // The new channels carry the game.
  const before = await Promise.all(pages.map(pathTotals));
  for (let n = 3; n <= 4; n++) {
    await playRoll(pages, n);
    await assertAgreement(pages);
  }
  const after = await Promise.all(pages.map(pathTotals));
  assert.ok(after[2].perPeer[oneKey] > before[2].perPeer[oneKey], 'player two takes player one\'s frames over the new channel');
  assert.ok(after[1].perPeer[twoKey] > before[1].perPeer[twoKey], 'player one takes player two\'s frames over the new channel');
  assert.ok(after[0].perPeer[twoKey] > before[0].perPeer[twoKey], 'the house takes player two\'s frames over the new channel');
  for (const t of after) assert.equal(t.refused, 0);
  const final = await stateOf(house);
  assert.equal(final.rolls, 4);
  assert.equal(chips(final), 1_000_000 + 2 * 1000, 'chips conserved');
  for (const p of pages) await assertClean(p);
  for (const p of pages) await p.context().close();
});

test('with the TURN-only policy, the game plays through coturn', async () => {
  const pages = await setUp(2, '&webrtc=turn');
  const routes = await waitChannels(pages);
  assert.deepEqual([...new Set(routes)], ['turn'], 'every channel runs through the TURN server');
  for (let n = 1; n <= 3; n++) {
    await playRoll(pages, n);
    await assertAgreement(pages);
  }
  for (const [i, page] of pages.entries()) {
    const t = await pathTotals(page);
    console.log(`page ${i} (TURN only): ${show(t)}, refused ${t.refused}`);
    assert.ok(t.turn.carried > 0, `page ${i} got game frames through TURN`);
    assert.equal(t.direct.carried, 0, 'nothing went straight');
    assert.equal(t.refused, 0);
    // No host or server-reflexive candidate was ever offered: the other
    // players never saw this browser's address.
    const types = await page.evaluate(async () => {
      const seen = new Set();
      for (const entry of window.bitcraps.peers.values()) {
        (await entry.pc.getStats()).forEach((s) => {
          if (s.type === 'local-candidate') seen.add(s.candidateType);
        });
      }
      return [...seen];
    });
    assert.deepEqual(types, ['relay']);
    assert.match(await page.locator('bitcraps-table').evaluate((el) => el.shadowRoot.querySelector('[data-peers]').textContent), /via TURN/);
  }
  const metrics = await (await fetch(`${env.relay.url}/metrics`)).text();
  const issued = Number(/bitcraps_turn_credentials_total (\d+)/.exec(metrics)?.[1]);
  assert.ok(issued >= 3, `each page got TURN credentials (${issued})`);
  for (const p of pages) await assertClean(p);
  for (const p of pages) await p.context().close();
});
