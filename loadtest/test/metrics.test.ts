import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vuStore } from '../src/context-store.js';
import { Counter, Gauge, Rate, Trend, builtin, trendValues } from '../src/metrics.js';
import { EXIT, isMediaVu, run, type ScriptModule } from '../src/runner.js';
import type { Target } from '../src/session.js';
import { buildSummary } from '../src/summary.js';
import { check } from '../src/vu.js';

describe('metric aggregation', () => {
  it('trend: nearest-rank percentiles, min, med, max, avg', () => {
    const v = trendValues(Array.from({ length: 1000 }, (_, i) => i + 1));
    assert.equal(v.count, 1000);
    assert.equal(v.min, 1);
    assert.equal(v.max, 1000);
    assert.equal(v.med, 500);
    assert.equal(v.percentile(90), 900);
    assert.equal(v.percentile(99), 990);
    assert.equal(v.percentile(99.9), 999);
    assert.equal(v.avg, 500.5);
    assert.ok(Number.isNaN(trendValues([]).percentile(50)));
  });

  it('keeps samples per tag set and filters sub-metrics', () => {
    const t = new Trend('m_trend');
    t.add(10, { phase: 'first' });
    t.add(30, { phase: 'last' });
    t.add(20, { phase: 'first' });
    t.add(Number.NaN); // ignored, like k6 ignores non-numbers
    assert.equal(t.values().count, 3);
    assert.deepEqual(t.samples({ phase: 'first' }), [10, 20]);
    assert.equal(t.values({ phase: 'last' }).max, 30);
    assert.equal(t.values({ phase: 'none' }).count, 0);
  });

  it('counter, rate and gauge', () => {
    const c = new Counter('m_counter');
    c.add();
    c.add(4, { x: '1' });
    assert.deepEqual(c.values(2), { count: 5, rate: 2.5 });
    assert.equal(c.values(2, { x: '1' }).count, 4);
    const r = new Rate('m_rate');
    r.add(true);
    r.add(0);
    r.add(1);
    r.add(false);
    assert.deepEqual(r.values(), { passes: 2, fails: 2, value: 0.5 });
    const g = new Gauge('m_gauge');
    g.add(3, { a: '1' });
    g.add(9, { a: '2' });
    g.add(1, { a: '1' });
    assert.deepEqual(g.values(), { value: 1, min: 1, max: 9 });
    assert.deepEqual(g.values({ a: '2' }), { value: 9, min: 9, max: 9 });
  });

  it('refuses a duplicate or malformed metric name', () => {
    new Counter('m_dup');
    assert.throws(() => new Trend('m_dup'), /already exists/);
    assert.throws(() => new Trend('bad-name'), /letters, digits/);
  });

  it('tags samples with the running VU scenario tags (AsyncLocalStorage)', async () => {
    const t = new Trend('m_scoped');
    const stopping = new AbortController().signal;
    await vuStore.run({ vu: 1, iter: 0, scenario: 's1', tags: { scenario: 's1' }, stopping }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      t.add(1);
      check(1, {
        'is one': (v) => v === 1,
        'is two': (v) => v === 2,
        throws: () =>
          ((): boolean => {
            throw new Error('x');
          })(),
      });
    });
    t.add(2);
    assert.deepEqual(t.samples({ scenario: 's1' }), [1]);
    assert.equal(builtin.checks.values({ scenario: 's1', check: 'is one' }).passes, 1);
    assert.equal(builtin.checks.values({ check: 'is two' }).fails, 1);
    assert.equal(builtin.checks.values({ check: 'throws' }).fails, 1);
  });
});

describe('summary export', () => {
  it("has k6's shape: metrics by name, checks in the root group, thresholds true when crossed", () => {
    const t = new Trend('s_join');
    t.add(5, { scenario: 'a' });
    t.add(50, { scenario: 'b' });
    const s = buildSummary({
      durationMs: 2000,
      trendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
      thresholds: [
        { key: 's_join', source: 'p(95)<10', ok: false, actual: 50 },
        { key: 's_join{scenario:a}', source: 'p(95)<10', ok: true, actual: 5 },
      ],
      scenarios: {},
      server: undefined,
      goals: [],
      extra: {},
      aborted: undefined,
    });
    assert.deepEqual(Object.keys(s.metrics['s_join'] ?? {}), ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'thresholds']);
    assert.deepEqual(s.metrics['s_join']?.thresholds, { 'p(95)<10': true });
    assert.equal(s.metrics['s_join{scenario:a}']?.['max'], 5);
    assert.deepEqual(s.metrics['s_join{scenario:a}']?.thresholds, { 'p(95)<10': false });
    assert.equal(s.root_group.path, '');
    assert.equal(s.state.testRunDurationMs, 2000);
  });
});

