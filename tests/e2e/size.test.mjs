// The browser's first download, as built by scripts/build-wasm.sh, held to
// its budget: the test command fails if it grows past it. The budgets are
// today's sizes plus a little room for toolchain differences; they only
// ever go down (BENCHMARKS.md, "Browser download size", has the history
// and the breakdown; the goal is 60 KB of wasm gzip).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const WEB = process.env.WEB_DIR ?? fileURLToPath(new URL('../../web', import.meta.url));
/** Bytes, gzip -9. */
const BUDGET = { wasm: 216_000, firstDownload: 256_000 };
const FIRST_DOWNLOAD = [
  'pkg/bitcraps_client_bg.wasm', 'pkg/bitcraps_client.js', 'bitcraps.js', 'bitcraps-table.js',
  'bitcraps-table.css', 'app.js', 'index.html', 'style.css',
];
const gzipped = (file) => gzipSync(readFileSync(`${WEB}/${file}`), { level: 9 }).length;

test('the wasm and the whole first download stay within their gzip budgets', () => {
  const sizes = Object.fromEntries(FIRST_DOWNLOAD.map((f) => [f, gzipped(f)]));
  const total = Object.values(sizes).reduce((a, b) => a + b, 0);
  console.log(`gzip: wasm ${sizes['pkg/bitcraps_client_bg.wasm']} (budget ${BUDGET.wasm}), first download ${total} (budget ${BUDGET.firstDownload})`);
  assert.ok(sizes['pkg/bitcraps_client_bg.wasm'] <= BUDGET.wasm, `the wasm grew past its budget: ${JSON.stringify(sizes)}`);
  assert.ok(total <= BUDGET.firstDownload, `the first download grew past its budget: ${JSON.stringify(sizes)}`);
  // The relay serves the built .gz beside the wasm: it must be this build's.
  assert.equal(readFileSync(`${WEB}/pkg/bitcraps_client_bg.wasm.gz`).length <= BUDGET.wasm, true);
});
