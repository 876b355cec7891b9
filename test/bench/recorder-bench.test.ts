/**
 * A short run of the recorder benchmark (bench/recorder.ts), for real: 2 tracks (one Opus, one
 * VP8) captured from ffmpeg, replayed by the sender process to our TrackRecorders and to two bare
 * ffmpeg recorders. What is checked is that the run completes, that ffprobe counted packets in
 * every file both sides wrote, and that the figures are there and finite, never how fast anything was.
 */
import { haveCommands } from '@strata/harness';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Run } from '../../bench/recorder.js';
import { parseResultFile } from '../../bench/lib/results.js';
import { runBench } from '../helpers/bench.js';

const HAVE_FFMPEG = await haveCommands('ffmpeg', 'ffprobe');

describe('recorder benchmark (short run)', { timeout: 180_000, skip: HAVE_FFMPEG ? false : 'ffmpeg and ffprobe not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-rec-bench-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('records 2 tracks on both sides and reports finite figures', async () => {
    const json = join(dir, 'recorder.json');
    const run = await runBench('bench/recorder.ts', [
      '--tracks',
      '2',
      '--steps',
      '',
      '--window',
      '2',
      '--warmup',
      '1',
      '--rounds',
      '1',
      '--capture',
      '2',
      '--json',
      json,
    ]);
    assert.equal(run.code, 0, `bench exited ${run.code}:\n${run.stderr.slice(-4000)}`);
    // Two ffmpegs over 2 s may use less than one clock tick (10 ms) of CPU: the ratio is then "—".
    assert.match(run.stdout, /RESULT recorder CPU per track, ours\/ffmpeg: (\d+\.\d+|—) /);
    assert.match(run.stdout, /RESULT recorder RSS per track, ours\/ffmpeg: \d+\.\d+ /);
    assert.match(run.stdout, /RESULT recorder tracks per core without loss, ours\/ffmpeg: /);

    const text = readFileSync(json, 'utf8');
    const results = parseResultFile(text, 'recorder.json');
    const cpu = results.find((r) => r.figure.startsWith('CPU per recorded track'));
    assert.ok(cpu, 'CPU per track is a result of record');
    assert.equal(cpu.unit, '% core');
    // CPU may be 0 ticks in so short a run; memory and frames cannot be.
    for (const r of results.filter((x) => !x.figure.startsWith('tracks per core'))) {
      const zeroOk = r.unit === '% core';
      assert.ok(Number.isFinite(r.value) && (zeroOk ? r.value >= 0 : r.value > 0), `${r.figure}: ours ${r.value}`);
      assert.ok(Number.isFinite(r.baseline) && (zeroOk ? r.baseline >= 0 : r.baseline > 0), `${r.figure}: ffmpeg ${r.baseline}`);
    }

    const { runs } = JSON.parse(text) as { runs: Run[] };
    assert.deepEqual(runs.map((r) => r.side).sort(), ['ffmpeg', 'ours']);
    for (const r of runs) {
      assert.equal(r.emptyFiles, 0, `${r.side}: ffprobe read packets from every file`);
      assert.ok(r.framesSent > 0 && r.framesInFiles > 0, `${r.side}: frames sent ${r.framesSent}, in the files ${r.framesInFiles}`);
      assert.ok(r.cpuMs >= 0 && Number.isFinite(r.pctCorePerTrack), `${r.side}: its CPU was read`);
      assert.ok(r.rssPerTrackBytes > 0 && r.pssPerTrackBytes > 0, `${r.side}: its memory was read`);
    }
    const ours = runs.find((r) => r.side === 'ours');
    assert.ok(ours?.ours && ours.ours.packetsWritten > 0, 'the TrackRecorders wrote packets');
  });
});
