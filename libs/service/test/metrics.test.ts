import { startNatsServer, type NatsServer } from '@strata/nats-server';
import {
  METRICS_CONTENT_TYPE,
  counter,
  formatMetrics,
  gauge,
  metricsResponse,
  processMetrics,
  startHealthHttp,
  startService,
  type MetricFamily,
} from '@strata/service';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parsePrometheusText, sampleValue, scrape } from '../../../test/helpers/prometheus.js';

describe('Prometheus text format 0.0.4', () => {
  it('writes HELP, then TYPE, then the samples of each family, in the order given, every line ended', () => {
    const text = formatMetrics([
      gauge('queue_depth', 'Jobs waiting.', 3),
      {
        name: 'requests_total',
        help: 'Requests served.',
        type: 'counter',
        samples: [
          { labels: { method: 'GET', code: '200' }, value: 10 },
          { labels: { method: 'POST', code: '500' }, value: 0 },
        ],
      },
    ]);
    assert.equal(
      text,
      [
        '# HELP queue_depth Jobs waiting.',
        '# TYPE queue_depth gauge',
        'queue_depth 3',
        '# HELP requests_total Requests served.',
        '# TYPE requests_total counter',
        'requests_total{method="GET",code="200"} 10',
        'requests_total{method="POST",code="500"} 0',
        '',
      ].join('\n'),
    );
  });

  it('escapes backslash, double quote and line feed in label values; backslash and line feed (not quotes) in HELP', () => {
    const text = formatMetrics([{ name: 'odd', help: 'a \\ b\nc "d"', type: 'gauge', samples: [{ labels: { path: 'C:\\dir\n"x"' }, value: 1 }] }]);
    assert.equal(text, '# HELP odd a \\\\ b\\nc "d"\n# TYPE odd gauge\nodd{path="C:\\\\dir\\n\\"x\\""} 1\n');
    // And a strict reader gets the original strings back.
    const parsed = parsePrometheusText(text).get('odd');
    assert.equal(parsed?.help, 'a \\ b\nc "d"');
    assert.deepEqual(parsed?.samples[0]?.labels, { path: 'C:\\dir\n"x"' });
  });

  it('spells special values as Prometheus reads them, and floats as they are', () => {
    const text = formatMetrics([
      {
        name: 'g',
        help: 'h',
        type: 'gauge',
        samples: [
          { labels: { v: 'nan' }, value: NaN },
          { labels: { v: 'inf' }, value: Infinity },
        ],
      },
      { name: 'n', help: 'h', type: 'gauge', samples: [{ value: -Infinity }, { labels: { v: 'f' }, value: 0.25 }, { labels: { v: 'e' }, value: 1e21 }] },
    ]);
    assert.match(text, /^g\{v="nan"\} NaN$/m);
    assert.match(text, /^g\{v="inf"\} \+Inf$/m);
    assert.match(text, /^n -Inf$/m);
    assert.match(text, /^n\{v="f"\} 0\.25$/m);
    assert.equal(sampleValue(parsePrometheusText(text), 'n', { v: 'e' }), 1e21);
  });

  it('refuses what Prometheus would refuse rather than serve a scrape it drops', () => {
    const bad: [MetricFamily[], RegExp][] = [
      [[counter('requests', 'h', 1)], /must be named \*_total/],
      [[counter('requests_total', 'h', -1)], /has value -1/],
      [[counter('requests_total', 'h', NaN)], /has value NaN/],
      [[gauge('1st', 'h', 1)], /not valid/],
      [[gauge('with-dash', 'h', 1)], /not valid/],
      [[gauge('a', 'h', 1), gauge('a', 'h', 2)], /appears twice/],
      [[{ name: 'a', help: 'h', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }], /label name/],
      [[{ name: 'a', help: 'h', type: 'gauge', samples: [{ labels: { __reserved: 'x' }, value: 1 }] }], /label name/],
    ];
    for (const [families, error] of bad) assert.throws(() => formatMetrics(families), error, JSON.stringify(families));
  });

  it('an empty list is an empty body; a family without samples is still described', () => {
    assert.equal(formatMetrics([]), '');
    assert.equal(formatMetrics([{ name: 'none', help: 'h', type: 'gauge', samples: [] }]), '# HELP none h\n# TYPE none gauge\n');
  });
});

