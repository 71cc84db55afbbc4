// BitCraps in the browser: the I/O shell around the wasm `Client`.
//
// The wasm client holds every rule and every check; this module moves its
// bytes: one WebSocket to the relay (reconnecting, and resuming each table
// from the last frame seen), and WebRTC data channels to the other players
// of each table (signaled through the relay, with the ICE servers the relay
// hands out: its own STUN server and the operator's TURN server). A channel
// that fails or closes is opened again, with back-off, while both players
// stay at the table. Each frame the wasm peer gives says where it goes: the relay,
// the table's data channels, or both. Game frames go over both
// paths: the data channel is the fast one, the relay's copy is the one
// every peer is sure to get in the room's order (a duplicate is
// recognised and ignored). Frames made while the relay is away are kept
// by the wasm peer and sent after the next join: nothing is lost here.
import init, { Client, betCatalog, version } from './pkg/bitcraps_client.js';

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const unhex = (text) => Uint8Array.from(text.match(/../g).map((h) => parseInt(h, 16)));
const randomHex = (n) => hex(crypto.getRandomValues(new Uint8Array(n)));

let wasmReady = null;
/** Loads the wasm module once. */
export function loadWasm() {
  wasmReady ??= init();
  return wasmReady;
}

/** Reads or creates a value kept in localStorage (memory if unavailable). */
function kept(name, make) {
  try {
    let value = localStorage.getItem(name);
    if (!value) {
      value = make();
      localStorage.setItem(name, value);
    }
    return value;
  } catch {
    return make();
  }
}

/** A new random table id (32 hex digits). */
export const newTableId = () => randomHex(16);

/**
 * What every refusal is: an `Error` whose `code` says which one (stable,
 * kebab-case: `not-open`, `no-table`, `not-at-table`, `betting-closed`,
 * `insufficient-balance`, `not-shooter`, ...; the game's own codes are
 * listed in the package README) and whose `message` says it in words.
 */
export class BitCrapsError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'BitCrapsError';
    this.code = code;
  }
}

/** The typed form of whatever the wasm client threw. */
const refusal = (error) =>
  error instanceof BitCrapsError ? error : new BitCrapsError(error?.code ?? 'failed', error?.message ?? String(error));

/**
 * A BitCraps peer. Events (all `CustomEvent`s with the details in
 * `event.detail`): `roster`, `peerJoined`, `peerLeft`, `table`, `sat`,
 * `bet`, `takenDown`, `working`, `left`, `bettingClosed`, `committed`, `revealed`,
 * `rolled`, `named` (`player`, `name`: the name a player goes by),
 * `chat` (`from`, `text`: a line said at the table, signed by its sender),
 * `diverged` (a participant's state after roll `round` is
 * not this page's: `theirs`, `ours`; `minority`: most participants hold
 * another one, and this page takes the game from them), `forfeited`,
 * `roundAborted`, `tableClosed` (`reason`:
 * `bankerDefaulted`, `bankrollExhausted` or `houseGone`), `heldOver` (actions that came
 * after betting closed wait for the next roll), `satOut` (a participant
 * committed to another table than the house's: it sits the roll out),
 * `betReturned` (a bet the
 * house could no longer cover came down), `dicePassed` (`from`, `to`: the
 * shooter did not roll in time), `rejected`,
 * `relayError`, `noTable` (nobody announced the table: no such table, or
 * it has closed), `houseGone` / `houseBack` (the house left the table /
 * came back), `relayRestarted` (the relay lost its rooms; everything was
 * joined again), `openElsewhere` (another tab with this key took the
 * table over: this one takes no more actions, they throw; `unsent` of its
 * moves never went; reload to take the table back), `relayRefused` (the relay would not take the connection:
 * `status` and `reason`), `connection` (relay or data channel state
 * changed), and
 * `change` after any of them.
 */
