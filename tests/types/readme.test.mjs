// The README's TypeScript example, type-checked against the package's
// declarations with `tsc --strict` (TypeScript from npm): the example a
// web developer copies must compile as written. The browser test that
// embeds the table from another origin runs the same example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readmeExample } from './example.mjs';

const root = resolve(import.meta.dirname, '../..');
const tsc = join(root, 'node_modules/.bin/tsc');

/** Type-checks `source` as a module importing the package; the compiler's output. */
function check(source) {
  const dir = mkdtempSync(join(tmpdir(), 'bitcraps-types-'));
  try {
    writeFileSync(join(dir, 'example.ts'), source);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'es2022',
          module: 'es2022',
          moduleResolution: 'bundler',
          lib: ['es2022', 'dom'],
          skipLibCheck: false,
          paths: {
            'bitcraps-client': [join(root, 'web/bitcraps.d.ts')],
            'bitcraps-client/element': [join(root, 'web/bitcraps-table.d.ts')],
          },
        },
        files: ['example.ts'],
      }),
    );
    execFileSync(tsc, ['-p', dir], { encoding: 'utf8' });
    return '';
  } catch (error) {
    return `${error.stdout ?? ''}${error.stderr ?? ''}` || String(error);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("the README's TypeScript example type-checks with tsc --strict", () => {
  const example = readmeExample();
  assert.match(example, /from 'bitcraps-client'/);
  assert.equal(check(example), '');
});

test('the declarations catch a mistake a developer could make', () => {
  // Would pass if the types were `any`: they must not be.
  const wrong = `import { BitCrapsClient } from 'bitcraps-client';
const peer = new BitCrapsClient({ relay: 'ws://x' });
peer.addEventListener('rolled', (e) => { const n: string = e.detail.roll.dice[0]; console.log(n); });
const p: number = peer.sit('t', 10);
`;
  const out = check(wrong);
  assert.match(out, /dice\[0\]|Type 'number' is not assignable to type 'string'/);
  assert.match(out, /Promise<void>/);
});

test('the element is typed, and its events', () => {
  const source = `import 'bitcraps-client/element';
const table = document.querySelector('bitcraps-table');
table?.addEventListener('table', (e) => console.log(e.detail.table.toUpperCase()));
table?.setAttribute('table', '00112233445566778899aabbccddeeff');
`;
  assert.equal(check(source), '');
});
