// Types for bitcraps.js (the wasm bindings' own types are generated into
// pkg/bitcraps_client.d.ts by wasm-bindgen).

/** Loads the WebAssembly module (once). */
export function loadWasm(): Promise<unknown>;
/** A new random table id (32 hex digits). */
export function newTableId(): string;

/**
 * Every refusal: an `Error` with a stable `code` (kebab-case) and a
 * message in words. Codes of the client: `not-at-table` (join first),
 * `no-table` (nobody opened it), `not-open`, `open-elsewhere`,
 * `not-connected`, `bad-table-id`, `no-such-bet`, `bad-options`,
 * `bad-limits`, `not-house`, `mid-roll`, `bad-chat`, `bad-table-name`,
 * `relay-refused`; of the game: `betting-closed`, `not-shooter`,
 * `not-participant`, `closed`, `too-many-waiting`, ...; of the table:
 * `insufficient-balance`, `below-minimum`, `above-maximum`,
 * `not-multiple`, `not-now`, `no-line-bet`, `banker-cannot-cover`,
 * `contract-bet-on`, `not-seated`, `already-seated`, `no-seat-open`, ...
 */
export class BitCrapsError extends Error {
  constructor(code: string, message: string);
  readonly name: 'BitCrapsError';
  readonly code: string;
}

export interface BetJson {
  player: string;
  bet: string;
  stake: number;
  /** A place or buy bet called working on the come-out. */
  working: boolean;
}
export interface SeatJson { player: string; balance: number }
export interface RollJson {
  round: number;
  dice: [number, number];
  total: number;
  pointBefore: number;
  pointAfter: number;
  sevenOut: boolean;
  commits: [string, string][];
  reveals: [string, string][];
  forfeited: [string, 'no-commit' | 'no-reveal' | 'wrong-reveal'][];
  tableHash: string;
  stateHash: string;
  results: { player: string; bet: string; stake: number; outcome: string; paid: number }[];
}
export interface TableState {
  open: boolean;
  me: string;
  round?: number;
  betting?: boolean;
  /** How many of this player's table actions no roll has taken in yet (during a roll: those that wait for the next one). */
  awaitingRoll?: number;
  closed?: boolean;
  point?: number;
  shooter?: string | null;
  banker?: string;
  bankroll?: number;
  seats?: SeatJson[];
  bets?: BetJson[];
  roster: string[];
  /** The relay has this peer at the table now (its roster came). */
  joined: boolean;
  /** This peer's moves the relay does not have yet (kept, sent after the next join). */
  waiting: number;
  /** Another tab with this key took the table over: this one acts no more (a reload takes it back). */
  elsewhere: boolean;
  stateHash?: string;
  /** The table's smallest and largest bet, in chips. */
  minBet?: number;
  maxBet?: number;
  /** Names players go by (key -> name). */
  names?: Record<string, string>;
  /** Rolls so far. */
  rolls?: number;
  /** The last 12 rolls, oldest first (older ones: `BitCrapsClient.rolls`). */
  recent?: RollJson[];
}
/** What one path delivered of a table's game frames. */
export interface PathCounts {
  /** Frames the game took from this path (from a data channel: before the relay's copy came). */
  taken: number;
  /** Frames the game already had (from a data channel: the relay's copy came first), or for a closed table. */
  ignored: number;
  /** Frames refused (forged, foreign to the path, or refused by the game). */
  refused: number;
  /** When (this page's `performance.now()`) the path last delivered a game frame, or null. */
  lastAt: number | null;
}
export interface TablePaths {
  relay: PathCounts;
  /** Per peer (its key, hex): what its data channel delivered. */
  channels: Record<string, PathCounts>;
  /** The peers whose data channel delivered a game frame in the last minute. */
  direct: string[];
}
export interface ConnectionState {
  relay: 'idle' | 'connecting' | 'open' | 'closed';
  /** The relay in use (or tried next), of those given to the constructor. */
  relayUrl: string;
  webrtc: boolean;
  /** `relay`: data channels only through the TURN server. */
  iceTransportPolicy: 'all' | 'relay';
  /** Data channel states, keyed `<table>/<peer>`. */
  peers: Record<string, 'connecting' | 'open' | 'closed'>;
  /** How each open channel runs, keyed `<table>/<peer>`: straight between
   * the browsers, through the TURN server, or not known yet. */
  routes: Record<string, 'direct' | 'turn' | null>;
  /** Per table: what the relay and each data channel delivered. */
  paths: Record<string, TablePaths>;
}

