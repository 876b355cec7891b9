/**
 * Forwarding-cost benchmark (issue 4): one worker, one sender (VP8 + Opus) and N consumers
 * receiving real RTP, through our media service and through a bare mediasoup script, in one run.
 *
 *   node --conditions=strata-src --import tsx bench/forwarding.ts
 *        [--consumers 100,250,500] [--window 10] [--warmup 3] [--rounds 2]
 *        [--mode alternate|simultaneous] [--sides bare,ours] [--source clip|live] [--json bench/results/forwarding.json]
 *        [--srtp [--srtp-suite AES_CM_128_HMAC_SHA1_80]] [--caps router|link]
 *
 * - Sender: one ffmpeg sending VP8 (libvpx, 640x360@30, 800 kbit/s target) and Opus (libopus,
 *   48 kbit/s) as RTP in real time to a relay in the sink process, which copies every packet to
 *   the two comedia PlainTransports (a VP8 and an Opus producer) of both set-ups. `--source clip`
 *   (default) encodes a 5 s clip with those settings first and loops it with `-c copy`, so every
 *   10 s window carries the same packets and no encoder competes for the cores; `--source live`
 *   encodes while sending.
 * - Consumers: N mediasoup consumers = N/2 receiving peers, each one PlainTransport carrying a VP8
 *   and an Opus consumer (as a WebRTC peer's bundled receive transport would), connected to its
 *   own UDP sink socket in the sink process, which counts the RTP it gets per SSRC.
 * - Alternation: both set-ups stay up the whole run. For each window the measured set-up's
 *   producers are resumed and the other's paused (its consumers send nothing, its producers keep
 *   receiving); rounds alternate which set-up goes first (bare, ours, ours, bare, ...).
 *   `--mode simultaneous`: both set-ups forward and are measured in the same windows instead.
 * - Windows in which a process stalled (a snapshot took > 250 ms) or consumers did not get what
 *   was sent (± 1 %) are measured again, up to 3 times; the count is reported.
 * - CPU: mediasoup worker + its controlling Node process (bare: getResourceUsage() and
 *   process.cpuUsage(); ours: /proc/<pid>/stat of the media service and of its worker) over a
 *   fixed window after a warm-up, at 0 consumers (sender flowing) and at each N.
 *   CPU per consumer = (CPU(N) - CPU(0)) / N.
 * - Loss: each sink counts sequence-number gaps per consumer (RFC 3550's cumulative loss).
 * - `--srtp`: SRTP on every PlainTransport of both set-ups (ours through plain.create's
 *   enableSrtp and plain.connect's srtpParameters, bare through mediasoup's own options): ffmpeg
 *   sends SRTP (AES_CM_128_HMAC_SHA1_80) to the producers, consumers send SRTP with
 *   `--srtp-suite`, and each sink authenticates a sample of its packets under its transport's key.
 *   Adds consumers per worker core at 0 loss (goal >= 1,250); defaults to 250,500,750
 *   consumers: on our 2-core machines one worker saturates at about 1,000 SRTP consumers, and a
 *   saturated worker, starved beside the sinks, loses packets and answers its channel late.
 * - `--caps link`: consumers made with a link's capabilities (no transport-cc or REMB, so no
 *   congestion controller per transport), as the cascade makes its link consumers; default
 *   `router`, the router's own capabilities, as for a client.
 * Prints the table on stdout, progress on stderr. `--json` writes the results of record
 * (bench/lib/results.ts, read by `npm run bench:report`) and every window's raw figures.
 * See docs/benchmarks.md, "Forwarding cost".
 */
import { describeExit } from '@strata/process';
import * as mediasoup from 'mediasoup';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SRTP_CRYPTO_SUITE, SRTP_CRYPTO_SUITES, type SrtpCryptoSuite } from '@strata/protocol';
import { randomSrtpParameters } from '../libs/harness/src/srtp.js';
import { BareForwarding } from './lib/bare-forwarding.js';
import { cleanupAll, onCleanup, runWithCleanup } from './lib/cleanup.js';
import { MAX_ATTEMPTS, measureWindow, type MeasureContext, type WindowResult } from './lib/measure.js';
import { OursForwarding } from './lib/ours-forwarding.js';
import { formatReport, forwardingResults, rows } from './lib/report.js';
import { RESULT_FORMAT } from './lib/results.js';
import { INGEST_SRTP_SUITE, type ConsumerCaps, type SrtpMode } from './lib/media-params.js';
import { checkFfmpeg, clipArgs, liveArgs, prepareClip, startRtpSource } from './lib/rtp-source.js';
import type { ForwardingSetup } from './lib/setup.js';
import { SinkProcess } from './lib/sink.js';
import { numberFlag } from './lib/flags.js';

