/**
 * Benchmark results of record and the one table in docs/benchmarks.md that lists them.
 *
 * Producers write result files into bench/results/ in one of two formats:
 *
 * 1. A Strata result file (bench/forwarding.ts --result, or any runner):
 *      { "format": "strata-bench-result/1", "results": [BenchResult, ...] }
 *    one BenchResult per figure: ours and the baseline measured in the same run.
 *
 * 2. A k6-style `--summary-export` file: { "metrics": { "<name>": { "avg", "min", "med", "max",
 *    "p(90)", "p(95)", "p(99)", ... } } }. Ours and the baseline are submetrics tagged
 *    `{target:<name>}` of one metric, the baseline being `{target:baseline}`:
 *      "join_latency{target:strata}", "join_latency{target:baseline}".
 *    k6 has no place for the rest, so it goes in a top-level "strata" block (see K6Meta); without
 *    it the benchmark is named after the file and machine and date are unknown.
 *
 * The table is rewritten between `<!-- bench:table -->` and `<!-- /bench:table -->`.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const RESULT_FORMAT = 'strata-bench-result/1';
export const TABLE_START = '<!-- bench:table -->';
export const TABLE_END = '<!-- /bench:table -->';

/** Lower ratios are better unless the goal says `minRatio`. */
export interface Goal {
  /** ours / baseline must be at most this. */
  maxRatio?: number;
  /** ours / baseline must be at least this. */
  minRatio?: number;
  /** Ours alone must be at most this, in the result's unit (a budget such as 250 MB; the baseline is then context). */
  max?: number;
  /** Ours alone must be at least this, in the result's unit (a capacity such as 1,250 consumers per core). */
  min?: number;
}

export interface BenchResult {
  /** Which benchmark, e.g. "forwarding" or "join-latency". */
  benchmark: string;
  /** What was measured, e.g. "CPU per consumer, N=100" or "join latency p95". */
  figure: string;
  /** Ours. */
  value: number;
  /** The same figure for the baseline, measured in the same run. */
  baseline: number;
  /** Unit of value and baseline, e.g. "% core", "ms". */
  unit: string;
  /** What ours / baseline must satisfy; absent: no goal, reported as context. */
  goal?: Goal;
  /** Where it ran, e.g. "2-core AMD EPYC 7B13 VM, Node v20.20.2". */
  machine: string;
  /** When it ran (ISO 8601). */
  date: string;
  /** Problems the producer saw that make the figure doubtful (e.g. windows still anomalous after their retries). */
  problems?: string[];
  /** Context that does not put the figure in doubt (how it was obtained, what ran beside it). */
  notes?: string[];
}

export interface ResultFile {
  format: typeof RESULT_FORMAT;
  results: BenchResult[];
}

/** The "strata" block of a k6 summary-export file. */
export interface K6Meta {
  benchmark?: string;
  machine?: string;
  date?: string;
  /** Unit of the trend metrics; default "ms" (k6 trends of durations). */
  unit?: string;
  /** Which stats become figures; default those present of med, p(95), p(99). */
  stats?: string[];
  /** Goals by stat, e.g. { "p(95)": { "maxRatio": 5 } }. */
  goals?: Record<string, Goal>;
  problems?: string[];
  notes?: string[];
}

export type Status = 'met' | 'NOT MET' | 'no goal' | 'invalid';

