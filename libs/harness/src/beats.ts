import type { EventOf, Heartbeat } from '@strata/protocol';

/** A media node's heartbeat with the given load, for tests of whatever reads heartbeats. */
export function mediaBeat(id: string, score = 0, routers = 0, draining = false, intervalMs = 60_000): EventOf<typeof Heartbeat> {
  return {
    kind: 'media',
    id,
    region: 't',
    version: '0',
    startedAt: 0,
    ts: Date.now(),
    intervalMs,
    endpoints: {},
    load: { score, cpu: 0, rssBytes: 0, details: { routers } },
    draining,
  };
}