/** A table in the relay's lobby (`GET /api/tables`). */
export interface ListedTable {
  /** The table's id (32 hex digits). */
  table: string;
  /** The name its house gave it. */
  name: string;
  /** The house's key (hex). */
  house: string;
  /** Who else is in the room (players and watchers). */
  players: number;
  minBet: number;
  maxBet: number;
  /** The house's bankroll when it opened the table. */
  bankroll: number;
  /** Whether the room has no place left. */
  full: boolean;
}

/** What a decided bet did (`rolled` results, `tableClosed` payouts). */
export interface BetResultJson {
  player: string;
  bet: string;
  stake: number;
  outcome: 'win' | 'win-stays' | 'lose' | 'push' | 'none' | 'travel';
  paid: number;
}

/** Every event a `BitCrapsClient` dispatches, by type: each is a
 * `CustomEvent` whose `detail` is the value here. */
export interface BitCrapsEventMap {
  /** Who is at the table (after every join). */
  roster: { type: 'roster'; table: string; peers: string[] };
  peerJoined: { type: 'peerJoined'; table: string; peer: string };
  peerLeft: { type: 'peerLeft'; table: string; peer: string };
  /** The house announced the table: it is open. */
  table: { type: 'table'; table: string; banker: string; bankroll: number };
  /** Nobody announced the table: no such table, or it has closed. */
  noTable: { type: 'noTable'; table: string };
  houseGone: { type: 'houseGone'; table: string };
  houseBack: { type: 'houseBack'; table: string };
  /** Another tab with this key took the table over; `unsent` of this page's moves never went. */
  openElsewhere: { type: 'openElsewhere'; table: string; unsent: number };
  relayRestarted: { type: 'relayRestarted' };
  /** The game's history came from another player, checked. */
  synced: { type: 'synced'; table: string; from: string; rolls: number };
  syncRefused: { type: 'syncRefused'; table: string; from: string; reason: string };
  relayError: { type: 'relayError'; table: string; code: number; reason: string };
  /** A line said at the table, signed by its sender (this page's own too). */
  chat: { type: 'chat'; table: string; from: string; text: string };
  sat: { type: 'sat'; table: string; player: string; buyIn: number };
  boughtIn: { type: 'boughtIn'; table: string; player: string; amount: number };
  bet: { type: 'bet'; table: string; player: string; bet: string; stake: number };
  takenDown: { type: 'takenDown'; table: string; player: string; bet: string; stake: number };
  working: { type: 'working'; table: string; player: string; bet: string; working: boolean };
  left: { type: 'left'; table: string; player: string; balance: number };
  bettingClosed: { type: 'bettingClosed'; table: string; round: number };
  committed: { type: 'committed'; table: string; player: string };
  revealed: { type: 'revealed'; table: string; player: string };
  forfeited: { type: 'forfeited'; table: string; player: string; reason: 'no-commit' | 'no-reveal' | 'wrong-reveal' };
  /** The dice are in. */
  rolled: { type: 'rolled'; table: string; roll: RollJson };
  named: { type: 'named'; table: string; player: string; name: string };
  /** A participant's state after roll `round` is not this page's (`minority`: this page takes the game from the others). */
  diverged: { type: 'diverged'; table: string; round: number; player: string; theirs: string; ours: string; minority: boolean };
  roundAborted: { type: 'roundAborted'; table: string; round: number; alone: boolean };
  tableClosed: { type: 'tableClosed'; table: string; reason: 'bankerDefaulted' | 'bankrollExhausted' | 'houseGone'; paid: BetResultJson[] };
  /** Actions that came after betting closed wait for the next roll. */
  heldOver: { type: 'heldOver'; table: string; player: string; count: number };
  dicePassed: { type: 'dicePassed'; table: string; from: string; to: string };
  betReturned: { type: 'betReturned'; table: string; player: string; bet: string; stake: number };
  satOut: { type: 'satOut'; table: string; player: string };
  /** A peer's message (or a frame) was refused. */
  rejected: { type: 'rejected'; table?: string; player?: string; reason: string };
  /** The relay would not take the connection. */
  relayRefused: { type: 'relayRefused'; status: number; reason: string };
  /** The relay link (`relay`) or a data channel (`peer`, `state`) changed. */
  connection: { type: 'connection'; relay?: 'idle' | 'connecting' | 'open' | 'closed'; peer?: string; state?: 'connecting' | 'open' | 'closed' };
  /** After any of the others (no detail). */
  change: null;
}

