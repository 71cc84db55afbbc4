// Types for bitcraps-table.js: the <bitcraps-table> element.
import type { BitCrapsClient } from './bitcraps.js';

/** The element's own events (besides every standard one). */
export interface BitCrapsTableEventMap extends HTMLElementEventMap {
  /** The element entered a table (from its attribute, the page's URL, or the lobby). */
  table: CustomEvent<{ table: string }>;
  /** A line the element shows the player (a refusal, a catch-up, ...); `fleeting` ones clear themselves. */
  say: CustomEvent<{ text: string; fleeting: boolean }>;
}

/**
 * A whole craps table. Attributes: `relay` (the relay's WebSocket URL, or
 * several of one cluster separated by spaces or commas;
 * default: this page's host + `/ws`), `table` (a table id; else the page
 * URL's `?table=`, else the lobby), `webrtc="off"` (relay only) or
 * `webrtc="turn"` (data channels through TURN only), `deadline` and
 * `shooter` (ms, for a table it opens as the house).
 */
export class BitCrapsTable extends HTMLElement {
  static readonly observedAttributes: string[];
  /** The client the element plays through, once it has started. */
  readonly peer: BitCrapsClient | undefined;
  /** The table it shows, or null in the lobby. */
  readonly table: string | null;
  addEventListener<K extends keyof BitCrapsTableEventMap>(
    type: K,
    listener: (this: BitCrapsTable, event: BitCrapsTableEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'bitcraps-table': BitCrapsTable;
  }
}
