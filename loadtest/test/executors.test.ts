import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../src/clock.js';
import { arrivalSchedule, runExecutor, stageValueAt, type ExecutorEnv, type Vu } from '../src/executors.js';
import type { ScenarioOptions } from '../src/options.js';

/** An executor on a fake clock; every iteration's start time and VU are recorded. */
function harness(clock: FakeClock, work: (vu: Vu, clock: FakeClock) => Promise<void>) {
  const starts: { at: number; vu: number; stage: number }[] = [];
  let running = 0;
  let maxRunning = 0;
  let dropped = 0;
  let nextId = 1;
  const hard = new AbortController();
  const env: ExecutorEnv = {
    clock,
    hardStop: hard.signal,
    newVu: () => ({ id: nextId++, iterations: 0, stop: new AbortController() }),
    onDropped: () => void dropped++,
    iterate: async (vu, info) => {
      starts.push({ at: clock.now(), vu: vu.id, stage: info.stage });
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        await work(vu, clock);
      } finally {
        running--;
      }
    },
  };
  return { env, starts, hard, running: () => running, maxRunning: () => maxRunning, dropped: () => dropped };
}

async function drive(clock: FakeClock, p: Promise<unknown>, stepMs = 50, limitMs = 120_000): Promise<void> {
  let done = false;
  void p.then(() => (done = true));
  for (let t = 0; !done && t < limitMs; t += stepMs) await clock.advance(stepMs);
  assert.ok(done, 'executor did not finish');
}

describe('constant-vus', () => {
  it('keeps N VUs looping for the duration', async () => {
    const clock = new FakeClock();
    const h = harness(clock, (_vu, c) => c.sleep(100));
    const p = runExecutor({ executor: 'constant-vus', vus: 3, duration: '1s' }, h.env);
    await drive(clock, p);
    const r = await p;
    assert.equal(r.iterations, 30);
    assert.equal(r.vusAllocated, 3);
    assert.equal(h.maxRunning(), 3);
    assert.deepEqual(
      h.starts.filter((s) => s.vu === 1).map((s) => s.at),
      [0, 100, 200, 300, 400, 500, 600, 700, 800, 900],
    );
  });

  it('gives running iterations gracefulStop, then abandons them as interrupted', async () => {
    const clock = new FakeClock();
    const h = harness(clock, () => new Promise<void>(() => undefined)); // never ends
    const p = runExecutor({ executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '2s' }, h.env);
    await clock.advance(2900);
    let done = false;
    void p.then(() => (done = true));
    await clock.settle();
    assert.equal(done, false, 'still inside gracefulStop');
    await clock.advance(200);
    const r = await p;
    assert.equal(r.interrupted, 2);
  });

  it("signals the VU's stop at the end, so an iteration holding a session can finish", async () => {
    const clock = new FakeClock();
    const h = harness(clock, (vu) => new Promise<void>((resolve) => vu.stop.signal.addEventListener('abort', () => resolve())));
    const p = runExecutor({ executor: 'constant-vus', vus: 4, duration: '1s', gracefulStop: '30s' }, h.env);
    await drive(clock, p);
    const r = await p;
    assert.equal(r.interrupted, 0);
    assert.equal(r.iterations, 4);
  });
});

describe('ramping-vus', () => {
  it('follows linear stages, removing VUs on the way down', async () => {
    const clock = new FakeClock();
    const h = harness(clock, (_vu, c) => c.sleep(10));
    const scenario: ScenarioOptions = {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '1s', target: 10 },
        { duration: '1s', target: 10 },
        { duration: '1s', target: 0 },
      ],
    };
    const p = runExecutor(scenario, h.env);
    const active = (): number => new Set(h.starts.filter((s) => s.at >= clock.now() - 20).map((s) => s.vu)).size;
    await clock.advance(500);
    assert.equal(active(), 5);
    await clock.advance(1000);
    assert.equal(active(), 10);
    assert.equal(h.starts.at(-1)?.stage, 1);
    await clock.advance(1000);
    assert.equal(active(), 5);
    await drive(clock, p);
    const r = await p;
    assert.equal(r.vusAllocated, 10);
    assert.equal(r.interrupted, 0);
  });

  it('interpolates stage values', () => {
    const stages = [
      { duration: '10s', target: 100 },
      { duration: '10s', target: 0 },
    ];
    assert.deepEqual(stageValueAt(0, stages, 5000), { value: 50, stage: 0, done: false });
    assert.deepEqual(stageValueAt(0, stages, 15_000), { value: 50, stage: 1, done: false });
    assert.deepEqual(stageValueAt(0, stages, 25_000), { value: 0, stage: 1, done: true });
  });
});

