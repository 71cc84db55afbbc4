// The smoke path end to end: the real relay serves the page, the page loads
// the wasm client, and what the page shows is computed in wasm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useRelayAndBrowser } from './harness.mjs';

const cargoToml = readFileSync(new URL('../../Cargo.toml', import.meta.url), 'utf8');
const VERSION = cargoToml.match(/^\[workspace\.package\][^[]*?^version = "([^"]+)"/ms)[1];

const env = useRelayAndBrowser();

test('the page shows the version computed by the wasm client', async () => {
  const page = await env.browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(env.relay.url);
  await page.locator('#engine-status', { hasText: 'ready' }).waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('#client-version').textContent(), VERSION);
  assert.equal(await page.locator('#protocol-version').textContent(), '2');
  assert.deepEqual(errors, []);
});

test('the wasm is served as application/wasm', async () => {
  const response = await fetch(`${env.relay.url}/pkg/bitcraps_client_bg.wasm`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'application/wasm');
});
