/**
 * TURN benchmark (issue 16): our turn service (node-turn fork, libs/node-turn) against coturn,
 * both started here on loopback, the same load on each, in one run.
 *
 *   node --conditions=strata-src --import tsx bench/turn.ts
 *        [--clients 50] [--interval 10] [--length 1200] [--window 8] [--warmup 2] [--ramp 6] [--rounds 2]
 *        [--lanes 8] [--alloc-window 4] [--compiled] [--json bench/results/turn.json]
 *
 * - Servers: our service as its own process beside nats-server (startRegion, as the e2e test
 *   runs it; `--compiled`: services/turn/dist/main.js, after `npm run build`), and coturn's
 *   turnserver with the same secret (use-auth-secret), UDP only, each with its own listening port
 *   and relay port range. One ephemeral credential, minted by our service over NATS, serves both.
 * - Relay cost: turnutils_uclient with `--clients` clients (`-m`, one allocation each, `-c`: no
 *   RTCP allocation), each sending a `--length`-byte message every `--interval` ms as ChannelData
 *   to turnutils_peer (coturn's echo server), which sends it back through the relay. uclient
 *   prints its totals once a second (run under `stdbuf -oL` so the lines arrive as written): the
 *   window opens `--warmup` s after the send rate has reached 95 % of what was asked (its clients
 *   start one after another: each sends for `--ramp` + `--warmup` + `--window` s) and closes `--window` s later; the server's CPU (/proc/<pid>/stat,
 *   every thread: coturn runs one relay thread per core) is read as each of those two lines
 *   arrives. Relayed packets = 2 × messages uclient got back in the window (each crossed the relay
 *   twice: to the peer and back); lost ones are not counted as relayed, and the loss is printed.
 *   CPU per relayed packet = CPU / relayed packets. Why uclient: it holds the asked rate (10,000
 *   messages/s in the steady part at the defaults) in C with little CPU of its own.
 * - Allocations per second: `--lanes` concurrent clients, each allocating and freeing one relay
 *   after another for `--alloc-window` s (bench/lib/turn-allocate.ts: 401, authenticated
 *   Allocate, Refresh 0, each on a fresh socket); allocations/s and CPU per allocation.
 * - Rounds alternate which server goes first (coturn, ours, ours, coturn, ...); figures are pooled
 *   over the rounds (total CPU / total packets), the spread of the per-round ratios printed.
 * Prints the table and RESULT lines on stdout, progress on stderr; `--json` writes the results of
 * record (bench/lib/results.ts) and every round's raw figures. See docs/benchmarks.md, "TURN relay cost".
 */
import { freePort, haveCommands, startTurnutilsPeer, startUclient, type UclientProgress } from '@strata/harness';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { cleanupAll, onCleanup, runWithCleanup } from './lib/cleanup.js';
import { intFlag, numberFlag } from './lib/flags.js';
import { RESULT_FORMAT, type BenchResult } from './lib/results.js';
import { PortCursor, allocationStorm, type TurnTarget } from './lib/turn-allocate.js';
import { DEFAULT_CAPACITY, describeAssumptions, describeCapacity } from './lib/turn-capacity.js';
import { coturnVersion, startCoturn, startOursTurn, type TurnUnderTest } from './lib/turn-servers.js';

/** Issue 16: ours / coturn CPU per relayed packet at most 2, allocations/s at least half of coturn's. */
const CPU_GOAL = 2;
const ALLOC_GOAL = 0.5;
/**
 * Relay port ranges and the allocation storm's client ports: apart from each other and from the
 * kernel's ephemeral range (32768-60999, where uclient's clients and every other socket bind).
 */
const OURS_RELAYS = { min: 20_000, max: 29_999 };
const COTURN_RELAYS = { min: 10_000, max: 19_999 };
const stormPorts = new PortCursor({ min: 1025, max: 9_999 });

