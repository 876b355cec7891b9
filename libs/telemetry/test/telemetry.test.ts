import { trace } from '@opentelemetry/api';
import { createLogger, startTelemetry } from '@strata/telemetry';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';

describe('telemetry', () => {
  it('exports spans over OTLP/HTTP when an endpoint is configured, with the service resource', async () => {
    const bodies: { path: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('latin1')));
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', () => r()));
    const port = (collector.address() as AddressInfo).port;
    const t = startTelemetry({ serviceName: 'otel-test', version: '9.9.9', region: 'eu', nodeId: 'n-1', otlpEndpoint: `http://127.0.0.1:${port}` });
    assert.equal(t.exporting, true);
    trace.getTracer('test').startActiveSpan('unit-of-work', (span) => span.end());
    await t.shutdown(); // flushes the batch
    collector.close();
    const traces = bodies.filter((b) => b.path === '/v1/traces');
    assert.ok(traces.length > 0, 'the collector received traces');
    const all = traces.map((b) => b.body).join('');
    assert.ok(all.includes('strata-otel-test'), 'service.name is on the resource');
    assert.ok(all.includes('unit-of-work'), 'the span is in the export');
  });

  it('logs JSON lines with service, region and node ids, and the active trace id', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const t = startTelemetry({ serviceName: 'log-test', version: '1', region: 'eu', nodeId: 'n-2' });
    const log = createLogger({ service: 'log-test', region: 'eu', nodeId: 'n-2', destination });
    let traceId = '';
    trace.getTracer('test').startActiveSpan('op', (span) => {
      traceId = span.spanContext().traceId;
      log.info({ roomId: 'r1' }, 'hello');
      span.end();
    });
    const rec = JSON.parse(lines.join('').trim().split('\n').pop() as string) as Record<string, unknown>;
    assert.equal(rec['service'], 'log-test');
    assert.equal(rec['region'], 'eu');
    assert.equal(rec['nodeId'], 'n-2');
    assert.equal(rec['roomId'], 'r1');
    assert.equal(rec['traceId'], traceId);
    return t.shutdown();
  });
});
