// The smoke path end to end: the real relay serves the page, the page loads
// the wasm client, and what the page shows is computed in wasm.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startRelay, launchBrowser } from './harness.mjs';

const cargoToml = readFileSync(new URL('../../Cargo.toml', import.meta.url), 'utf8');
const VERSION = cargoToml.match(/^\[workspace\.package\][^[]*?^version = "([^"]+)"/ms)[1];

let relay;
let browser;

before(async () => {
  relay = await startRelay();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const status = await relay?.stop();
  assert.equal(status?.code, 0, `relay did not exit cleanly on SIGTERM:\n${relay?.output()}`);
});

test('the page shows the version computed by the wasm client', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(relay.url);
  await page.locator('#engine-status', { hasText: 'ready' }).waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('#client-version').textContent(), VERSION);
  assert.equal(await page.locator('#protocol-version').textContent(), '1');
  assert.deepEqual(errors, []);
});

test('the dice shown for a seed are the engine\'s and change with the seed', async () => {
  const page = await browser.newPage();
  await page.goto(relay.url);
  await page.locator('#engine-status', { hasText: 'ready' }).waitFor({ timeout: 15_000 });
  const dice = page.locator('#seed-dice');
  await dice.filter({ hasText: '=' }).waitFor();
  const shown = await dice.textContent();
  const match = shown.match(/^([1-6]) \+ ([1-6]) = (\d+)$/);
  assert.ok(match, `dice text: ${shown}`);
  assert.equal(Number(match[1]) + Number(match[2]), Number(match[3]));

  // The page must agree with the wasm module called directly.
  const direct = await page.evaluate(async () => {
    const mod = await import('./pkg/bitcraps_client.js');
    const seed = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('bitcraps')));
    return Array.from(mod.rollFromSeed(seed));
  });
  assert.deepEqual(direct, [Number(match[1]), Number(match[2])]);

  // Different seeds give different dice for at least one of a few tries.
  const seen = new Set([shown]);
  for (const text of ['a', 'b', 'c', 'd', 'e']) {
    await page.fill('#seed-input', text);
    await page.click('#seed-form button');
    await page.waitForFunction((old) => document.getElementById('seed-dice').textContent !== old, shown)
      .catch(() => {});
    seen.add(await dice.textContent());
  }
  assert.ok(seen.size > 1, 'dice never changed with the seed');
});

test('the wasm is served as application/wasm', async () => {
  const response = await fetch(`${relay.url}/pkg/bitcraps_client_bg.wasm`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'application/wasm');
});
