/**
 * A short run of the TURN benchmark (bench/turn.ts), for real: our turn service and coturn
 * started by the benchmark, turnutils_uclient relaying through each to turnutils_peer, the
 * allocation storm against each. What is checked is that both servers relayed and allocated and
 * that the output and the results of record carry the figures, never how fast anything was.
 */
import { haveCommands } from '@strata/harness';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AllocRound, RelayRound } from '../../bench/turn.js';
import { judge, parseResultFile } from '../../bench/lib/results.js';
import { DEFAULT_CAPACITY, turnCapacity } from '../../bench/lib/turn-capacity.js';
import { runBench } from '../helpers/bench.js';

const HAVE_COTURN = await haveCommands('turnserver', 'turnutils_uclient', 'turnutils_peer', 'stdbuf');

describe('TURN capacity arithmetic', () => {
  it("answers the brief's question from a cost per relayed packet, every assumption an input", () => {
    const c = turnCapacity(10, DEFAULT_CAPACITY);
    assert.equal(c.turnParticipants, 1500);
    // 1.5 Mbit/s in 1,200-byte packets is 156.25 packets/s, each way.
    assert.equal(c.packetsPerParticipant, 312.5);
    assert.equal(c.packetsPerSecond, 468_750);
    assert.ok(Math.abs(c.cores - 4.6875) < 1e-9);
    // 2-core servers at 70 %: 1.4 cores each.
    assert.equal(c.servers, 4);
    assert.ok(Math.abs(c.gbpsIn - (468_750 * 1230 * 8) / 1e9) < 1e-9);
    assert.equal(turnCapacity(10, { ...DEFAULT_CAPACITY, turnShare: 0.3 }).packetsPerSecond, 937_500);
    // 0.7 of a core = 70,000 packets/s at 10 µs = 224 participants of 312.5 packets/s.
    assert.equal(Math.floor(c.participantsPerCore), 224);
  });
});

describe('TURN benchmark (short run)', { timeout: 240_000, skip: HAVE_COTURN ? false : 'coturn (turnserver, turnutils_*) not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-turn-bench-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('relays and allocates on both servers and reports the ratios', async () => {
    const json = join(dir, 'turn.json');
    const run = await runBench('bench/turn.ts', [
      '--clients',
      '4',
      '--window',
      '2',
      '--warmup',
      '1',
      '--ramp',
      '5',
      '--rounds',
      '1',
      '--lanes',
      '2',
      '--alloc-window',
      '1',
      '--json',
      json,
    ]);
    assert.equal(run.code, 0, `bench exited ${run.code}:\n${run.stderr.slice(-4000)}`);
    assert.match(run.stdout, /RESULT turn CPU per relayed packet, ours\/coturn: \d+\.\d+ /);
    assert.match(run.stdout, /RESULT turn allocations\/s, ours\/coturn: \d+\.\d+ /);
    assert.match(run.stdout, /capacity \(10,000 concurrent participants, 15 % through TURN/);

    const text = readFileSync(json, 'utf8');
    const results = parseResultFile(text, 'turn.json');
    const cpu = results.find((r) => r.figure.startsWith('CPU per relayed packet'));
    assert.ok(cpu, 'CPU per relayed packet is a result of record');
    assert.deepEqual(cpu.goal, { maxRatio: 2 });
    assert.equal(cpu.unit, 'µs');
    const allocs = results.find((r) => r.unit === 'allocations/s');
    assert.ok(allocs, 'allocations/s is a result of record');
    assert.deepEqual(allocs.goal, { minRatio: 0.5 });
    // Whatever the machine did, each figure with a goal is judged, never dropped.
    for (const r of [cpu, allocs]) assert.ok(['met', 'NOT MET', 'invalid'].includes(judge(r, 'f').status));

    const { relay, alloc } = JSON.parse(text) as { relay: RelayRound[]; alloc: AllocRound[] };
    assert.deepEqual(relay.map((r) => r.server).sort(), ['coturn', 'ours']);
    for (const r of relay) {
      assert.ok(r.received > 0, `${r.server}: uclient got relayed packets back in the window`);
      assert.ok(r.cpuMs > 0, `${r.server}: its CPU was counted`);
      assert.ok(r.totalReceived > 0 && r.totalSent >= r.totalReceived, `${r.server}: uclient's own totals`);
    }
    assert.deepEqual(alloc.map((a) => a.server).sort(), ['coturn', 'ours']);
    for (const a of alloc) assert.ok(a.allocations > 0, `${a.server}: allocated and freed`);
  });
});
