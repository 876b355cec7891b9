/**
 * What a script sees: k6's `check()` and `sleep()` as module-level functions, and the VU
 * context passed to each iteration (k6's __VU, __ITER, __ENV, plus the Strata target and
 * session factories).
 */
import { NodePeer } from '@strata/harness';
import { vuStore } from './context-store.js';
import { builtin, type Tags } from './metrics.js';
import { Session, type SessionOptions, type Target } from './session.js';

/**
 * k6's check: every predicate is evaluated, each result is a sample of the `checks` rate
 * (tagged `check: <name>`); true when all passed. A predicate that throws fails.
 */
export function check<T>(value: T, checks: Record<string, (v: T) => boolean>, tags?: Tags): boolean {
  let all = true;
  for (const [name, fn] of Object.entries(checks)) {
    let ok: boolean;
    try {
      ok = fn(value) === true;
    } catch {
      ok = false;
    }
    builtin.checks.add(ok, { ...tags, check: name });
    all &&= ok;
  }
  return all;
}

/** k6's sleep, in seconds (not cut short by the VU's stop: use vu.hold() to wait for that). */
export function sleep(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, seconds * 1000)));
}

export interface VuContext<D = unknown> {
  /** k6's __VU */
  readonly vu: number;
  /** k6's __ITER */
  readonly iter: number;
  readonly scenario: { name: string; stage: number; iterationInTest: number };
  /** k6's __ENV: the process environment, then `--env K=V` flags, then the scenario's env. */
  readonly env: Readonly<Record<string, string>>;
  readonly target: Target;
  /** What setup() returned. */
  readonly data: D;
  /** This VU is a media VU (the scenario's mediaShare): attach a WebRTC peer with mediaPeer(). */
  readonly media: boolean;
  /** Aborted when the executor wants the VU to finish (scenario end, ramp-down). */
  readonly stopping: AbortSignal;
  /** A signaling client (not yet connected); closed with `leave` at the end of the iteration if still open. */
  session(opts?: SessionOptions): Session;
  /** A real WebRTC participant (msc-node/werift) sending Opus + VP8 RTP; left at the end of the iteration. */
  mediaPeer(opts: { room: string; identity: string; publish?: { audio?: boolean; video?: boolean } }): Promise<NodePeer>;
  /** Waits until `stopping` aborts, or `maxSeconds` if given: how a VU holds a session for the scenario's life. */
  hold(maxSeconds?: number): Promise<void>;
  check: typeof check;
  sleep: typeof sleep;
}

export interface IterationResources {
  sessions: Session[];
  peers: NodePeer[];
}

export function makeContext<D>(base: Omit<VuContext<D>, 'session' | 'mediaPeer' | 'hold' | 'check' | 'sleep'>, resources: IterationResources): VuContext<D> {
  return {
    ...base,
    session(opts) {
      const s = new Session(base.target, opts);
      resources.sessions.push(s);
      return s;
    },
    async mediaPeer(opts) {
      const token = await base.target.mintToken({ room: opts.room, identity: opts.identity });
      const t0 = performance.now();
      const peer = await NodePeer.join({ wsUrl: base.target.wsUrl, token, name: opts.identity, ...(opts.publish ? { publish: opts.publish } : {}) });
      builtin.mediaPeerJoin.add(performance.now() - t0);
      builtin.wsSessions.add(1, { media: 'true' });
      resources.peers.push(peer);
      return peer;
    },
    hold(maxSeconds) {
      return new Promise((resolve) => {
        if (base.stopping.aborted) return resolve();
        const done = (): void => {
          clearTimeout(t);
          base.stopping.removeEventListener('abort', done);
          resolve();
        };
        const t = maxSeconds === undefined ? undefined : setTimeout(done, maxSeconds * 1000);
        base.stopping.addEventListener('abort', done, { once: true });
      });
    },
    check,
    sleep,
  };
}

/** What the iteration left open: leave politely (a drop would hold the session for its grace period). */
export async function releaseResources(r: IterationResources): Promise<void> {
  await Promise.allSettled([...r.sessions.filter((s) => !s.left).map((s) => s.leave()), ...r.peers.map((p) => p.leave())]);
  r.sessions.length = 0;
  r.peers.length = 0;
}

export { vuStore };