describe('constant-arrival-rate', () => {
  it('starts iterations on schedule whatever their latency', async () => {
    const clock = new FakeClock();
    const h = harness(clock, (_vu, c) => c.sleep(250));
    const p = runExecutor({ executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: '1s', preAllocatedVUs: 5, maxVUs: 5 }, h.env);
    await drive(clock, p, 10);
    const r = await p;
    assert.equal(r.iterations, 10);
    assert.deepEqual(
      h.starts.map((s) => s.at),
      [0, 100, 200, 300, 400, 500, 600, 700, 800, 900],
    );
    assert.equal(r.dropped, 0);
  });

  it('drops (and counts) iterations due while maxVUs are all busy', async () => {
    const clock = new FakeClock();
    const h = harness(clock, (_vu, c) => c.sleep(450));
    const p = runExecutor({ executor: 'constant-arrival-rate', rate: 10, duration: '1s', preAllocatedVUs: 1, maxVUs: 2 }, h.env);
    await drive(clock, p, 10);
    const r = await p;
    // VU1 0–450, VU2 100–550; 200, 300, 400 dropped; 500 VU1, 600 VU2; 700, 800, 900 dropped.
    assert.deepEqual(
      h.starts.map((s) => s.at),
      [0, 100, 500, 600],
    );
    assert.equal(r.dropped, 6);
    assert.equal(h.dropped(), 6);
    assert.equal(r.vusAllocated, 2);
  });
});

describe('ramping-arrival-rate', () => {
  it('starts the n-th iteration where the integral of the rate reaches n', () => {
    const times = [
      ...arrivalSchedule(
        0,
        [
          { duration: '1s', target: 10 },
          { duration: '1s', target: 10 },
        ],
        1000,
      ),
    ];
    assert.equal(times.length, 15); // 5 in the ramp (area ½·10·1), 10 at the plateau
    const ramp = times.filter((t) => t.stage === 0).map((t) => Math.round(t.at));
    assert.deepEqual(
      ramp,
      [0, 1, 2, 3, 4].map((k) => Math.round(Math.sqrt(k / 5) * 1000)),
    );
    const plateau = times.filter((t) => t.stage === 1).map((t) => Math.round(t.at));
    assert.deepEqual(plateau, [1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900]);
  });

  it('runs that schedule', async () => {
    const clock = new FakeClock();
    const h = harness(clock, (_vu, c) => c.sleep(5));
    const p = runExecutor(
      {
        executor: 'ramping-arrival-rate',
        startRate: 5,
        timeUnit: '1s',
        stages: [
          { duration: '2s', target: 5 },
          { duration: '2s', target: 15 },
        ],
        preAllocatedVUs: 2,
      },
      h.env,
    );
    await drive(clock, p, 5);
    const r = await p;
    assert.equal(r.iterations, 10 + 20);
    assert.equal(h.starts.filter((s) => s.stage === 1).length, 20);
  });
});

describe('per-vu-iterations', () => {
  it('runs a fixed number of iterations on each VU', async () => {
    const clock = new FakeClock();
    const h = harness(clock, (_vu, c) => c.sleep(30));
    const p = runExecutor({ executor: 'per-vu-iterations', vus: 3, iterations: 4 }, h.env);
    await drive(clock, p, 10);
    const r = await p;
    assert.equal(r.iterations, 12);
    for (const vu of [1, 2, 3]) assert.equal(h.starts.filter((s) => s.vu === vu).length, 4);
  });
});

describe('hard stop', () => {
  it('stops starting iterations at once', async () => {
    const clock = new FakeClock();
    const h = harness(clock, (_vu, c) => c.sleep(10));
    const p = runExecutor({ executor: 'constant-arrival-rate', rate: 10, duration: '10s', preAllocatedVUs: 2 }, h.env);
    await clock.advance(1050);
    h.hard.abort();
    await drive(clock, p, 10);
    const r = await p;
    assert.equal(r.iterations, 11);
  });

  it('still gives running iterations their graceful stop', async () => {
    const clock = new FakeClock();
    const h = harness(clock, (vu) => new Promise<void>((resolve) => vu.stop.signal.addEventListener('abort', () => resolve())));
    const p = runExecutor({ executor: 'constant-vus', vus: 3, duration: '1m', gracefulStop: '10s' }, h.env);
    await clock.advance(100);
    h.hard.abort();
    await drive(clock, p, 10);
    const r = await p;
    assert.equal(r.interrupted, 0);
    assert.equal(r.iterations, 3);
  });
});