export class BitCrapsClient extends EventTarget {
  /**
   * @param {object} options
   * @param {string | string[]} options.relay  WebSocket URL of the relay, e.g.
   *   `ws://127.0.0.1:8080/ws`; or several relays of one cluster: the client
   *   uses the first, and when its connection ends goes on to the next
   *   (round the list), resuming every table where it was
   * @param {boolean} [options.webrtc=true]  open data channels to peers
   * @param {'all' | 'relay'} [options.iceTransportPolicy='all']  `relay`:
   *   data channels only through the operator's TURN server (the other
   *   players never learn this browser's address)
   * @param {string} [options.storagePrefix='bitcraps']  localStorage key prefix
   */
  constructor({ relay, webrtc = true, iceTransportPolicy = 'all', storagePrefix = 'bitcraps' }) {
    super();
    this.relayUrls = (Array.isArray(relay) ? relay : [relay]).filter(Boolean);
    if (this.relayUrls.length === 0) throw new TypeError('BitCrapsClient: no relay URL');
    this.relayIndex = 0;
    this.webrtc = webrtc && typeof RTCPeerConnection !== 'undefined';
    this.iceTransportPolicy = iceTransportPolicy === 'relay' ? 'relay' : 'all';
    this.prefix = storagePrefix;
    this.tables = new Set();
    this.opening = new Map(); // table -> the promise `opened` gives
    this.peers = new Map(); // `${table}/${peer}` -> { pc, channel, state }
    this.relayState = 'idle';
    this.iceServers = [];
    this.iceExpiresAt = Infinity; // ms; TURN credentials run out then
    this.redial = new Map(); // `${table}/${peer}` -> { attempt, timer }
    this.sweeper = null;
    this.timer = null;
    this.reconnectTimer = null;
    this.retry = 250;
    this.closed = false;
  }

