/** The forwarding benchmark's verdict: only a real, finite ratio within the goal is "met". */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WindowResult } from '../../bench/lib/measure.js';
import { capacity, capacityLine, formatReport, forwardingResults, resultLine, rows } from '../../bench/lib/report.js';

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
    lost: 0,
    lossyConsumers: 0,
    drops: { sinks: 0, ingest: 0, relay: 0 },
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

  it('SRTP mode: consumers per worker core at the largest level without loss, as a result of record with its floor', () => {
    // Worker at 1 % with no consumer, 40 % at 500, 80 % at 1000 (which lost packets on ours).
    const ws = [
      win('bare', 0, 1),
      win('ours', 0, 1),
      win('bare', 500, 40),
      win('ours', 500, 40),
      win('bare', 1000, 80),
      win('ours', 1000, 80, { lost: 12, lossyConsumers: 3 }),
    ];
    const table = rows(ws, [0, 500, 1000]);
    assert.deepEqual(capacity(table, 'bare'), { consumers: 1000, workerPct: 80, perCore: 1250 });
    assert.deepEqual(capacity(table, 'ours'), { consumers: 500, workerPct: 40, perCore: 1250 });
    assert.match(
      capacityLine(table, 1250),
      /ours 1250 \(N=500, worker 40.0% of a core\), bare 1250 \(N=1000.*goal ours >= 1250: met; ours lost packets at N=1000: 12 lost/,
    );
    assert.match(capacityLine(table, 1300), /NOT MET/);
    const results = forwardingResults(table, GOAL, {
      machine: 'm',
      date: '2026-12-01T00:00:00Z',
      run: 'alternate',
      benchmark: 'forwarding-srtp',
      label: 'SRTP CPU per consumer',
      capacityGoal: 1250,
    });
    assert.deepEqual(
      results.map((r) => r.figure),
      [
        'SRTP CPU per consumer, N=500 (alternate)',
        'SRTP CPU per consumer, N=1000 (alternate)',
        'SRTP consumers per worker core at 0 loss (ours N=500, worker at 40.0 % of a core; bare N=1000, worker at 80.0 % of a core; alternate)',
      ],
    );
    const cap = results[2]!;
    assert.equal(cap.benchmark, 'forwarding-srtp');
    assert.deepEqual([cap.value, cap.baseline, cap.unit, cap.goal], [1250, 1250, 'consumers/core', { min: 1250 }]);
    assert.deepEqual(cap.notes, ['ours lost packets at N=1000 (12 packets lost): not counted']);
    // No level without loss: no figure, which the table judges invalid rather than met.
    const lossy = rows([win('ours', 0, 1), win('ours', 500, 40, { lost: 1, lossyConsumers: 1 })], [0, 500]);
    assert.equal(capacity(lossy, 'ours'), undefined);
    assert.ok(Number.isNaN(forwardingResults(lossy, GOAL, { machine: 'm', date: 'd', run: 'r', capacityGoal: 1250 })[1]!.value));
    assert.match(capacityLine(lossy, 1250), /ours n\/a \(no level without loss\).*NOT MET \(no level without loss\)/);
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