describe('the strict reader used by the end-to-end tests', () => {
  it('refuses lines and orders Prometheus would not take', () => {
    const bad: [string, RegExp][] = [
      ['no_type 1\n', /no TYPE line/],
      ['# TYPE a gauge\na 1', /line feed/],
      ['# TYPE a gauge\na{x="1} 1\n', /not closed/],
      ['# TYPE a gauge\na{x="\\t"} 1\n', /bad escape/],
      ['# TYPE a gauge\na{x="1",x="2"} 1\n', /twice/],
      ['# TYPE a gauge\na one\n', /not a number/],
      ['# TYPE a gauge\na 1 2 3\n', /junk/],
      ['# TYPE a gauge\n-a 1\n', /valid metric name/],
      ['# TYPE a gauge\na 1\na 2\n', /same name and labels/],
      ['# TYPE a gauge\n# TYPE a gauge\n', /second TYPE/],
      ['# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="y"} 2\n', /again after other families/],
      ['# TYPE a_total counter\na_total -1\n', /below zero/],
      ['# TYPE a foo\n', /unknown type/],
    ];
    for (const [text, error] of bad) assert.throws(() => parsePrometheusText(text), error, text);
  });
});

describe('metricsResponse', () => {
  it('answers 200 with the 0.0.4 content type', () => {
    const r = metricsResponse(
      () => [gauge('up', 'h', 1)],
      () => assert.fail('no error expected'),
    );
    assert.deepEqual(r, { status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: '# HELP up h\n# TYPE up gauge\nup 1\n' });
    assert.equal(METRICS_CONTENT_TYPE, r.contentType);
  });

  it('a collector that throws, or a family the formatter refuses, is a 500 with a JSON error, reported to onError', () => {
    const errors: unknown[] = [];
    const thrown = metricsResponse(
      () => {
        throw new Error('counter store gone');
      },
      (err) => errors.push(err),
    );
    assert.equal(thrown.status, 500);
    assert.equal(thrown.contentType, 'application/json');
    assert.deepEqual(JSON.parse(thrown.body), { error: { code: 'INTERNAL', message: 'metrics failed: counter store gone' } });
    const refused = metricsResponse(
      () => [counter('no_suffix', 'h', 1)],
      (err) => errors.push(err),
    );
    assert.equal(refused.status, 500);
    assert.match(refused.body, /must be named/);
    assert.equal(errors.length, 2);
  });
});

describe('processMetrics', () => {
  it('has CPU, memory, start time, event loop and the info gauge, and parses', () => {
    const families = parsePrometheusText(
      formatMetrics(processMetrics({ kind: 'turn', region: 'eu-1', node: 'turn-"a"', version: '0.1.0', eventLoop: 0.25, loadScore: 0.5 })),
    );
    assert.equal(families.get('process_cpu_seconds_total')?.type, 'counter');
    assert.ok(sampleValue(families, 'process_cpu_seconds_total') > 0);
    assert.ok(sampleValue(families, 'process_resident_memory_bytes') > 1_000_000);
    const heapUsed = sampleValue(families, 'nodejs_heap_size_used_bytes');
    assert.ok(heapUsed > 1_000_000 && heapUsed <= sampleValue(families, 'nodejs_heap_size_total_bytes'), `heap used ${heapUsed}`);
    assert.ok(sampleValue(families, 'nodejs_external_memory_bytes') > 0);
    const start = sampleValue(families, 'process_start_time_seconds');
    assert.ok(start <= Date.now() / 1000 && start > Date.now() / 1000 - 3600, `start ${start}`);
    assert.equal(sampleValue(families, 'nodejs_eventloop_utilization'), 0.25);
    assert.equal(sampleValue(families, 'strata_load_score'), 0.5);
    assert.deepEqual(families.get('strata_service_info')?.samples, [
      { name: 'strata_service_info', labels: { kind: 'turn', region: 'eu-1', node: 'turn-"a"', version: '0.1.0' }, value: 1 },
    ]);
  });

  it('leaves out what no heartbeat has measured yet', () => {
    const names = processMetrics({ kind: 'media', region: 'r', node: 'n', version: 'v', eventLoop: undefined, loadScore: undefined }).map((f) => f.name);
    assert.deepEqual(names, [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_total_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_external_memory_bytes',
      'process_start_time_seconds',
      'strata_service_info',
    ]);
  });
});

