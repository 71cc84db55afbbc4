// The README's TypeScript example (its one ```ts block), as text.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export function readmeExample() {
  const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (blocks.length !== 1) throw new Error(`the README has ${blocks.length} TypeScript examples, not one`);
  return blocks[0];
}