const GOAL = 1.05;
/** Issue 15: SRTP consumers one worker core must carry at 0 loss. */
const SRTP_CAPACITY_GOAL = 1250;
/** Length of the pre-encoded clip; windows that are a multiple of it carry identical packets. */
const CLIP_SECONDS = 5;

interface Options {
  consumers: number[];
  windowMs: number;
  warmupMs: number;
  rounds: number;
  sides: Set<'bare' | 'ours'>;
  source: 'clip' | 'live';
  mode: 'alternate' | 'simultaneous';
  json: string | undefined;
  /** SRTP on every transport, consumers with this suite. */
  srtp: SrtpCryptoSuite | undefined;
  caps: ConsumerCaps;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      consumers: { type: 'string' },
      window: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '2' },
      sides: { type: 'string', default: 'bare,ours' },
      source: { type: 'string', default: 'clip' },
      mode: { type: 'string', default: 'alternate' },
      json: { type: 'string' },
      srtp: { type: 'boolean', default: false },
      'srtp-suite': { type: 'string' },
      caps: { type: 'string', default: 'router' },
    },
    strict: true,
  });
  const suite = values['srtp-suite'] ?? DEFAULT_SRTP_CRYPTO_SUITE;
  if (!SRTP_CRYPTO_SUITES.includes(suite as SrtpCryptoSuite)) throw new Error(`--srtp-suite: one of ${SRTP_CRYPTO_SUITES.join(', ')}, not "${suite}"`);
  if (values['srtp-suite'] !== undefined && !values.srtp) throw new Error('--srtp-suite needs --srtp');
  const consumers = String(values.consumers ?? (values.srtp ? '250,500,750' : '100,250,500'))
    .split(',')
    .map((s) => Number(s.trim()));
  for (const n of consumers)
    if (!Number.isInteger(n) || n <= 0 || n % 2) throw new Error(`--consumers: ${n} is not a positive even number (each receiver is a VP8 + an Opus consumer)`);
  const num = numberFlag;
  const sides = new Set<'bare' | 'ours'>();
  for (const s of String(values.sides).split(',')) {
    if (s !== 'bare' && s !== 'ours') throw new Error(`--sides: unknown set-up "${s}" (bare, ours)`);
    sides.add(s);
  }
  const source = String(values.source);
  if (source !== 'clip' && source !== 'live') throw new Error(`--source: clip or live, not "${source}"`);
  const mode = String(values.mode);
  if (mode !== 'alternate' && mode !== 'simultaneous') throw new Error(`--mode: alternate or simultaneous, not "${mode}"`);
  const caps = String(values.caps);
  if (caps !== 'router' && caps !== 'link') throw new Error(`--caps: router or link, not "${caps}"`);
  return {
    caps,
    source,
    mode,
    consumers: [...new Set(consumers)].sort((a, b) => a - b),
    windowMs: num('window', values.window, 1) * 1000,
    warmupMs: num('warmup', values.warmup, 0) * 1000,
    rounds: Math.round(num('rounds', values.rounds, 1)),
    sides,
    json: values.json,
    srtp: values.srtp ? (suite as SrtpCryptoSuite) : undefined,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

async function main(): Promise<number> {
  const opt = options();
  checkFfmpeg();
  const started = Date.now();
  // Other work on the machine at the start, for the record (the ratio is what copes with it).
  const loadAtStart = loadavg()[0] ?? 0;
  const maxN = opt.consumers[opt.consumers.length - 1] ?? 0;
  const perRound = opt.mode === 'simultaneous' ? 1 : opt.sides.size;
  const estimate = ((opt.consumers.length + 1) * opt.rounds * perRound + opt.sides.size) * (opt.windowMs + opt.warmupMs);
  // One key for what ffmpeg sends: the relay copies the same SRTP packets to both set-ups' producer transports.
  const srtp: SrtpMode | undefined = opt.srtp ? { suite: opt.srtp, ingestKey: randomSrtpParameters(INGEST_SRTP_SUITE) } : undefined;
  log(
    `forwarding benchmark${srtp ? ` with SRTP (${srtp.suite})` : ''}: consumers ${opt.consumers.join(', ')}, window ${opt.windowMs / 1000} s, warm-up ${opt.warmupMs / 1000} s, ${opt.rounds} round(s), set-ups ${[...opt.sides].join(' + ')} (${opt.mode}); ~${Math.round(estimate / 1000)} s of windows`,
  );

  const sink = await SinkProcess.start();
  onCleanup('sink process', () => sink.stop());
  const srtpKey = srtp?.ingestKey.keyBase64;
  let args = liveArgs(sink.relayPorts.video, sink.relayPorts.audio, srtpKey);
  if (opt.source === 'clip') {
    if ((opt.windowMs / 1000) % CLIP_SECONDS !== 0)
      log(`note: --window ${opt.windowMs / 1000} is not a multiple of the ${CLIP_SECONDS} s clip: windows will carry slightly different packets`);
    const dir = mkdtempSync(join(tmpdir(), 'strata-bench-clip-'));
    onCleanup('clip', () => rmSync(dir, { recursive: true, force: true }));
    const clip = join(dir, 'clip.mkv');
    prepareClip(clip, CLIP_SECONDS);
    args = clipArgs(clip, sink.relayPorts.video, sink.relayPorts.audio, srtpKey);
  }
  const source = startRtpSource(args);
  onCleanup('ffmpeg', async () => {
    stopping = true;
    await source.stop(3000);
  });
  void source.exited.then((status) => {
    if (!stopping) log(`ffmpeg exited (${describeExit(status)}):\n${source.tail()}`);
  });

  const setups: ForwardingSetup[] = [];
  if (opt.sides.has('bare')) {
    // Its own port range, away from the media service's default 40000-49999.
    const b = await BareForwarding.create({ rtcMinPort: 20000, rtcMaxPort: 29999, caps: opt.caps, ...(srtp ? { srtp } : {}) });
    onCleanup('bare mediasoup worker', () => b.close());
    setups.push(b);
    log(`bare set-up ready: ${b.describe()}`);
  }
  let ours: OursForwarding | undefined;
  if (opt.sides.has('ours')) {
    // The service refuses consumers beyond MEDIA_MAX_CONSUMERS (default 500 per worker; the bench runs one): raise it only if the run needs more.
    const defaultMax = 500;
    ours = await OursForwarding.create({ env: maxN > defaultMax ? { MEDIA_MAX_CONSUMERS: String(maxN) } : {}, caps: opt.caps, ...(srtp ? { srtp } : {}) });
    const o = ours;
    onCleanup('media service + nats-server', () => o.close());
    setups.push(o);
    log(`ours set-up ready: ${o.describe()}`);
  }

  const ctx: MeasureContext = {
    sink,
    ffmpegPid: source.pid,
    warmupMs: opt.warmupMs,
    windowMs: opt.windowMs,
    workerProcMs: (s) => (s instanceof BareForwarding ? s.workerProcCpuMs() : undefined),
    log,
  };
  // From now on the relay feeds every set-up; only the measured one's producers are resumed.
  // One practice window per set-up, thrown away, so start-up work (JIT, GC of what start-up
  // allocated) does not land in the 0-consumer baseline.
  await sink.targets(setups.map((s) => s.ingest));
  for (const s of setups) await measureWindow(ctx, [s], setups, -1);
  const levels = [0, ...opt.consumers];
  const windows: WindowResult[] = [];
  for (const [li, level] of levels.entries()) {
    for (const s of setups) {
      const add = level / 2 - s.receivers.length;
      if (add <= 0) continue;
      const t0 = Date.now();
      const ports = await sink.open(s.name, add);
      await s.addReceivers(ports);
      await sink.keys(s.receivers.flatMap((r) => (r.srtp && ports.includes(r.sinkPort) ? [[r.sinkPort, r.srtp] as [number, typeof r.srtp]] : [])));
      log(`${s.name}: ${s.receivers.length} receivers = ${s.receivers.length * 2} consumers (+${add * 2} in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
    for (let round = 0; round < opt.rounds; round++) {
      const order = (li + round) % 2 === 0 ? setups : [...setups].reverse();
      const batches = opt.mode === 'simultaneous' ? [order] : order.map((s) => [s]);
      for (const batch of batches) {
        for (const w of await measureWindow(ctx, batch, setups, round)) {
          windows.push(w);
          log(
            `${w.setup.padEnd(4)} N=${String(level).padStart(4)} round ${round + 1}: worker ${((w.workerMs / w.ms) * 100).toFixed(1)}% + controller ${((w.controlMs / w.ms) * 100).toFixed(1)}% of a core; ` +
              `pkts/consumer video ${w.video.mean.toFixed(1)} (min ${w.video.min}) audio ${w.audio.mean.toFixed(1)} (min ${w.audio.min}) of ${w.inVideo}/${w.inAudio} sent`,
          );
        }
      }
    }
  }
  await sink.targets([]);
  const natsMs = ours?.natsCpuMs();

  const table = rows(windows, levels);
  const ffmpegVersion = execFileSync('ffmpeg', ['-hide_banner', '-version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  const mode = srtp ? { benchmark: 'forwarding-srtp', srtp: { suite: srtp.suite, capacityGoal: SRTP_CAPACITY_GOAL } } : { benchmark: 'forwarding' };
  const header = [
    '',
    `Forwarding cost${srtp ? `, SRTP (${srtp.suite})` : ''} — ${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, mediasoup ${mediasoup.version}, ${ffmpegVersion}`,
    `one worker; sender: ffmpeg, VP8 640x360@30 (libvpx, 800 kbit/s target) + Opus 48 kbit/s, ${opt.source === 'clip' ? `a ${CLIP_SECONDS} s clip encoded at start-up, sent in a loop` : 'encoded live'}; N consumers = N/2 receivers x (VP8 + Opus) on one PlainTransport each, ${opt.caps === 'link' ? "with a link's capabilities (no transport-cc, REMB, abs-send-time, MID)" : "with the router's capabilities"}; ` +
      `window ${opt.windowMs / 1000} s after ${opt.warmupMs / 1000} s warm-up, ${opt.rounds} round(s) per level, ${opt.mode === 'simultaneous' ? 'both set-ups forwarding and measured in the same windows' : 'set-ups alternating'}`,
  ];
  const withProc = windows.filter((w) => w.workerProcMs !== undefined);
  const procSum = withProc.reduce((a, w) => a + (w.workerProcMs ?? 0), 0);
  const agreement = procSum > 0 ? withProc.reduce((a, w) => a + w.workerMs, 0) / procSum : undefined;
  const discarded = windows.reduce((n, w) => n + w.discarded.length, 0) / (opt.mode === 'simultaneous' ? Math.max(1, setups.length) : 1);
  const footer = [
    `windows redone because a process stalled or packets were off: ${discarded} (of ${windows.length / (opt.mode === 'simultaneous' ? Math.max(1, setups.length) : 1)} kept)`,
    `windows kept although still anomalous after ${MAX_ATTEMPTS} attempts: ${windows.filter((w) => w.anomalies?.length).length}`,
    ...(agreement !== undefined ? [`check: bare worker CPU, getResourceUsage() / (/proc/<pid>/stat), summed over its windows = ${agreement.toFixed(3)}`] : []),
    ...(natsMs !== undefined ? [`nats-server used ${(natsMs / 1000).toFixed(2)} s CPU over the whole run (not counted)`] : []),
    `total run time ${((Date.now() - started) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${[...header, '', formatReport(table, opt.windowMs / 1000, GOAL, mode), ...footer].join('\n')}\n`);
  if (opt.json) {
    const date = new Date().toISOString();
    const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadAtStart.toFixed(1)} at start, Node ${process.version}, mediasoup ${mediasoup.version}`;
    const run = `${srtp ? `${srtp.suite}, ` : ''}${opt.caps === 'link' ? 'link consumers, ' : ''}${opt.mode}, ${opt.rounds} round(s) of ${opt.windowMs / 1000} s`;
    // The results of record (bench/lib/results.ts) first, then every window's raw figures.
    const results = forwardingResults(table, GOAL, {
      machine,
      date,
      run,
      ...(srtp ? { benchmark: 'forwarding-srtp', label: `SRTP CPU per ${opt.caps === 'link' ? 'link ' : ''}consumer`, capacityGoal: SRTP_CAPACITY_GOAL } : {}),
    });
    writeFileSync(
      opt.json,
      `${JSON.stringify({ format: RESULT_FORMAT, results, date, cores: cpus().length, options: { ...opt, sides: [...opt.sides] }, windows, rows: table }, null, 2)}\n`,
    );
  }
  stopping = true;
  await cleanupAll();
  return 0;
}

let stopping = false;
runWithCleanup(main);
