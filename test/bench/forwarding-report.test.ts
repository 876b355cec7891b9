/** The forwarding benchmark's verdict: only a real, finite ratio within the goal is "met". */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WindowResult } from '../../bench/lib/measure.js';
import { formatReport, forwardingResults, resultLine, rows } from '../../bench/lib/report.js';

const GOAL = 1.05;

/** A 10 s window of one set-up at N consumers using `cpuPct` % of a core, every packet delivered. */
function win(setup: 'bare' | 'ours', consumers: number, cpuPct: number, extra: Partial<WindowResult> = {}): WindowResult {
  const ms = 10_000;
  return {
    setup,
    consumers,
    round: 0,
    ms,
    workerMs: (cpuPct / 100) * ms,
    controlMs: 0,
    ffmpegMs: 0,
    sinkMs: 0,
    inVideo: 618,
    inAudio: 500,
    video: { min: consumers ? 618 : 0, mean: consumers ? 618 : 0 },
    audio: { min: consumers ? 500 : 0, mean: consumers ? 500 : 0 },
    bytesPerConsumerPerSec: 0,
    discarded: [],
    ...extra,
  };
}

/** Both set-ups at 0 and 100 consumers: the bare one costs `bare100` at 100, ours `ours100`. */
const run = (bare100: number, ours100: number, extra: Partial<WindowResult> = {}): WindowResult[] => [
  win('bare', 0, 1),
  win('ours', 0, 1),
  win('bare', 100, bare100),
  win('ours', 100, ours100, extra),
];

describe('forwarding report verdict', () => {
  it('is met when ours / bare is within the goal', () => {
    const table = rows(run(11, 11.2), [0, 100]);
    assert.ok(Math.abs(table[1]!.ratio! - 1.02) < 1e-9);
    assert.match(resultLine(table.slice(1), GOAL), /goal <= 1.05: met at every N$/);
  });

  it('is NOT MET beyond the goal', () => {
    const table = rows(run(11, 12), [0, 100]);
    assert.match(resultLine(table.slice(1), GOAL), /NOT MET at N=100$/);
  });

  it('is NOT MET, never met, for a negative or NaN ratio', () => {
    // The bare set-up used less at 100 consumers than at 0: its marginal cost is negative, and
    // so is the ratio, which is "below the goal" but means the measurement is broken.
    const negative = rows(run(0.5, 11), [0, 100]);
    assert.ok(negative[1]!.ratio! < 0);
    assert.match(resultLine(negative.slice(1), GOAL), /NOT MET at N=100 \(invalid ratio at N=100\)/);
    // No cost difference on the bare side: 0 / 0.
    const nan = rows(run(1, 1), [0, 100]);
    assert.ok(Number.isNaN(nan[1]!.ratio));
    assert.match(resultLine(nan.slice(1), GOAL), /NOT MET at N=100 \(invalid ratio/);
    // No bare side at all.
    const oneSided = rows([win('ours', 0, 1), win('ours', 100, 11)], [0, 100]);
    assert.equal(oneSided[1]!.ratio, undefined);
    assert.match(resultLine(oneSided.slice(1), GOAL), /NOT MET at N=100/);
    assert.match(resultLine([], GOAL), /NOT MET \(nothing measured\)/);
  });

  it('flags a level with a window still anomalous after its retries', () => {
    const table = rows(run(11, 11, { anomalies: ['ours: video consumers got 580.0 packets on average for 618 sent'] }), [0, 100]);
    assert.deepEqual(table[1]!.anomalies, ['round 1: ours: video consumers got 580.0 packets on average for 618 sent']);
    assert.match(resultLine(table.slice(1), GOAL), /met at every N; unverified at N=100 \(windows still anomalous after retries\)/);
    const report = formatReport(table, 10, GOAL);
    assert.match(report, /WARNING windows kept although still anomalous/);
    assert.match(report, /N=100 round 1: ours: video consumers got 580.0/);
    const [result] = forwardingResults(table, GOAL, { machine: 'm', date: '2026-12-01T00:00:00Z', run: 'alternate' });
    assert.deepEqual(result!.problems, ['window still anomalous after retries, round 1: ours: video consumers got 580.0 packets on average for 618 sent']);
    assert.equal(rows(run(11, 11), [0, 100])[1]!.anomalies.length, 0);
  });

  it('writes one result of record per N, with the goal', () => {
    const [r] = forwardingResults(rows(run(11, 11.5), [0, 100]), GOAL, { machine: 'test machine', date: '2026-12-01T00:00:00Z', run: 'alternate, 2 rounds' });
    assert.deepEqual(r, {
      benchmark: 'forwarding',
      figure: 'CPU per consumer, N=100 (alternate, 2 rounds)',
      value: 0.105,
      baseline: 0.1,
      unit: '% core',
      goal: { maxRatio: GOAL },
      machine: 'test machine',
      date: '2026-12-01T00:00:00Z',
    });
  });
});
