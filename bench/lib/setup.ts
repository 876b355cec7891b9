/** What the benchmark needs from a set-up under test (bare mediasoup, or our media service). */
import type { Ingest, Receiver } from './media-params.js';

export interface CpuSample {
  /** The mediasoup worker, user + system, ms since it started. */
  workerMs: number;
  /** The Node process that drives the worker (bare: the benchmark itself; ours: the media service). */
  controlMs: number;
}

export interface ForwardingSetup {
  readonly name: 'bare' | 'ours';
  /** The two comedia PlainTransports the sender's RTP must go to. */
  readonly ingest: Ingest;
  /** Receivers created so far (each one PlainTransport with a VP8 and an Opus consumer, resumed). */
  readonly receivers: readonly Receiver[];
  /** Adds one receiver per sink port: transport connected to the sink, both consumers created and resumed. */
  addReceivers(sinkPorts: number[]): Promise<void>;
  /**
   * Pauses or resumes the two producers. The sender's RTP keeps arriving either way, so the
   * producer side never sees a gap; paused, no consumer sends anything.
   */
  setForwarding(on: boolean): Promise<void>;
  cpu(): Promise<CpuSample>;
  /** Pids whose CPU this set-up's figure includes (for the report). */
  describe(): string;
  close(): Promise<void>;
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects on the first failure. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(lanes);
  return out;
}
