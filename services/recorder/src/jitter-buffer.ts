/**
 * Puts RTP back in sequence order before depacketizing. UDP reorders and loses; a depacketizer
 * and a muxer want packets in order, each one once, and to be told when some will never come.
 *
 * Bounds, whatever arrives: at most `maxPackets` sequence numbers are held (the window from the next
 * one to release to the highest seen), and nothing is held longer than `maxDelayMs` of arrival time.
 * When either bound trips, the missing numbers before the oldest held packet are declared lost (one
 * gap event with the count) and the buffer moves on. A packet that then arrives late is dropped.
 */

export interface JitterBufferOptions {
  /** Window of sequence numbers held waiting for a missing one; default 50 (1 s of Opus, ~0.3 s of VP8 at 300 kb/s). */
  maxPackets?: number;
  /** How long a packet waits for the ones before it; default 100 ms of arrival time. */
  maxDelayMs?: number;
  /** Milliseconds, monotonic; injectable for tests. */
  now?: () => number;
}

export type JitterEvent<T> = { kind: 'packet'; seq: number; packet: T } | { kind: 'gap'; firstSeq: number; count: number };

export interface JitterStats {
  /** A sequence number already held or released. */
  duplicates: number;
  /** Arrived after its number was declared lost, or far behind the stream. */
  late: number;
  /** Sequence numbers declared lost. */
  lost: number;
  gaps: number;
}

/** How many of the last sequence numbers released or lost are remembered, to tell a duplicate from a late packet. */
const HISTORY = 1024;

export class JitterBuffer<T> {
  readonly #maxPackets: number;
  readonly #maxDelayMs: number;
  readonly #now: () => number;
  /** Extended (unwrapped) sequence numbers: 16-bit RTP numbers plus 65536 per wrap, safe integers for ages. */
  #next: number | undefined;
  #highest = 0;
  readonly #held = new Map<number, { packet: T; arrival: number }>();
  /** Bit per recent extended number below #next: 1 released, 0 lost. */
  readonly #history = new Uint8Array(HISTORY);
  readonly stats: JitterStats = { duplicates: 0, late: 0, lost: 0, gaps: 0 };

  constructor(opts: JitterBufferOptions = {}) {
    this.#maxPackets = Math.max(1, opts.maxPackets ?? 50);
    this.#maxDelayMs = opts.maxDelayMs ?? 100;
    this.#now = opts.now ?? (() => performance.now());
  }

  /** Packets held now (for tests and stats). */
  get held(): number {
    return this.#held.size;
  }

  /** The 16-bit number unwrapped against the highest seen: the nearest extended number with those low 16 bits. */
  unwrap(seq: number): number {
    const delta = (((seq & 0xffff) - (this.#highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
    return this.#highest + delta;
  }

  /** A packet as it arrives; returns what can be released now, in order. */
  push(seq16: number, packet: T): JitterEvent<T>[] {
    const out: JitterEvent<T>[] = [];
    if (this.#next === undefined) {
      // Start the extended numbers one wrap up, so a packet from just before the first is not negative.
      const ext = 0x10000 + (seq16 & 0xffff);
      this.#highest = ext;
      this.#next = ext + 1;
      this.#remember(ext, 1);
      out.push({ kind: 'packet', seq: ext, packet });
      return out;
    }
    const ext = this.unwrap(seq16);
    if (ext < this.#next) {
      if (this.#next - ext <= HISTORY && this.#history[ext % HISTORY] === 1) this.stats.duplicates++;
      else this.stats.late++;
      return out;
    }
    if (this.#held.has(ext)) {
      this.stats.duplicates++;
      return out;
    }
    this.#held.set(ext, { packet, arrival: this.#now() });
    if (ext > this.#highest) this.#highest = ext;
    this.#drain(out);
    this.#enforceBounds(out);
    return out;
  }

  /** Releases what has waited too long; call on a timer, so that a loss is declared even when the stream stops. */
  poll(): JitterEvent<T>[] {
    const out: JitterEvent<T>[] = [];
    this.#enforceBounds(out);
    return out;
  }

  /** Everything held, in order, the holes declared lost (at the end of a recording). */
  flush(): JitterEvent<T>[] {
    const out: JitterEvent<T>[] = [];
    while (this.#held.size > 0) this.#skipToOldestHeld(out);
    return out;
  }

  #drain(out: JitterEvent<T>[]): void {
    for (let h = this.#held.get(this.#next!); h !== undefined; h = this.#held.get(this.#next!)) {
      this.#held.delete(this.#next!);
      this.#remember(this.#next!, 1);
      out.push({ kind: 'packet', seq: this.#next!, packet: h.packet });
      this.#next!++;
    }
  }

  #enforceBounds(out: JitterEvent<T>[]): void {
    while (this.#held.size > 0) {
      const tooDeep = this.#highest - this.#next! + 1 > this.#maxPackets;
      let oldestArrival = Infinity;
      for (const h of this.#held.values()) if (h.arrival < oldestArrival) oldestArrival = h.arrival;
      const tooLong = this.#now() - oldestArrival >= this.#maxDelayMs;
      if (!tooDeep && !tooLong) return;
      this.#skipToOldestHeld(out);
    }
  }

  /** Declares the numbers from #next to the lowest held one lost, then releases what follows in order. */
  #skipToOldestHeld(out: JitterEvent<T>[]): void {
    let lowest = Infinity;
    for (const k of this.#held.keys()) if (k < lowest) lowest = k;
    const count = lowest - this.#next!;
    if (count > 0) {
      out.push({ kind: 'gap', firstSeq: this.#next!, count });
      this.stats.lost += count;
      this.stats.gaps++;
      // A gap wider than the history only needs its last HISTORY numbers marked.
      for (let s = Math.max(this.#next!, lowest - HISTORY); s < lowest; s++) this.#remember(s, 0);
      this.#next = lowest;
    }
    this.#drain(out);
  }

  #remember(ext: number, released: 0 | 1): void {
    this.#history[ext % HISTORY] = released;
  }
}
