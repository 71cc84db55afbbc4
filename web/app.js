// The page's entry point: loads the wasm client and shows what it computes.
import init, { version, protocolVersion, rollFromSeed } from './pkg/bitcraps_client.js';

const $ = (id) => document.getElementById(id);

async function seedFromText(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return new Uint8Array(digest);
}

async function showRoll() {
  const dice = rollFromSeed(await seedFromText($('seed-input').value));
  $('seed-dice').textContent = `${dice[0]} + ${dice[1]} = ${dice[0] + dice[1]}`;
}

try {
  await init();
  $('client-version').textContent = version();
  $('protocol-version').textContent = String(protocolVersion());
  $('engine-status').textContent = 'ready (WebAssembly)';
  $('seed-form').addEventListener('submit', (event) => {
    event.preventDefault();
    showRoll();
  });
  await showRoll();
} catch (error) {
  $('engine-status').textContent = `failed to load: ${error}`;
  throw error;
}
