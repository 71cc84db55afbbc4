// Anyone can check a whole game: a player downloads the game it played in
// real pages ("Download this game"), and the command-line verifier
// (`bitcraps-verify`, its own binary) and the offline page (`verify.html`,
// the same checks in wasm) check every message of it again and find the
// dice the pages showed; the same file with one byte changed fails both,
// for the same reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { useRelayAndBrowser } from './harness.mjs';
import { play } from './play.mjs';

const env = useRelayAndBrowser();
const { setUp, playRoll, stateOf, assertClean } = play(env);
const VERIFY_BIN = process.env.VERIFY_BIN ?? resolve(import.meta.dirname, '../../target/debug/bitcraps-verify');

test('a game downloaded from the page is checked by bitcraps-verify, and a changed byte is caught', async () => {
  const pages = await setUp(2);
  for (let n = 1; n <= 3; n++) await playRoll(pages, n);
  const player = pages[1];
  const state = await stateOf(player);
  // Every roll in the history carries the page's own check of it; a click
  // opens the details of that roll.
  const marks = player.locator('[data-history] [data-verified]');
  assert.equal(await marks.count(), 3);
  assert.deepEqual(await marks.evaluateAll((all) => all.map((m) => m.dataset.verified)), ['true', 'true', 'true']);
  await marks.nth(2).click(); // the oldest (the newest is first)
  assert.equal(await player.locator('[data-verify]').evaluate((d) => d.open), true);
  assert.equal(await player.locator('[data-verify-round]').inputValue(), String(state.recent[0].round));
  assert.equal(await player.getAttribute('[data-verify-result]', 'data-verify-result'), 'true');
  const [download] = await Promise.all([player.waitForEvent('download'), player.click('[data-download]')]);
  assert.match(download.suggestedFilename(), /^bitcraps-[0-9a-f]{8}-3-rolls\.bctx$/);
  const dir = mkdtempSync(join(tmpdir(), 'bitcraps-verify-'));
  try {
    const file = join(dir, 'game.bctx');
    await download.saveAs(file);
    const report = JSON.parse(execFileSync(VERIFY_BIN, [file, '--json'], { encoding: 'utf8' }));
    assert.equal(report.ok, true);
    assert.equal(report.rolls.length, 3);
    assert.deepEqual(report.rolls.map((r) => r.dice), state.recent.map((r) => r.dice));
    assert.equal(report.stateHash, state.stateHash);
    const table = execFileSync(VERIFY_BIN, [file], { encoding: 'utf8' });
    assert.match(table, /^OK: \d+ messages, 3 rolls/m);

    // The offline page checks the same file in wasm, with the same verdict.
    const checker = await player.context().newPage();
    await checker.goto(`${env.relay.url}/verify.html`);
    await checker.waitForFunction(() => window.checkReady);
    await checker.setInputFiles('[data-file]', file);
    await checker.waitForFunction(() => document.querySelector('[data-verdict]').dataset.ok);
    assert.equal(await checker.getAttribute('[data-verdict]', 'data-ok'), 'true');
    assert.match(await checker.textContent('[data-verdict]'), /checks out: \d+ messages, 3 rolls/);
    assert.equal(await checker.locator('[data-rolls] tbody tr').count(), 3);
    const first = await checker.textContent('[data-rolls] tbody tr td:nth-child(2)');
    assert.equal(first, `${state.recent[0].dice[0]} + ${state.recent[0].dice[1]}`);

    // "Check the whole game" at the table opens the checker with this
    // game, no file to carry: same verdict, same rolls.
    const [popup] = await Promise.all([player.waitForEvent('popup'), player.click('[data-check-game]')]);
    await popup.waitForFunction(() => document.querySelector('[data-verdict]')?.dataset.ok);
    assert.equal(await popup.getAttribute('[data-verdict]', 'data-ok'), 'true');
    assert.match(await popup.textContent('[data-verdict]'), /checks out: \d+ messages, 3 rolls/);
    assert.equal(await popup.locator('[data-rolls] tbody tr').count(), 3);
    await popup.close();

    // One byte changed in the middle of the messages: caught, exit 1.
    const bytes = readFileSync(file);
    // The middle accepted message, found by walking the records
    // (`shared::transcript`): its last byte is in its signature.
    let at = 4 + 1 + 103;
    at += 4 + bytes.readUInt32BE(at);
    const accepted = [];
    while (bytes[at] === 1) {
      const flags = bytes[at + 1];
      at += 2 + (flags & 1 ? 8 : 0);
      const len = bytes.readUInt16BE(at);
      at += 2;
      if (flags & 2) accepted.push(at + len - 1);
      at += len;
    }
    bytes[accepted[Math.floor(accepted.length / 2)]] ^= 0x01;
    const changed = join(dir, 'changed.bctx');
    writeFileSync(changed, bytes);
    const tampered = spawnSync(VERIFY_BIN, [changed], { encoding: 'utf8' });
    assert.notEqual(tampered.status, 0, tampered.stdout);
    assert.match(tampered.stderr, /^FAILED \(/);
    // And so does the page, with the same failure.
    const kind = tampered.stderr.match(/^FAILED \(([a-z-]+)\)/)[1];
    await checker.setInputFiles('[data-file]', changed);
    await checker.waitForFunction(() => document.querySelector('[data-verdict]').dataset.ok === 'false');
    assert.match(await checker.textContent('[data-verdict]'), new RegExp(`does not check out \\(${kind}\\)`));
    assert.equal(await checker.locator('[data-rolls]').isHidden(), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const page of pages) await assertClean(page);
});
