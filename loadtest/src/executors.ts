/**
 * k6's executors: when iterations start and on how many VUs.
 *
 * - constant-vus: N VUs loop for a duration (closed model).
 * - ramping-vus: the VU count follows linear stages; removed VUs finish their iteration
 *   within gracefulRampDown.
 * - constant-arrival-rate / ramping-arrival-rate: iterations start on a schedule whatever the
 *   system's latency (open model, so a slow server shows up as latency, not as a lower rate).
 *   An iteration due while every VU is busy and maxVUs are allocated is dropped and counted.
 * - per-vu-iterations: each of N VUs runs a fixed number of iterations.
 *
 * At a scenario's end running iterations get gracefulStop to finish (their VU's `stopping`
 * signal aborts, so a script holding a session can leave); what still runs after that is
 * abandoned and counted as interrupted.
 */
import type { Clock } from './clock.js';
import { parseDuration, type Stage, type ScenarioOptions } from './options.js';

export interface Vu {
  /** 1-based, unique across the run (k6's __VU). */
  readonly id: number;
  /** Iterations this VU has started in its scenario (k6's __ITER of the next one). */
  iterations: number;
  /** Aborted when the executor wants this VU to finish (end, ramp-down, hard stop). */
  readonly stop: AbortController;
}

export interface IterationInfo {
  /** Index of the stage the iteration started in (ramping executors), else 0. */
  stage: number;
}

export interface ExecutorEnv {
  clock: Clock;
  /** A new VU with a run-unique id. */
  newVu(): Vu;
  /** Runs one iteration; never rejects (the runner counts errors). */
  iterate(vu: Vu, info: IterationInfo): Promise<void>;
  onDropped(): void;
  /** Hard stop of the whole run (Ctrl-C, abortOnFail): nothing new starts; running iterations get gracefulStop. */
  hardStop: AbortSignal;
}

export interface ExecutorResult {
  iterations: number;
  dropped: number;
  /** Iterations abandoned after gracefulStop / gracefulRampDown. */
  interrupted: number;
  vusAllocated: number;
}

const DEFAULT_GRACE = '30s';
/** How often ramping-vus re-reads its target. */
const RAMP_TICK_MS = 50;

/** Iterations in flight, so a scenario's end knows what it abandons. */
class Tracker {
  inFlight = new Set<Promise<void>>();
  iterations = 0;
  dropped = 0;
  vus: Vu[] = [];

  constructor(readonly env: ExecutorEnv) {}

  newVu(): Vu {
    const vu = this.env.newVu();
    this.vus.push(vu);
    return vu;
  }