export interface Row extends BenchResult {
  ratio: number;
  status: Status;
  /** Why the row is invalid or flagged. */
  why: string[];
  source: string;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A ratio a benchmark can stand on: finite and positive (a zero or negative cost is a broken measurement). */
export function usableRatio(ratio: number | undefined): ratio is number {
  return ratio !== undefined && Number.isFinite(ratio) && ratio > 0;
}

/** Judges one result: never "met" unless both figures are real and the ratio is finite and positive. */
export function judge(r: BenchResult, source: string): Row {
  const why: string[] = [];
  const ratio = r.value / r.baseline;
  if (!Number.isFinite(r.value) || !Number.isFinite(r.baseline)) why.push('a figure is not a number');
  else if (r.value <= 0 || r.baseline <= 0) why.push('a figure is zero or negative');
  if (!usableRatio(ratio)) why.push(`ratio ${String(ratio)}`);
  let status: Status;
  if (why.length) status = 'invalid';
  else if (!r.goal || (r.goal.maxRatio === undefined && r.goal.minRatio === undefined && r.goal.max === undefined && r.goal.min === undefined))
    status = 'no goal';
  else {
    const over = r.goal.maxRatio !== undefined && ratio > r.goal.maxRatio;
    const under = r.goal.minRatio !== undefined && ratio < r.goal.minRatio;
    const beyond = r.goal.max !== undefined && r.value > r.goal.max;
    const short = r.goal.min !== undefined && r.value < r.goal.min;
    status = over || under || beyond || short ? 'NOT MET' : 'met';
  }
  for (const p of r.problems ?? []) why.push(p);
  return { ...r, ratio, status, why, source };
}

function checkResult(x: unknown, where: string): BenchResult {
  if (!isObj(x)) throw new Error(`${where}: not an object`);
  const str = (k: string): string => {
    const v = x[k];
    if (typeof v !== 'string' || v.length === 0) throw new Error(`${where}: "${k}" must be a non-empty string`);
    return v;
  };
  // NaN and Infinity cannot be written in JSON: null stands for them and is judged invalid.
  const num = (k: string): number => {
    const v = x[k];
    if (v === null) return Number.NaN;
    if (typeof v !== 'number') throw new Error(`${where}: "${k}" must be a number`);
    return v;
  };
  const r: BenchResult = {
    benchmark: str('benchmark'),
    figure: str('figure'),
    value: num('value'),
    baseline: num('baseline'),
    unit: str('unit'),
    machine: str('machine'),
    date: str('date'),
  };
  if (x['goal'] !== undefined) r.goal = checkGoal(x['goal'], `${where}: goal`);
  if (x['problems'] !== undefined) r.problems = checkStrings(x['problems'], where, 'problems');
  if (x['notes'] !== undefined) r.notes = checkStrings(x['notes'], where, 'notes');
  return r;
}

function checkGoal(x: unknown, where: string): Goal {
  if (!isObj(x)) throw new Error(`${where}: not an object`);
  const g: Goal = {};
  for (const k of ['maxRatio', 'minRatio', 'max', 'min'] as const) {
    const v = x[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`${where}: "${k}" must be a positive number`);
    g[k] = v;
  }
  return g;
}

function checkStrings(x: unknown, where: string, key: string): string[] {
  if (!Array.isArray(x) || !x.every((p) => typeof p === 'string')) throw new Error(`${where}: "${key}" must be a list of strings`);
  return x as string[];
}

const TARGET = /^(.+)\{target:([^}]+)\}$/;
const DEFAULT_STATS = ['med', 'p(95)', 'p(99)'];
/** k6's stat names as a figure shows them: med → p50, p(95) → p95. */
const statName = (stat: string): string => (stat === 'med' ? 'p50' : stat === 'avg' ? 'mean' : stat.replace(/^p\((\d+(?:\.\d+)?)\)$/, 'p$1'));

/** The figures of a k6 summary-export: each tagged target against `{target:baseline}`, per stat. */
export function fromK6Summary(x: Record<string, unknown>, fileName: string): BenchResult[] {
  const metrics = x['metrics'];
  if (!isObj(metrics)) throw new Error(`${fileName}: no "metrics" object`);
  const metaRaw = x['strata'];
  if (metaRaw !== undefined && !isObj(metaRaw)) throw new Error(`${fileName}: "strata" must be an object`);
  const meta = (metaRaw ?? {}) as K6Meta;
  const benchmark = typeof meta.benchmark === 'string' ? meta.benchmark : fileName.replace(/\.json$/, '');
  const problems = meta.problems === undefined ? undefined : checkStrings(meta.problems, fileName, 'strata.problems');
  const notes = meta.notes === undefined ? undefined : checkStrings(meta.notes, fileName, 'strata.notes');
  const out: BenchResult[] = [];
  const byMetric = new Map<string, Map<string, Record<string, unknown>>>();
  for (const [key, values] of Object.entries(metrics)) {
    const m = TARGET.exec(key);
    if (!m || !isObj(values)) continue;
    const [, name, target] = m as unknown as [string, string, string];
    if (!byMetric.has(name)) byMetric.set(name, new Map());
    byMetric.get(name)!.set(target, values);
  }
  for (const [name, targets] of byMetric) {
    const base = targets.get('baseline');
    if (!base) continue;
    for (const [target, ours] of targets) {
      if (target === 'baseline') continue;
      const stats = meta.stats ?? DEFAULT_STATS.filter((s) => s in ours && s in base);
      for (const stat of stats) {
        const value = ours[stat];
        const baseline = base[stat];
        const goal = meta.goals?.[stat];
        out.push({
          benchmark,
          figure: `${name} ${statName(stat)}${targets.size > 2 ? ` (${target})` : ''}`,
          value: typeof value === 'number' ? value : Number.NaN,
          baseline: typeof baseline === 'number' ? baseline : Number.NaN,
          unit: meta.unit ?? 'ms',
          machine: meta.machine ?? 'unknown',
          date: meta.date ?? 'unknown',
          ...(goal ? { goal: checkGoal(goal, `${fileName}: strata.goals["${stat}"]`) } : {}),
          ...(problems ? { problems } : {}),
          ...(notes ? { notes } : {}),
        });
      }
    }
  }
  // The load-test runner's own verdicts, where a script gave them as numbers (Goal.figure in loadtest/src/summary.ts).
  const goals = x['goals'];
  if (Array.isArray(goals)) {
    for (const [i, g] of goals.entries()) {
      if (!isObj(g) || !isObj(g['figure'])) continue;
      const f = g['figure'];
      const where = `${fileName}: goals[${i}].figure`;
      const bound = { maxRatio: f['maxRatio'], minRatio: f['minRatio'], max: f['max'], min: f['min'] };
      const hasBound = Object.values(bound).some((v) => v !== undefined);
      out.push({
        ...checkResult(
          {
            benchmark,
            figure: g['name'],
            value: f['value'],
            baseline: f['baseline'],
            unit: f['unit'],
            machine: meta.machine ?? 'unknown',
            date: meta.date ?? 'unknown',
          },
          where,
        ),
        ...(hasBound ? { goal: checkGoal(bound, where) } : {}),
        ...(problems ? { problems } : {}),
        ...(notes ? { notes } : {}),
      });
    }
  }
  if (!out.length) throw new Error(`${fileName}: no metric with both a {target:baseline} and another {target:...} submetric, and no goal with a figure`);
  return out;
}

