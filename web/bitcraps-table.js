// <bitcraps-table>: a whole craps table in one element.
//
//   <script type="module" src="https://your-relay/bitcraps-table.js"></script>
//   <bitcraps-table relay="wss://your-relay/ws" table="…32 hex…"></bitcraps-table>
//
// Attributes: `relay` (WebSocket URL; default: this page's host + /ws; or
// several relays of one cluster, separated by spaces or commas: when one
// goes away the table carries on through the next),
// `table` (table id; without it, the page URL's ?table=, else the element
// offers to open or join one; changing it moves the element),
// `webrtc="off"` (relay only) or `webrtc="turn"` (data channels only through
// the operator's TURN server: other players never see this browser's
// address), `deadline` (ms, for tables opened here),
// `shooter` (ms a shooter may wait before the dice pass, for tables opened
// here; default 30 s).
import { BitCrapsClient, newTableId } from './bitcraps.js';

const NUMBERS = [4, 5, 6, 8, 9, 10];
const MODES = [
  ['place', 'Place'],
  ['buy', 'Buy'],
  ['lay', 'Lay'],
  ['come-odds', 'Come odds'],
  ['dont-come-odds', "Don't come odds"],
];
const AREAS = [
  ...NUMBERS.map((n, i) => ({ number: n, x: 10 + i * 111, y: 10, w: 105, h: 86, label: String(n === 6 ? 'SIX' : n === 9 ? 'NINE' : n) })),
  { bet: 'come', x: 10, y: 104, w: 660, h: 56, label: 'COME' },
  { bet: 'field', x: 10, y: 168, w: 660, h: 62, label: 'FIELD · 3 4 9 10 11 · 2 and 12 pay double' },
  { bet: 'dont-come', x: 10, y: 238, w: 325, h: 44, label: "DON'T COME" },
  { bet: 'dont-pass', x: 345, y: 238, w: 325, h: 44, label: "DON'T PASS BAR 12" },
  { bet: 'big-6', x: 10, y: 290, w: 160, h: 44, label: 'BIG 6' },
  { bet: 'big-8', x: 180, y: 290, w: 155, h: 44, label: 'BIG 8' },
  { bet: 'dont-pass-odds', x: 345, y: 290, w: 325, h: 44, label: "DON'T PASS ODDS" },
  { bet: 'pass', x: 10, y: 342, w: 495, h: 58, label: 'PASS LINE' },
  { bet: 'pass-odds', x: 515, y: 342, w: 155, h: 58, label: 'PASS ODDS' },
  { bet: 'any-seven', x: 690, y: 10, w: 200, h: 40, label: 'ANY SEVEN 4:1' },
  { bet: 'hard-6', x: 690, y: 58, w: 95, h: 44, label: 'HARD 6 9:1' },
  { bet: 'hard-10', x: 795, y: 58, w: 95, h: 44, label: 'HARD 10 7:1' },
  { bet: 'hard-8', x: 690, y: 110, w: 95, h: 44, label: 'HARD 8 9:1' },
  { bet: 'hard-4', x: 795, y: 110, w: 95, h: 44, label: 'HARD 4 7:1' },
  { bet: 'aces', x: 690, y: 162, w: 62, h: 44, label: '2 30:1' },
  { bet: 'ace-deuce', x: 759, y: 162, w: 62, h: 44, label: '3 15:1' },
  { bet: 'boxcars', x: 828, y: 162, w: 62, h: 44, label: '12 30:1' },
  { bet: 'yo', x: 690, y: 214, w: 95, h: 44, label: '11 15:1' },
  { bet: 'any-craps', x: 795, y: 214, w: 95, h: 44, label: 'CRAPS 7:1' },
  { bet: 'horn', x: 690, y: 266, w: 95, h: 44, label: 'HORN' },
  { bet: 'c-and-e', x: 795, y: 266, w: 95, h: 44, label: 'C & E' },
];
/** The same areas for a phone (up to 600 px wide): the numbers in two
 * rows, the proposition bets under the line bets; nothing scrolls
 * sideways, and labels stay about 12 px on a 360 px screen. */
const NARROW_AREAS = (() => {
  const at = (bet, x, y, w, h) => ({ ...AREAS.find((a) => (a.bet ?? `number-${a.number}`) === bet), x, y, w, h });
  const numbers = NUMBERS.map((n, i) => at(`number-${n}`, 8 + (i % 3) * 146, 8 + Math.floor(i / 3) * 70, 140, 64));
  const row = (bets, y, h) => {
    const w = (434 - 6 * (bets.length - 1)) / bets.length;
    return bets.map((bet, i) => ({ ...at(bet, 8 + i * (w + 6), y, w, h), small: bets.length > 3 }));
  };
  return [
    ...numbers,
    at('come', 8, 148, 434, 48),
    at('field', 8, 202, 434, 52),
    ...row(['dont-come', 'dont-pass'], 260, 42),
    at('big-6', 8, 308, 105, 42),
    at('big-8', 117, 308, 105, 42),
    at('dont-pass-odds', 228, 308, 214, 42),
    at('pass', 8, 356, 300, 50),
    at('pass-odds', 314, 356, 128, 50),
    at('any-seven', 8, 416, 434, 36),
    ...row(['hard-6', 'hard-10', 'hard-8', 'hard-4'], 458, 42),
    ...row(['aces', 'ace-deuce', 'boxcars', 'yo'], 506, 42),
    ...row(['any-craps', 'horn', 'c-and-e'], 554, 42),
  ];
})();
const LAYOUTS = {
  wide: { viewBox: '0 0 900 410', areas: AREAS },
  narrow: { viewBox: '0 0 450 604', areas: NARROW_AREAS },
};
const PHONE = '(max-width: 600px)';
/** Where each face's pips sit on a 3x3 grid (0-8, row by row). */
const PIPS = [[], [4], [2, 6], [2, 4, 6], [0, 2, 6, 8], [0, 2, 4, 6, 8], [0, 2, 3, 5, 6, 8]];

/** Shows face `n` (1-6) on a die element: an SVG drawing, named for
 * screen readers. */
function showDie(die, n) {
  const pips = PIPS[n].map((i) => `<circle cx="${10 + (i % 3) * 15}" cy="${10 + Math.floor(i / 3) * 15}" r="4.2"/>`).join('');
  die.innerHTML = `<svg viewBox="0 0 50 50" aria-hidden="true"><rect x="1.5" y="1.5" width="47" height="47" rx="9"/>${pips}</svg>`;
  die.setAttribute('aria-label', String(n));
  die.dataset.face = String(n);
}
/** Bets on a box number: `<prefix>-<number>`. */
const NUMBER_BETS = ['place', 'buy', 'lay', 'come', 'dont-come', 'come-odds', 'dont-come-odds'];
const WORDS = ['', '', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];

/** What a bet's result did to its player's chips: won (+) or lost (-). */
export function netOf(result) {
  switch (result.outcome) {
    case 'win':
    case 'push':
      return result.paid - result.stake; // the stake came back with it
    case 'win-stays':
      return result.paid; // the stake keeps working
    case 'lose':
      return -result.stake;
    default:
      return 0; // no action, or a come bet moving to its number
  }
}

