/**
 * The server side of a load test: CPU and RSS of named processes (the gateway, the media node
 * and its mediasoup-worker children, nats-server, baselines), read from /proc once a second
 * while the test runs. A watched name may stand for several pids (a node and its workers):
 * their CPU and RSS are summed, and pids found later (a worker started mid-run) join in.
 */
import { childPids, readProc } from '@strata/harness';

export type PidSource = number | (() => number[]);

interface Watched {
  name: string;
  source: PidSource;
  /** Last CPU reading per pid, to sum deltas across a changing pid set. */
  lastCpu: Map<number, number>;
  cpuSeconds: number;
  pids: Set<number>;
  /** [ms since the sampler's start, cumulative CPU seconds, RSS bytes] */
  series: [number, number, number][];
}

export interface ProcessFigures {
  pids: number[];
  /** CPU seconds (user + system) over the window. */
  cpu_seconds: number;
  /** Average CPU over the window, in % of one core. */
  cpu_percent: number;
  rss_min: number;
  rss_max: number;
  /** Average RSS over the first / last 10 % of the window's samples. */
  rss_first: number;
  rss_last: number;
  rss_last_over_first: number;
  samples: number;
}

export interface ServerSection {
  interval_ms: number;
  duration_ms: number;
  /** Whole run. */
  processes: Record<string, ProcessFigures & { series: [number, number, number][] }>;
  /** Per scenario, between its start and its end. */
  scenarios: Record<string, { start_ms: number; end_ms: number; processes: Record<string, ProcessFigures> }>;
}

/** A media node's pid plus its mediasoup workers, found afresh at every sample. */
export function withChildren(pid: number): () => number[] {
  return () => [pid, ...childPids(pid)];
}

export class ServerSampler {
  readonly #watched = new Map<string, Watched>();
  readonly #windows = new Map<string, { start: number; end: number | undefined }>();
  #t0 = performance.now();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly intervalMs = 1000) {}

  /** Starts sampling `name`; a pid, or a function listing the pids at each sample. */
  watch(name: string, source: PidSource): void {
    this.#watched.set(name, { name, source, lastCpu: new Map(), cpuSeconds: 0, pids: new Set(), series: [] });
    this.#sampleOne(this.#watched.get(name) as Watched, performance.now() - this.#t0);
  }

  get names(): string[] {
    return [...this.#watched.keys()];
  }

  start(): void {
    this.#t0 = performance.now();
    for (const w of this.#watched.values()) w.series.length = 0;
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.sample();
  }

  /** Marks a scenario's start or end (with a sample taken right then). */
  mark(scenario: string, edge: 'start' | 'end'): void {
    this.sample();
    const t = performance.now() - this.#t0;
    const w = this.#windows.get(scenario) ?? { start: t, end: undefined };
    if (edge === 'start') w.start = t;
    else w.end = t;
    this.#windows.set(scenario, w);
  }

  sample(): void {
    const t = performance.now() - this.#t0;
    for (const w of this.#watched.values()) this.#sampleOne(w, t);
  }

  #sampleOne(w: Watched, t: number): void {
    const pids = typeof w.source === 'number' ? [w.source] : w.source();
    let rss = 0;
    let seen = 0;
    for (const pid of pids) {
      const p = readProc(pid);
      if (!p) continue;
      seen++;
      w.pids.add(pid);
      const last = w.lastCpu.get(pid);
      // A pid seen for the first time contributes from now on: its earlier CPU is not this run's.
      if (last !== undefined) w.cpuSeconds += Math.max(0, p.cpuSeconds - last);
      w.lastCpu.set(pid, p.cpuSeconds);
      rss += p.rssBytes;
    }
    if (seen > 0) w.series.push([Math.round(t), w.cpuSeconds, rss]);
  }

  #figures(w: Watched, from: number, to: number): ProcessFigures {
    const s = w.series.filter(([t]) => t >= from - 1 && t <= to + 1);
    const first = s[0];
    const last = s[s.length - 1];
    const rss = s.map((x) => x[2]);
    const tenth = Math.max(1, Math.floor(s.length / 10));
    const avg = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    const rssFirst = avg(rss.slice(0, tenth));
    const rssLast = avg(rss.slice(-tenth));
    const cpu = first && last ? last[1] - first[1] : 0;
    const span = first && last ? (last[0] - first[0]) / 1000 : 0;
    return {
      pids: [...w.pids],
      cpu_seconds: cpu,
      cpu_percent: span > 0 ? (cpu / span) * 100 : 0,
      rss_min: rss.length ? Math.min(...rss) : NaN,
      rss_max: rss.length ? Math.max(...rss) : NaN,
      rss_first: rssFirst,
      rss_last: rssLast,
      rss_last_over_first: rssLast / rssFirst,
      samples: s.length,
    };
  }

  summary(): ServerSection {
    const end = performance.now() - this.#t0;
    const processes: ServerSection['processes'] = {};
    for (const w of this.#watched.values()) processes[w.name] = { ...this.#figures(w, 0, end), series: w.series };
    const scenarios: ServerSection['scenarios'] = {};
    for (const [name, win] of this.#windows) {
      const to = win.end ?? end;
      const per: Record<string, ProcessFigures> = {};
      for (const w of this.#watched.values()) per[w.name] = this.#figures(w, win.start, to);
      scenarios[name] = { start_ms: Math.round(win.start), end_ms: Math.round(to), processes: per };
    }
    return { interval_ms: this.intervalMs, duration_ms: Math.round(end), processes, scenarios };
  }
}
