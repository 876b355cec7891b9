/**
 * Churn soak: steady joins and leaves in many small rooms, for a long time.
 *
 *   npm run loadtest -- loadtest/scenarios/churn-soak.ts --start-region
 *   npm run loadtest -- loadtest/scenarios/churn-soak.ts --start-region -e CHURN_JOINS=3000   (a minute)
 *
 * Joins arrive at CHURN_RATE/s (default 50) until CHURN_JOINS (default 100,000: about 35 min).
 * Each join goes to the room of its ordinal / ROOM_SIZE, so rooms fill, empty and close all the
 * time (a new room every ROOM_SIZE joins). A VU joins with a token, creates its two transports,
 * publishes audio, consumes what the room already publishes, stays CHURN_HOLD seconds, leaves.
 *
 * Goals: p50 and p99 of the last 10 % of joins within 1.25× those of the first 10 %; gateway and
 * nats-server RSS flat over the run (last / first ≤ 1.2); nothing left behind once the rooms are
 * empty (KV keys and markers, NATS subscriptions, the gateway's sessions / rooms / timers, the
 * media node's routers / transports / producers / consumers), against counts taken before.
 *
 * The measured joins follow a warm-up of CHURN_WARMUP seconds (default 600) of the same load in
 * rooms of their own, not judged: a process just started holds none of its working set yet (the
 * gateway's heap and JIT). nats-server no longer needs one: with the two churned buckets on file
 * storage it kept each one's last 4 MiB block in memory and its RSS climbed for minutes, then
 * sawed; in memory storage (`memoryBuckets`) it stays at about 18–19 MiB. "Flat" is judged after
 * the warm-up; the RSS over the whole run, warm-up included, is printed beside it.
 */
import {
  Counter,
  Session,
  Trend,
  check,
  type Goal,
  type Options,
  type ScenarioOptions,
  type SetupContext,
  type SummaryExport,
  type VuContext,
} from '../src/index.js';
import { isSignalingError } from '@strata/client';
import { LeftoverCounter, diffLeftovers, type LeftoverCounts } from '../src/leftovers.js';

const env = (k: string, d: number): number => {
  const v = process.env[k];
  return v === undefined || v === '' ? d : Number(v);
};
// __ENV is per VU in k6; options are read once at load, from the process env and `-e` flags (the CLI sets both).
const RATE = env('CHURN_RATE', 50);
const JOINS = env('CHURN_JOINS', 100_000);
const HOLD_S = env('CHURN_HOLD', 2);
const ROOM_SIZE = env('CHURN_ROOM_SIZE', 4);
/** Per signaling request, seconds (the SDK's default is 10). */
const REQUEST_TIMEOUT_S = env('CHURN_REQUEST_TIMEOUT', 10);
/** Share of the VUs (0..1) that are real WebRTC peers instead of signaling-only clients (`mediaShare`). */
const MEDIA_SHARE = env('CHURN_MEDIA_SHARE', 0);
const WARMUP_S = env('CHURN_WARMUP', 600);
/**
 * How long teardown waits for the region to be back to its baseline: media rooms close on an
 * idle timer, and a session whose leave got no answer is dropped, so it waits out the gateway's
 * resume grace period. Default: that grace period + 15 s.
 */
const SETTLE_S = process.env['CHURN_SETTLE'] ? Number(process.env['CHURN_SETTLE']) : undefined;
let graceMs = 30_000;

const churnAt = (durationS: number, startS: number, kind: string): ScenarioOptions => ({
  executor: 'constant-arrival-rate',
  rate: RATE,
  timeUnit: '1s',
  duration: `${durationS.toFixed(3)}s`,
  startTime: `${startS}s`,
  preAllocatedVUs: Math.ceil(RATE * (HOLD_S + 1)),
  maxVUs: Math.ceil(RATE * (HOLD_S + 1) * 4),
  gracefulStop: '30s',
  tags: { kind },
  mediaShare: MEDIA_SHARE,
});
// The warm-up's last sessions leave (HOLD_S) before the measured joins start.
const WARMUP_GAP_S = WARMUP_S > 0 ? Math.ceil(HOLD_S) + 5 : 0;

export const options: Options = {
  scenarios: {
    ...(WARMUP_S > 0 ? { warmup: churnAt(WARMUP_S, 0, 'warmup') } : {}),
    churn: churnAt(JOINS / RATE, WARMUP_S > 0 ? WARMUP_S + WARMUP_GAP_S : 0, 'churn'),
  },
  thresholds: {
    checks: ['rate>0.99'],
    join_duration: ['p(99)<1000'],
  },
};

/**
 * For --start-region: rooms close MEDIA_ROOM_IDLE_TIMEOUT after their last transport, and a
 * dropped session is removed after SIGNALING_RESUME_GRACE; both short here, so the leftovers
 * settle within seconds of the last leave.
 */
export const regionOptions = { env: { MEDIA_ROOM_IDLE_TIMEOUT: '1s', SIGNALING_RESUME_GRACE: '5s' } };

const joinDuration = new Trend('join_duration');
const joinsDone = new Counter('joins');
/** Media VUs (CHURN_MEDIA_SHARE): socket open → joined → transports → audio published, over ICE/DTLS. */
const mediaJoinDuration = new Trend('media_join_duration');
/** consume / resumeConsumer refused because the producer's peer left meanwhile: churn's own race, counted apart. */
const consumeFailed = new Counter('consume_failed');