  /**
   * Loads wasm and restores this browser's key. The relay connection opens
   * with the first `joinTable` (the relay closes connections that are in
   * no table for a few seconds).
   */
  async start() {
    // The ICE servers load beside the wasm, and for at most a moment.
    const ice = this.webrtc ? this.loadIceServers() : null;
    await loadWasm();
    const secret = kept(`${this.prefix}-key`, () => randomHex(32));
    this.client = new Client(unhex(secret));
    this.me = this.client.publicKey();
    await ice;
    if (this.webrtc) this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    // A hidden tab's timers are throttled (to once a minute in Chromium
    // after 5 minutes): catch up on what is due as soon as it is shown.
    globalThis.document?.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.wake();
    });
    return this;
  }

  /** The library and engine version. */
  static version() {
    return version();
  }

  /** Every bet with its stake unit and house edge. */
  static betCatalog() {
    return JSON.parse(betCatalog());
  }

  /** The WebSocket URL of the relay in use (or tried next). */
  get relayUrl() {
    return this.relayUrls[this.relayIndex];
  }

  /** The relay's HTTP address (for its `/api/...` routes). */
  httpBase() {
    const url = new URL(this.relayUrl);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    url.pathname = '/';
    return url;
  }

  /** Asks the relay for ICE servers (`/api/stun`: its STUN server where
   * this browser can reach it, the operator's TURN server with fresh
   * credentials); gives up after 1.5 s and keeps what it had. */
  async loadIceServers() {
    try {
      const response = await fetch(new URL('/api/stun', this.httpBase()), {
        cache: 'no-store',
        signal: AbortSignal.timeout(1500),
      });
      const report = await response.json();
      this.iceServers = report.ice_servers ?? (report.server ? [{ urls: `stun:${report.server}` }] : []);
      // On this browser's clock (which need not be the relay's).
      this.iceExpiresAt = report.expires_in ? Date.now() + report.expires_in * 1000 : Infinity;
    } catch {
      /* no answer in time: host candidates (and what we had) still work */
    }
  }

  /** The ICE servers, asked again when TURN credentials are about to run
   * out. */
  async freshIceServers() {
    if (this.iceExpiresAt - Date.now() < 5 * 60_000) await this.loadIceServers();
    return this.iceServers;
  }

  now() {
    return performance.now();
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.closed) return;
    this.setRelayState('connecting');
    // Frames the relay has queued come packed into one message (the wasm
    // peer splits them; each frame says its length).
    const url = new URL(this.relayUrl);
    url.searchParams.set('pack', '1');
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      // The backoff is reset by a roster (a join that worked), not by the
      // socket opening: a relay that accepts and then refuses is retried
      // ever more slowly.
      this.client.connectionOpened();
      this.setRelayState('open');
    };
    ws.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) this.receive(new Uint8Array(event.data));
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      if (!opened) this.explainRefusal();
      // Frames made from now on wait for the next join (kept in wasm).
      this.client.connectionOpened();
      this.closeCode = event.code;
      this.setRelayState('closed');
      if (!this.closed && this.tables.size > 0) {
        // Several relays: the next one (a relay that dies is left for
        // another of its cluster at once; each table resumes there). Once
        // round the list, or after a relay that never answered, the wait
        // grows as with one relay.
        const moved = this.relayUrls.length > 1;
        this.relayIndex = (this.relayIndex + 1) % this.relayUrls.length;
        const wrapped = this.relayIndex === 0;
        const delay = moved && opened && !wrapped ? 0 : this.retry;
        this.reconnectTimer = setTimeout(() => this.connect(), delay);
        if (delay > 0) this.retry = Math.min(this.retry * 2, 5000);
      }
    };
  }

  /**
   * A WebSocket that never opened does not say why; the relay answers a
   * plain request to the same URL with its reason (503 full, 429 too many
   * connections from this address, 403 origin not allowed), which becomes
   * a `relayRefused` event.
   */
  async explainRefusal() {
    try {
      const url = new URL(this.relayUrl);
      url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
      const response = await fetch(url, { cache: 'no-store' });
      if ([403, 429, 503].includes(response.status)) {
        this.emit([{ type: 'relayRefused', status: response.status, reason: (await response.text()).slice(0, 200) }]);
      }
    } catch {
      /* unreachable, or another origin without CORS: the state says "reconnecting" */
    }
  }

  setRelayState(state) {
    this.relayState = state;
    this.emit([{ type: 'connection', relay: state }]);
  }

  /** Stops everything (the page is going away). */
  close() {
    this.closed = true;
    this.ws?.close();
    clearInterval(this.sweeper);
    for (const { timer } of this.redial.values()) clearTimeout(timer);
    this.redial.clear();
    for (const peer of this.peers.values()) peer.pc.close();
  }

  /** A frame from the relay, or (`channel`: its table and the key, hex,
   * of the peer at its other end) from a data channel. */
  receive(bytes, channel = null) {
    let events;
    try {
      const json = channel
        ? this.client.handleChannelFrame(channel.table, channel.peer, bytes, this.now())
        : this.client.handleFrame(bytes, this.now());
      events = JSON.parse(json);
    } catch (error) {
      events = [{ type: 'rejected', reason: String(error) }];
    }
    this.flush();
    this.emit(events);
  }

  emit(events) {
    for (const event of events) {
      if (event.type === 'signal') this.onSignal(event);
      if (event.type === 'roster') {
        this.retry = 250;
        this.dropAbsentPeers(event.table, event.peers);
      }
      if (event.type === 'roster' || event.type === 'peerJoined') this.linkPeers(event.table);
      if (event.type === 'peerLeft') this.dropPeer(event.table, event.peer);
      this.dispatchEvent(new CustomEvent(event.type, { detail: event }));
    }
    // Always: a table action shows on the table before any event names it
    // (its event comes when a roll's cut takes it in).
    this.dispatchEvent(new CustomEvent('change'));
    this.schedule();
  }

  /** Sends every queued frame where it goes: the relay, the table's data
   * channels, or both. */
  flush() {
    for (;;) {
      const t = this.client.pollTransmit();
      if (!t) break;
      const { table, to, frame } = t;
      t.free();
      if (to === 'peers' || to === 'everyone') {
        for (const [id, entry] of this.peers) {
          if (id.startsWith(`${table}/`) && entry.channel?.readyState === 'open') {
            try {
              entry.channel.send(frame);
            } catch {
              /* the relay's copy still goes out */
            }
          }
        }
      }
      if ((to === 'relay' || to === 'everyone') && this.ws?.readyState === WebSocket.OPEN) this.ws.send(frame);
    }
  }

  schedule() {
    clearTimeout(this.timer);
    const at = this.client.nextTimeout();
    if (at < 0) return;
    this.timer = setTimeout(() => this.wake(), Math.max(0, at - this.now()) + 5);
  }

  /** Applies what is due now (deadlines, keep-alives). */
  wake() {
    const events = JSON.parse(this.client.handleTimeout(this.now()));
    this.flush();
    this.emit(events);
  }

  /** Runs one wasm call that answers with events; a refusal throws a
   * `BitCrapsError`. */
  run(action) {
    let events;
    try {
      events = JSON.parse(action());
    } catch (error) {
      throw refusal(error);
    }
    this.flush();
    this.emit(events);
  }

  /** Waits until `table` has opened here, then runs `action` (in the order
   * the calls were made). */
  async whenOpen(table, action) {
    await this.opened(table);
    this.run(action);
  }

  /**
   * Resolves once `table` (joined with `joinTable`) has opened here: its
   * house announced it and, for a game under way, this page has caught
   * up. Rejects with a `BitCrapsError`: `not-at-table` if it was never
   * joined or was left, `no-table` if nobody has opened it.
   */
  opened(table) {
    if (!this.tables.has(table)) {
      return Promise.reject(new BitCrapsError('not-at-table', 'join this table first'));
    }
    if (this.isOpen(table)) return Promise.resolve();
    let waiting = this.opening.get(table);
    if (!waiting) {
      waiting = new Promise((resolve, reject) => {
        const done = (settle) => {
          this.removeEventListener('change', check);
          this.removeEventListener('noTable', none);
          this.opening.delete(table);
          settle();
        };
        const check = () => {
          if (this.isOpen(table)) done(resolve);
          else if (!this.tables.has(table)) done(() => reject(new BitCrapsError('not-at-table', 'this table was left')));
        };
        const none = (e) => {
          if (e.detail.table === table) done(() => reject(new BitCrapsError('no-table', 'nobody has opened this table (or it has closed)')));
        };
        this.addEventListener('change', check);
        this.addEventListener('noTable', none);
      });
      this.opening.set(table, waiting);
    }
    return waiting;
  }

  isOpen(table) {
    try {
      return this.tables.has(table) && JSON.parse(this.client.tableState(table)).open;
    } catch {
      return false;
    }
  }

  /**
   * Joins a table; with `bankroll`, opens it as its banker (the house),
   * with commit/reveal deadlines of `deadlineMs` (default 10 s) and a
   * shooter's wait of `shooterMs` before its dice pass (default 30 s),
   * and bets from `minBet` to `maxBet` chips (defaults 1 and 1,000,000). Throws if
   * the limits cannot be played.
   */
  joinTable(table, { bankroll = 0, deadlineMs = 0, shooterMs = 0, minBet = 0, maxBet = 0 } = {}) {
    const entropy = kept(`${this.prefix}-entropy-${table}`, () => randomHex(32));
    try {
      this.client.joinTable(table, unhex(entropy), new Float64Array([bankroll, deadlineMs, shooterMs, minBet, maxBet]));
    } catch (error) {
      throw refusal(error);
    }
    this.tables.add(table);
    if (!this.ws || (this.ws.readyState === WebSocket.CLOSED && !this.reconnectTimer)) this.connect();
    this.flush();
  }

  // The moves below wait for the table to open (so they may be called
  // right after `joinTable`), in the order they were called, and resolve
  // once the move is made (sent, or kept to send after a reconnect); a
  // refused one rejects with a `BitCrapsError`.

  /** Calls a place or buy bet (`place-6`, `buy-10`) working on the
   * come-out, or off again (`working` false, the default). */
  setWorking(table, bet, working) {
    return this.whenOpen(table, () => this.client.setWorking(table, bet, working, this.now()));
  }

  /** Sits down with `buyIn` chips. */
  sit(table, buyIn) {
    return this.whenOpen(table, () => this.client.sit(table, buyIn, this.now()));
  }

  /** Buys more chips. */
  buyIn(table, amount) {
    return this.whenOpen(table, () => this.client.buyIn(table, amount, this.now()));
  }

  /** Places a bet by name (`pass`, `place-6`, `hard-8`, ...). */
  bet(table, bet, stake) {
    return this.whenOpen(table, () => this.client.bet(table, bet, stake, this.now()));
  }

  /** Tells a table the name this player goes by (1-24 bytes of text):
   * every page shows it instead of the key (`named` event). */
  setName(table, name) {
    return this.whenOpen(table, () => this.client.setName(table, name, this.now()));
  }

  /** Takes a bet down. */
  takeDown(table, bet) {
    return this.whenOpen(table, () => this.client.takeDown(table, bet, this.now()));
  }

  /** Rolls (shooter only). */
  roll(table) {
    return this.whenOpen(table, () => this.client.roll(table, this.now()));
  }

  /** Leaves a table for good (not rejoined on a reconnect): every bet that
   * may come down comes down with its stake back. Throws (and stays) while
   * a pass or come bet of this player's is on the table. */
  leave(table) {
    this.run(() => this.client.leave(table, this.now()));
    this.tables.delete(table);
    this.dropAbsentPeers(table, []);
    // (Moves still waiting for this table to open are refused.)
    this.dispatchEvent(new CustomEvent('change'));
  }

  /** Whether this peer has joined `table` (or still follows its game). */
  isAt(table) {
    return this.client.isAt(table);
  }

  /** The table's state: seats, bets, point, shooter, the number of rolls
   * (`rolls`) and the last 12 of them (`recent`). */
  state(table) {
    try {
      return JSON.parse(this.client.tableState(table));
    } catch (error) {
      throw refusal(error);
    }
  }

  /** Rolls after round `afterRound`, oldest first (at most `max`, and at
   * most 1,000 per call): fetch only the rolls not seen yet. */
  rolls(table, afterRound = 0, max = 1000) {
    try {
      return JSON.parse(this.client.rolls(table, afterRound, max));
    } catch (error) {
      throw refusal(error);
    }
  }

  /** A bet at a table: the most it pays per chip (`pays`, `[n, d]`), its
   * house edge in percent (`edge`, or null) and its stake unit (`unit`),
   * under the table's rules. Throws for a bet that does not exist. */
  betHelp(table, bet) {
    try {
      return JSON.parse(this.client.betHelp(table, bet));
    } catch (error) {
      throw refusal(error);
    }
  }

  /** (The house) Lists the table in the relay's lobby under `name` (1-40
   * bytes of text), now and whenever the page joins the room again.
   * Rejects (`not-house`) if this page is not the table's house. */
  listTable(table, name) {
    return this.whenOpen(table, () => this.client.listTable(table, name));
  }

  /** The tables houses listed on the relay (`GET /api/tables`), those with
   * the most players first. */
  async listedTables() {
    const response = await fetch(new URL('/api/tables', this.httpBase()));
    if (!response.ok) throw new BitCrapsError('relay-refused', `the relay answered ${response.status}`);
    return (await response.json()).tables;
  }

  /** Says a line (1-280 bytes of text) to everyone at the table (`chat`
   * events, this page's own too). Throws if it cannot be sent now. */
  chat(table, text) {
    this.run(() => this.client.chat(table, text));
  }

  /** Milliseconds the shooter has left to roll before the house passes its
   * dice (counted on the relay's clock), or -1 when no countdown runs. */
  shooterClock(table) {
    return this.client.shooterClock(table, this.now());
  }

  /** The whole game so far as a transcript file (`Uint8Array`, `.bctx`):
   * every signed message with its relay time, and the dice and state this
   * page holds; `bitcraps-verify game.bctx` checks it all again. A game
   * this page took under way starts from the checkpoint it joined at,
   * with the players' signatures on it. */
  transcript(table) {
    try {
      return this.client.transcript(table);
    } catch (error) {
      throw refusal(error);
    }
  }

  /** Recomputes a past roll's dice from its reveals, in the browser. */
  verify(table, round) {
    try {
      return JSON.parse(this.client.verifyRoll(table, round));
    } catch (error) {
      throw refusal(error);
    }
  }

  /**
   * Relay and data channel states (`peers`: `<table>/<peer>` -> state;
   * `routes`: `<table>/<peer>` -> `direct`, `turn` (through the TURN
   * server) or null while unknown), and per table what each path delivered (`paths`: table -> `{relay,
   * channels, direct}`; `relay` and each peer's entry of `channels` count
   * game frames `taken` (first copy), `ignored` (the other path's copy came
   * first) and `refused`; `direct` lists the peers whose channel delivered
   * a game frame in the last minute).
   */
  connectionState() {
    const peers = {};
    const routes = {};
    for (const [id, peer] of this.peers) {
      peers[id] = peer.state;
      routes[id] = peer.route;
    }
    const paths = {};
    for (const table of this.tables) {
      try {
        paths[table] = JSON.parse(this.client.pathCounts(table, this.now()));
      } catch {
        /* not at this table any more */
      }
    }
    return {
      relay: this.relayState,
      relayUrl: this.relayUrl,
      webrtc: this.webrtc,
      iceTransportPolicy: this.iceTransportPolicy,
      peers,
      routes,
      paths,
    };
  }

  // ----- WebRTC -----------------------------------------------------------
  //
  // One RTCPeerConnection per table and peer; the lower key calls. Each
  // call has a generation (`gen`, in every offer, answer and candidate):
  // signals of an older call are ignored. A channel that fails, closes or
  // never opens is dropped; the caller calls again after a back-off (0.5 s
  // doubling to 30 s, reset once a channel has stayed open), the other side
  // asks it to (`restart`). The relay carries every frame meanwhile.

  linkPeers(table) {
    if (!this.webrtc) return;
    const state = this.state(table);
    for (const peer of state.roster) {
      if (peer !== this.me && this.me < peer && !this.redial.get(`${table}/${peer}`)?.timer) this.call(table, peer);
    }
  }

  inRoster(table, peer) {
    try {
      return this.tables.has(table) && this.state(table).roster.includes(peer);
    } catch {
      return false;
    }
  }

  /** A new connection to `peer` for call generation `gen` (replacing any
   * older one). */
  newPeer(table, peer, gen) {
    const id = `${table}/${peer}`;
    this.peers.get(id)?.pc.close();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, iceTransportPolicy: this.iceTransportPolicy });
    const entry = { pc, gen, channel: null, state: 'connecting', route: null, pending: [], since: Date.now(), openedAt: 0, stalledAt: 0 };
    this.peers.set(id, entry);
    pc.onicecandidate = (event) => {
      if (event.candidate && this.peers.get(id) === entry) {
        this.signalTo(table, 'ice', peer, JSON.stringify({ ...event.candidate.toJSON(), gen }));
      }
    };
    pc.ondatachannel = (event) => this.useChannel(table, peer, entry, event.channel);
    pc.onconnectionstatechange = () => {
      if (['failed', 'closed'].includes(pc.connectionState)) this.lost(table, peer, entry);
    };
    return entry;
  }

  useChannel(table, peer, entry, channel) {
    const id = `${table}/${peer}`;
    entry.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.onopen = () => {
      entry.openedAt = Date.now();
      this.setPeerState(id, 'open');
      this.findRoute(entry);
    };
    channel.onclose = () => this.lost(table, peer, entry);
    // The engine takes a channel's frames under the key of the peer at its
    // other end, and only frames that peer signed for this table.
    channel.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) this.receive(new Uint8Array(event.data), { table, peer });
    };
  }

  /** Whether the connection runs through a TURN server (a relayed
   * candidate on either end of the pair in use) or straight. */
  async findRoute(entry) {
    try {
      const stats = await entry.pc.getStats();
      let pair = null;
      stats.forEach((s) => {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      });
      if (!pair) stats.forEach((s) => {
        if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) pair ??= s;
      });
      if (!pair) return;
      const types = [stats.get(pair.localCandidateId)?.candidateType, stats.get(pair.remoteCandidateId)?.candidateType];
      const route = types.includes('relay') ? 'turn' : 'direct';
      if (entry.route !== route) {
        entry.route = route;
        this.dispatchEvent(new CustomEvent('change'));
      }
    } catch {
      /* closed meanwhile */
    }
  }

  setPeerState(id, state) {
    const entry = this.peers.get(id);
    if (!entry || entry.state === state) return;
    entry.state = state;
    this.emit([{ type: 'connection', peer: id, state }]);
  }

  async call(table, peer) {
    const id = `${table}/${peer}`;
    if (this.peers.has(id)) return;
    const pending = this.redial.get(id);
    if (pending) {
      clearTimeout(pending.timer);
      pending.timer = null;
    }
    const gen = crypto.getRandomValues(new Uint32Array(1))[0];
    // (Reserved at once: a second call for this peer waits for this one.)
    const entry = this.newPeer(table, peer, gen);
    const iceServers = await this.freshIceServers();
    if (this.peers.get(id) !== entry) return;
    try {
      entry.pc.setConfiguration({ iceServers, iceTransportPolicy: this.iceTransportPolicy });
      this.useChannel(table, peer, entry, entry.pc.createDataChannel('bitcraps', { ordered: true }));
      await entry.pc.setLocalDescription(await entry.pc.createOffer());
      if (this.peers.get(id) !== entry) return;
      this.signalTo(table, 'offer', peer, JSON.stringify({ ...entry.pc.localDescription.toJSON(), gen }));
    } catch (error) {
      console.warn('WebRTC offer failed; the relay carries this peer', error);
      this.lost(table, peer, entry);
    }
  }

  signalTo(table, kind, peer, data) {
    try {
      this.client.signal(table, kind, peer, data);
    } catch {
      return; // not at this table any more
    }
    this.flush();
  }

  async onSignal({ table, kind, from, data }) {
    if (!this.webrtc) return;
    const id = `${table}/${from}`;
    try {
      const { gen, restart, ...message } = JSON.parse(data);
      let entry = this.peers.get(id);
      if (restart) {
        // The other side lost its connection: call again (after the
        // back-off) unless a newer call is already under way.
        if (this.me < from && (!entry || entry.gen === gen)) {
          if (entry) this.lost(table, from, entry);
          else if (!this.redial.has(id)) this.redialLater(table, from);
        }
        return;
      }
      if (kind === 'offer') {
        if (entry?.gen === gen) return; // (the same offer twice)
        entry = this.newPeer(table, from, gen);
        const iceServers = await this.freshIceServers();
        if (this.peers.get(id) !== entry) return;
        entry.pc.setConfiguration({ iceServers, iceTransportPolicy: this.iceTransportPolicy });
        await entry.pc.setRemoteDescription(message);
        await this.addPending(entry);
        await entry.pc.setLocalDescription(await entry.pc.createAnswer());
        if (this.peers.get(id) !== entry) return;
        this.signalTo(table, 'answer', from, JSON.stringify({ ...entry.pc.localDescription.toJSON(), gen }));
        return;
      }
      if (!entry || (gen !== undefined && entry.gen !== gen)) return; // an older call's
      if (kind === 'answer') {
        if (entry.pc.signalingState !== 'have-local-offer') return;
        await entry.pc.setRemoteDescription(message);
        await this.addPending(entry);
      } else if (entry.pc.remoteDescription) {
        await entry.pc.addIceCandidate(message);
      } else {
        // Candidates may come before the description they belong to is
        // set (it is set asynchronously): kept until then.
        entry.pending.push(message);
      }
    } catch (error) {
      if (!this.closed) console.warn('WebRTC signaling failed; the relay carries this peer', error);
    }
  }

  async addPending(entry) {
    for (const candidate of entry.pending.splice(0)) {
      await entry.pc.addIceCandidate(candidate);
    }
  }

  /** A connection that failed, closed or never opened: dropped, and
   * called again while both players are at the table. */
  lost(table, peer, entry) {
    const id = `${table}/${peer}`;
    if (this.peers.get(id) !== entry) return;
    this.peers.delete(id);
    entry.pc.close();
    this.emit([{ type: 'connection', peer: id, state: 'closed' }]);
    if (this.closed || !this.inRoster(table, peer)) return;
    // A channel that stayed open a while starts the back-off afresh.
    if (entry.openedAt && Date.now() - entry.openedAt > 10_000) this.redial.delete(id);
    if (this.me < peer) this.redialLater(table, peer);
    else this.signalTo(table, 'ice', peer, JSON.stringify({ restart: true, gen: entry.gen }));
  }

  redialLater(table, peer) {
    const id = `${table}/${peer}`;
    const r = this.redial.get(id) ?? { attempt: 0, timer: null };
    clearTimeout(r.timer);
    const delay = Math.min(30_000, 500 * 2 ** r.attempt) * (0.75 + Math.random() / 2);
    r.attempt++;
    r.timer = setTimeout(() => {
      r.timer = null;
      if (!this.closed && this.inRoster(table, peer)) this.call(table, peer);
    }, delay);
    this.redial.set(id, r);
  }

  /** Every 2 s: drops connections that are closed, failed, disconnected
   * for 5 s or still not open after 15 s (not every browser says so by an
   * event), learns each open one's route, and calls roster peers that
   * have no connection and no call pending. */
  sweep() {
    const now = Date.now();
    for (const [id, entry] of [...this.peers]) {
      const [table, peer] = id.split('/');
      const pc = entry.pc;
      if (entry.state === 'open') {
        if (pc.connectionState === 'disconnected') entry.stalledAt ||= now;
        else entry.stalledAt = 0;
      }
      const dead =
        ['closed', 'failed'].includes(pc.connectionState) ||
        ['closing', 'closed'].includes(entry.channel?.readyState) ||
        (entry.stalledAt && now - entry.stalledAt > 5_000) ||
        (entry.state !== 'open' && now - entry.since > 15_000);
      if (dead) this.lost(table, peer, entry);
      else if (entry.state === 'open') this.findRoute(entry);
    }
    for (const table of this.tables) {
      let roster;
      try {
        roster = this.state(table).roster;
      } catch {
        continue;
      }
      for (const peer of roster) {
        const id = `${table}/${peer}`;
        if (peer !== this.me && this.me < peer && !this.peers.has(id) && !this.redial.get(id)?.timer) this.call(table, peer);
      }
    }
  }

  /** Closes the channels to peers no longer in a table's roster (a
   * client that resumes learns of departures from the roster alone). */
  dropAbsentPeers(table, roster) {
    const present = new Set(roster);
    for (const key of new Set([...this.peers.keys(), ...this.redial.keys()])) {
      const [t, peer] = key.split('/');
      if (t === table && !present.has(peer)) this.dropPeer(table, peer);
    }
  }

  dropPeer(table, peer) {
    const id = `${table}/${peer}`;
    clearTimeout(this.redial.get(id)?.timer);
    this.redial.delete(id);
    const entry = this.peers.get(id);
    this.peers.delete(id);
    entry?.pc.close();
    if (entry) this.emit([{ type: 'connection', peer: id, state: 'closed' }]);
  }
}

/** How often connections are checked (see `sweep`). */
const SWEEP_MS = 2_000;