/** The results in one file, in either format. */
export function parseResultFile(text: string, fileName: string): BenchResult[] {
  let x: unknown;
  try {
    x = JSON.parse(text);
  } catch (err) {
    throw new Error(`${fileName}: not JSON (${(err as Error).message})`);
  }
  if (!isObj(x)) throw new Error(`${fileName}: not a JSON object`);
  if (x['format'] === RESULT_FORMAT) {
    const results = x['results'];
    if (!Array.isArray(results)) throw new Error(`${fileName}: "results" must be a list`);
    return results.map((r, i) => checkResult(r, `${fileName}: results[${i}]`));
  }
  if ('metrics' in x) return fromK6Summary(x, fileName);
  throw new Error(`${fileName}: neither a ${RESULT_FORMAT} file nor a k6 summary export`);
}

const fmt = (x: number): string => {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
};

const goalText = (g: Goal | undefined, unit: string): string =>
  !g
    ? '—'
    : [
        g.maxRatio !== undefined ? `≤ ${g.maxRatio}` : '',
        g.minRatio !== undefined ? `≥ ${g.minRatio}` : '',
        g.max !== undefined ? `ours ≤ ${g.max} ${unit}` : '',
        g.min !== undefined ? `ours ≥ ${g.min} ${unit}` : '',
      ]
        .filter(Boolean)
        .join(', ') || '—';

/** Three decimals, or three significant digits for a ratio under 0.01 (a stream count against thousands would show as 0.000). */
const ratioText = (r: number): string => (!usableRatio(r) ? String(r) : r < 0.01 ? r.toPrecision(3) : r.toFixed(3));

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The Markdown table: one row per figure, sorted by benchmark then in file order. */
export function renderTable(rows: Row[]): string {
  const sorted = rows.map((r, i) => ({ r, i })).sort((a, b) => a.r.benchmark.localeCompare(b.r.benchmark) || a.i - b.i);
  const lines = ['| benchmark | figure | ours | baseline | ours / baseline | goal | status | machine | date |', '|---|---|---:|---:|---:|---|---|---|---|'];
  // Numbered notes under the table; rows with the same text share a number.
  const notes: string[] = [];
  const ref = (text: string): string => {
    let i = notes.indexOf(text);
    if (i < 0) i = notes.push(text) - 1;
    return `[${i + 1}]`;
  };
  for (const { r } of sorted) {
    let status = r.status === 'met' || r.status === 'NOT MET' ? `**${r.status}**` : r.status;
    const refs = [...(r.why.length ? [ref(`flagged: ${r.why.join('; ')}`)] : []), ...(r.notes ?? []).map(ref)];
    if (refs.length) status += ` ${refs.join(' ')}`;
    lines.push(
      `| ${cell(r.benchmark)} | ${cell(r.figure)} | ${fmt(r.value)} ${cell(r.unit)} | ${fmt(r.baseline)} ${cell(r.unit)} | ${ratioText(r.ratio)} | ${goalText(r.goal, r.unit)} | ${status} | ${cell(r.machine)} | ${cell(r.date.slice(0, 10))} |`,
    );
  }
  if (notes.length) lines.push('', ...notes.map((n, i) => `[${i + 1}] ${cell(n)}`));
  return lines.join('\n');
}

/** `doc` with the text between the table markers replaced by `table`. */
export function replaceTable(doc: string, table: string): string {
  const a = doc.indexOf(TABLE_START);
  const b = doc.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error(`the document has no ${TABLE_START} ... ${TABLE_END} block`);
  return `${doc.slice(0, a + TABLE_START.length)}\n\n${table}\n\n${doc.slice(b)}`;
}

/** Every result of every .json file in `dir`, judged, files in name order. */
export function loadRows(dir: string): Row[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.flatMap((f) => parseResultFile(readFileSync(join(dir, f), 'utf8'), f).map((r) => judge(r, f)));
}
