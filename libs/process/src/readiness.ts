import { connect } from 'node:net';

/**
 * When a started process counts as ready: a line of its output that matches (the match is
 * handed back, so a line like `PORT 4567` can say where it listens), or a check asked again
 * every `everyMs` until it answers true.
 */
export type Readiness = RegExp | ReadyCheck;

export interface ReadyCheck {
  /** What is waited for, for the timeout message: "127.0.0.1:4222 accepts connections". */
  what: string;
  /** true once ready; a throw counts as not yet (its message goes into the timeout error). */
  check(): boolean | Promise<boolean>;
  /** Default 50 ms. */
  everyMs?: number;
}

/** Ready once a TCP connection to host:port succeeds. */
export function portOpen(port: number, host = '127.0.0.1'): ReadyCheck {
  return {
    what: `${host}:${port} accepts connections`,
    check: () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, host);
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
  };
}

/** Ready once GET `url` answers 2xx. Each try gives up after `tryTimeoutMs` (a server that accepts but never answers). */
export function httpOk(url: string, tryTimeoutMs = 2000): ReadyCheck {
  return {
    what: `GET ${url} answers 2xx`,
    check: async () => (await fetch(url, { signal: AbortSignal.timeout(tryTimeoutMs) })).ok,
    everyMs: 100,
  };
}

export function describeReadiness(ready: Readiness): string {
  return ready instanceof RegExp ? `a log line matching ${ready}` : ready.what;
}
