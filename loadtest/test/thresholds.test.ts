import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Rate, Trend, defaultRegistry } from '../src/metrics.js';
import { evaluateThresholds, parseMetricKey, parseThreshold, parseThresholds } from '../src/thresholds.js';

describe('threshold expressions', () => {
  it("parses k6's syntax", () => {
    assert.deepEqual(parseThreshold('p(95)<200'), {
      source: 'p(95)<200',
      aggregation: 'p(95)',
      operator: '<',
      value: 200,
      abortOnFail: false,
      delayAbortEvalMs: 0,
    });
    assert.equal(parseThreshold(' rate > 0.99 ').operator, '>');
    assert.equal(parseThreshold('p(99.9) <= 1.5').aggregation, 'p(99.9)');
    assert.equal(parseThreshold('count==0').operator, '==');
    assert.equal(parseThreshold('value!=3').operator, '!=');
    const obj = parseThreshold({ threshold: 'avg<10', abortOnFail: true, delayAbortEval: '10s' });
    assert.equal(obj.abortOnFail, true);
    assert.equal(obj.delayAbortEvalMs, 10_000);
  });

  it('refuses what is not an expression', () => {
    assert.throws(() => parseThreshold('p95<200'), /expected <aggregation> <operator> <number>/);
    assert.throws(() => parseThreshold('p(95)<'), /expected/);
    assert.throws(() => parseThreshold('p(101)<3'), /above 100/);
    assert.throws(() => parseThresholds({ x: 'rate>1' as unknown as string[] }), /array/);
  });

  it('reads sub-metric keys', () => {
    assert.deepEqual(parseMetricKey('join_duration'), { key: 'join_duration', metric: 'join_duration', filter: undefined });
    assert.deepEqual(parseMetricKey('join_duration{scenario:storm,target:"ws"}').filter, { scenario: 'storm', target: 'ws' });
    assert.throws(() => parseMetricKey('a{b}'), /tag:value/);
  });
});

describe('threshold evaluation', () => {
  const t = new Trend('th_latency');
  for (let i = 1; i <= 100; i++) t.add(i, { target: i <= 50 ? 'a' : 'b' });
  const c = new Counter('th_count');
  c.add(30);
  const r = new Rate('th_rate');
  for (let i = 0; i < 100; i++) r.add(i !== 0);
  const g = new Gauge('th_gauge');
  g.add(5);
  g.add(2);
  new Trend('th_empty');
  const lookup = (n: string) => defaultRegistry.get(n);

  it('compares the aggregation of each metric type', () => {
    const res = evaluateThresholds(
      parseThresholds({
        th_latency: ['p(95)<96', 'p(95)<95', 'med==50', 'max<=100', 'avg>50', 'count==100'],
        'th_latency{target:a}': ['max==50'],
        th_count: ['count==30', 'rate>2'],
        th_rate: ['rate>0.99', 'rate>=0.99'],
        th_gauge: ['value==2', 'max==5', 'min==2'],
      }),
      lookup,
      10,
    );
    assert.deepEqual(
      res.map((x) => [x.key, x.source, x.ok]),
      [
        ['th_latency', 'p(95)<96', true],
        ['th_latency', 'p(95)<95', false],
        ['th_latency', 'med==50', true],
        ['th_latency', 'max<=100', true],
        ['th_latency', 'avg>50', true],
        ['th_latency', 'count==100', true],
        ['th_latency{target:a}', 'max==50', true],
        ['th_count', 'count==30', true],
        ['th_count', 'rate>2', true],
        ['th_rate', 'rate>0.99', false],
        ['th_rate', 'rate>=0.99', true],
        ['th_gauge', 'value==2', true],
        ['th_gauge', 'max==5', true],
        ['th_gauge', 'min==2', true],
      ],
    );
  });

  it('fails a threshold on a metric without samples, or an unknown metric', () => {
    const res = evaluateThresholds(parseThresholds({ th_empty: ['p(95)<1000'], nope: ['count>0'] }), lookup, 1);
    assert.deepEqual(
      res.map((x) => x.ok),
      [false, false],
    );
  });

  it('refuses an aggregation the metric type does not have', () => {
    assert.throws(() => evaluateThresholds(parseThresholds({ th_rate: ['p(95)<1'] }), lookup, 1), /not an aggregation of a rate/);
    assert.throws(() => evaluateThresholds(parseThresholds({ th_count: ['value<1'] }), lookup, 1), /not an aggregation of a counter/);
  });
});
