/**
 * The end-of-test summary: k6's `--summary-export` JSON (metrics keyed by name, checks in the
 * root group, threshold results per metric, `true` meaning crossed, as k6 writes them), with
 * Strata's sections added: `server` (sampled processes), `scenarios`, `goals`, `extra`.
 * The text form follows k6's layout. The format is documented in loadtest/README.md.
 */
import { createHash } from 'node:crypto';
import { builtin, defaultRegistry, type AnyMetric, type Tags } from './metrics.js';
import { formatDuration } from './options.js';
import type { ServerSection } from './server-sampler.js';
import { parseMetricKey, type ThresholdResult } from './thresholds.js';

export type MetricExport = Record<string, number | Record<string, boolean>> & { thresholds?: Record<string, boolean> };

export interface CheckExport {
  name: string;
  path: string;
  id: string;
  passes: number;
  fails: number;
}

export interface ScenarioExport {
  executor: string;
  iterations: number;
  dropped: number;
  interrupted: number;
  vus_allocated: number;
  start_ms: number;
  end_ms: number;
  tags: Record<string, string>;
}

export interface Goal {
  name: string;
  ok: boolean;
  /** What was measured against what was wanted, for people. */
  detail: string;
  /**
   * The same as numbers, for the benchmark table (`npm run bench:report`): ours and the baseline
   * measured in the same run, in `unit`, and what bounds them (a ratio, or ours alone: `max`).
   */
  figure?: { value: number; baseline: number; unit: string; maxRatio?: number; minRatio?: number; max?: number };
}

