// Run by hand (scripts/bench-webrtc.sh): a house and N players (8 by
// default) in real Chromium pages play rolls with WebRTC data channels and
// then with the relay only, each on a fresh relay; prints per mode the
// time a bet takes to show on every other page, the time a roll takes from
// the shooter's click to the dice on every page, and the relay's CPU and
// bytes per roll. Environment: RELAY_BIN, WEB_DIR, BENCH_PLAYERS (8),
// BENCH_ROLLS (20).
import { readFileSync } from 'node:fs';
import { startRelay, launchBrowser } from './harness.mjs';
import { play } from './play.mjs';

const PLAYERS = Number(process.env.BENCH_PLAYERS ?? 8);
const ROLLS = Number(process.env.BENCH_ROLLS ?? 20);
const TICK_MS = 1000 / 100; // USER_HZ

function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime + stime
}

async function counter(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const summary = (xs) => `median ${quantile(xs, 0.5).toFixed(0)} ms, p90 ${quantile(xs, 0.9).toFixed(0)} ms (n=${xs.length})`;

/** Records, in each page, when each bet first shows and when each roll lands. */
function watch(page) {
  return page.evaluate(() => {
    const table = document.querySelector('bitcraps-table').getAttribute('table');
    window.betSeen = {};
    window.rolledAt = {};
    window.bitcraps.addEventListener('change', () => {
      const now = performance.timeOrigin + performance.now();
      const s = window.bitcraps.state(table);
      for (const b of s.bets) window.betSeen[`${b.player}/${b.bet}/${b.stake}`] ??= now;
      window.rolledAt[s.rolls] ??= now;
    });
  });
}

async function runMode(browser, mode) {
  const relay = await startRelay();
  const env = { relay, browser };
  const { setUp, stateOf, data } = play(env);
  const query = mode === 'relay only' ? '&webrtc=off' : '';
  const pages = await setUp(PLAYERS, query, 4000);
  if (mode !== 'relay only') {
    for (const page of pages) {
      await page.waitForFunction(
        (n) => Object.values(window.bitcraps.connectionState().peers).filter((s) => s === 'open').length === n,
        PLAYERS,
        { timeout: 60_000 },
      );
    }
  }
  for (const page of pages) await watch(page);
  const players = pages.slice(1);
  const betLatency = [];
  const rollLatency = [];
  const cpu0 = cpuMs(relay.pid);
  const bytes0 = (await counter(relay.url, 'bitcraps_bytes_in_total')) + (await counter(relay.url, 'bitcraps_bytes_out_total'));
  for (let n = 1; n <= ROLLS; n++) {
    const mine = [];
    for (const page of players) {
      const s = await stateOf(page);
      const own = s.bets.filter((b) => b.player === s.me);
      const area = s.point === 0 && !own.some((b) => b.bet === 'pass') ? 'pass' : 'field';
      await page.click(`[data-area="${area}"]`);
      const after = (await stateOf(page)).bets.filter((b) => b.player === s.me && b.bet === area);
      mine.push({ page, key: `${s.me}/${area}/${after.at(-1).stake}` });
    }
    // Every page has every bet before the roll.
    for (const page of pages) {
      await page.waitForFunction((keys) => keys.every((k) => window.betSeen[k]), mine.map((m) => m.key), { timeout: 30_000 });
    }
    for (const { page, key } of mine) {
      const placed = await page.evaluate((k) => window.betSeen[k], key);
      const seen = await Promise.all(pages.filter((p) => p !== page).map((p) => p.evaluate((k) => window.betSeen[k], key)));
      betLatency.push(Math.max(...seen) - placed);
    }
    let shooter = null;
    for (const page of players) if ((await data(page, 'shooter')) === 'true') shooter = page;
    const clicked = await shooter.evaluate(() => {
      const at = performance.timeOrigin + performance.now();
      document.querySelector('bitcraps-table').shadowRoot.querySelector('[data-roll]').click();
      return at;
    });
    for (const page of pages) {
      await page.waitForFunction((count) => window.rolledAt[count], n, { timeout: 30_000 });
    }
    const landed = await Promise.all(pages.map((p) => p.evaluate((count) => window.rolledAt[count], n)));
    rollLatency.push(Math.max(...landed) - clicked);
  }
  const cpu = (cpuMs(relay.pid) - cpu0) / ROLLS;
  const bytes = ((await counter(relay.url, 'bitcraps_bytes_in_total')) + (await counter(relay.url, 'bitcraps_bytes_out_total')) - bytes0) / ROLLS;
  const paths = await Promise.all(pages.map((p) => p.evaluate(() => {
    const c = window.bitcraps.connectionState();
    const t = Object.values(c.paths)[0];
    const channels = Object.values(t.channels);
    return { relayFirst: t.relay.taken, channelFirst: channels.reduce((n, x) => n + x.taken, 0) };
  })));
  const relayFirst = paths.reduce((n, p) => n + p.relayFirst, 0);
  const channelFirst = paths.reduce((n, p) => n + p.channelFirst, 0);
  console.log(`${mode}: ${PLAYERS} players, ${ROLLS} rolls`);
  console.log(`  bet shown on every other page: ${summary(betLatency)}`);
  console.log(`  roll, click to dice on every page: ${summary(rollLatency)}`);
  console.log(`  relay CPU per roll ${cpu.toFixed(1)} ms; bytes in+out per roll ${Math.round(bytes)}`);
  console.log(`  game frames taken first: relay ${relayFirst}, data channels ${channelFirst}`);
  for (const p of pages) await p.context().close();
  await relay.stop();
}

const browser = await launchBrowser();
try {
  for (const mode of (process.env.BENCH_MODES ?? 'webrtc,relay only').split(',')) await runMode(browser, mode);
} finally {
  await browser.close();
}
