/**
 * k6's four metric types. A metric keeps its samples per tag set (the scenario's tags, plus
 * whatever the script adds), so a threshold or a report can ask for a sub-metric such as
 * `join_duration{scenario:storm}` after the run. Trends keep every sample: percentiles are
 * exact, and a 100,000-join soak is 800 kB of doubles.
 */
import { currentTags } from './context-store.js';

export type MetricType = 'trend' | 'counter' | 'rate' | 'gauge';
export type Tags = Readonly<Record<string, string>>;

/** Aggregates over every sample of a metric (or of a sub-metric's tag sets). */
export interface TrendValues {
  count: number;
  avg: number;
  min: number;
  med: number;
  max: number;
  /** percentile(p) for p in 0..100, nearest-rank (k6 interpolates; at our sample counts it is the same to the microsecond). */
  percentile(p: number): number;
}
export interface CounterValues {
  count: number;
  /** per second of the test's duration */
  rate: number;
}
export interface RateValues {
  /** non-zero samples / all samples (NaN with no samples) */
  value: number;
  passes: number;
  fails: number;
}
export interface GaugeValues {
  value: number;
  min: number;
  max: number;
}

function tagKey(tags: Tags): string {
  return JSON.stringify(
    Object.keys(tags)
      .sort()
      .map((k) => [k, tags[k]]),
  );
}

/** Does a sample's tag set satisfy a sub-metric filter (every filter tag present and equal)? */
export function tagsMatch(tags: Tags, filter: Tags): boolean {
  for (const [k, v] of Object.entries(filter)) if (tags[k] !== v) return false;
  return true;
}

abstract class Metric<S> {
  abstract readonly type: MetricType;
  readonly series = new Map<string, { tags: Tags; data: S }>();

  constructor(
    readonly name: string,
    /** k6's `isTime`: a Trend of durations in ms (shown as times in the summary). */
    readonly isTime = false,
  ) {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name)) throw new Error(`metric name ${JSON.stringify(name)}: letters, digits and _ only`);
    defaultRegistry.register(this);
  }

  protected abstract empty(): S;

  protected seriesFor(extra: Tags | undefined): S {
    const tags = { ...currentTags(), ...extra };
    const key = tagKey(tags);
    let s = this.series.get(key);
    if (!s) {
      s = { tags, data: this.empty() };
      this.series.set(key, s);
    }
    return s.data;
  }

  protected selected(filter: Tags | undefined): S[] {
    const out: S[] = [];
    for (const s of this.series.values()) if (!filter || tagsMatch(s.tags, filter)) out.push(s.data);
    return out;
  }

  /** Distinct tag sets seen, for reports that break a metric down. */
  tagSets(): Tags[] {
    return [...this.series.values()].map((s) => s.tags);
  }

  reset(): void {
    this.series.clear();
  }
}

export class Trend extends Metric<number[]> {
  readonly type = 'trend';

  constructor(name: string, isTime = true) {
    super(name, isTime);
  }

  protected empty(): number[] {
    return [];
  }

  add(value: number, tags?: Tags): void {
    if (!Number.isFinite(value)) return;
    this.seriesFor(tags).push(value);
  }

  /** Every sample, sorted (a copy). */
  samples(filter?: Tags): number[] {
    return this.selected(filter)
      .flat()
      .sort((a, b) => a - b);
  }

  values(filter?: Tags): TrendValues {
    return trendValues(this.samples(filter));
  }
}

/** Aggregates of sorted samples. */
export function trendValues(sorted: readonly number[]): TrendValues {
  const n = sorted.length;
  const percentile = (p: number): number => {
    if (n === 0) return NaN;
    // The epsilon keeps 99.9 % of 1000 at rank 999 despite 0.999 * 1000 = 999.0000000000001.
    const idx = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n - 1e-9) - 1));
    return sorted[idx] as number;
  };
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, avg: n ? sum / n : NaN, min: n ? (sorted[0] as number) : NaN, max: n ? (sorted[n - 1] as number) : NaN, med: percentile(50), percentile };
}

export class Counter extends Metric<{ sum: number }> {
  readonly type = 'counter';

  protected empty(): { sum: number } {
    return { sum: 0 };
  }

