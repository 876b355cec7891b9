/**
 * k6 thresholds: `thresholds: { 'join_duration{scenario:storm}': ['p(95)<200'], checks: ['rate>0.99'] }`.
 * A key is a metric name with an optional tag filter (a sub-metric); each expression is
 * `<aggregation> <operator> <number>`, or an object `{ threshold, abortOnFail, delayAbortEval }`.
 * Aggregations by metric type, as in k6: trend avg/min/max/med/p(N)/count, counter count/rate,
 * rate rate, gauge value (min and max too, as an extension).
 */
import type { AnyMetric, MetricType, Tags } from './metrics.js';
import { parseDuration } from './options.js';

export type ThresholdExpression = string | { threshold: string; abortOnFail?: boolean; delayAbortEval?: string };
export type ThresholdsOption = Record<string, ThresholdExpression[]>;

type Operator = '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';

export interface ParsedThreshold {
  /** The expression as written, e.g. `p(95)<200`: the key of the summary's thresholds map. */
  source: string;
  aggregation: string;
  operator: Operator;
  value: number;
  abortOnFail: boolean;
  delayAbortEvalMs: number;
}

export interface ParsedMetricKey {
  /** The key as written, e.g. `join_duration{scenario:storm}`. */
  key: string;
  metric: string;
  filter: Tags | undefined;
}

const EXPR = /^\s*([a-z]+(?:\(\s*\d+(?:\.\d+)?\s*\))?)\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/;

export function parseThreshold(expr: ThresholdExpression): ParsedThreshold {
  const source = typeof expr === 'string' ? expr : expr.threshold;
  const m = EXPR.exec(source);
  if (!m) throw new Error(`threshold ${JSON.stringify(source)}: expected <aggregation> <operator> <number>, e.g. p(95)<200 or rate>0.99`);
  const aggregation = (m[1] as string).replace(/\s+/g, '');
  const p = /^p\((\d+(?:\.\d+)?)\)$/.exec(aggregation);
  if (p && Number(p[1]) > 100) throw new Error(`threshold ${JSON.stringify(source)}: percentile above 100`);
  return {
    source,
    aggregation,
    operator: m[2] as Operator,
    value: Number(m[3]),
    abortOnFail: typeof expr === 'object' && expr.abortOnFail === true,
    delayAbortEvalMs: typeof expr === 'object' && expr.delayAbortEval ? parseDuration(expr.delayAbortEval) : 0,
  };
}

/** `name{tag:value,other:value}` → metric name and tag filter. */
export function parseMetricKey(key: string): ParsedMetricKey {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\{(.*)\})?$/.exec(key.trim());
  if (!m) throw new Error(`threshold key ${JSON.stringify(key)}: expected metric or metric{tag:value}`);
  if (m[2] === undefined) return { key, metric: m[1] as string, filter: undefined };
  const filter: Record<string, string> = {};
  for (const part of m[2].split(',')) {
    const i = part.indexOf(':');
    if (i <= 0) throw new Error(`threshold key ${JSON.stringify(key)}: tag filter ${JSON.stringify(part)} is not tag:value`);
    filter[part.slice(0, i).trim()] = part
      .slice(i + 1)
      .trim()
      .replace(/^["']|["']$/g, '');
  }
  return { key, metric: m[1] as string, filter };
}

const ALLOWED: Record<MetricType, RegExp> = {
  trend: /^(avg|min|max|med|count|p\(\d+(\.\d+)?\))$/,
  counter: /^(count|rate)$/,
  rate: /^rate$/,
  gauge: /^(value|min|max)$/,
};

/** The number a threshold compares, from a metric's aggregates. */
export function aggregate(metric: AnyMetric, aggregation: string, filter: Tags | undefined, durationS: number): number {
  if (!ALLOWED[metric.type].test(aggregation)) throw new Error(`threshold on ${metric.name}: ${aggregation} is not an aggregation of a ${metric.type}`);
  switch (metric.type) {
    case 'trend': {
      const v = metric.values(filter);
      const p = /^p\((.+)\)$/.exec(aggregation);
      if (p) return v.percentile(Number(p[1]));
      return v[aggregation as 'avg' | 'min' | 'max' | 'med' | 'count'];
    }
    case 'counter':
      return metric.values(durationS, filter)[aggregation as 'count' | 'rate'];
    case 'rate':
      return metric.values(filter).value;
    case 'gauge':
      return metric.values(filter)[aggregation as 'value' | 'min' | 'max'];
  }
}

export function compare(actual: number, op: Operator, expected: number): boolean {
  // No samples (NaN) crosses every threshold, as in k6 a threshold on an empty trend fails.
  if (Number.isNaN(actual)) return false;
  switch (op) {
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '==':
    case '===':
      return actual === expected;
    case '!=':
      return actual !== expected;
  }
}

export interface ThresholdResult {
  key: string;
  source: string;
  ok: boolean;
  actual: number;
}

export interface ThresholdSet {
  key: ParsedMetricKey;
  thresholds: ParsedThreshold[];
}

/** Parses every threshold up front: a typo fails the run before any load is sent. */
export function parseThresholds(option: ThresholdsOption | undefined): ThresholdSet[] {
  return Object.entries(option ?? {}).map(([key, exprs]) => {
    if (!Array.isArray(exprs)) throw new Error(`thresholds.${key}: expected an array of expressions`);
    return { key: parseMetricKey(key), thresholds: exprs.map(parseThreshold) };
  });
}

export function evaluateThresholds(sets: ThresholdSet[], lookup: (name: string) => AnyMetric | undefined, durationS: number): ThresholdResult[] {
  const out: ThresholdResult[] = [];
  for (const s of sets) {
    const metric = lookup(s.key.metric);
    for (const t of s.thresholds) {
      if (!metric) {
        out.push({ key: s.key.key, source: t.source, ok: false, actual: NaN });
        continue;
      }
      const actual = aggregate(metric, t.aggregation, s.key.filter, durationS);
      out.push({ key: s.key.key, source: t.source, ok: compare(actual, t.operator, t.value), actual });
    }
  }
  return out;
}