export interface SummaryExport {
  root_group: { name: ''; path: ''; id: string; groups: []; checks: Record<string, CheckExport> };
  metrics: Record<string, MetricExport>;
  state: { testRunDurationMs: number; isStdOutTTY: boolean; isStdErrTTY: boolean };
  /** Strata: per scenario, what its executor did. */
  scenarios: Record<string, ScenarioExport>;
  /** Strata: CPU and RSS of the server processes, whole run and per scenario. */
  server: ServerSection | undefined;
  /** Strata: a script's own pass/fail verdicts (ratios and counts k6 thresholds cannot express). */
  goals: Goal[];
  /** Strata: whatever setup/teardown recorded with ctx.record(). */
  extra: Record<string, unknown>;
  /** Strata: set when a threshold with abortOnFail or a signal stopped the run early. */
  aborted: string | undefined;
  /** Strata: iteration errors by scenario and message (ids and numbers masked), most frequent first. */
  errors: Record<string, number>;
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

function metricValues(m: AnyMetric, filter: Tags | undefined, durationS: number, trendStats: string[]): Record<string, number> {
  switch (m.type) {
    case 'trend': {
      const v = m.values(filter);
      const out: Record<string, number> = {};
      for (const s of trendStats) {
        const p = /^p\((\d+(?:\.\d+)?)\)$/.exec(s);
        out[s] = p ? v.percentile(Number(p[1])) : v[s as 'avg' | 'min' | 'med' | 'max' | 'count'];
      }
      return out;
    }
    case 'counter':
      return { ...m.values(durationS, filter) };
    case 'rate': {
      const v = m.values(filter);
      return { passes: v.passes, fails: v.fails, value: v.value };
    }
    case 'gauge':
      return { ...m.values(filter) };
  }
}

export function validateTrendStats(stats: string[]): void {
  for (const s of stats)
    if (!/^(avg|min|med|max|count|p\(\d+(\.\d+)?\))$/.test(s))
      throw new Error(`summary trend stat ${JSON.stringify(s)}: one of avg, min, med, max, count, p(N)`);
}

export function buildSummary(opts: {
  durationMs: number;
  trendStats: string[];
  thresholds: ThresholdResult[];
  scenarios: Record<string, ScenarioExport>;
  server: ServerSection | undefined;
  goals: Goal[];
  extra: Record<string, unknown>;
  aborted: string | undefined;
  errors?: Record<string, number>;
}): SummaryExport {
  const durationS = opts.durationMs / 1000;
  const metrics: Record<string, MetricExport> = {};
  for (const m of defaultRegistry.all()) {
    // k6 leaves metrics without samples out of the summary.
    if (m.series.size === 0 && !opts.thresholds.some((t) => parseMetricKey(t.key).metric === m.name)) continue;
    metrics[m.name] = metricValues(m, undefined, durationS, opts.trendStats);
  }
  // Thresholds on sub-metrics add `name{tag:value}` entries, as k6 does.
  for (const t of opts.thresholds) {
    const k = parseMetricKey(t.key);
    const m = defaultRegistry.get(k.metric);
    if (!metrics[t.key]) metrics[t.key] = m ? metricValues(m, k.filter, durationS, opts.trendStats) : {};
    const entry = metrics[t.key] as MetricExport;
    entry.thresholds = { ...entry.thresholds, [t.source]: !t.ok };
  }
  const checks: Record<string, CheckExport> = {};
  for (const tags of builtin.checks.tagSets()) {
    const name = tags['check'];
    if (name === undefined || checks[name]) continue;
    const v = builtin.checks.values({ check: name });
    checks[name] = { name, path: `::${name}`, id: md5(`::${name}`), passes: v.passes, fails: v.fails };
  }
  return {
    root_group: { name: '', path: '', id: md5(''), groups: [], checks },
    metrics,
    state: { testRunDurationMs: opts.durationMs, isStdOutTTY: Boolean(process.stdout.isTTY), isStdErrTTY: Boolean(process.stderr.isTTY) },
    scenarios: opts.scenarios,
    server: opts.server,
    goals: opts.goals,
    extra: opts.extra,
    aborted: opts.aborted,
    errors: opts.errors ?? {},
  };
}

function fmtNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function fmtTime(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
  if (ms < 1000) return `${ms.toFixed(2)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}

export function fmtBytes(b: number): string {
  if (!Number.isFinite(b)) return String(b);
  return b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(2)} GiB` : `${(b / (1 << 20)).toFixed(1)} MiB`;
}

function metricLine(name: string, v: MetricExport, isTime: boolean, type: string | undefined): string {
  const t = v.thresholds;
  const mark = t ? (Object.values(t).some((failed) => failed) ? '✗ ' : '✓ ') : '  ';
  const label = `${name}`.padEnd(40, '.') + ':';
  const n = (k: string): number => v[k] as number;
  let body: string;
  if (type === 'counter') body = `${fmtNumber(n('count')).padEnd(8)} ${fmtNumber(n('rate'))}/s`;
  else if (type === 'rate') body = `${(n('value') * 100).toFixed(2)}%  ✓ ${n('passes')}  ✗ ${n('fails')}`;
  else if (type === 'gauge') {
    const f = isTime ? fmtTime : fmtNumber;
    body = `${f(n('value')).padEnd(8)} min=${f(n('min'))} max=${f(n('max'))}`;
  } else
    body = Object.entries(v)
      .filter(([k]) => k !== 'thresholds')
      .map(([k, x]) => `${k}=${isTime && k !== 'count' ? fmtTime(x as number) : fmtNumber(x as number)}`)
      .join(' ');
  return `   ${mark}${label} ${body}`;
}

export function textSummary(s: SummaryExport, header: string[]): string {
  const lines: string[] = ['', ...header, ''];
  for (const c of Object.values(s.root_group.checks)) {
    const total = c.passes + c.fails;
    lines.push(`     ${c.fails === 0 ? '✓' : '✗'} ${c.name}`);
    if (c.fails > 0) lines.push(`      ↳  ${Math.floor((c.passes / total) * 100)}% — ✓ ${c.passes} / ✗ ${c.fails}`);
  }
  if (Object.keys(s.root_group.checks).length) lines.push('');
  for (const [name, v] of Object.entries(s.metrics).sort(([a], [b]) => a.localeCompare(b))) {
    const m = defaultRegistry.get(parseMetricKey(name).metric);
    lines.push(metricLine(name, v, m?.isTime ?? false, m?.type));
  }
  if (s.server) {
    lines.push('', `   server (from /proc, every ${s.server.interval_ms} ms):`);
    lines.push(
      `     ${'process'.padEnd(16)} ${'cpu s'.padStart(8)} ${'cpu %'.padStart(7)} ${'rss first'.padStart(11)} ${'rss last'.padStart(11)} ${'last/first'.padStart(10)} ${'rss max'.padStart(11)}`,
    );
    const row = (name: string, f: ServerSection['processes'][string] | ServerSection['scenarios'][string]['processes'][string]): string =>
      `     ${name.padEnd(16)} ${f.cpu_seconds.toFixed(2).padStart(8)} ${f.cpu_percent.toFixed(1).padStart(7)} ${fmtBytes(f.rss_first).padStart(11)} ${fmtBytes(f.rss_last).padStart(11)} ${f.rss_last_over_first.toFixed(3).padStart(10)} ${fmtBytes(f.rss_max).padStart(11)}`;
    for (const [name, f] of Object.entries(s.server.processes)) lines.push(row(name, f));
    const scen = Object.entries(s.server.scenarios);
    if (scen.length > 1)
      for (const [sn, w] of scen) {
        lines.push(`     — ${sn} (${formatDuration(w.end_ms - w.start_ms)})`);
        for (const [name, f] of Object.entries(w.processes)) lines.push(row(`  ${name}`, f));
      }
  }
  if (s.goals.length) {
    lines.push('', '   goals:');
    for (const g of s.goals) lines.push(`     ${g.ok ? '✓' : '✗'} ${g.name}: ${g.detail}`);
  }
  const errs = Object.entries(s.errors);
  if (errs.length) {
    lines.push('', '   iteration errors:');
    for (const [msg, n] of errs.slice(0, 10)) lines.push(`     ${String(n).padStart(7)} × ${msg}`);
    if (errs.length > 10) lines.push(`     … ${errs.length - 10} more kinds (see the export)`);
  }
  if (s.aborted) lines.push('', `   run aborted: ${s.aborted}`);
  lines.push('');
  return lines.join('\n');
}
