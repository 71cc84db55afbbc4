// The package as a web developer gets it: `npm pack` of web/, installed
// from the tarball into a scratch site with `npm install`, imported by its
// package name (an import map, as a page without a bundler does) from a
// page on its own origin; it joins a relay's table and plays a roll through
// the JS API, and the element from the package shows a second table. And
// two elements on one page play two tables independently.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { useRelayAndBrowser, freePort } from './harness.mjs';
import { play } from './play.mjs';

const env = useRelayAndBrowser();
const { openPage, assertClean, waitOpen } = play(env);
const WEB = resolve(import.meta.dirname, '../../web');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };

const scratch = mkdtempSync(join(tmpdir(), 'bitcraps-package-'));
let server;
after(async () => {
  await new Promise((r) => (server ? server.close(r) : r()));
  rmSync(scratch, { recursive: true, force: true });
});

/** Packs web/, installs the tarball in `scratch`, serves `scratch` with
 * `page` as its index; the site's URL. */
async function siteWithPackage(page) {
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: WEB, encoding: 'utf8' }).trim().split('\n').at(-1);
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'a-site', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', join(scratch, tarball)], { cwd: scratch });
  const installed = JSON.parse(readFileSync(join(scratch, 'node_modules/bitcraps-client/package.json'), 'utf8'));
  assert.equal(installed.name, 'bitcraps-client');
  for (const file of ['bitcraps.js', 'bitcraps-table.js', 'bitcraps-table.css', 'pkg/bitcraps_client_bg.wasm', 'README.md', 'LICENSE']) {
    assert.ok(existsSync(join(scratch, 'node_modules/bitcraps-client', file)), `the package has ${file}`);
  }
  writeFileSync(join(scratch, 'index.html'), page);
  server = createServer((req, res) => {
    const path = normalize(join(scratch, new URL(req.url, 'http://x').pathname));
    if (!path.startsWith(scratch) || !existsSync(path)) {
      res.writeHead(404);
      return res.end();
    }
    const file = path.endsWith('/') || path === scratch ? join(scratch, 'index.html') : path;
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return `http://127.0.0.1:${port}/`;
}

/** Opens a table as its house on the relay's own page; its id. */
async function houseTable() {
  const house = await openPage(`${env.relay.url}/?deadline=2000`);
  await house.click('[data-open]');
  await waitOpen(house);
  return { house, table: await house.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table')) };
}

test('the packed package, installed by name, plays a roll through its API and shows its element', async () => {
  const ws = `${env.relay.url.replace('http', 'ws')}/ws`;
  const url = await siteWithPackage(`<!doctype html><html><head><meta charset="utf-8"><title>A site</title>
<script type="importmap">{"imports": {
  "bitcraps-client": "./node_modules/bitcraps-client/bitcraps.js",
  "bitcraps-client/element": "./node_modules/bitcraps-client/bitcraps-table.js"}}</script></head>
<body><bitcraps-table relay="${ws}" hidden></bitcraps-table>
<script type="module">
import { BitCrapsClient } from 'bitcraps-client';
import 'bitcraps-client/element';
window.BitCrapsClient = BitCrapsClient;
window.ready = true;
</script></body></html>`);
  const { house, table } = await houseTable();
  const page = await openPage(url);
  await page.waitForFunction(() => window.ready === true);
  const dice = await page.evaluate(
    async ([relay, t]) => {
      const peer = await new window.BitCrapsClient({ relay, storagePrefix: 'api' }).start();
      const rolled = new Promise((r) => peer.addEventListener('rolled', (e) => r(e.detail.roll.dice)));
      peer.joinTable(t);
      await peer.sit(t, 500);
      await peer.bet(t, 'field', 5);
      await peer.roll(t);
      return rolled;
    },
    [ws, table],
  );
  assert.equal(dice.length, 2);
  await house.waitForFunction((t) => window.bitcraps.state(t).rolls === 1, table);
  assert.deepEqual(await house.evaluate((t) => window.bitcraps.state(t).recent[0].dice, table), dice);
  // The element from the package, styled from the package's own file.
  const second = await houseTable();
  await page.evaluate((t) => {
    const element = document.querySelector('bitcraps-table');
    element.hidden = false;
    element.setAttribute('table', t);
  }, second.table);
  await page.waitForFunction(() => document.querySelector('bitcraps-table').dataset.open === 'true');
  const felt = await page.evaluate(() => getComputedStyle(document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('.bc')).backgroundColor);
  assert.equal(felt, 'rgb(11, 93, 42)');
  await assertClean(page);
  await assertClean(house);
});

test('two elements on one page play two tables independently', async () => {
  const first = await houseTable();
  const second = await houseTable();
  const page = await openPage(`${env.relay.url}/embed.html`);
  await page.evaluate(([a, b]) => {
    for (const t of [a, b]) {
      const element = document.createElement('bitcraps-table');
      element.setAttribute('table', t);
      element.id = `t-${t}`;
      document.querySelector('main').append(element);
    }
    document.querySelector('bitcraps-table:not([id])').remove();
  }, [first.table, second.table]);
  for (const t of [first.table, second.table]) {
    await page.waitForFunction((id) => document.getElementById(`t-${id}`)?.dataset.open === 'true', t);
    await page.locator(`#t-${t} [data-sit]`).click();
  }
  // Each house sees its own player seated, and only at its own table.
  for (const { house, table } of [first, second]) {
    await house.waitForFunction((t) => window.bitcraps.state(t).seats.length === 1, table);
  }
  // A bet at the first table, a roll there: the second does not move.
  await page.locator(`#t-${first.table} [data-area="field"]`).click();
  await first.house.waitForFunction((t) => window.bitcraps.state(t).bets.length === 1, first.table);
  await page.locator(`#t-${first.table} [data-roll]`).click();
  await page.waitForFunction((id) => document.getElementById(`t-${id}`).dataset.rolls === '1', first.table);
  assert.equal(await page.evaluate((id) => document.getElementById(`t-${id}`).dataset.rolls, second.table), '0');
  const balances = await page.evaluate(
    ([a, b]) => [a, b].map((t) => document.getElementById(`t-${t}`).peer.state(t).seats[0].balance),
    [first.table, second.table],
  );
  assert.equal(balances[1], 1000, 'the second table untouched');
  await assertClean(page);
  await assertClean(first.house);
  await assertClean(second.house);
});
