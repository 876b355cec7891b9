/**
 * Big-room benchmark (issue 15): one room over three media nodes, 500 participants on each,
 * with 1 and with 5 active speakers. Prints, per link, the streams and bytes that cross it
 * (mediasoup's own stats) against what the subscribers' views predict and against forwarding
 * every participant to every node; the brief's two questions answered from the measured
 * counts; and CPU per node and per consumer beside the forwarding benchmark's single-node
 * figure, measured in the same run.
 *
 *   node --conditions=strata-src --import tsx bench/big-room.ts
 *        [--per-node 500] [--publishers 2] [--probes 2] [--phases 1/1,5/1,5/5]
 *        [--window 10] [--warmup 3] [--single-consumers 500] [--single-rounds 1] [--no-single]
 *        [--json bench/results/big-room.json]
 *
 * See docs/benchmarks.md, "Big room".
 */
import * as mediasoup from 'mediasoup';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BigRoom, K, LAYERS } from './lib/big-room.js';
import { bigRoomResults, briefAnswers, formatPhase, type Phase, type PhaseFigures, type SingleNodeFigure } from './lib/big-room-report.js';
import { cleanupAll, onCleanup, runWithCleanup } from './lib/cleanup.js';
import { RESULT_FORMAT } from './lib/results.js';
import { measureSingleNode } from './lib/single-node.js';
import { intFlag } from './lib/flags.js';

