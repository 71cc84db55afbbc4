// The page: one <bitcraps-table>, configured from the URL
// (?table=<id> joins a table; &webrtc=off relays only; &deadline=<ms> sets
// the commit/reveal deadlines of a table opened here; &shooter=<ms> how long
// its shooter may wait before the dice pass).
import { loadWasm } from './bitcraps.js';
import { version, protocolVersion } from './pkg/bitcraps_client.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const table = $('table');
for (const name of ['table', 'webrtc', 'deadline', 'shooter', 'relay']) {
  if (params.has(name)) table.setAttribute(name, params.get(name));
}
// Define the element only now, so it starts with the attributes above.
await import('./bitcraps-table.js');
// Opening or joining a table puts it in the address bar, ready to share.
table.addEventListener('table', (e) => {
  const url = new URL(location.href);
  url.searchParams.set('table', e.detail.table);
  history.replaceState(null, '', url);
});

try {
  await loadWasm();
  $('client-version').textContent = version();
  $('protocol-version').textContent = String(protocolVersion());
  $('engine-status').textContent = 'ready (WebAssembly)';
} catch (error) {
  $('engine-status').textContent = `failed to load: ${error}`;
  throw error;
}