describe('the kit HTTP server', () => {
  it('serves GET /metrics beside /healthz and names both in its 404', async () => {
    const http = await startHealthHttp(
      '127.0.0.1',
      0,
      () => Promise.resolve({ status: 'ok' }),
      () =>
        metricsResponse(
          () => [gauge('up', 'h', 1)],
          () => {},
        ),
    );
    try {
      const base = `http://127.0.0.1:${http.port}`;
      assert.equal(sampleValue(await scrape(base), 'up'), 1);
      assert.equal((await fetch(`${base}/metrics?x=1`)).status, 200, 'a query string does not change the route');
      const missing = await fetch(`${base}/nope`);
      assert.equal(missing.status, 404);
      assert.deepEqual(await missing.json(), { error: { code: 'NOT_FOUND', message: 'only GET /healthz and GET /metrics here' } });
      assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 404);
    } finally {
      await http.close();
    }
  });
});

describe('startService and GET /metrics', { timeout: 30_000 }, () => {
  let nats: NatsServer;
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats?.stop();
  });

  const env = (): NodeJS.ProcessEnv => ({ NATS_URL: nats.url, STRATA_REGION: 'unit', STRATA_NODE_ID: 'geo-1', HTTP_PORT: '0', LOG_LEVEL: 'silent' });

  it("serves the kit's families and the service's own", async () => {
    let routed = 0;
    const running = await startService(
      {
        kind: 'geo-router',
        version: '9.9.9',
        config: {},
        start: async () => ({
          metrics: () => [counter('strata_test_routed_total', 'Routes answered.', ++routed)],
          close: async () => {},
        }),
      },
      env(),
    );
    try {
      const base = `http://127.0.0.1:${running.httpPort}`;
      const families = await scrape(base);
      assert.deepEqual(families.get('strata_service_info')?.samples[0]?.labels, { kind: 'geo-router', region: 'unit', node: 'geo-1', version: '9.9.9' });
      assert.ok(families.has('process_cpu_seconds_total'));
      assert.ok(families.has('nodejs_eventloop_utilization'), 'the first heartbeat measured the event loop');
      assert.equal(sampleValue(families, 'strata_test_routed_total'), 1);
      assert.equal(sampleValue(await scrape(base), 'strata_test_routed_total'), 2, 'read at each scrape');
      // ctx.metrics is the same answer, for services that own their HTTP server.
      assert.equal(running.ctx.metrics().status, 200);
    } finally {
      await running.stop();
    }
  });

  it('a metrics() that throws answers 500 with a JSON error, and the process keeps serving', async () => {
    const running = await startService(
      {
        kind: 'geo-router',
        version: '0.1.0',
        config: {},
        start: async () => ({
          metrics: () => {
            throw new Error('broken gauge');
          },
          close: async () => {},
        }),
      },
      env(),
    );
    try {
      const base = `http://127.0.0.1:${running.httpPort}`;
      const res = await fetch(`${base}/metrics`);
      assert.equal(res.status, 500);
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.deepEqual(await res.json(), { error: { code: 'INTERNAL', message: 'metrics failed: broken gauge' } });
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
    } finally {
      await running.stop();
    }
  });
});
