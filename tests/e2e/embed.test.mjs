// Embedding from another site: a page on another origin (its own port)
// loads the client from the relay (CORS), runs the README's example as
// written (compiled from its TypeScript) and plays a roll at a table a
// house opened on the relay's own page; and a page there with the
// two-line snippet (the element) joins from its own link and plays too.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import ts from 'typescript';
import { useRelayAndBrowser, freePort } from './harness.mjs';
import { play } from './play.mjs';
import { readmeExample } from '../types/example.mjs';

const env = useRelayAndBrowser();
const { openPage, assertClean, waitOpen, playRoll, assertAgreement, chips } = play(env);

/** A site of its own on another port: a page whose import map points
 * `bitcraps-client` at the relay's module, and the README's example. */
async function startSite(relayUrl) {
  const example = ts.transpileModule(readmeExample(), {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>Another site</title>
<script type="importmap">{"imports": {"bitcraps-client": "${relayUrl}/bitcraps.js"}}</script>
</head><body><h1>Another site</h1>
<script type="module">
import { playOneRoll } from './example.js';
window.playOneRoll = playOneRoll;
window.ready = true;
</script></body></html>`;
  const ws = `${relayUrl.replace('http', 'ws')}/ws`;
  const snippet = `<!doctype html><html><head><meta charset="utf-8"><title>Another site, with a table</title></head>
<body><h1>My page</h1><p>A table, in two lines:</p>
<script type="module" src="${relayUrl}/bitcraps-table.js"></script>
<bitcraps-table relay="${ws}"></bitcraps-table>
</body></html>`;
  const server = createServer((req, res) => {
    if (req.url.startsWith('/element')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(snippet);
    } else if (req.url === '/example.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(example);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page);
    }
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

let site;
after(async () => site?.close());

/** Records a page's console errors (a CORS refusal shows there). */
function consoleErrors(page) {
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

test("another site's page runs the README example and plays a roll at a relay's table", async () => {
  site = await startSite(env.relay.url);
  const house = await openPage(`${env.relay.url}/?deadline=2000`);
  await house.click('[data-open]');
  await waitOpen(house);
  const table = await house.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table'));

  const page = await openPage(site.url);
  const errors = consoleErrors(page);
  await page.waitForFunction(() => window.ready === true);
  assert.notEqual(new URL(site.url).origin, new URL(env.relay.url).origin);
  const ws = env.relay.url.replace('http', 'ws') + '/ws';
  const dice = await page.evaluate(([relay, t]) => window.playOneRoll(relay, t), [ws, table]);
  assert.equal(dice.length, 2);
  for (const d of dice) assert.ok(d >= 1 && d <= 6, `a die: ${d}`);

  // The house saw the same roll, with the embedding page's player seated
  // and its pass line bet on the table or decided by it.
  await house.waitForFunction((t) => window.bitcraps.state(t).rolls >= 1, table);
  const seen = await house.evaluate((t) => window.bitcraps.state(t), table);
  assert.deepEqual(seen.recent.at(-1).dice, dice);
  assert.equal(seen.seats.length, 1, 'the player from the other site sits');
  const pass = seen.recent.at(-1).results.find((r) => r.bet === 'pass') ?? seen.bets.find((b) => b.bet === 'pass');
  assert.ok(pass, 'its pass line bet was on the roll');
  assert.deepEqual(errors, [], 'no CORS or other error in the console');
  assert.deepEqual(page.errors, [], 'no page error');
  await assertClean(house);
});

test("the element on another site's page joins from that page's link, styled, and plays a roll", async () => {
  site ??= await startSite(env.relay.url);
  const house = await openPage(`${env.relay.url}/?deadline=2000`);
  await house.click('[data-open]');
  await waitOpen(house);
  const table = await house.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table'));

  // The link a player was given: the site's own page, with the table.
  const player = await openPage(`${site.url}/element?table=${table}`);
  const errors = consoleErrors(player);
  await waitOpen(player);
  assert.equal(await player.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table')), table);
  // Its own styles, with no stylesheet on the page: the felt.
  const felt = await player.evaluate(() => getComputedStyle(document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('.bc')).backgroundColor);
  assert.equal(felt, 'rgb(11, 93, 42)');
  // Its share link comes back to this page, not to the relay's.
  const share = await player.evaluate(() => document.querySelector('bitcraps-table')?.shadowRoot?.querySelector('[data-share]').value);
  assert.equal(new URL(share).origin, new URL(site.url).origin);
  assert.equal(new URL(share).searchParams.get('table'), table);

  await player.click('[data-sit]');
  for (const page of [house, player]) {
    await page.waitForFunction((t) => window.bitcraps.state(t).seats.length === 1, table);
  }
  const before = chips(await house.evaluate((t) => window.bitcraps.state(t), table));
  await playRoll([house, player], 1);
  const agreed = await assertAgreement([house, player]);
  assert.equal(chips(agreed), before, 'every chip is still there');

  // The page moves the element to another table by its attribute.
  const other = await openPage(`${env.relay.url}/?deadline=2000`);
  await other.click('[data-open]');
  await waitOpen(other);
  const second = await other.evaluate(() => document.querySelector('bitcraps-table').getAttribute('table'));
  await player.evaluate((t) => document.querySelector('bitcraps-table').setAttribute('table', t), second);
  await player.waitForFunction((t) => window.bitcraps.state(t).open && document.querySelector('bitcraps-table').dataset.open === 'true', second);
  await player.click('[data-sit]');
  await other.waitForFunction((t) => window.bitcraps.state(t).seats.length === 1, second);
  assert.deepEqual(errors, [], 'no CORS or other error in the console');
  await assertClean(player);
  await assertClean(house);
});

test('a move at a table nobody opens is refused with no-table, and one at a table never joined with not-at-table', async () => {
  site ??= await startSite(env.relay.url);
  const page = await openPage(site.url);
  await page.waitForFunction(() => window.ready === true);
  const ws = `${env.relay.url.replace('http', 'ws')}/ws`;
  const codes = await page.evaluate(async (relay) => {
    const { BitCrapsClient, BitCrapsError } = await import('bitcraps-client');
    const peer = await new BitCrapsClient({ relay, storagePrefix: 'nobody' }).start();
    const code = (p) => p.then(() => 'resolved', (e) => (e instanceof BitCrapsError ? e.code : `untyped: ${e}`));
    const never = 'ffffffffffffffffffffffffffffffff';
    const notJoined = await code(peer.sit('eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', 10));
    peer.joinTable(never);
    const none = await code(peer.sit(never, 10));
    return { notJoined, none };
  }, ws);
  assert.deepEqual(codes, { notJoined: 'not-at-table', none: 'no-table' });
  assert.deepEqual(page.errors, [], 'no page error');
});
