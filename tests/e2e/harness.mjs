// Shared helpers for the browser end-to-end tests: start the real relay
// binary on a free loopback port, and launch Debian's Chromium through
// playwright-core (no browser download).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const RELAY_BIN = process.env.RELAY_BIN;
const WEB_DIR = process.env.WEB_DIR;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts the relay binary (on `port`, or a free one); resolves once
 * /healthz answers. */
export async function startRelay(extraArgs = [], { port: wanted } = {}) {
  if (!RELAY_BIN || !WEB_DIR) throw new Error('RELAY_BIN and WEB_DIR must be set (see scripts/test.sh)');
  const port = wanted ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const args = ['--listen', `127.0.0.1:${port}`, '--web-dir', WEB_DIR, '--stun-listen', '127.0.0.1:0', ...extraArgs];
  const child = spawn(RELAY_BIN, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay exited early:\n${output}`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`relay did not answer /healthz within 20 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    pid: child.pid,
    output: () => output,
    /** Kills it at once (SIGKILL), as a crash would. */
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      return exited;
    },
    /** Sends SIGTERM and resolves with the exit status. */
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Launches headless Chromium. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic',
    ],
  });
}

/**
 * Starts one relay and one browser for a test file (before its tests),
 * and stops both after them, checking the relay exits cleanly on SIGTERM.
 * Returns an object whose `relay` and `browser` are set once started.
 */
export function useRelayAndBrowser() {
  const env = { relay: null, browser: null };
  before(async () => {
    env.relay = await startRelay();
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    const status = await env.relay?.stop();
    assert.equal(status?.code, 0, `relay did not exit cleanly on SIGTERM:\n${env.relay?.output()}`);
  });
  return env;
}