export type BitCrapsEvent<K extends keyof BitCrapsEventMap> = CustomEvent<BitCrapsEventMap[K]>;

export class BitCrapsClient extends EventTarget {
  /** `relay`: the relay's WebSocket URL, or several of one cluster (the
   * client goes on to the next when its connection ends, resuming). */
  /** `iceTransportPolicy: 'relay'`: data channels only through the
   * operator's TURN server (other players never see this browser's
   * address). */
  constructor(options: {
    relay: string | string[];
    webrtc?: boolean;
    iceTransportPolicy?: 'all' | 'relay';
    storagePrefix?: string;
  });
  /** The relay in use (or tried next). */
  readonly relayUrl: string;
  readonly me: string;
  static version(): string;
  static betCatalog(): { bet: string; unit: number; edge: number | null }[];
  /** Loads the wasm and this browser's key. */
  start(): Promise<this>;
  close(): void;
  addEventListener<K extends keyof BitCrapsEventMap>(
    type: K,
    listener: (this: BitCrapsClient, event: BitCrapsEvent<K>) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof BitCrapsEventMap>(
    type: K,
    listener: (this: BitCrapsClient, event: BitCrapsEvent<K>) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
  /** Joins a table; with `bankroll`, opens it as its house, with these deadlines and bet limits. Throws a `BitCrapsError` for options that cannot be played. */
  joinTable(
    table: string,
    options?: { bankroll?: number; deadlineMs?: number; shooterMs?: number; minBet?: number; maxBet?: number },
  ): void;
  /** Resolves once the table has opened here; rejects (`not-at-table`, `no-table`) if it will not. */
  opened(table: string): Promise<void>;
  /** A bet at a table: the most it pays per chip ([n, d]), its house edge in percent, its stake unit. */
  betHelp(table: string, bet: string): { pays: [number, number]; edge: number | null; unit: number };
  /** (The house) Lists the table in the relay's lobby under `name` (1-40 bytes of text). */
  listTable(table: string, name: string): Promise<void>;
  /** The tables houses listed on the relay, those with the most players first. */
  listedTables(): Promise<ListedTable[]>;
  // Moves: each waits for the table to open (call them right after
  // `joinTable`), runs in the order called, and rejects with a
  // `BitCrapsError` if refused.
  sit(table: string, buyIn: number): Promise<void>;
  buyIn(table: string, amount: number): Promise<void>;
  bet(table: string, bet: string, stake: number): Promise<void>;
  takeDown(table: string, bet: string): Promise<void>;
  /** Calls a place or buy bet working on the come-out, or off again (the default). */
  setWorking(table: string, bet: string, working: boolean): Promise<void>;
  /** The name this player goes by at `table` (1-24 bytes of text). */
  setName(table: string, name: string): Promise<void>;
  /** Rolls (the shooter only). */
  roll(table: string): Promise<void>;
  /** Says a line (1-280 bytes of text) to everyone at the table. Throws a `BitCrapsError` if it cannot be sent now. */
  chat(table: string, text: string): void;
  /** Milliseconds the shooter has left to roll before the house passes its dice, or -1. */
  shooterClock(table: string): number;
  /** Leaves the table for good (every bet that may come down comes down). Throws a `BitCrapsError` (`contract-bet-on`) while a pass or come bet of this player's is on it. */
  leave(table: string): void;
  /** Whether this peer is at `table` (joined, or still following its game). */
  isAt(table: string): boolean;
  /** The table as this page sees it. Throws a `BitCrapsError` (`not-at-table`) for a table not joined. */
  state(table: string): TableState;
  /**
   * Rolls after `afterRound` (default 0: from the first this page holds),
   * oldest first, at most `max` (1,000). A page that joined a long game
   * holds the rolls since the checkpoint it took the game from (the state
   * the players signed after a recent roll), not those before it.
   */
  rolls(table: string, afterRound?: number, max?: number): RollJson[];
  verify(table: string, round: number): { round: number; ok: boolean; dice: [number, number] };
  /** The whole game so far as a transcript file (`.bctx`) for `bitcraps-verify`. */
  transcript(table: string): Uint8Array;
  connectionState(): ConnectionState;
}
