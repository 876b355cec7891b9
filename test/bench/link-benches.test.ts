/**
 * The link benchmarks at a tiny size (bench/link-bytes.ts, bench/link-setup.ts), run as their
 * commands are: two media nodes over NATS and bare mediasoup beside them, cleaned up at the
 * end. Asserts what the runs must hold whatever the machine — result files the table reads,
 * both figures measured, far subscribers that got the layer they asked for, every switch a
 * fresh pull that delivered media — and never a timing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { judge, parseResultFile } from '../../bench/lib/results.js';
import { REPO } from '../helpers/processes.js';
import { runBench } from '../helpers/bench.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-link-bench-'));

const positive = (x: number) => Number.isFinite(x) && x > 0;

describe('link benchmarks, short', { timeout: 180_000 }, () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('link bytes: both set-ups measured in the same windows, far subscribers got the lowest layer only', async () => {
    const file = join(dir, 'link-bytes.json');
    const run = await runBench('bench/link-bytes.ts', ['--subscribers', '2', '--window', '1', '--rounds', '2', '--warmup', '0', '--json', file]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /RESULT: link bytes ours \/ pipe = [\d.]+, goal <= 0.3: (met|NOT MET)/);
    const text = readFileSync(file, 'utf8');
    const [result, ...more] = parseResultFile(text, 'link-bytes.json');
    assert.equal(more.length, 0);
    assert.equal(result!.benchmark, 'link-bytes');
    assert.equal(result!.unit, 'kbit/s');
    assert.deepEqual(result!.goal, { maxRatio: 0.3 });
    assert.equal(result!.problems, undefined, 'no far subscriber got another layer or nothing, and Y received what X sent');
    assert.ok(positive(result!.value) && positive(result!.baseline), JSON.stringify(result));
    assert.notEqual(judge(result!, 'link-bytes.json').status, 'invalid');
    const raw = JSON.parse(text) as { windows: { ours: { stream: number }; bare: { stream: number } }[]; sentPerLayer: number[] };
    assert.equal(raw.windows.length, 2);
    assert.equal(raw.sentPerLayer.length, 3);
    for (const w of raw.windows) assert.ok(positive(w.ours.stream) && positive(w.bare.stream), JSON.stringify(w));
  });

  it('link setup: every switch a fresh pull that delivered media, on both set-ups', async () => {
    const file = join(dir, 'link-setup.json');
    const run = await runBench('bench/link-setup.ts', ['--switches', '4', '--video-switches', '2', '--thumb-switches', '2', '--linger', '50', '--json', file]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /RESULT: setup latency ours p95 = [\d.]+ ms \(bare [\d.]+ ms\), goal <= 30 ms: (met|NOT MET)/);
    const text = readFileSync(file, 'utf8');
    const results = parseResultFile(text, 'link-setup.json');
    assert.deepEqual(
      results.map((r) => r.figure.split(' (')[0]),
      [
        'decision → first packet on the far leg p50, ours / pipeToRouter',
        'decision → first packet on the far leg p95, ours / pipeToRouter',
        'decision → first packet on the far leg p99, ours / pipeToRouter',
        'speaker change → first whole key frame at a far subscriber, any layer, p50',
        'speaker change → first whole key frame at a far subscriber, any layer, p95',
      ],
    );
    assert.deepEqual(results[1]!.goal, { max: 30 });
    for (const r of results) {
      assert.equal(r.problems, undefined, JSON.stringify(r.problems));
      assert.ok(positive(r.value) && positive(r.baseline), JSON.stringify(r));
    }
    const raw = JSON.parse(text) as { samples: { side: string; kind: string; ms: number; setupMs: number; width?: number }[] };
    const count = (side: string, kind: string) => raw.samples.filter((s) => s.side === side && s.kind === kind).length;
    assert.deepEqual(
      ['probe', 'video', 'thumb'].flatMap((kind) => [count('ours', kind), count('bare', kind)]),
      [4, 4, 2, 2, 2, 2],
    );
    for (const s of raw.samples.filter((x) => x.kind !== 'probe'))
      assert.ok(s.width !== undefined, `a video switch got a whole key frame: ${JSON.stringify(s)}`);
    // The clock stops after setup: the first packet comes after the consumer exists.
    for (const s of raw.samples) assert.ok(s.ms >= s.setupMs && s.setupMs > 0, JSON.stringify(s));
    // The link carries the layer the far subscriber asked for (none: the top one) from the first frame.
    assert.deepEqual(
      raw.samples.filter((s) => s.side === 'ours' && s.kind === 'video').map((s) => s.width),
      [1280, 1280],
    );
  });
});