describe('runner', () => {
  const target: Target = { wsUrl: 'ws://127.0.0.1:1/rtc', region: 'none', mintToken: async () => 'x' };

  it('spreads media VUs evenly over a share', () => {
    const media = Array.from({ length: 10 }, (_, i) => isMediaVu(i, 0.3)).filter(Boolean).length;
    assert.equal(media, 3);
    assert.equal(Array.from({ length: 10 }, (_, i) => isMediaVu(i, 0)).filter(Boolean).length, 0);
    assert.equal(Array.from({ length: 10 }, (_, i) => isMediaVu(i, 1)).filter(Boolean).length, 10);
  });

  it('exits 99 when a threshold is crossed, 0 when none is, and counts iteration errors', async () => {
    const seen = new Trend('r_seen');
    const script = (threshold: string): ScriptModule => ({
      options: {
        scenarios: { one: { executor: 'per-vu-iterations', vus: 2, iterations: 3, tags: { kind: 'unit' } } },
        thresholds: { r_seen: [threshold], checks: ['rate==1'] },
      },
      default: async (vu) => {
        seen.add(vu.iter);
        vu.check(vu, { 'has a VU number': (v) => v.vu > 0 });
        if (vu.iter === 2) throw new Error('planned failure');
      },
    });
    const logs: string[] = [];
    const ok = await run({ script: script('count==6'), target, log: (l) => logs.push(l) });
    assert.equal(ok.exitCode, EXIT.ok, ok.text);
    assert.equal(ok.summary.metrics['iterations']?.['count'], 6);
    assert.equal(ok.summary.metrics['iteration_errors']?.['count'], 2);
    assert.equal(ok.summary.scenarios['one']?.iterations, 6);
    assert.equal(ok.summary.root_group.checks['has a VU number']?.passes, 6);
    assert.ok(logs.some((l) => l.includes('planned failure')));
    assert.deepEqual(ok.summary.errors, { 'one: planned failure': 2 });
    const crossed = await run({ script: script('count>6'), target, log: () => undefined });
    assert.equal(crossed.exitCode, EXIT.thresholdsFailed);
    assert.deepEqual(crossed.summary.metrics['r_seen']?.thresholds, { 'count>6': true });
  });

  it('stops the run when an abortOnFail threshold is crossed', async () => {
    const r = await run({
      script: {
        options: {
          scenarios: { long: { executor: 'constant-vus', vus: 2, duration: '60s', gracefulStop: '1s' } },
          thresholds: { iterations: [{ threshold: 'count<5', abortOnFail: true }] },
        },
        default: () => new Promise((resolve) => setTimeout(resolve, 20)),
      },
      target,
      log: () => undefined,
    });
    assert.equal(r.exitCode, EXIT.thresholdsFailed);
    assert.match(r.summary.aborted ?? '', /iterations: count<5 crossed \(abortOnFail\)/);
    assert.ok((r.summary.scenarios['long']?.end_ms ?? Infinity) < 60_000, 'ended before its duration');
  });

  it('exits 99 on a failed goal, and refuses a threshold on an unknown metric before running', async () => {
    const r = await run({
      script: {
        options: { scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 1 } } },
        default: () => undefined,
        goals: () => [{ name: 'g', ok: false, detail: 'no' }],
      },
      target,
      log: () => undefined,
    });
    assert.equal(r.exitCode, EXIT.thresholdsFailed);
    assert.match(r.text, /✗ g: no/);
    await assert.rejects(
      run({
        script: {
          options: { scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 1 } }, thresholds: { nope: ['count>0'] } },
          default: () => undefined,
        },
        target,
        log: () => undefined,
      }),
      /no metric named nope/,
    );
    await assert.rejects(
      run({
        script: { options: { scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'missing' } } } },
        target,
        log: () => undefined,
      }),
      /no function "missing"/,
    );
  });
});