  add(value = 1, tags?: Tags): void {
    if (!Number.isFinite(value)) return;
    this.seriesFor(tags).sum += value;
  }

  values(durationS: number, filter?: Tags): CounterValues {
    const count = this.selected(filter).reduce((a, s) => a + s.sum, 0);
    return { count, rate: durationS > 0 ? count / durationS : 0 };
  }
}

export class Rate extends Metric<{ passes: number; fails: number }> {
  readonly type = 'rate';

  protected empty(): { passes: number; fails: number } {
    return { passes: 0, fails: 0 };
  }

  /** k6: a true or non-zero value is a pass. */
  add(value: boolean | number, tags?: Tags): void {
    const s = this.seriesFor(tags);
    if (value) s.passes++;
    else s.fails++;
  }

  values(filter?: Tags): RateValues {
    let passes = 0;
    let fails = 0;
    for (const s of this.selected(filter)) {
      passes += s.passes;
      fails += s.fails;
    }
    return { passes, fails, value: passes + fails ? passes / (passes + fails) : NaN };
  }
}

export class Gauge extends Metric<{ value: number; min: number; max: number; seq: number }> {
  readonly type = 'gauge';
  #seq = 0;

  protected empty(): { value: number; min: number; max: number; seq: number } {
    return { value: NaN, min: Infinity, max: -Infinity, seq: 0 };
  }

  /** The last value wins; min and max are kept. */
  add(value: number, tags?: Tags): void {
    if (!Number.isFinite(value)) return;
    const s = this.seriesFor(tags);
    s.value = value;
    s.seq = ++this.#seq;
    if (value < s.min) s.min = value;
    if (value > s.max) s.max = value;
  }

  values(filter?: Tags): GaugeValues {
    let last = { value: NaN, seq: -1 };
    let min = Infinity;
    let max = -Infinity;
    for (const s of this.selected(filter)) {
      if (s.seq > last.seq) last = s;
      min = Math.min(min, s.min);
      max = Math.max(max, s.max);
    }
    return { value: last.value, min: Number.isFinite(min) ? min : NaN, max: Number.isFinite(max) ? max : NaN };
  }
}

export type AnyMetric = Trend | Counter | Rate | Gauge;

/** Every metric made in this process, by name (k6 has one registry per test run too). */
export class MetricRegistry {
  readonly #metrics = new Map<string, AnyMetric>();

  register(m: Metric<unknown>): void {
    const existing = this.#metrics.get(m.name);
    if (existing && existing !== m) throw new Error(`metric ${m.name} already exists (as a ${existing.type})`);
    this.#metrics.set(m.name, m as AnyMetric);
  }

  get(name: string): AnyMetric | undefined {
    return this.#metrics.get(name);
  }

  all(): AnyMetric[] {
    return [...this.#metrics.values()];
  }

  /** Forget every sample (a new run in the same process); the metrics stay defined. */
  resetSamples(): void {
    for (const m of this.#metrics.values()) m.reset();
  }
}

export const defaultRegistry = new MetricRegistry();

/** The metrics the runner itself records, named as k6 names them where k6 has one. */
export const builtin = {
  iterations: new Counter('iterations'),
  iterationDuration: new Trend('iteration_duration'),
  droppedIterations: new Counter('dropped_iterations'),
  /** Iterations that threw (k6 logs these; here they are counted too). */
  iterationErrors: new Counter('iteration_errors'),
  /** Iterations still running after gracefulStop, abandoned. */
  interruptedIterations: new Counter('interrupted_iterations'),
  vus: new Gauge('vus'),
  vusMax: new Gauge('vus_max'),
  checks: new Rate('checks'),
  /** One sample per signaling request sent by a VU (tag `method`). */
  signalingRequests: new Counter('signaling_requests'),
  signalingRequestDuration: new Trend('signaling_request_duration'),
  signalingRequestFailed: new Rate('signaling_request_failed'),
  /** Socket open → joined. */
  wsConnecting: new Trend('ws_connecting'),
  wsSessions: new Counter('ws_sessions'),
  /** A media VU: socket open → joined → transports → audio and video published. */
  mediaPeerJoin: new Trend('media_peer_join_duration'),
};