interface Options {
  perNode: number;
  publishers: number;
  probes: number;
  phases: Phase[];
  windowMs: number;
  warmupMs: number;
  singleConsumers: number;
  singleRounds: number;
  single: boolean;
  json: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      'per-node': { type: 'string', default: '500' },
      publishers: { type: 'string', default: '2' },
      probes: { type: 'string', default: '2' },
      phases: { type: 'string', default: '1/1,5/1,5/5' },
      window: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      'single-consumers': { type: 'string', default: '500' },
      'single-rounds': { type: 'string', default: '1' },
      'no-single': { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    strict: true,
  });
  const int = intFlag;
  const publishers = int('publishers', values.publishers, 1);
  const phases = String(values.phases)
    .split(',')
    .map((s) => {
      const m = /^(\d+)\/(\d+)$/.exec(s.trim());
      if (!m) throw new Error(`--phases: "${s}" is not speakers/videoSlots, e.g. 5/1`);
      return { speakers: Number(m[1]), videoSlots: Number(m[2]) };
    });
  for (const [i, p] of phases.entries()) {
    if (p.speakers < 1 || p.speakers > Math.min(K, publishers * 3))
      throw new Error(`--phases: ${p.speakers} speakers: 1 to ${Math.min(K, publishers * 3)} (K=${K}, ${publishers * 3} publishers)`);
    if (i > 0 && p.speakers < phases[i - 1]!.speakers)
      throw new Error('--phases: speakers can only grow from phase to phase (a silent speaker keeps its place in the ranking)');
  }
  const single = int('single-consumers', values['single-consumers'], 2);
  if (single % 2) throw new Error('--single-consumers must be even (each receiver is a VP8 and an Opus consumer)');
  const windowS = int('window', values.window, 1);
  return {
    perNode: int('per-node', values['per-node'], publishers),
    publishers,
    probes: int('probes', values.probes, 0),
    phases,
    windowMs: windowS * 1000,
    warmupMs: int('warmup', values.warmup, 0) * 1000,
    singleConsumers: single,
    singleRounds: int('single-rounds', values['single-rounds'], 1),
    single: !values['no-single'],
    json: values.json,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

async function main(): Promise<number> {
  const opt = options();
  const started = Date.now();
  const loadAtStart = loadavg().map((x) => x.toFixed(1));
  log(
    `big room: 3 nodes × ${opt.perNode} participants (${opt.publishers} publishers each), phases ${opt.phases.map((p) => `${p.speakers}/${p.videoSlots}`).join(', ')}, window ${opt.windowMs / 1000} s; load average ${loadAtStart.join(' ')}`,
  );

  // The single-node figure first, alone on the machine (of ours), then the big room.
  let single: SingleNodeFigure | undefined;
  if (opt.single) {
    // The clip is 5 s: a window of a multiple of it carries the same packets every time.
    const windowMs = Math.max(5000, Math.round(opt.windowMs / 5000) * 5000);
    log(`single node (forwarding benchmark): ${opt.singleConsumers} consumers, ${opt.singleRounds} round(s) of ${windowMs / 1000} s`);
    single = await measureSingleNode({ consumers: opt.singleConsumers, windowMs, warmupMs: Math.max(2000, opt.warmupMs), rounds: opt.singleRounds, log });
  }

  const room = await BigRoom.start({ perNode: opt.perNode, publishersPerNode: opt.publishers, probesPerNode: opt.probes, log });
  onCleanup('big room (media nodes, nats-server, senders, sinks)', () => room.stop());
  const idle = await room.measureIdle(opt.windowMs);
  log(`idle (publishers sending, nobody consuming): ${[...idle].map(([n, c]) => `${n} ${c.toFixed(1)}`).join(', ')} % core`);
  const phases: PhaseFigures[] = [];
  try {
    for (const phase of opt.phases) phases.push(await room.runPhase(phase, opt.windowMs, opt.warmupMs));
  } catch (err) {
    // The nodes' own account of what went wrong goes before the cleanup takes their output.
    const lines = room.cluster.problems();
    log(`media nodes logged ${lines.length} warning/error line(s); first ones:\n${lines.slice(0, 20).join('\n')}`);
    throw err;
  }
  const nodeProblems = room.cluster.problems();

  const loadAtEnd = loadavg()[0] ?? 0;
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadAtStart[0]} at start, ${loadAtEnd.toFixed(1)} at the end, Node ${process.version}, mediasoup ${mediasoup.version}`;
  const out: string[] = [
    '',
    `Big room — ${new Date().toISOString()}, ${machine}`,
    `3 media nodes (one worker each, K=${K}) × ${opt.perNode} participants: ${opt.publishers} publishers per node (audio with RFC 6464 levels + ${LAYERS.length}-layer synthetic simulcast VP8, 30 fps), ` +
      `${opt.perNode - opt.publishers} light participants per node (one plain receive transport each, consuming what viewOf() gives for their leg's ranking)`,
    `every participant to every node = each node sends every one of its ${opt.perNode} participants' audio and video (all layers) to each other node`,
    `per phase: the publishers hold (send nothing) while the subscribers follow the view change; a link window with only the ${opt.probes} probe subscriber(s) per node watching (the others paused), then a delivery window with everyone watching`,
    '',
    ...phases.map((p) => `${formatPhase(p, single)}\n`),
    "The brief's questions, from the measured counts:",
    ...briefAnswers(phases, opt.perNode, room.nodes).map((a) => `  ${a}`),
    ...(nodeProblems.length
      ? ['', `media nodes logged ${nodeProblems.length} warning/error line(s); first ones:`, ...nodeProblems.slice(0, 8).map((l) => `  ${l}`)]
      : []),
    `total run time ${((Date.now() - started) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (opt.json) {
    const date = new Date().toISOString();
    const notes = [
      `single node: the forwarding benchmark's set-up (ffmpeg VP8 800 kbit/s + Opus, ${opt.singleConsumers} consumers); big room: synthetic audio (50 packets/s) and one simulcast layer (30 packets/s) per consumer`,
    ];
    const results = bigRoomResults(phases, single, { machine, date, perNode: opt.perNode, nodes: room.nodes.length, notes });
    writeFileSync(
      opt.json,
      `${JSON.stringify({ format: RESULT_FORMAT, results, date, options: opt, single, idle: Object.fromEntries(idle), phases }, null, 2)}\n`,
    );
    log(`wrote ${opt.json}`);
  }
  await cleanupAll();
  return 0;
}

runWithCleanup(main);