interface Options {
  clients: number;
  intervalMs: number;
  length: number;
  windowS: number;
  warmupS: number;
  rampS: number;
  rounds: number;
  lanes: number;
  allocWindowS: number;
  compiled: boolean;
  json: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '50' },
      interval: { type: 'string', default: '10' },
      length: { type: 'string', default: '1200' },
      window: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '2' },
      ramp: { type: 'string', default: '6' },
      rounds: { type: 'string', default: '2' },
      lanes: { type: 'string', default: '8' },
      'alloc-window': { type: 'string', default: '4' },
      compiled: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    strict: true,
  });
  return {
    clients: intFlag('clients', values.clients, 1),
    intervalMs: intFlag('interval', values.interval, 1),
    length: intFlag('length', values.length, 16),
    windowS: intFlag('window', values.window, 1),
    warmupS: intFlag('warmup', values.warmup, 0),
    rampS: intFlag('ramp', values.ramp, 0),
    rounds: intFlag('rounds', values.rounds, 1),
    lanes: intFlag('lanes', values.lanes, 1),
    allocWindowS: numberFlag('alloc-window', values['alloc-window'], 0.5),
    compiled: values.compiled ?? false,
    json: values.json,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

export interface RelayRound {
  server: 'ours' | 'coturn';
  round: number;
  /** Wall time of the window, ms (between the two progress lines' arrivals). */
  ms: number;
  cpuMs: number;
  sent: number;
  received: number;
  relayed: number;
  /** uclient's own totals over its whole run. */
  totalSent: number;
  totalReceived: number;
  totalLost: number;
  usPerPacket: number;
  packetsPerSecond: number;
}

export interface AllocRound {
  server: 'ours' | 'coturn';
  round: number;
  ms: number;
  cpuMs: number;
  allocations: number;
  failed: number;
  errors: string[];
  perSecond: number;
  usPerAllocation: number;
}

/** One uclient run against `s`; CPU and uclient's counters read at the window's two progress lines. */
async function relayRound(s: TurnUnderTest, o: Options, creds: { username: string; credential: string }, peerPort: number, round: number): Promise<RelayRound> {
  const nominal = (o.clients * 1000) / o.intervalMs;
  // Each client sends for messages × interval: long enough for the ramp (its clients start one after another), the warm-up and the window.
  const messages = Math.ceil(((o.rampS + o.warmupS + o.windowS) * 1000) / o.intervalMs);
  const args = [
    '-p',
    String(s.port),
    '-u',
    creds.username,
    '-w',
    creds.credential,
    '-m',
    String(o.clients),
    '-n',
    String(messages),
    '-z',
    String(o.intervalMs),
  ];
  args.push('-l', String(o.length), '-c', '-e', '127.0.0.1', '-r', String(peerPort), '127.0.0.1');
  let prev: UclientProgress | undefined;
  let steadyAt: number | undefined;
  let start: { p: UclientProgress; cpu: number; t: number } | undefined;
  let end: { p: UclientProgress; cpu: number; t: number } | undefined;
  const u = startUclient(args, (p) => {
    const t = performance.now();
    const cpu = s.cpuMs();
    if (steadyAt === undefined && prev && p.sent - prev.sent >= 0.95 * nominal * (p.second - prev.second)) steadyAt = p.second;
    prev = p;
    if (steadyAt === undefined) return;
    if (!start && p.second >= steadyAt + o.warmupS) start = { p, cpu, t };
    else if (start && !end && p.second >= start.p.second + o.windowS) end = { p, cpu, t };
  });
  onCleanup(`uclient against ${s.name}`, () => void u.proc.stop(2000));
  const totals = await u.done;
  if (!start || !end)
    throw new Error(
      `${s.name}: uclient's send rate never held ${Math.round(0.95 * nominal)} messages/s long enough for the window (steady from second ${steadyAt ?? 'never'}):\n${u.proc.tail()}`,
    );
  const ms = end.t - start.t;
  const sent = end.p.sent - start.p.sent;
  const received = end.p.received - start.p.received;
  const relayed = 2 * received;
  const cpuMs = end.cpu - start.cpu;
  return {
    server: s.name,
    round,
    ms,
    cpuMs,
    sent,
    received,
    relayed,
    totalSent: totals.sent,
    totalReceived: totals.received,
    totalLost: totals.lost,
    usPerPacket: (cpuMs * 1000) / relayed,
    packetsPerSecond: (relayed * 1000) / ms,
  };
}

async function allocRound(s: TurnUnderTest, o: Options, target: TurnTarget, round: number): Promise<AllocRound> {
  const cpu0 = s.cpuMs();
  const r = await allocationStorm(target, o.lanes, o.allocWindowS * 1000, stormPorts);
  const cpuMs = s.cpuMs() - cpu0;
  return {
    server: s.name,
    round,
    ms: r.ms,
    cpuMs,
    allocations: r.done,
    failed: r.failed,
    errors: r.errors,
    perSecond: (r.done * 1000) / r.ms,
    usPerAllocation: (cpuMs * 1000) / r.done,
  };
}

/** uclient runs that failed and were run again, for the results' problems: a failed run is never dropped silently. */
const retried: string[] = [];
const MAX_ATTEMPTS = 3;

/**
 * Runs `fn` up to MAX_ATTEMPTS times. uclient exits at the first error answer while it sets its
 * clients up (one run against ours got a 400 to a ChannelBind of 2 of its 50 clients, which
 * 150 clients in a row against a fresh service did not reproduce); the failure is kept.
 */
async function withRetries<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const first = ((err as Error).message.split('\n').find((l) => /error|failed/i.test(l)) ?? (err as Error).message).slice(0, 300);
      if (attempt >= MAX_ATTEMPTS) throw err;
      retried.push(`${what}, attempt ${attempt}: ${first}`);
      log(`${what} failed, running it again: ${(err as Error).message.slice(0, 2000)}`);
    }
  }
}

