/**
 * Reconnect storm: RECONNECT_SESSIONS (default 1,000) joined sessions drop their sockets at
 * the same moment (as a network blip would: no close handshake, no leave) and resume with
 * their resume tokens through @strata/client's own reconnect logic.
 *
 *   npm run loadtest -- loadtest/scenarios/reconnect-storm.ts --start-region
 *   npm run loadtest -- loadtest/scenarios/reconnect-storm.ts --start-region -e RECONNECT_SESSIONS=200
 *
 * Sessions join at RECONNECT_JOIN_RATE/s (default 100) in rooms of 10, create their
 * transports, wait for every other one, then all sockets are killed in one tick. Goals: every
 * session resumes within the gateway's grace period, 0 lost; the time from the drop to the
 * last resume is printed (`time_to_all_resumed`), and each session's resume time is a trend.
 */
import { Counter, Gauge, Trend, sleep, type Goal, type Options, type VuContext } from '../src/index.js';

const num = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const SESSIONS = num('RECONNECT_SESSIONS', 1000);
const JOIN_RATE = num('RECONNECT_JOIN_RATE', 100);
const ROOM_SIZE = 10;

export const options: Options = {
  scenarios: {
    reconnect: { executor: 'per-vu-iterations', vus: SESSIONS, iterations: 1, maxDuration: '10m', gracefulStop: '30s' },
  },
  thresholds: {
    sessions_lost: ['count==0'],
    checks: ['rate==1'],
  },
};

const resumeDuration = new Trend('resume_duration');
const resumed = new Counter('sessions_resumed');
const lost = new Counter('sessions_lost');
const allResumed = new Gauge('time_to_all_resumed', true);
const joinFailed = new Counter('joins_failed');

/** Every VU reports here; the drop happens when all have joined (or failed to). */
let arrived = 0;
let releaseDrop: (at: number) => void = () => undefined;
const dropAt = new Promise<number>((r) => (releaseDrop = r));
let settled = 0;
let lastResumeAt = 0;
let graceMs = 0;
let releaseDone: () => void = () => undefined;
const allSettled = new Promise<void>((r) => (releaseDone = r));

function arrive(): void {
  if (++arrived === SESSIONS) releaseDrop(performance.now());
}

/** Resolves allSettled once every joined session has resumed or been lost. */
function checkDone(): void {
  if (arrived === SESSIONS && settled >= SESSIONS - joinFailed.values(1).count) releaseDone();
}

export default async function (vu: VuContext): Promise<void> {
  const i = vu.scenario.iterationInTest;
  await sleep(i / JOIN_RATE);
  const s = vu.session({ requestTimeoutMs: 30_000 });
  try {
    const joined = await s.join({ room: `reconnect-${Math.floor(i / ROOM_SIZE)}`, identity: `u${i}` });
    graceMs = joined.resumeGraceMs;
    await s.createTransports();
  } catch (err) {
    joinFailed.add(1);
    arrive();
    checkDone();
    throw err;
  }
  const outcome = new Promise<'resumed' | 'lost'>((resolve) => {
    s.client.on('resumed', () => resolve('resumed'));
    s.client.on('closed', () => resolve('lost'));
  });
  arrive();
  const t0 = await dropAt;
  s.client.dropConnectionForTest();
  const result = await outcome;
  if (result === 'resumed') {
    const dt = performance.now() - t0;
    resumeDuration.add(dt);
    resumed.add(1);
    lastResumeAt = Math.max(lastResumeAt, dt);
    // The session is really back: a request on it is answered.
    const caps = await s.request('getRouterRtpCapabilities', {}).catch(() => undefined);
    vu.check(caps, { 'resumed session answers': (c) => c !== undefined });
  } else {
    lost.add(1);
  }
  settled++;
  checkDone();
  await allSettled;
  if (lastResumeAt > 0) allResumed.add(lastResumeAt);
  await s.leave();
}

export function goals(): Goal[] {
  const n = resumed.values(1).count;
  const l = lost.values(1).count;
  const failed = joinFailed.values(1).count;
  return [
    { name: `all ${SESSIONS} sessions joined before the drop`, ok: failed === 0, detail: `${SESSIONS - failed} joined, ${failed} failed` },
    { name: '0 lost sessions', ok: l === 0 && n === SESSIONS - failed, detail: `${n} resumed, ${l} lost` },
    {
      name: 'all resumed within the grace period',
      ok: n > 0 && lastResumeAt <= graceMs,
      detail: `time to all resumed ${lastResumeAt.toFixed(0)} ms (grace ${graceMs} ms); resume p50 ${resumeDuration.values().med.toFixed(0)} ms, p99 ${resumeDuration.values().percentile(99).toFixed(0)} ms`,
    },
  ];
}
