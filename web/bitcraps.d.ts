// Types for bitcraps.js (the wasm bindings' own types are generated into
// pkg/bitcraps_client.d.ts by wasm-bindgen).

/** Loads the WebAssembly module (once). */
export function loadWasm(): Promise<unknown>;
/** A new random table id (32 hex digits). */
export function newTableId(): string;

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
  webrtc: boolean;
  /** Data channel states, keyed `<table>/<peer>`. */
  peers: Record<string, 'connecting' | 'open' | 'closed'>;
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

export class BitCrapsClient extends EventTarget {
  constructor(options: { relay: string; webrtc?: boolean; storagePrefix?: string });
  readonly me: string;
  static version(): string;
  static betCatalog(): { bet: string; unit: number; edge: number | null }[];
  start(): Promise<this>;
  close(): void;
  /** Joins a table; with `bankroll`, opens it as its house, with these deadlines and bet limits. */
  joinTable(
    table: string,
    options?: { bankroll?: number; deadlineMs?: number; shooterMs?: number; minBet?: number; maxBet?: number },
  ): void;
  /** A bet at a table: the most it pays per chip ([n, d]), its house edge in percent, its stake unit. */
  betHelp(table: string, bet: string): { pays: [number, number]; edge: number | null; unit: number };
  /** (The house) Lists the table in the relay's lobby under `name` (1-40 bytes of text). */
  listTable(table: string, name: string): void;
  /** The tables houses listed on the relay, those with the most players first. */
  listedTables(): Promise<ListedTable[]>;
  sit(table: string, buyIn: number): void;
  buyIn(table: string, amount: number): void;
  bet(table: string, bet: string, stake: number): void;
  takeDown(table: string, bet: string): void;
  /** Calls a place or buy bet working on the come-out, or off again (the default). */
  setWorking(table: string, bet: string, working: boolean): void;
  /** Says a line (1-280 bytes of text) to everyone at the table. */
  chat(table: string, text: string): void;
  /** Milliseconds the shooter has left to roll before the house passes its dice, or -1. */
  shooterClock(table: string): number;
  /** The name this player goes by at `table` (1-24 bytes of text). */
  setName(table: string, name: string): void;
  roll(table: string): void;
  leave(table: string): void;
  /** Whether this peer is at `table` (joined, or still following its game). */
  isAt(table: string): boolean;
  state(table: string): TableState;
  /**
   * Rolls after `afterRound` (default 0: from the first this page holds),
   * oldest first, at most `max` (1,000). A page that joined a long game
   * holds the rolls since the checkpoint it took the game from (the state
   * the players signed after a recent roll), not those before it.
   */
  rolls(table: string, afterRound?: number, max?: number): RollJson[];
  verify(table: string, round: number): { round: number; ok: boolean; dice: [number, number] };
  connectionState(): ConnectionState;
}
