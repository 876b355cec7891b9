/**
 * A script's `options`, in k6's shape: `{ scenarios: { name: { executor, ... } }, thresholds }`.
 * Durations are k6 strings ('30s', '1m30s', '500ms', '2h') or milliseconds as numbers.
 */
import type { ThresholdsOption } from './thresholds.js';

export type Duration = string | number;

export interface Stage {
  duration: Duration;
  /** VUs (ramping-vus) or iterations per timeUnit (ramping-arrival-rate) at the stage's end. */
  target: number;
}

interface Common {
  /** Name of the exported function each iteration calls; `default` when unset. */
  exec?: string;
  /** Delay from the start of the test. */
  startTime?: Duration;
  /** How long running iterations may take to finish after the scenario's end. Default 30s. */
  gracefulStop?: Duration;
  tags?: Record<string, string>;
  /** Extra environment, merged into the VU context's `env` (k6's per-scenario env). */
  env?: Record<string, string>;
  /**
   * Strata extension: the share of this scenario's VUs (0..1) that are media VUs (`vu.media`
   * is true: the script attaches a real WebRTC peer). Default 0: signaling only.
   */
  mediaShare?: number;
}

export interface ConstantVusScenario extends Common {
  executor: 'constant-vus';
  vus: number;
  duration: Duration;
}
export interface RampingVusScenario extends Common {
  executor: 'ramping-vus';
  startVUs?: number;
  stages: Stage[];
  /** How long a VU removed by a ramp-down may take to finish its iteration. Default 30s. */
  gracefulRampDown?: Duration;
}
export interface ConstantArrivalRateScenario extends Common {
  executor: 'constant-arrival-rate';
  rate: number;
  timeUnit?: Duration;
  duration: Duration;
  preAllocatedVUs: number;
  maxVUs?: number;
}
export interface RampingArrivalRateScenario extends Common {
  executor: 'ramping-arrival-rate';
  startRate?: number;
  timeUnit?: Duration;
  stages: Stage[];
  preAllocatedVUs: number;
  maxVUs?: number;
}
export interface PerVuIterationsScenario extends Common {
  executor: 'per-vu-iterations';
  vus: number;
  iterations: number;
  /** Longest the scenario may run. Default 10m. */
  maxDuration?: Duration;
}

export type ScenarioOptions = ConstantVusScenario | RampingVusScenario | ConstantArrivalRateScenario | RampingArrivalRateScenario | PerVuIterationsScenario;

export interface Options {
  scenarios: Record<string, ScenarioOptions>;
  thresholds?: ThresholdsOption;
  /** Trend columns of the summary and the export, k6's `summaryTrendStats`. */
  summaryTrendStats?: string[];
}

export const DEFAULT_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'];

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** k6 duration → milliseconds. */
export function parseDuration(d: Duration): number {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new Error(`duration ${d}: not a non-negative number of ms`);
    return d;
  }
  const s = d.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000; // k6 reads a bare number as seconds
  let total = 0;
  let rest = s;
  const part = /^(\d+(?:\.\d+)?)(ms|s|m|h)/;
  if (!rest) throw new Error('empty duration');
  while (rest) {
    const m = part.exec(rest);
    if (!m) throw new Error(`duration ${JSON.stringify(d)}: expected e.g. 500ms, 30s, 1m30s, 2h`);
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return total;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 100) / 10;
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  const r = Math.round(s - m * 60);
  return m < 60 ? `${m}m${String(r).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function positiveInt(name: string, v: unknown, allowZero = false): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (allowZero ? 0 : 1))
    throw new Error(`${name}: expected an integer ≥ ${allowZero ? 0 : 1}, got ${String(v)}`);
}

/** Checks a scenario's fields; throws with the scenario's name in the message. */
export function validateScenario(name: string, s: ScenarioOptions): void {
  const at = `scenarios.${name}`;
  if (s.startTime !== undefined) parseDuration(s.startTime);
  if (s.gracefulStop !== undefined) parseDuration(s.gracefulStop);
  if (s.mediaShare !== undefined && !(s.mediaShare >= 0 && s.mediaShare <= 1)) throw new Error(`${at}.mediaShare: expected 0..1`);
  switch (s.executor) {
    case 'constant-vus':
      positiveInt(`${at}.vus`, s.vus);
      parseDuration(s.duration);
      return;
    case 'ramping-vus':
      positiveInt(`${at}.startVUs`, s.startVUs ?? 0, true);
      if (!Array.isArray(s.stages) || s.stages.length === 0) throw new Error(`${at}.stages: at least one stage`);
      for (const [i, st] of s.stages.entries()) {
        parseDuration(st.duration);
        positiveInt(`${at}.stages[${i}].target`, st.target, true);
      }
      return;
    case 'constant-arrival-rate':
      if (!(s.rate > 0)) throw new Error(`${at}.rate: expected > 0`);
      parseDuration(s.duration);
      positiveInt(`${at}.preAllocatedVUs`, s.preAllocatedVUs);
      if (s.maxVUs !== undefined && s.maxVUs < s.preAllocatedVUs) throw new Error(`${at}.maxVUs: below preAllocatedVUs`);
      return;
    case 'ramping-arrival-rate':
      if (!Array.isArray(s.stages) || s.stages.length === 0) throw new Error(`${at}.stages: at least one stage`);
      for (const [i, st] of s.stages.entries()) {
        parseDuration(st.duration);
        if (!(st.target >= 0)) throw new Error(`${at}.stages[${i}].target: expected ≥ 0`);
      }
      positiveInt(`${at}.preAllocatedVUs`, s.preAllocatedVUs);
      if (s.maxVUs !== undefined && s.maxVUs < s.preAllocatedVUs) throw new Error(`${at}.maxVUs: below preAllocatedVUs`);
      return;
    case 'per-vu-iterations':
      positiveInt(`${at}.vus`, s.vus);
      positiveInt(`${at}.iterations`, s.iterations);
      return;
    default:
      throw new Error(
        `${at}.executor: ${JSON.stringify((s as { executor: unknown }).executor)} is not one of constant-vus, ramping-vus, constant-arrival-rate, ramping-arrival-rate, per-vu-iterations`,
      );
  }
}

/** How long a scenario runs (without gracefulStop), for the progress line. */
export function scenarioDurationMs(s: ScenarioOptions): number {
  switch (s.executor) {
    case 'constant-vus':
    case 'constant-arrival-rate':
      return parseDuration(s.duration);
    case 'ramping-vus':
    case 'ramping-arrival-rate':
      return s.stages.reduce((a, st) => a + parseDuration(st.duration), 0);
    case 'per-vu-iterations':
      return parseDuration(s.maxDuration ?? '10m');
  }
}

/** Most VUs a scenario may hold at once. */
export function scenarioMaxVus(s: ScenarioOptions): number {
  switch (s.executor) {
    case 'constant-vus':
    case 'per-vu-iterations':
      return s.vus;
    case 'ramping-vus':
      return Math.max(s.startVUs ?? 0, ...s.stages.map((st) => st.target));
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
      return Math.max(s.preAllocatedVUs, s.maxVUs ?? s.preAllocatedVUs);
  }
}