/** The stickman's call for a roll, in words. */
export function stickmanCall(roll) {
  const [a, b] = roll.dice;
  const total = a + b;
  const word = WORDS[total][0].toUpperCase() + WORDS[total].slice(1);
  const hard = a === b && [4, 6, 8, 10].includes(total);
  const how = [4, 6, 8, 10].includes(total) ? (hard ? ' the hard way' : ' easy') : '';
  if (roll.sevenOut) return 'Seven out, line away';
  if (roll.pointBefore === 0) {
    if (total === 7 || total === 11) return `${total === 11 ? 'Yo-leven' : 'Seven'}, winner on the pass line`;
    if ([2, 3, 12].includes(total)) return `Craps ${total}, line away`;
    return `The point is ${total}`;
  }
  if (total === roll.pointBefore) return `${word}${how}, winner: the point is made`;
  return `${word}${how}`;
}

/** The layout area a bet sits on (`data-area` of its group), if any. */
function areaOf(bet) {
  const number = bet.match(/^([a-z-]+)-(\d+)$/);
  if (number && NUMBER_BETS.includes(number[1])) return `number-${number[2]}`;
  return bet;
}

const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const signed = (n) => (n > 0 ? `+${n}` : String(n));
/** The relay's code for "joined this room from another connection". */
const RELAY_REPLACED = 7;
/** The relay's code for "room is full". */
const RELAY_ROOM_FULL = 2;
/** A stake as a chip shows it: 5, 250, 1.2k, 15k, 2M. */
function chipText(n) {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${n < 10_000 ? (n / 1000).toFixed(1).replace(/\.0$/, '') : Math.round(n / 1000)}k`;
  return `${Math.round(n / 1_000_000)}M`;
}

/** How long a refusal stays in the message line. */
const FLEETING_MS = 8_000;
const short = (id) => (id ? `${id.slice(0, 6)}…` : '—');

/** The table this page opened as its house, if it did: its bankroll,
 * limits and listing as chosen (an older page kept only the bankroll). */
function houseOptions(table) {
  const kept = localStorage.getItem(`bitcraps-house-${table}`);
  if (!kept) return null;
  try {
    const options = JSON.parse(kept);
    return typeof options === 'number' ? { bankroll: options } : options;
  } catch {
    return null; // not written by this page: join as a player
  }
}

const TEMPLATE = `
<div class="bc">
  <header class="bc-status">
    <span>Relay: <b data-relay>idle</b></span>
    <span>Direct peers: <b data-peers>0</b></span>
    <span>You: <input data-name maxlength="24" size="10" placeholder="your name" aria-label="your name"> <code data-me>…</code> <b data-role></b></span>
  </header>
  <div class="bc-bar" data-bar hidden>
    <span>Balance <b data-my-balance>0</b></span>
    <span>On the table <b data-on-table>0</b></span>
    <span>Last roll <b data-last-net>—</b></span>
    <span>Bets <b data-limits>—</b></span>
  </div>
  <section class="bc-lobby" data-lobby hidden>
    <h2>Open tables</h2>
    <p data-tables-note aria-live="polite">Looking for tables…</p>
    <table class="bc-tables" data-tables hidden>
      <thead><tr><th scope="col">Table</th><th scope="col">Players</th><th scope="col">Bets</th><th scope="col">Bankroll</th><th scope="col"><span class="bc-sr">Join</span></th></tr></thead>
      <tbody data-tables-body></tbody>
    </table>
    <form class="bc-open" data-open-form>
      <h2>Open a table (you are the house)</h2>
      <label>Name <input data-open-name maxlength="40" placeholder="My table"></label>
      <label>Bankroll <input data-open-bankroll type="number" min="100" step="100" value="1000000"></label>
      <label>Smallest bet <input data-open-min type="number" min="1" value="1"></label>
      <label>Largest bet <input data-open-max type="number" min="1" value="10000"></label>
      <label class="bc-check"><input data-open-listed type="checkbox" checked> List it here for anyone to join</label>
      <button data-open>Open the table</button>
    </form>
    <p class="bc-message" data-lobby-message role="status"></p>
    <form class="bc-join" data-join-form><label>Join by id <input data-join-id placeholder="32 hex digits" aria-label="table id"></label><button>Join</button></form>
  </section>
  <section class="bc-table" data-view hidden>
    <p class="bc-dead-end" data-dead-end hidden><span data-dead-end-text></span> <button type="button" data-take-back hidden>Play in this tab</button> <button type="button" data-back>Back to the lobby</button></p>
    <div class="bc-top">
      <div class="bc-dice" aria-live="polite"><span class="bc-die" data-die1 role="img" aria-label="no roll yet"></span><span class="bc-die" data-die2 role="img" aria-label="no roll yet"></span></div>
      <div class="bc-puck" data-point>OFF</div>
      <button type="button" data-roll disabled>Roll</button>
      <button type="button" data-sit hidden>Sit with 1000</button>
      <button type="button" data-buy-in hidden>Buy 500 more</button>
      <button type="button" data-leave hidden>Leave the table</button>
      <button type="button" data-sound aria-pressed="false" title="Sound: the dice and your wins and losses">Sound off</button>
      <span data-round></span>
      <span class="bc-shooter-clock" data-shooter-clock aria-live="off"></span>
    </div>
    <div class="bc-layout-wrap"><svg class="bc-layout" viewBox="0 0 900 410" role="group" aria-label="craps layout"></svg></div>
    <div class="bc-controls">
      <span>Chip:</span>
      <span data-chips></span>
      <span>Numbers:</span>
      <select data-mode aria-label="number bets">${MODES.map(([v, l]) => `<option value="${v}">${l}</option>`).join('')}</select>
      <label><input type="checkbox" data-takedown> take down</label>
      <label title="Place and buy bets are off on the come-out unless you call them working"><input type="checkbox" data-call-working> call working / off</label>
      <span>Hop:</span>
      <select data-hop-a aria-label="hop die 1">${[1, 2, 3, 4, 5, 6].map((d) => `<option>${d}</option>`).join('')}</select>
      <select data-hop-b aria-label="hop die 2">${[1, 2, 3, 4, 5, 6].map((d) => `<option>${d}</option>`).join('')}</select>
      <button type="button" data-hop>Hop</button>
      <button type="button" data-undo title="Take down the bet you placed last">Undo</button>
      <button type="button" data-clear title="Take down every bet of yours that may come down">Clear</button>
      <button type="button" data-rebet title="Place again the bets the last roll decided">Repeat</button>
    </div>
    <p class="bc-message" data-message role="status"></p>
    <div class="bc-panels">
      <div><h3>Players</h3><ul class="bc-seats" data-seats></ul></div>
      <div class="bc-chat"><h3>Chat</h3>
        <ol class="bc-chat-lines" data-chat-lines aria-live="polite"></ol>
        <form data-chat-form><input data-chat-text maxlength="280" placeholder="say something" aria-label="chat message"><button>Send</button></form>
      </div>
      <div><h3>Rolls</h3><ol class="bc-history" data-history reversed></ol></div>
    </div>
    <details class="bc-verify" data-verify>
      <summary>Verify a roll</summary>
      <select data-verify-round aria-label="roll to verify"></select>
      <div data-verify-out></div>
      <p><button type="button" data-check-game>Check the whole game</button>
        <button type="button" data-download>Download this game</button>
        (a transcript anyone can check: in a browser, offline, or with <code>bitcraps-verify</code>)</p>
    </details>
    <p class="bc-share">Share this table: <input readonly data-share aria-label="table link"></p>
  </section>
</div>`;

/** The element's stylesheet, next to this module (on the relay, or in the
 * package). */
const STYLES = new URL('./bitcraps-table.css', import.meta.url).href;
// The offline checker, served beside this file.
const CHECKER = new URL('./verify.html', import.meta.url).href;

/** A table id: 32 hex digits. */
const TABLE_ID = /^[0-9a-f]{32}$/;

export class BitCrapsTable extends HTMLElement {
  /** A new `table` attribute moves the element to that table; removing it
   * goes back to the lobby. */
  static get observedAttributes() {
    return ['table'];
  }

  attributeChangedCallback(name, before, after) {
    if (name !== 'table' || !this.peer || after === this.table) return;
    if (after && !TABLE_ID.test(after)) return this.say(`Not a table id: ${after}`, { fleeting: true });
    if (this.table) this.lobby();
    if (after) this.enter(after);
  }

  connectedCallback() {
    if (this.started) return;
    this.started = true;
    // Its own styles in its own shadow root: a page around it needs none,
    // and its rules and the page's never meet. Hidden until they load.
    this.root = this.attachShadow({ mode: 'open' });
    this.root.innerHTML = `<style>:host { display: block; } .bc-unstyled { visibility: hidden; }</style>
<link rel="stylesheet" href="${STYLES}" data-styles><div class="bc-unstyled" data-content>${TEMPLATE}</div>`;
    const shown = () => this.root.querySelector('[data-content]').classList.remove('bc-unstyled');
    this.root.querySelector('[data-styles]').addEventListener('load', shown);
    this.root.querySelector('[data-styles]').addEventListener('error', shown);
    this.$ = (name) => this.root.querySelector(`[data-${name}]`);
    this.chip = 5;
    this.placed = []; // bets this page placed, in order (for Undo)
    // The layout's shape follows the width: redrawn when it crosses a
    // phone's (the bets show again at the next render).
    const phone = globalThis.matchMedia?.(PHONE);
    this.drawLayout(phone?.matches ? LAYOUTS.narrow : LAYOUTS.wide);
    phone?.addEventListener('change', (e) => {
      this.drawLayout(e.matches ? LAYOUTS.narrow : LAYOUTS.wide);
      this.render();
    });
    this.drawChips();
    this.start().catch((error) => this.say(`Could not start: ${error}`));
  }

  disconnectedCallback() {
    this.peer?.close();
  }

  /** The relay (or the relays of one cluster) to play through. */
  get relayUrls() {
    const given = (this.getAttribute('relay') ?? '').split(/[\s,]+/).filter(Boolean);
    return given.length > 0 ? given : [`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`];
  }

  async start() {
    const webrtc = this.getAttribute('webrtc');
    this.peer = new BitCrapsClient({
      relay: this.relayUrls,
      webrtc: webrtc !== 'off',
      // `turn`: data channels only through the operator's TURN server.
      iceTransportPolicy: webrtc === 'turn' ? 'relay' : 'all',
    });
    await this.peer.start();
    window.bitcraps = this.peer; // for the console and tests
    this.$('me').textContent = short(this.peer.me);
    this.names = {};
    // The name this browser plays under, kept with its key; told to each
    // table it sits at (and again when it changes).
    this.$('name').value = this.storedName();
    this.$('name').addEventListener('change', () => {
      const name = this.$('name').value.trim();
      if (name && new TextEncoder().encode(name).length > 24) return this.say('A name is at most 24 bytes.', { fleeting: true });
      try {
        localStorage.setItem('bitcraps-name', name);
      } catch {
        /* kept for this page only */
      }
      this.nameHere = name;
      this.render();
    });
    this.peer.addEventListener('change', () => this.render());
    this.peer.addEventListener('rolled', (e) => {
      if (e.detail.table !== this.table) return;
      this.animate(e.detail.roll);
      this.showResults(e.detail.roll);
    });
    this.peer.addEventListener('relayError', (e) => {
      // (Another tab taking the table over is told by `openElsewhere`.)
      if (e.detail.code === RELAY_REPLACED) return;
      // A full table: said plainly, with the way back (the page keeps
      // trying, and the notice goes once the table opens here).
      if (e.detail.code === RELAY_ROOM_FULL && e.detail.table === this.table && !this.peer.state(this.table).open) {
        this.deadEnd('This table is full right now. The page tries again every 10 seconds; or go back to the lobby.');
        return;
      }
      this.say(`Relay: ${e.detail.reason}`);
    });
    this.peer.addEventListener('openElsewhere', (e) => {
      if (e.detail.table !== this.table) return;
      const unsent = e.detail.unsent ? ` ${e.detail.unsent} of your moves made here were not sent.` : '';
      this.deadEnd(`This table is open in another tab: this tab takes no more bets.${unsent}`);
      this.$('take-back').hidden = false;
    });
    this.peer.addEventListener('rejected', (e) => this.say(`Refused from ${this.who(e.detail.player)}: ${e.detail.reason}`, { fleeting: true }));
    this.peer.addEventListener('chat', (e) => {
      if (e.detail.table !== this.table) return;
      const li = document.createElement('li');
      const who = document.createElement('b');
      who.textContent = e.detail.from === this.peer.me ? 'You' : this.who(e.detail.from);
      li.append(who, `: ${e.detail.text}`); // text, never markup
      li.setAttribute('data-from', e.detail.from);
      const lines = this.$('chat-lines');
      lines.append(li);
      while (lines.children.length > 100) lines.firstElementChild.remove();
      lines.scrollTop = lines.scrollHeight;
    });
    this.peer.addEventListener('diverged', (e) => {
      const d = e.detail;
      if (d.table !== this.table) return;
      this.say(d.minority
        ? `After roll ${d.round} this page held a different game from the other players (yours ${d.ours.slice(0, 8)}…, theirs ${d.theirs.slice(0, 8)}…): taking the game from them.`
        : `After roll ${d.round}, ${this.who(d.player)} holds a different game (theirs ${d.theirs.slice(0, 8)}…, yours ${d.ours.slice(0, 8)}…).`);
    });
    this.peer.addEventListener('roundAborted', () => this.say('Players saw different bets: the round was called off and its bets returned.'));
    this.peer.addEventListener('forfeited', (e) => this.say(e.detail.player === this.peer.me
      ? `Your page did not play its part in time (${e.detail.reason}): your bets are forfeited.`
      : `${this.who(e.detail.player)} did not play its part (${e.detail.reason}) and forfeits its bets.`));
    this.peer.addEventListener('tableClosed', (e) => e.detail.table === this.table && this.deadEnd({
      bankrollExhausted: "The house's bankroll can no longer cover the bets in action: every stake was returned and the table closed.",
      houseGone: 'The house has gone (it did not start the roll, or pass the idle dice, in time): every stake was returned and the table closed.',
    }[e.detail.reason] ?? 'The house defaulted: every bet was paid and the table closed.'));
    this.peer.addEventListener('heldOver', (e) => {
      if (e.detail.table === this.table && e.detail.player === this.peer.me) this.say('The dice were already rolling: your bet is on the next roll.');
    });
    this.peer.addEventListener('dicePassed', (e) => {
      if (e.detail.table !== this.table) return;
      const who = (id) => this.who(id);
      this.say(`The shooter did not roll in time: the dice pass from ${who(e.detail.from)} to ${who(e.detail.to)}.`);
    });
    this.peer.addEventListener('satOut', (e) => {
      if (e.detail.table === this.table) {
        this.say(e.detail.player === this.peer.me
          ? 'Your commitment named a different table from the house: your page sits this roll out.'
          : `${this.who(e.detail.player)} saw a different table and sits this roll out.`);
      }
    });
    this.peer.addEventListener('betReturned', (e) => {
      if (e.detail.table !== this.table) return;
      const whose = e.detail.player === this.peer.me ? 'Your' : `${this.who(e.detail.player)}'s`;
      this.say(`${whose} ${e.detail.bet} bet (${e.detail.stake}) came down: the house cannot cover it on the next roll.`);
    });
    this.peer.addEventListener('noTable', (e) => {
      if (e.detail.table === this.table) this.deadEnd('No such table, or it has closed: nobody has opened it.');
    });
    this.peer.addEventListener('houseGone', (e) => {
      if (e.detail.table === this.table) this.say('The house has left the table: nothing can be settled until it is back.');
    });
    this.peer.addEventListener('houseBack', (e) => {
      if (e.detail.table === this.table) this.say('The house is back.');
    });
    this.peer.addEventListener('table', (e) => {
      if (e.detail.table === this.table) this.$('dead-end').hidden = true;
    });
    this.peer.addEventListener('relayRefused', (e) => this.say(`The relay refused the connection: ${e.detail.reason} (HTTP ${e.detail.status}); trying again.`));
    this.peer.addEventListener('synced', (e) => {
      if (e.detail.table === this.table && e.detail.rolls > 0) this.say(`Caught up: ${e.detail.rolls} rolls so far, checked against the players' signatures.`);
    });
    this.peer.addEventListener('syncRefused', (e) => this.say(`A player's copy of the game was refused (${e.detail.reason}); asking another.`));
    this.peer.addEventListener('relayRestarted', () => this.say('The relay restarted; the table carries on.'));
    this.bindControls();
    // The table to join: the attribute's, else the host page's link
    // (`?table=`, as the share link gives it).
    const table = this.getAttribute('table') || new URLSearchParams(location.search).get('table');
    if (table && TABLE_ID.test(table)) this.enter(table);
    else {
      this.$('lobby').hidden = false;
      this.showTables();
    }
  }

  enter(table) {
    this.table = table;
    this.setAttribute('table', table);
    this.$('verify-round').replaceChildren();
    this.$('lobby').hidden = true;
    this.$('view').hidden = false;
    const house = houseOptions(table);
    this.peer.joinTable(table, {
      bankroll: house?.bankroll ?? 0,
      minBet: house?.minBet ?? 0,
      maxBet: house?.maxBet ?? 0,
      deadlineMs: Number(this.getAttribute('deadline') || 0),
      shooterMs: Number(this.getAttribute('shooter') || 0),
    });
    if (house?.listed) {
      this.peer.listTable(table, house.name).catch((error) => this.say(`The table could not be listed: ${error.message ?? error}`));
    }
    const link = new URL(location.href);
    link.searchParams.set('table', table);
    this.$('share').value = link.href;
    this.dispatchEvent(new CustomEvent('table', { detail: { table } }));
    this.render();
  }

  storedName() {
    try {
      return this.nameHere ?? localStorage.getItem('bitcraps-name') ?? '';
    } catch {
      return this.nameHere ?? '';
    }
  }

  /** A player as this page shows it: "you", its name, or its key's start. */
  who(id) {
    return id === this.peer.me ? 'you' : (this.names[id] ?? short(id));
  }

  /** Tells the open table this player's name, once per table and name. */
  announceName(s) {
    const name = this.storedName();
    const key = `${this.table}:${name}`;
    if (!name || !s.open || s.closed || s.elsewhere || this.named === key || s.names?.[s.me] === name) return;
    this.named = key;
    this.peer.setName(this.table, name).catch((error) => this.say(`Your name was refused: ${error.message ?? error}`, { fleeting: true }));
  }

  /** A table that cannot be played: says why, with a way back. */
  deadEnd(text) {
    this.$('dead-end-text').textContent = text;
    this.$('dead-end').hidden = false;
  }

  /** Gives up the seat (every bet that may come down comes down, its
   * stake back) and goes back to the lobby; a pass or come bet on the
   * table keeps the player seated, and the page says why. */
  leaveTable() {
    try {
      this.peer.leave(this.table);
    } catch (error) {
      this.say(`Refused: ${error.message ?? error}`, { fleeting: true });
      return;
    }
    this.lobby();
  }

  lobby() {
    clearTimeout(this.clockTimer);
    if (this.table) {
      try {
        this.peer.leave(this.table);
      } catch {
        /* seated with bets: the table stays joined */
      }
    }
    this.table = null;
    this.removeAttribute('table');
    this.$('dead-end').hidden = true;
    this.$('view').hidden = true;
    this.$('lobby').hidden = false;
    const url = new URL(location.href);
    url.searchParams.delete('table');
    history.replaceState(null, '', url);
    this.showTables();
  }

  /** Lists the tables houses listed on the relay, again every 5 s while
   * the lobby shows. */
  async showTables() {
    clearTimeout(this.tablesTimer);
    if (this.$('lobby').hidden) return;
    const note = this.$('tables-note');
    let tables;
    try {
      tables = await this.peer.listedTables();
    } catch (error) {
      note.textContent = `The relay's list of tables is out of reach (${error.message ?? error}); trying again.`;
      tables = null;
    }
    if (tables) {
      const body = this.$('tables-body');
      body.replaceChildren(
        ...tables.map((t) => {
          const row = document.createElement('tr');
          const cell = (text, label) => {
            const td = document.createElement('td');
            td.textContent = text;
            if (label) td.setAttribute('data-label', label);
            row.appendChild(td);
          };
          cell(t.name);
          cell(t.players === 1 ? '1 player' : `${t.players} players`);
          cell(`${t.minBet.toLocaleString('en')}–${t.maxBet.toLocaleString('en')}`, 'Bets');
          cell(t.bankroll.toLocaleString('en'), 'Bankroll');
          const join = document.createElement('button');
          join.type = 'button';
          join.textContent = t.full ? 'Full' : 'Join';
          join.disabled = t.full;
          join.setAttribute('data-join-table', t.table);
          join.setAttribute('aria-label', `Join ${t.name}`);
          join.addEventListener('click', () => this.enter(t.table));
          const td = document.createElement('td');
          td.appendChild(join);
          row.appendChild(td);
          return row;
        }),
      );
      this.$('tables').hidden = tables.length === 0;
      note.textContent = tables.length === 0 ? 'No open tables right now: open one below, and send its link to your friends.' : '';
    }
    this.tablesTimer = setTimeout(() => this.showTables(), 5_000);
  }

  /** Opens a new table as its house, with the limits and bankroll the form
   * gives (kept, so a reload opens the same table again). */
  openTable() {
    const table = newTableId();
    const number = (name) => Math.floor(Number(this.$(name).value));
    const options = {
      bankroll: number('open-bankroll'),
      minBet: number('open-min'),
      maxBet: number('open-max'),
      name: this.$('open-name').value.trim() || `${this.storedName() || 'Open'} table`,
      listed: this.$('open-listed').checked,
    };
    if (!(options.bankroll >= 100 && options.minBet >= 1 && options.maxBet >= options.minBet)) {
      this.$('lobby-message').textContent = 'A table needs a bankroll of at least 100 and a smallest bet no larger than the largest.';
      return;
    }
    localStorage.setItem(`bitcraps-house-${table}`, JSON.stringify(options));
    this.enter(table);
  }

  bindControls() {
    this.$('open-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.openTable();
    });
    this.$('back').addEventListener('click', () => this.lobby());
    // Taking the table back is starting this tab afresh: it joins again
    // (the other tab is then told) and catches up from the players.
    this.$('take-back').addEventListener('click', () => location.reload());
    this.$('join-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const id = this.$('join-id').value.trim().toLowerCase();
      if (/^[0-9a-f]{32}$/.test(id)) this.enter(id);
      else this.$('lobby-message').textContent = 'A table id is 32 hex digits.';
    });
    this.$('roll').addEventListener('click', () => this.attempt(() => this.peer.roll(this.table)));
    this.$('sit').addEventListener('click', () => this.attempt(() => this.peer.sit(this.table, 1000)));
    this.$('buy-in').addEventListener('click', () => this.attempt(() => this.peer.buyIn(this.table, 500)));
    this.$('leave').addEventListener('click', () => this.leaveTable());
    this.setSound(localStorage.getItem('bitcraps-sound') === 'on');
    this.$('sound').addEventListener('click', () => this.setSound(!this.soundOn));
    this.$('chat-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const input = this.$('chat-text');
      const text = input.value.trim();
      if (!text) return;
      try {
        this.peer.chat(this.table, text);
        input.value = '';
      } catch (error) {
        this.say(`Not sent: ${error.message ?? error}`, { fleeting: true });
      }
    });
    this.$('undo').addEventListener('click', () => this.undo());
    this.$('clear').addEventListener('click', () => this.clear());
    this.$('rebet').addEventListener('click', () => this.rebet());
    this.$('hop').addEventListener('click', () => {
      const [a, b] = [Number(this.$('hop-a').value), Number(this.$('hop-b').value)].sort();
      this.place(`hop-${a}-${b}`);
    });
    this.$('download').addEventListener('click', () => this.download());
    this.$('check-game').addEventListener('click', () => this.checkGame());
    this.$('verify-round').addEventListener('change', () => {
      this.verifyPicked = true;
      this.showVerify();
    });
    // Bet areas are buttons: Enter or Space bets, like a click; Delete or
    // Backspace takes your bet there down.
    this.root.querySelector('.bc-layout').addEventListener('keydown', (e) => {
      const area = e.target.closest('[data-area]');
      if (area && (e.key === 'Delete' || e.key === 'Backspace')) {
        e.preventDefault();
        const number = area.getAttribute('data-number');
        const bet = number ? `${this.$('mode').value}-${number}` : area.getAttribute('data-area');
        this.attempt(() => this.peer.takeDown(this.table, bet));
        return;
      }
      if (e.key !== 'Enter' && e.key !== ' ') return;
      if (!area) return;
      e.preventDefault();
      area.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    });
    // The number areas' help follows the Numbers menu.
    this.$('mode').addEventListener('change', () => this.render());
    // A long press (or a right click) on an area says what it pays.
    this.root.querySelector('.bc-layout').addEventListener('contextmenu', (e) => {
      const area = e.target.closest('[data-area]');
      if (!area?.getAttribute('data-help')) return;
      e.preventDefault();
      this.say(area.querySelector('title').textContent, { fleeting: true });
    });
    this.root.querySelector('.bc-layout').addEventListener('click', (e) => {
      const area = e.target.closest('[data-area]');
      if (!area) return;
      const number = area.getAttribute('data-number');
      this.place(number ? `${this.$('mode').value}-${number}` : area.getAttribute('data-area'));
    });
  }

  place(bet) {
    const takeDown = this.$('takedown').checked;
    const callWorking = this.$('call-working').checked;
    this.attempt(async () => {
      if (callWorking) {
        // Your bet there changes sides: working on the come-out, or off.
        const s = this.peer.state(this.table);
        const mine = s.bets.find((b) => b.player === s.me && b.bet === bet);
        if (!mine) throw new Error(`no ${bet} bet of yours to call working or off`);
        await this.peer.setWorking(this.table, bet, !mine.working);
      } else if (takeDown) {
        await this.peer.takeDown(this.table, bet);
      } else {
        await this.peer.bet(this.table, bet, this.chip);
        this.placed.push(bet);
      }
    });
  }

  /** This player's bets on the table (name -> stake). */
  myBets() {
    const s = this.peer.state(this.table);
    return new Map(s.bets.filter((b) => b.player === s.me).map((b) => [b.bet, b.stake]));
  }

  /** Takes down the bet placed last that is still on the table. */
  undo() {
    const mine = this.myBets();
    while (this.placed.length && !mine.has(this.placed.at(-1))) this.placed.pop();
    const bet = this.placed.pop();
    if (!bet) return this.say('Nothing of yours to take down.', { fleeting: true });
    this.attempt(() => this.peer.takeDown(this.table, bet));
  }

  /** Takes down every bet of this player's that may come down. */
  async clear() {
    const stays = [];
    for (const bet of this.myBets().keys()) {
      try {
        await this.peer.takeDown(this.table, bet);
      } catch {
        stays.push(bet);
      }
    }
    this.placed = [];
    this.say(stays.length ? `Cleared; ${stays.join(', ')} stays until the dice decide it.` : 'Cleared.');
  }

  /** Places again the bets the last roll decided and took off the table. */
  async rebet() {
    const mine = this.myBets();
    const again = (this.decided ?? []).filter((b) => !mine.has(b.bet));
    if (!again.length) return this.say('No bets from the last roll to repeat.', { fleeting: true });
    const refused = [];
    for (const { bet, stake } of again) {
      try {
        await this.peer.bet(this.table, bet, stake);
        this.placed.push(bet);
      } catch (error) {
        refused.push(`${bet} (${error.message ?? error})`);
      }
    }
    this.say(refused.length ? `Repeated, except ${refused.join('; ')}.` : `Repeated: ${again.map((b) => `${b.bet} ${b.stake}`).join(', ')}.`);
  }

  /** The game so far as a transcript file and its name, or `null` (said). */
  transcriptFile() {
    try {
      const bytes = this.peer.transcript(this.table);
      const name = `bitcraps-${this.table.slice(0, 8)}-${this.peer.state(this.table).rolls}-rolls.bctx`;
      return { bytes, name };
    } catch (error) {
      this.say(`No transcript: ${error.message ?? error}`, { fleeting: true });
      return null;
    }
  }

  /** Saves the game so far as a transcript file. */
  download() {
    const file = this.transcriptFile();
    if (!file) return;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([file.bytes], { type: 'application/octet-stream' }));
    link.download = file.name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  /** Opens the offline checker with the game so far: it asks for the
   * file once it is ready, and checks it as if it had been dropped. */
  checkGame() {
    const file = this.transcriptFile();
    if (!file) return;
    const checker = window.open(`${CHECKER}#from-table`, '_blank');
    if (!checker) return this.say('The checker could not open (pop-ups blocked?): download the game and drop it there.', { fleeting: true });
    const origin = new URL(CHECKER).origin;
    const answer = (event) => {
      if (event.source !== checker || event.origin !== origin || event.data?.bitcraps !== 'ready-to-check') return;
      window.removeEventListener('message', answer);
      checker.postMessage({ bitcraps: 'game', name: file.name, bytes: file.bytes }, origin);
    };
    window.addEventListener('message', answer);
  }

  /** Makes a move (a promise of the client's); a refusal is said. */
  async attempt(action) {
    try {
      await action();
      this.say('');
    } catch (error) {
      this.say(`Refused: ${error.message ?? error}`, { fleeting: true });
    }
  }

  /** Shows `text` in the message line (announced to screen readers); a
   * `fleeting` one (a refusal, a nothing-to-do) clears itself after 8 s
   * unless another message took its place. Each is also a `say` event on
   * the element. */
  say(text, { fleeting = false } = {}) {
    const line = this.$('message');
    line.textContent = text;
    // (A page around the element can show or log them its own way.)
    if (text) this.dispatchEvent(new CustomEvent('say', { detail: { text, fleeting } }));
    clearTimeout(this.sayTimer);
    if (fleeting) {
      this.sayTimer = setTimeout(() => {
        if (line.textContent === text) line.textContent = '';
      }, FLEETING_MS);
    }
  }

  /** The chips on one area: a chip per player with its stake (yours in
   * gold, first; each other player in a colour of its own), up to four,
   * then how many more. */
  drawStakes(g, byPlayer, me, badge) {
    const key = `${[...byPlayer].map(([p, n]) => `${p}:${n}`).join()}|${badge}`;
    if (g.dataset.chipsDrawn === key) return;
    g.dataset.chipsDrawn = key;
    const ns = 'http://www.w3.org/2000/svg';
    let layer = g.querySelector('[data-chips]');
    if (!layer) {
      layer = document.createElementNS(ns, 'g');
      layer.setAttribute('data-chips', '');
      layer.setAttribute('aria-hidden', 'true');
      g.appendChild(layer);
    }
    const rect = g.querySelector('rect');
    const [x, y, h] = ['x', 'y', 'height'].map((k) => Number(rect.getAttribute(k)));
    const players = [...byPlayer].sort(([a], [b]) => (a === me ? -1 : b === me ? 1 : a < b ? -1 : 1));
    const shown = players.slice(0, 4);
    layer.replaceChildren(
      ...shown.map(([player, stake], i) => {
        const chip = document.createElementNS(ns, 'g');
        chip.setAttribute('class', player === me ? 'bc-chip-on bc-mine' : 'bc-chip-on');
        chip.setAttribute('data-chip-player', player);
        const [cx, cy] = [x + 14 + i * 19, y + h - 13];
        // Each player's own hue, never the felt's greens.
        const raw = parseInt(player.slice(0, 4), 16) % 280;
        const hue = raw < 90 ? raw : raw + 80;
        chip.innerHTML = `<circle cx="${cx}" cy="${cy}" r="11" ${player === me ? '' : `style="fill: hsl(${hue} 55% 30%)"`}/><text x="${cx}" y="${cy + 3.5}">${chipText(stake)}</text>`;
        return chip;
      }),
    );
    if (badge) {
      // Your chip comes first: its working call above it.
      const mark = document.createElementNS(ns, 'text');
      mark.setAttribute('x', String(x + 14));
      mark.setAttribute('y', String(y + h - 27));
      mark.setAttribute('class', badge === 'ON' ? 'bc-working bc-on' : 'bc-working');
      mark.setAttribute('data-working', badge);
      mark.textContent = badge;
      layer.appendChild(mark);
    }
    if (players.length > shown.length) {
      const more = document.createElementNS(ns, 'text');
      more.setAttribute('x', String(x + 14 + shown.length * 19));
      more.setAttribute('y', String(y + h - 9));
      more.setAttribute('class', 'bc-chip-more');
      more.textContent = `+${players.length - shown.length}`;
      layer.appendChild(more);
    }
  }

  /** Each bet area's help (its best payout, house edge and the table's
   * limits), as its tooltip and description; again when the Numbers menu
   * or the layout changes. */
  describeAreas(s) {
    const mode = this.$('mode').value;
    const key = `${this.table}|${mode}|${this.layoutDrawn}`;
    if (this.described === key) return;
    this.described = key;
    const limits = `bets ${s.minBet.toLocaleString('en')}–${s.maxBet.toLocaleString('en')}`;
    for (const g of this.root.querySelectorAll('[data-area]')) {
      const number = g.getAttribute('data-number');
      const bet = number ? `${mode}-${number}` : g.getAttribute('data-area');
      let help = limits;
      try {
        const { pays: [n, d], edge } = this.peer.betHelp(this.table, bet);
        const pays = n === 0 ? '' : d <= 10 ? `pays up to ${n}:${d}` : `pays up to ${(n / d).toFixed(2)}:1`;
        help = [pays, edge === null ? '' : `house edge ${edge}%`, limits].filter(Boolean).join(' · ');
      } catch {
        /* an area the engine does not know as one bet: its limits only */
      }
      let title = g.querySelector('title');
      if (!title) {
        title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
        g.prepend(title);
      }
      title.textContent = `${number ? `${mode} ${number}` : g.dataset.areaName}: ${help}`;
      g.setAttribute('data-help', help);
      g.setAttribute('aria-description', help);
    }
  }

  drawLayout(layout) {
    this.layout = layout;
    this.layoutDrawn = (this.layoutDrawn ?? 0) + 1;
    const svg = this.root.querySelector('.bc-layout');
    const ns = 'http://www.w3.org/2000/svg';
    svg.replaceChildren();
    svg.setAttribute('viewBox', layout.viewBox);
    for (const a of layout.areas) {
      const g = document.createElementNS(ns, 'g');
      g.setAttribute('data-area', a.bet ?? `number-${a.number}`);
      if (a.number) g.setAttribute('data-number', a.number);
      g.setAttribute('class', (a.small ?? a.w < 100) ? 'bc-area bc-small' : 'bc-area');
      g.setAttribute('tabindex', '0');
      g.innerHTML = `<rect x="${a.x}" y="${a.y}" width="${a.w}" height="${a.h}" rx="6"/>
        <text x="${a.x + a.w / 2}" y="${a.y + a.h / 2 - 4}" class="bc-label">${a.label}</text>
        <text x="${a.x + a.w / 2}" y="${a.y + a.h / 2 + 16}" class="bc-stakes" data-stakes></text>
        <text x="${a.x + a.w - 6}" y="${a.y + 16}" class="bc-result" data-result></text>`;
      g.setAttribute('role', 'button');
      g.dataset.areaName = a.number ? `${a.label === 'SIX' ? 6 : a.label === 'NINE' ? 9 : a.label} (the number chosen under Numbers)` : a.label;
      g.setAttribute('aria-label', g.dataset.areaName);
      svg.appendChild(g);
    }
    const puck = document.createElementNS(ns, 'circle');
    puck.setAttribute('r', '14');
    puck.setAttribute('class', 'bc-onpuck');
    puck.setAttribute('data-puck', '');
    puck.setAttribute('visibility', 'hidden');
    svg.appendChild(puck);
  }

  drawChips() {
    const chips = this.$('chips');
    for (const value of [1, 5, 6, 10, 25, 100]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = value;
      b.className = 'bc-chip';
      b.setAttribute('data-chip-value', value);
      b.addEventListener('click', () => {
        this.chip = value;
        this.render();
      });
      chips.appendChild(b);
    }
  }

  /** The shooter's time to roll, counting down once a second while it
   * runs (the house passes the dice when it is out). */
  showShooterClock(s) {
    const left = s.open && !s.closed ? this.peer.shooterClock(this.table) : -1;
    const clock = this.$('shooter-clock');
    clearTimeout(this.clockTimer);
    if (left < 0 || !s.shooter) {
      clock.textContent = '';
      return;
    }
    const seconds = Math.ceil(left / 1000);
    const whose = s.shooter === s.me ? 'You have' : `${this.who(s.shooter)} has`;
    clock.textContent = `${whose} ${seconds} s to roll`;
    clock.dataset.seconds = String(seconds);
    // (A render: it does nothing once this page has left the table.)
    this.clockTimer = setTimeout(() => this.render(), 1000 - (left % 1000) + 20);
  }

  /** Marks each of this player's bets that won or lost on the layout with
   * its amount, and says the stickman's call and the net result. */
  showResults(roll) {
    const me = this.peer.me;
    const byArea = new Map();
    let net = 0;
    let mine = 0;
    for (const r of roll.results) {
      if (r.player !== me) continue;
      mine++;
      const n = netOf(r);
      net += n;
      if (r.outcome === 'win' || r.outcome === 'win-stays' || r.outcome === 'lose') {
        const area = areaOf(r.bet);
        byArea.set(area, (byArea.get(area) ?? 0) + n);
      }
    }
    for (const g of this.root.querySelectorAll('[data-area]')) {
      const text = g.querySelector('[data-result]');
      const n = byArea.get(g.getAttribute('data-area'));
      text.textContent = n === undefined ? '' : signed(n);
      text.setAttribute('class', n === undefined ? 'bc-result' : n >= 0 ? 'bc-result bc-win' : 'bc-result bc-lose');
      if (n === undefined) g.removeAttribute('data-net');
      else g.setAttribute('data-net', String(n));
    }
    this.lastNet = mine ? net : null;
    // What Repeat places again: this player's bets the roll took off the
    // table (won with the stake back, lost, pushed).
    this.decided = roll.results
      .filter((r) => r.player === me && ['win', 'lose', 'push'].includes(r.outcome))
      .map((r) => ({ bet: r.bet, stake: r.stake }));
    const call = stickmanCall(roll);
    this.say(mine ? `${call}: ${net === 0 ? 'you break even' : `you ${net > 0 ? 'win' : 'lose'} ${Math.abs(net)}`} (${signed(net)}).` : `${call}.`);
    if (mine && net !== 0) this.sound(net > 0 ? 'win' : 'lose');
    this.render();
  }

  /** Sound on or off (off until the player turns it on; remembered). */
  setSound(on) {
    this.soundOn = on;
    localStorage.setItem('bitcraps-sound', on ? 'on' : 'off');
    const button = this.$('sound');
    button.setAttribute('aria-pressed', String(on));
    button.textContent = on ? 'Sound on' : 'Sound off';
  }

  /** A short sound, made on the spot (no files): the dice's rattle, a
   * rising chime for a win, a low tone for a loss. */
  sound(kind) {
    if (!this.soundOn) return;
    const audio = (this.audio ??= new AudioContext());
    const out = audio.createGain();
    out.connect(audio.destination);
    const t = audio.currentTime;
    if (kind === 'roll') {
      const noise = audio.createBuffer(1, audio.sampleRate * 0.3, audio.sampleRate);
      const data = noise.getChannelData(0);
      for (let i = 0; i < data.length; i++) data[i] = (Math.random() * 2 - 1) * (1 - i / data.length) * (i % 2200 < 500 ? 1 : 0.2);
      const source = audio.createBufferSource();
      source.buffer = noise;
      out.gain.value = 0.25;
      source.connect(out);
      source.start(t);
      return;
    }
    const notes = kind === 'win' ? [660, 880] : [220, 165];
    notes.forEach((hz, i) => {
      const tone = audio.createOscillator();
      tone.frequency.value = hz;
      tone.connect(out);
      tone.start(t + i * 0.12);
      tone.stop(t + i * 0.12 + 0.11);
    });
    out.gain.setValueAtTime(0.15, t);
    out.gain.exponentialRampToValueAtTime(0.001, t + 0.3);
  }

  animate(roll) {
    this.sound('roll');
    const [d1, d2] = [this.$('die1'), this.$('die2')];
    d1.classList.add('bc-rolling');
    d2.classList.add('bc-rolling');
    setTimeout(() => {
      d1.classList.remove('bc-rolling');
      d2.classList.remove('bc-rolling');
      showDie(d1, roll.dice[0]);
      showDie(d2, roll.dice[1]);
    }, matchMedia('(prefers-reduced-motion: reduce)').matches ? 0 : 350);
  }

  render() {
    // (Not at the table: back in the lobby after a dead end, or leaving.)
    if (!this.peer || !this.table || !this.peer.isAt(this.table)) return;
    const conn = this.peer.connectionState();
    const s = this.peer.state(this.table);
    const relayWords = {
      idle: 'idle',
      connecting: 'connecting…',
      open: s.joined ? 'connected' : 'joining…',
      closed: 'reconnecting…',
    };
    const waiting = s.waiting ? ` (${s.waiting} of your moves waiting to be sent)` : '';
    // With several relays, which one.
    const via = this.relayUrls.length > 1 ? ` via ${new URL(conn.relayUrl).host}` : '';
    this.$('relay').textContent = s.elsewhere ? 'open in another tab' : `${relayWords[conn.relay] ?? conn.relay}${via}${waiting}`;
    this.$('view').classList.toggle('bc-elsewhere', Boolean(s.elsewhere));
    // Peers whose data channel carried a game frame to this page lately
    // (an open channel that carries nothing does not count).
    const direct = conn.paths[this.table]?.direct ?? [];
    const viaTurn = direct.filter((key) => conn.routes[`${this.table}/${key}`] === 'turn').length;
    this.$('peers').textContent = !this.peer.webrtc ? 'off' : viaTurn ? `${direct.length} (${viaTurn} via TURN)` : String(direct.length);
    for (const b of this.root.querySelectorAll('.bc-chip')) b.classList.toggle('bc-selected', Number(b.dataset.chipValue) === this.chip);
    this.dataset.open = String(s.open);
    if (!s.open) {
      this.$('role').textContent = '(waiting for the table)';
      return;
    }
    const me = s.me;
    this.names = s.names ?? {};
    this.$('me').textContent = this.names[me] ? '' : short(me);
    this.announceName(s);
    const seated = s.seats.some((seat) => seat.player === me);
    const isHouse = s.banker === me;
    const shooter = s.shooter === me;
    this.$('role').textContent = isHouse ? 'the house' : shooter ? 'shooter' : seated ? 'player' : 'watching';
    this.$('sit').hidden = seated || isHouse;
    this.$('buy-in').hidden = !seated;
    this.$('leave').hidden = !seated || s.closed;
    this.$('roll').disabled = !(shooter && s.betting) || s.elsewhere;
    this.$('sit').disabled = s.elsewhere;
    this.$('buy-in').disabled = s.elsewhere;
    this.$('leave').disabled = s.elsewhere || !s.betting;
    this.$('point').textContent = s.point ? `ON ${s.point}` : 'OFF';
    this.$('point').classList.toggle('bc-on', Boolean(s.point));
    const nextRoll = !s.betting && s.awaitingRoll ? ` · ${s.awaitingRoll} of your actions wait for the next roll` : '';
    this.showShooterClock(s);
    this.$('round').textContent = s.closed ? 'This table has closed.' : `Round ${s.round}${s.betting ? '' : ' · rolling…'}${nextRoll}`;
    const puck = this.$('puck');
    const box = this.layout.areas.find((a) => a.number === s.point);
    puck.setAttribute('visibility', box ? 'visible' : 'hidden');
    if (box) {
      puck.setAttribute('cx', box.x + box.w - 18);
      puck.setAttribute('cy', box.y + 18);
    }
    // Stakes on each area: mine and everyone's.
    for (const g of this.root.querySelectorAll('[data-area]')) {
      const number = g.getAttribute('data-number');
      const names = number
        ? MODES.map(([m]) => `${m}-${number}`).concat([`come-${number}`, `dont-come-${number}`])
        : [g.getAttribute('data-area')];
      let mine = 0;
      let all = 0;
      const byPlayer = new Map();
      for (const b of s.bets) {
        if (names.includes(b.bet)) {
          all += b.stake;
          if (b.player === me) mine += b.stake;
          byPlayer.set(b.player, (byPlayer.get(b.player) ?? 0) + b.stake);
        }
      }
      // (In words for screen readers and tests; on the felt as chips.)
      g.querySelector('[data-stakes]').textContent = all ? `you ${mine} · all ${all}` : '';
      g.classList.toggle('bc-has-bets', all > 0);
      // On the come-out, whether your place or buy bet here works.
      const workable = s.point === 0 ? s.bets.filter((b) => b.player === me && names.includes(b.bet) && /^(place|buy)-/.test(b.bet)) : [];
      const badge = workable.length === 0 ? '' : workable.every((b) => b.working) ? 'ON' : 'OFF';
      this.drawStakes(g, byPlayer, me, badge);
      const calls = badge ? `, ${badge === 'ON' ? 'working' : 'off'} on the come-out` : '';
      g.setAttribute('aria-label', all ? `${g.dataset.areaName}: yours ${mine}${calls}, everyone's ${all}` : g.dataset.areaName);
    }
    // The bar: this player's chips, what it has on the table, its last roll.
    const mySeat = s.seats.find((x) => x.player === me);
    this.$('bar').hidden = !mySeat;
    if (mySeat) {
      this.$('my-balance').textContent = String(mySeat.balance);
      this.$('on-table').textContent = String(s.bets.filter((b) => b.player === me).reduce((n, b) => n + b.stake, 0));
      this.$('last-net').textContent = this.lastNet === null || this.lastNet === undefined ? '—' : signed(this.lastNet);
      this.$('limits').textContent = `${s.minBet.toLocaleString('en')}–${s.maxBet.toLocaleString('en')}`;
    }
    this.describeAreas(s);
    const seats = this.$('seats');
    seats.replaceChildren(
      ...[{ player: s.banker, balance: s.bankroll, house: true }, ...s.seats].map((seat) => {
        const li = document.createElement('li');
        // Presence: who the relay has at the table now.
        const present = seat.player === me || s.roster.includes(seat.player);
        const tags = [seat.house ? 'house' : '', seat.player === s.shooter ? 'shooter' : '', seat.player === me ? 'you' : '', present ? '' : 'away']
          .filter(Boolean)
          .join(', ');
        li.textContent = `${this.names[seat.player] ?? short(seat.player)}${tags ? ` (${tags})` : ''}: ${seat.balance}`;
        li.setAttribute('data-player', seat.player);
        li.setAttribute('data-balance', seat.balance);
        li.setAttribute('data-present', String(present));
        li.classList.toggle('bc-away', !present);
        return li;
      }),
    );
    const history = this.$('history');
    history.replaceChildren(
      ...s.recent
        .slice()
        .reverse()
        .map((r) => {
          const li = document.createElement('li');
          li.textContent = `#${r.round}: ${r.dice[0]}+${r.dice[1]} = ${r.total}${r.sevenOut ? ' seven out' : ''}${r.pointAfter && !r.pointBefore ? ` point ${r.pointAfter}` : ''} `;
          // This page's own check of the roll (every reveal against its
          // commitment, the dice from the reveals); a click shows it.
          const ok = this.checkedRoll(r);
          const mark = document.createElement('button');
          mark.type = 'button';
          mark.className = `bc-mark ${ok ? 'bc-verified' : 'bc-unverified'}`;
          mark.dataset.verified = String(ok);
          mark.textContent = ok ? '✔ verified' : '✘ does not check out';
          mark.addEventListener('click', () => this.openVerify(r.round));
          li.append(mark);
          return li;
        }),
    );
    const last = s.recent.at(-1);
    this.dataset.rolls = String(s.rolls);
    this.dataset.stateHash = s.stateHash;
    this.dataset.point = String(s.point);
    this.dataset.dice = last ? `${last.dice[0]},${last.dice[1]}` : '';
    this.dataset.shooter = String(shooter && s.betting);
    if (last && !this.root.querySelector('.bc-rolling')) {
      showDie(this.$('die1'), last.dice[0]);
      showDie(this.$('die2'), last.dice[1]);
    }
    // The verify list grows by the rolls it has not seen (never re-reads
    // the whole history; a page that took the game from a checkpoint holds
    // the rolls since it).
    const select = this.$('verify-round');
    const seen = select.options.length ? Number(select.options[select.options.length - 1].value) : 0;
    if (last && seen < last.round) {
      const chosen = select.value;
      for (const r of this.peer.rolls(this.table, seen, 1000)) {
        const o = document.createElement('option');
        o.value = r.round;
        o.textContent = `Roll #${r.round}: ${r.dice[0]}+${r.dice[1]}`;
        select.append(o);
      }
      // The newest roll, unless the player picked one to look at.
      select.value = this.verifyPicked ? chosen : String(last.round);
      this.showVerify();
    }
  }

  /** Whether a roll checks out here (each roll checked once: the dice
   * recomputed from its reveals, every reveal against its commitment). */
  checkedRoll(r) {
    this.verified ??= new Map();
    const key = `${this.table}/${r.round}`;
    if (!this.verified.has(key)) {
      const check = this.peer.verify(this.table, r.round);
      this.verified.set(key, check.ok && check.dice[0] === r.dice[0] && check.dice[1] === r.dice[1]);
    }
    return this.verified.get(key);
  }

  /** Opens the verify panel at a roll. */
  openVerify(round) {
    const select = this.$('verify-round');
    if (![...select.options].some((o) => Number(o.value) === round)) return;
    select.value = String(round);
    this.verifyPicked = true;
    this.$('verify').open = true;
    this.showVerify();
    this.$('verify').scrollIntoView({ block: 'nearest' });
  }

  showVerify() {
    const round = Number(this.$('verify-round').value);
    const out = this.$('verify-out');
    if (!round) {
      out.textContent = 'No rolls yet.';
      return;
    }
    const [record] = this.peer.rolls(this.table, round - 1, 1);
    if (!record || record.round !== round) {
      out.textContent = `No roll #${round} at this table.`;
      return;
    }
    const check = this.peer.verify(this.table, round);
    const rows = record.commits
      .map(([player, commitment]) => {
        const reveal = record.reveals.find(([p]) => p === player);
        return `<tr><td>${escapeHtml(this.names[player] ?? short(player))}</td><td><code>${commitment.slice(0, 16)}…</code></td><td><code>${reveal ? `${reveal[1].slice(0, 16)}…` : 'withheld'}</code></td></tr>`;
      })
      .join('');
    out.innerHTML = `<table><tr><th>player</th><th>commitment</th><th>reveal</th></tr>${rows}</table>
      <p data-verify-result="${check.ok && check.dice[0] === record.dice[0] && check.dice[1] === record.dice[1]}">
      Recomputed in this browser: ${check.dice[0]} + ${check.dice[1]} —
      ${check.ok ? 'every reveal matches its commitment and the dice follow from them ✔' : 'does NOT check out ✘'}</p>`;
  }
}

customElements.define('bitcraps-table', BitCrapsTable);