export async function setup(ctx: SetupContext): Promise<{ baseline: LeftoverCounts | undefined }> {
  if (!ctx.target.natsUrl) {
    process.stderr.write('churn-soak: no NATS URL (--nats-url or --start-region): leftovers are not counted\n');
    return { baseline: undefined };
  }
  const counter = await LeftoverCounter.open({ natsUrl: ctx.target.natsUrl, natsMonitorUrl: ctx.target.natsMonitorUrl, region: ctx.target.region });
  leftovers = counter;
  // One join first, so the KV buckets, the JetStream streams behind them and every lazily made
  // subscription exist before the baseline; then wait for its room to close.
  const warm = new Session(ctx.target);
  graceMs = (await warm.join({ room: 'churn-warmup', identity: 'warmup' })).resumeGraceMs;
  await warm.createTransports();
  await warm.leave();
  const baseline = await counter.quiesce(settleMs());
  ctx.record('leftovers_baseline', baseline);
  return { baseline };
}

let leftovers: LeftoverCounter | undefined;
const settleMs = (): number => (SETTLE_S !== undefined ? SETTLE_S * 1000 : graceMs + 15_000);

export default async function (vu: VuContext): Promise<void> {
  const i = vu.scenario.iterationInTest;
  const warmup = vu.scenario.name === 'warmup';
  const phase = warmup ? 'warmup' : i < JOINS * 0.1 ? 'first' : i >= JOINS * 0.9 ? 'last' : 'middle';
  const room = `${warmup ? 'warm' : 'churn'}-${Math.floor(i / ROOM_SIZE)}`;
  if (vu.media) {
    // A media VU: a real WebRTC peer publishing audio, receiving whatever the room sends.
    const t0 = performance.now();
    const peer = await vu.mediaPeer({ room, identity: `m${i}`, publish: { audio: true, video: false } });
    mediaJoinDuration.add(performance.now() - t0, { phase });
    check(peer, { 'joined the room': (p) => p.room.roomId === room });
    if (!warmup) joinsDone.add(1, { media: 'true' });
    await vu.sleep(HOLD_S);
    await peer.leave();
    return;
  }
  const s = vu.session({ requestTimeoutMs: REQUEST_TIMEOUT_S * 1000 });
  const t0 = performance.now();
  const joined = await s.join({ room, identity: `u${i}` });
  await s.createTransports();
  joinDuration.add(performance.now() - t0, { phase });
  await s.produce('audio');
  for (const p of joined.peers)
    for (const pr of p.producers)
      await s.consume(pr.producerId).catch((err: unknown) => consumeFailed.add(1, { code: isSignalingError(err) ? err.code : 'error' }));
  check(joined, { 'joined the room': (j) => j.roomId === room });
  if (!warmup) joinsDone.add(1);
  await vu.sleep(HOLD_S);
  await s.leave();
}

export async function teardown(_ctx: SetupContext, data: { baseline: LeftoverCounts | undefined }): Promise<unknown> {
  const counter = leftovers;
  if (!counter || !data.baseline) return undefined;
  try {
    const after = await counter.settle(data.baseline, settleMs());
    return { leftovers: after, diff: diffLeftovers(data.baseline, after) };
  } finally {
    await counter.close();
  }
}

export function goals(s: SummaryExport): Goal[] {
  const out: Goal[] = [];
  // Sub-metrics by phase are read from the metric itself: the summary carries only the whole.
  const first = joinDuration.values({ phase: 'first' });
  const last = joinDuration.values({ phase: 'last' });
  for (const [label, pct] of [
    ['p50', 50],
    ['p99', 99],
  ] as const) {
    const a = first.percentile(pct);
    const b = last.percentile(pct);
    out.push({
      name: `join ${label} last 10% / first 10% ≤ 1.25`,
      ok: b / a <= 1.25,
      detail: `${b.toFixed(1)} / ${a.toFixed(1)} ms = ${(b / a).toFixed(2)}`,
      figure: { value: b, baseline: a, unit: 'ms', maxRatio: 1.25 },
    });
  }
  // The measured joins' window: the warm-up is before it.
  const win = s.server?.scenarios['churn']?.processes;
  const whole = s.server?.processes;
  const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
  for (const proc of ['gateway', 'nats-server']) {
    const f = win?.[proc];
    const w = whole?.[proc];
    const withWarmup =
      WARMUP_S > 0 && w ? `; whole run, warm-up included: ${mib(w.rss_last)} / ${mib(w.rss_first)} MiB = ${w.rss_last_over_first.toFixed(3)}` : '';
    out.push(
      f
        ? {
            name: `${proc} RSS last / first ≤ 1.2`,
            ok: f.rss_last_over_first <= 1.2,
            figure: { value: f.rss_last / 2 ** 20, baseline: f.rss_first / 2 ** 20, unit: 'MiB', maxRatio: 1.2 },
            detail: `${mib(f.rss_last)} / ${mib(f.rss_first)} MiB = ${f.rss_last_over_first.toFixed(3)}${withWarmup}`,
          }
        : { name: `${proc} RSS last / first ≤ 1.2`, ok: false, detail: 'not sampled (no pid)' },
    );
  }
  const td = s.extra['teardown'] as { diff: { what: string; baseline: number; now: number }[] } | undefined;
  out.push(
    td
      ? {
          name: 'nothing left behind once the rooms are empty',
          ok: td.diff.length === 0,
          detail: td.diff.length ? td.diff.map((d) => `${d.what} ${d.baseline} → ${d.now}`).join(', ') : 'every count back to its baseline',
        }
      : { name: 'nothing left behind once the rooms are empty', ok: false, detail: 'not counted (no NATS URL)' },
  );
  return out;
}