const sum = <T>(xs: T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);

interface Pooled {
  usPerPacket: number;
  packetsPerSecond: number;
  loss: number;
  perSecond: number;
  usPerAllocation: number;
  failed: number;
}

function pool(relay: RelayRound[], alloc: AllocRound[]): Pooled {
  const relayed = sum(relay, (r) => r.relayed);
  const sent = sum(relay, (r) => r.sent);
  const allocations = sum(alloc, (r) => r.allocations);
  return {
    usPerPacket: (sum(relay, (r) => r.cpuMs) * 1000) / relayed,
    packetsPerSecond: (relayed * 1000) / sum(relay, (r) => r.ms),
    // Messages in flight at the window's two edges make the difference ± a few either way: a negative one is no loss.
    loss: sent > 0 ? Math.max(0, sent - sum(relay, (r) => r.received)) / sent : Number.NaN,
    perSecond: (allocations * 1000) / sum(alloc, (r) => r.ms),
    usPerAllocation: (sum(alloc, (r) => r.cpuMs) * 1000) / allocations,
    failed: sum(alloc, (r) => r.failed),
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} %`;

async function main(): Promise<number> {
  const o = options();
  if (!(await haveCommands('turnserver', 'turnutils_uclient', 'turnutils_peer', 'stdbuf')))
    throw new Error('needs coturn (turnserver, turnutils_uclient, turnutils_peer) and stdbuf on PATH');
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const nominal = (o.clients * 1000) / o.intervalMs;
  log(
    `TURN benchmark: uclient ${o.clients} clients × ${1000 / o.intervalMs} messages/s of ${o.length} B (${nominal} messages/s, ${2 * nominal} relayed packets/s asked), ` +
      `window ${o.windowS} s after ${o.warmupS} s at rate; allocations: ${o.lanes} lanes for ${o.allocWindowS} s; ${o.rounds} round(s)`,
  );

  // A secret of this run only; coturn's realm is ours, so both challenge with the same one.
  const secret = randomBytes(16).toString('hex');
  const realm = 'strata';
  const [oursPort, coturnPort, peerPort] = [await freePort(), await freePort(), await freePort()];
  const ours = await startOursTurn({ port: oursPort, relay: OURS_RELAYS, secret, compiled: o.compiled });
  onCleanup('turn service + nats-server', () => ours.stop());
  log(`ours ready: ${ours.describe()}`);
  const coturn = await startCoturn({ port: coturnPort, relay: COTURN_RELAYS, secret, realm });
  onCleanup('coturn', () => coturn.stop());
  log(`coturn ready: ${coturn.describe()}`);
  const peer = await startTurnutilsPeer(peerPort);
  onCleanup('turnutils_peer', async () => void (await peer.stop()));

  // Long enough for the whole run: uclient and the allocation lanes use it on both servers.
  const creds = await ours.credential('bench-turn', 3600);
  const servers = [coturn, ours];

  // What each costs doing nothing (heartbeats, timers), over 2 s, for the record: it is in every window's CPU.
  const idle: Record<string, number> = {};
  {
    const c0 = servers.map((s) => s.cpuMs());
    await new Promise((r) => setTimeout(r, 2000));
    servers.forEach((s, i) => (idle[s.name] = (s.cpuMs() - (c0[i] ?? 0)) / 2000));
  }

  const relay: RelayRound[] = [];
  const alloc: AllocRound[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const s of order) {
      const r = await withRetries(`${s.name} relay round ${round + 1}`, () => relayRound(s, o, creds, peerPort, round));
      relay.push(r);
      log(
        `${s.name.padEnd(6)} round ${round + 1}: ${r.usPerPacket.toFixed(2)} µs per relayed packet, ${Math.round(r.packetsPerSecond)} relayed/s, ` +
          `CPU ${((r.cpuMs / r.ms) * 100).toFixed(1)} % of a core; window: sent ${r.sent}, got back ${r.received}; uclient total lost ${r.totalLost} of ${r.totalSent}`,
      );
    }
    for (const s of order) {
      const a = await allocRound(s, o, { host: '127.0.0.1', port: s.port, username: creds.username, password: creds.credential }, round);
      alloc.push(a);
      log(
        `${s.name.padEnd(6)} round ${round + 1}: ${a.perSecond.toFixed(0)} allocations/s, ${a.usPerAllocation.toFixed(0)} µs CPU each${a.failed ? `; ${a.failed} failed: ${a.errors.join('; ')}` : ''}`,
      );
    }
  }

  const by = (name: string): Pooled =>
    pool(
      relay.filter((r) => r.server === name),
      alloc.filter((r) => r.server === name),
    );
  const po = by('ours');
  const pc = by('coturn');
  const perRound = (f: (r: RelayRound) => number): string =>
    Array.from({ length: o.rounds }, (_, i) => {
      const a = relay.find((r) => r.server === 'ours' && r.round === i);
      const b = relay.find((r) => r.server === 'coturn' && r.round === i);
      return a && b ? (f(a) / f(b)).toFixed(2) : '?';
    }).join(', ');
  const allocPerRound = Array.from({ length: o.rounds }, (_, i) => {
    const a = alloc.find((r) => r.server === 'ours' && r.round === i);
    const b = alloc.find((r) => r.server === 'coturn' && r.round === i);
    return a && b ? (a.perSecond / b.perSecond).toFixed(2) : '?';
  }).join(', ');

  const load = `${o.clients} clients × ${1000 / o.intervalMs} msg/s of ${o.length} B, ChannelData`;
  const runText = `${o.rounds} round(s) of ${o.windowS} s`;
  const cpuRatio = po.usPerPacket / pc.usPerPacket;
  const allocRatio = po.perSecond / pc.perSecond;
  const row = (name: string, ours: string, coturn: string, ratio: string): string => `| ${name} | ${ours} | ${coturn} | ${ratio} |`;
  const table = [
    '| figure | ours | coturn | ours / coturn |',
    '|---|---:|---:|---:|',
    row('CPU per relayed packet', `${po.usPerPacket.toFixed(2)} µs`, `${pc.usPerPacket.toFixed(2)} µs`, `**${cpuRatio.toFixed(2)}** (goal ≤ ${CPU_GOAL})`),
    row(
      'relayed packets/s (asked: ' + 2 * nominal + ')',
      po.packetsPerSecond.toFixed(0),
      pc.packetsPerSecond.toFixed(0),
      (po.packetsPerSecond / pc.packetsPerSecond).toFixed(3),
    ),
    row(
      'CPU at that rate',
      `${((po.usPerPacket * po.packetsPerSecond) / 1e4).toFixed(1)} % core`,
      `${((pc.usPerPacket * pc.packetsPerSecond) / 1e4).toFixed(1)} % core`,
      '',
    ),
    row('loss in the windows', pct(po.loss), pct(pc.loss), ''),
    row(`allocations/s (${o.lanes} lanes)`, po.perSecond.toFixed(0), pc.perSecond.toFixed(0), `**${allocRatio.toFixed(2)}** (goal ≥ ${ALLOC_GOAL})`),
    row(
      'CPU per allocation',
      `${po.usPerAllocation.toFixed(0)} µs`,
      `${pc.usPerAllocation.toFixed(0)} µs`,
      (po.usPerAllocation / pc.usPerAllocation).toFixed(2),
    ),
    row('failed allocations', String(po.failed), String(pc.failed), ''),
    row(
      'uclient runs failed and run again',
      String(retried.filter((r) => r.startsWith('ours')).length),
      String(retried.filter((r) => r.startsWith('coturn')).length),
      '',
    ),
    row('idle CPU (before the rounds)', `${(idle['ours']! * 100).toFixed(2)} % core`, `${(idle['coturn']! * 100).toFixed(2)} % core`, ''),
  ];
  // Not measured: what the measured cost would allow if the process had nothing else to do. Ours relays on one thread (Node's event loop), coturn on one per core.
  const ceiling = (us: number): string => `${Math.round(1e6 / us).toLocaleString('en-US')} relayed packets/s per fully used core`;
  const capacity = [
    `implied by the cost (not measured at saturation): ours ${ceiling(po.usPerPacket)}, one core per process; coturn ${ceiling(pc.usPerPacket)}, one relay thread per core`,
    `capacity (${describeAssumptions()}):`,
    `  ${describeCapacity('ours', po.usPerPacket)}`,
    `  ${describeCapacity('coturn', pc.usPerPacket)}`,
  ];
  const header = [
    '',
    `TURN relay cost — ${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadAtStart.toFixed(1)} at start, node ${process.version}, ${coturnVersion()}`,
    `ours: ${ours.describe()}`,
    `coturn: ${coturn.describe()}`,
    `load: turnutils_uclient ${load} to turnutils_peer (echo), one allocation per client; ${runText}, servers alternating; allocations: ${o.lanes} lanes × (401, Allocate, Refresh 0) for ${o.allocWindowS} s`,
  ];
  const results = [
    `RESULT turn CPU per relayed packet, ours/coturn: ${cpuRatio.toFixed(3)} (${po.usPerPacket.toFixed(2)} µs / ${pc.usPerPacket.toFixed(2)} µs; per round ${perRound((r) => r.usPerPacket)}) goal <= ${CPU_GOAL}: ${cpuRatio <= CPU_GOAL ? 'met' : 'NOT MET'}`,
    `RESULT turn relayed packets/s, ours/coturn: ${(po.packetsPerSecond / pc.packetsPerSecond).toFixed(3)} (${po.packetsPerSecond.toFixed(0)} / ${pc.packetsPerSecond.toFixed(0)})`,
    `RESULT turn allocations/s, ours/coturn: ${allocRatio.toFixed(3)} (${po.perSecond.toFixed(0)} / ${pc.perSecond.toFixed(0)}; per round ${allocPerRound}) goal >= ${ALLOC_GOAL}: ${allocRatio >= ALLOC_GOAL ? 'met' : 'NOT MET'}`,
  ];
  process.stdout.write(
    `${[...header, '', ...table, '', ...capacity, '', ...results, `total run time ${((Date.now() - started) / 1000).toFixed(0)} s`].join('\n')}\n`,
  );

  if (o.json) {
    const date = new Date().toISOString();
    const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadAtStart.toFixed(1)} at start, Node ${process.version}, ${coturnVersion()}`;
    const problems = (p: Pooled, name: string): string[] => [
      ...(p.loss > 0.01 ? [`${name} lost ${pct(p.loss)} of the messages in its windows`] : []),
      ...(p.failed > 0 ? [`${p.failed} ${name} allocations failed`] : []),
    ];
    const flagged = [...problems(po, 'ours'), ...problems(pc, 'coturn'), ...retried.map((r) => `run again: ${r}`)];
    const base = { benchmark: 'turn', machine, date, ...(flagged.length ? { problems: flagged } : {}) };
    const results: BenchResult[] = [
      {
        ...base,
        figure: `CPU per relayed packet (uclient ${load}, ${runText})`,
        value: po.usPerPacket,
        baseline: pc.usPerPacket,
        unit: 'µs',
        goal: { maxRatio: CPU_GOAL },
        notes: [`baseline: ${coturnVersion()} on the same machine, every thread's CPU; relayed packets = 2 × messages echoed back`],
      },
      {
        ...base,
        figure: `relayed packets/s at ${2 * nominal} asked (uclient ${load})`,
        value: po.packetsPerSecond,
        baseline: pc.packetsPerSecond,
        unit: 'packets/s',
      },
      {
        ...base,
        figure: `allocations/s, ${o.lanes} concurrent clients (401, Allocate, Refresh 0; ${o.rounds} × ${o.allocWindowS} s)`,
        value: po.perSecond,
        baseline: pc.perSecond,
        unit: 'allocations/s',
        goal: { minRatio: ALLOC_GOAL },
      },
      { ...base, figure: `CPU per allocation, ${o.lanes} concurrent clients`, value: po.usPerAllocation, baseline: pc.usPerAllocation, unit: 'µs' },
    ];
    writeFileSync(
      o.json,
      `${JSON.stringify({ format: RESULT_FORMAT, results, date, cores: cpus().length, options: o, idle, capacityAssumptions: DEFAULT_CAPACITY, relay, alloc }, null, 2)}\n`,
    );
  }
  await cleanupAll();
  return 0;
}

runWithCleanup(main);