  run(vu: Vu, info: IterationInfo): Promise<void> {
    this.iterations++;
    const p = this.env.iterate(vu, info);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Signals every VU to stop, waits up to `graceMs` for `work`, reports what is abandoned. */
  async finish(work: Promise<unknown>, graceMs: number): Promise<ExecutorResult> {
    for (const vu of this.vus) vu.stop.abort();
    const grace = new AbortController();
    const timedOut = await Promise.race([
      work.then(() => false),
      // A hard stop (Ctrl-C, abortOnFail) also gets the graceful stop: sessions leave properly.
      this.env.clock.sleep(graceMs, grace.signal).then(() => true),
    ]);
    grace.abort();
    return { iterations: this.iterations, dropped: this.dropped, interrupted: timedOut ? this.inFlight.size : 0, vusAllocated: this.vus.length };
  }
}

/** Piecewise-linear value at time `t` (ms from the scenario's start), and the stage index. */
export function stageValueAt(start: number, stages: readonly Stage[], t: number): { value: number; stage: number; done: boolean } {
  let from = start;
  let elapsed = 0;
  for (const [i, st] of stages.entries()) {
    const d = parseDuration(st.duration);
    if (t < elapsed + d) return { value: d === 0 ? st.target : from + ((st.target - from) * (t - elapsed)) / d, stage: i, done: false };
    elapsed += d;
    from = st.target;
  }
  return { value: from, stage: Math.max(0, stages.length - 1), done: true };
}

/**
 * Start times (ms from the scenario's start) of a ramping arrival rate: the n-th iteration
 * starts where the integral of the rate reaches n (k6 does the same). Rates are per `timeUnitMs`.
 */
export function* arrivalSchedule(startRate: number, stages: readonly Stage[], timeUnitMs: number): Generator<{ at: number; stage: number }> {
  let t0 = 0;
  let r0 = startRate / timeUnitMs;
  let cum = 0; // integral of the rate up to the current stage's start
  let k = 0; // the next iteration starts where the integral reaches k
  for (const [i, st] of stages.entries()) {
    const d = parseDuration(st.duration);
    const r1 = st.target / timeUnitMs;
    const area = ((r0 + r1) / 2) * d;
    // Solve r0 τ + (r1 - r0) τ² / 2d = k - cum for τ in [0, d).
    const a = d === 0 ? 0 : (r1 - r0) / (2 * d);
    while (k - cum < area - 1e-9) {
      const need = k - cum;
      const tau = Math.abs(a) < 1e-15 ? need / r0 : (-r0 + Math.sqrt(Math.max(0, r0 * r0 + 4 * a * need))) / (2 * a);
      yield { at: t0 + Math.min(tau, d), stage: i };
      k++;
    }
    cum += area;
    t0 += d;
    r0 = r1;
  }
}

async function runArrival(
  env: ExecutorEnv,
  opts: { schedule: Iterable<{ at: number; stage: number }>; durationMs: number; preAllocated: number; max: number; grace: number },
): Promise<ExecutorResult> {
  const tr = new Tracker(env);
  const idle: Vu[] = [];
  for (let i = 0; i < opts.preAllocated; i++) idle.push(tr.newVu());
  const t0 = env.clock.now();
  for (const { at, stage } of opts.schedule) {
    if (env.hardStop.aborted) break;
    const wait = t0 + at - env.clock.now();
    if (wait > 0) await env.clock.sleep(wait, env.hardStop);
    if (env.hardStop.aborted) break;
    let vu = idle.pop();
    if (!vu && tr.vus.length < opts.max) vu = tr.newVu();
    if (!vu) {
      tr.dropped++;
      env.onDropped();
      continue;
    }
    const v = vu;
    void tr.run(v, { stage }).then(() => {
      if (!v.stop.signal.aborted) idle.push(v);
    });
  }
  // The scenario lasts what it says (as in k6), not until its last start.
  const rest = t0 + opts.durationMs - env.clock.now();
  if (rest > 0) await env.clock.sleep(rest, env.hardStop);
  return tr.finish(Promise.all([...tr.inFlight]), opts.grace);
}

async function loop(tr: Tracker, vu: Vu, until: () => boolean, info: () => IterationInfo): Promise<void> {
  while (!vu.stop.signal.aborted && !tr.env.hardStop.aborted && until()) await tr.run(vu, info());
}

export async function runExecutor(s: ScenarioOptions, env: ExecutorEnv): Promise<ExecutorResult> {
  const grace = parseDuration(s.gracefulStop ?? DEFAULT_GRACE);
  const clock = env.clock;
  const t0 = clock.now();
  switch (s.executor) {
    case 'constant-vus': {
      const tr = new Tracker(env);
      const end = t0 + parseDuration(s.duration);
      const loops: Promise<void>[] = [];
      for (let i = 0; i < s.vus; i++)
        loops.push(
          loop(
            tr,
            tr.newVu(),
            () => clock.now() < end,
            () => ({ stage: 0 }),
          ),
        );
      await clock.sleep(end - clock.now(), env.hardStop);
      return tr.finish(Promise.all(loops), grace);
    }
    case 'per-vu-iterations': {
      const tr = new Tracker(env);
      const end = t0 + parseDuration(s.maxDuration ?? '10m');
      const all = Promise.all(
        Array.from({ length: s.vus }, async () => {
          const vu = tr.newVu();
          for (let i = 0; i < s.iterations && !vu.stop.signal.aborted && !env.hardStop.aborted && clock.now() < end; i++) await tr.run(vu, { stage: 0 });
        }),
      );
      const deadline = new AbortController();
      const finishedInTime = await Promise.race([
        all.then(() => true),
        clock.sleep(end - clock.now(), AbortSignal.any([env.hardStop, deadline.signal])).then(() => false),
      ]);
      deadline.abort();
      return tr.finish(finishedInTime ? Promise.resolve() : all, grace);
    }
    case 'ramping-vus': {
      const tr = new Tracker(env);
      const total = s.stages.reduce((a, st) => a + parseDuration(st.duration), 0);
      const active: Vu[] = [];
      const loops: Promise<void>[] = [];
      const stageNow = (): IterationInfo => ({ stage: stageValueAt(s.startVUs ?? 0, s.stages, clock.now() - t0).stage });
      for (;;) {
        const elapsed = clock.now() - t0;
        const { value, done } = stageValueAt(s.startVUs ?? 0, s.stages, elapsed);
        const target = Math.floor(value + 1e-9);
        while (active.length < target) {
          const vu = tr.newVu();
          active.push(vu);
          loops.push(loop(tr, vu, () => clock.now() - t0 < total, stageNow));
        }
        // k6 removes the most recently added VUs first; each finishes the iteration it is in.
        while (active.length > target) (active.pop() as Vu).stop.abort();
        if (done || env.hardStop.aborted) break;
        await clock.sleep(Math.min(RAMP_TICK_MS, total - elapsed), env.hardStop);
      }
      // VUs removed by a ramp-down and still in their iteration get gracefulRampDown at most.
      return tr.finish(Promise.all(loops), Math.max(grace, s.gracefulRampDown === undefined ? 0 : parseDuration(s.gracefulRampDown)));
    }
    case 'constant-arrival-rate': {
      const unit = parseDuration(s.timeUnit ?? '1s');
      const durationMs = parseDuration(s.duration);
      const interval = unit / s.rate;
      const schedule = function* (): Generator<{ at: number; stage: number }> {
        for (let i = 0; i * interval < durationMs; i++) yield { at: i * interval, stage: 0 };
      };
      return runArrival(env, { schedule: schedule(), durationMs, preAllocated: s.preAllocatedVUs, max: s.maxVUs ?? s.preAllocatedVUs, grace });
    }
    case 'ramping-arrival-rate': {
      const unit = parseDuration(s.timeUnit ?? '1s');
      return runArrival(env, {
        schedule: arrivalSchedule(s.startRate ?? 0, s.stages, unit),
        durationMs: s.stages.reduce((a, st) => a + parseDuration(st.duration), 0),
        preAllocated: s.preAllocatedVUs,
        max: s.maxVUs ?? s.preAllocatedVUs,
        grace,
      });
    }
  }
}
