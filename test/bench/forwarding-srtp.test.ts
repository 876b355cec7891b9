/**
 * A short run of the forwarding benchmark's SRTP mode (bench/forwarding.ts --srtp), for real:
 * ffmpeg sending SRTP, bare mediasoup and the media service over NATS both with SRTP on every
 * plain transport, sinks authenticating what their consumers send. What is checked is that it
 * works and reports what it should (packets forwarded and authenticated, a finite ratio, the
 * capacity figure in the results of record), never how fast anything was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { WindowResult } from '../../bench/lib/measure.js';
import { judge, parseResultFile } from '../../bench/lib/results.js';
import { runBench } from '../helpers/bench.js';

const CONSUMERS = 10;

describe('forwarding benchmark, SRTP mode (short run)', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-srtp-bench-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('forwards SRTP on both set-ups and reports the ratio and the capacity per core', async () => {
    const json = join(dir, 'forwarding-srtp.json');
    const run = await runBench('bench/forwarding.ts', [
      '--srtp',
      '--consumers',
      String(CONSUMERS),
      '--window',
      '3',
      '--warmup',
      '2',
      '--rounds',
      '1',
      '--json',
      json,
    ]);
    assert.equal(run.code, 0, `bench exited ${run.code}:\n${run.stderr.slice(-4000)}`);
    assert.match(run.stdout, /SRTP \(AES_CM_128_HMAC_SHA1_80\) on every consumer transport/);
    assert.match(run.stdout, /RESULT forwarding-srtp CPU per consumer, ours\/bare: N=10 /);
    assert.match(run.stdout, /RESULT SRTP consumers per worker core at 0 loss: ours /);

    const text = readFileSync(json, 'utf8');
    const results = parseResultFile(text, 'forwarding-srtp.json');
    const cpu = results.filter((r) => r.figure.startsWith('SRTP CPU per consumer'));
    assert.equal(cpu.length, 1);
    const [r] = cpu;
    assert.equal(r!.benchmark, 'forwarding-srtp');
    assert.match(r!.figure, /N=10 \(AES_CM_128_HMAC_SHA1_80, alternate, 1 round\(s\) of 3 s\)/);
    assert.ok(Number.isFinite(r!.value / r!.baseline), `ours / bare is a finite number: ${r!.value} / ${r!.baseline}`);
    assert.deepEqual(r!.goal, { maxRatio: 1.05 });
    const cap = results.find((x) => x.unit === 'consumers/core');
    assert.ok(cap, 'the capacity figure is a result of record');
    assert.deepEqual(cap.goal, { min: 1250 });
    assert.match(cap.figure, /^SRTP consumers per worker core at 0 loss/);
    // Whatever the machine did, each figure is judged (met, NOT MET or invalid), never dropped.
    for (const x of results) assert.ok(['met', 'NOT MET', 'invalid'].includes(judge(x, 'f').status));

    // Every window with consumers: every consumer got packets, sampled packets authenticated, none failed.
    const { windows } = JSON.parse(text) as { windows: WindowResult[] };
    const measured = windows.filter((w) => w.consumers === CONSUMERS);
    assert.deepEqual(measured.map((w) => w.setup).sort(), ['bare', 'ours']);
    for (const w of measured) {
      assert.ok(w.video.min > 0 && w.audio.min > 0, `${w.setup}: every consumer received video and audio`);
      assert.ok(w.srtp && w.srtp.verified > 0, `${w.setup}: sampled SRTP packets authenticated`);
      assert.equal(w.srtp.failed, 0);
      assert.ok(Number.isInteger(w.lost) && w.lost >= 0, `${w.setup}: loss counted`);
    }
    for (const w of windows.filter((x) => x.consumers === 0)) assert.equal(w.srtp, undefined, 'no receivers, nothing to authenticate');
  });
});
