/**
 * Join latency of one gateway: socket open → joined → send and receive transports created,
 * at a steady arrival rate, against the minimal ws + mediasoup gateway in the same run.
 *
 *   npm run loadtest -- loadtest/scenarios/join-latency.ts --start-region [-e RATE=50 -e DURATION=20 -e ROUNDS=2]
 *
 * The phases alternate (baseline, ours, baseline, ours...) so drift in a noisy machine's speed
 * hits both alike; a warm-up phase of each comes first and is not reported. Each phase is a
 * constant-arrival-rate scenario (tag `target`), one after the other by startTime.
 */
import { childPids } from '@strata/harness';
import { Trend, type Goal, type Options, type ScenarioOptions, type SetupContext, type VuContext } from '../src/index.js';
import { startBaseline, type Baseline } from '../src/baselines/start.js';

const num = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const RATE = num('RATE', 50);
const DURATION_S = num('DURATION', 20);
const ROUNDS = num('ROUNDS', 2);
const ROOMS = 20;
/** Gap between phases: the previous phase's last joins finish and leave. */
const GAP_S = 3;

const scenarios: Record<string, ScenarioOptions> = {};
let at = 0;
const phase = (name: string, target: 'baseline' | 'strata', warmup: boolean): void => {
  scenarios[name] = {
    executor: 'constant-arrival-rate',
    exec: target,
    rate: RATE,
    duration: `${DURATION_S}s`,
    preAllocatedVUs: RATE * 2,
    maxVUs: RATE * 10,
    startTime: `${at}s`,
    gracefulStop: `${GAP_S}s`,
    tags: { target, warmup: String(warmup) },
  };
  at += DURATION_S + GAP_S;
};
phase('warmup_baseline', 'baseline', true);
phase('warmup_strata', 'strata', true);
for (let r = 1; r <= ROUNDS; r++) {
  phase(`baseline_${r}`, 'baseline', false);
  phase(`strata_${r}`, 'strata', false);
}

export const options: Options = {
  scenarios,
  thresholds: {
    // k6-style: errors must stay under 1 % (signaling requests answered with an error or not at all).
    'signaling_request_failed{target:strata}': ['rate<0.01'],
  },
};

const joinDuration = new Trend('join_duration');
let baseline: Baseline | undefined;

export async function setup(ctx: SetupContext): Promise<void> {
  baseline = await startBaseline('ws-gateway');
  ctx.server?.watch('ws-gateway', () => (baseline ? [baseline.pid, ...childPids(baseline.pid)] : []));
}

export async function teardown(): Promise<void> {
  await baseline?.stop();
}

export async function strata(vu: VuContext): Promise<void> {
  const i = vu.scenario.iterationInTest;
  const s = vu.session();
  const token = await vu.target.mintToken({ room: `load-${i % ROOMS}`, identity: `u${i}` });
  const t0 = performance.now();
  await s.join({ token });
  await s.createTransports();
  joinDuration.add(performance.now() - t0);
  await s.leave();
}

export async function baselineFlow(vu: VuContext): Promise<void> {
  if (!baseline) throw new Error('baseline not started');
  const s = vu.session({ url: baseline.url, reconnect: false });
  const t0 = performance.now();
  await s.joinRaw({ room: `load-${vu.scenario.iterationInTest % ROOMS}` });
  await s.createTransports();
  joinDuration.add(performance.now() - t0);
  await s.leave();
}
export { baselineFlow as baseline };

export function goals(): Goal[] {
  const b = joinDuration.values({ target: 'baseline', warmup: 'false' });
  const o = joinDuration.values({ target: 'strata', warmup: 'false' });
  const row = (name: string, v: typeof b): string =>
    `${name.padEnd(9)} n=${v.count} p50=${v.med.toFixed(1)} p95=${v.percentile(95).toFixed(1)} p99=${v.percentile(99).toFixed(1)} max=${v.max.toFixed(1)} ms`;
  process.stdout.write(
    `\njoin latency (socket open → joined + 2 transports), ${RATE} joins/s, ${ROUNDS} × ${DURATION_S} s per target\n${row('baseline', b)}\n${row('strata', o)}\n`,
  );
  // The goals (issue 14): p50 at most 3× the baseline's, p99 under 50 ms; p95 is context.
  const bounds: Record<number, { maxRatio?: number; max?: number }> = { 50: { maxRatio: 3 }, 95: {}, 99: { max: 50 } };
  return [50, 95, 99].map((pct) => {
    const value = o.percentile(pct);
    const baseline = b.percentile(pct);
    const ratio = value / baseline;
    const bound = bounds[pct] ?? {};
    const ok = Number.isFinite(ratio) && (bound.maxRatio === undefined || ratio <= bound.maxRatio) && (bound.max === undefined || value < bound.max);
    const want = bound.maxRatio !== undefined ? ` (≤ ${bound.maxRatio}×)` : bound.max !== undefined ? ` (< ${bound.max} ms)` : '';
    return {
      name: `join p${pct} strata / baseline${want}`,
      ok,
      detail: `${value.toFixed(1)} / ${baseline.toFixed(1)} ms = ${ratio.toFixed(2)}`,
      figure: { value, baseline, unit: 'ms', ...bound },
    };
  });
}
