/** Turns measurement windows into the forwarding-cost tables and results of record. */
import type { WindowResult } from './measure.js';
import { usableRatio, type BenchResult } from './results.js';

export interface LevelFigures {
  consumers: number;
  /** % of one core, worker + controlling process, mean over rounds. */
  total: number;
  worker: number;
  control: number;
  /** Spread of `total` over rounds (max − min). */
  spread: number;
  /** `total` of each round, in round order. */
  totals: number[];
  ffmpeg: number;
  sink: number;
  /** Marginal: (total(N) − total(0)) / N. */
  perConsumer: number;
  /** Plain average: total(N) / N. */
  perConsumerTotal: number;
  videoPackets: number;
  audioPackets: number;
  minVideoPackets: number;
  minAudioPackets: number;
  sentVideo: number;
  sentAudio: number;
  bytesPerConsumerPerSec: number;
  /** RTP packets lost over all windows of the level (see WindowResult.lost). */
  lost: number;
  /** Kernel drops over the level's windows (see WindowResult.drops). */
  drops: { sinks: number; ingest: number; relay: number };
  /** With SRTP: sampled packets authenticated at the sinks over the level's windows. */
  srtpVerified?: number;
}

export interface Row {
  consumers: number;
  bare?: LevelFigures;
  ours?: LevelFigures;
  /** ours.perConsumer / bare.perConsumer */
  ratio?: number;
  /**
   * Lowest and highest per-round ratio: round r of ours against round r of bare (adjacent
   * windows when alternating, the same window when simultaneous), each minus its set-up's
   * mean 0-consumer CPU.
   */
  ratioRange?: [number, number];
  ratioTotal?: number;
  /** Windows of this level (either set-up) kept although still anomalous after their retries, with why. */
  anomalies: string[];
}

const pct = (ms: number, window: number): number => (ms / window) * 100;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export function figures(windows: WindowResult[]): Map<number, LevelFigures> {
  const byLevel = new Map<number, WindowResult[]>();
  for (const w of windows) byLevel.set(w.consumers, [...(byLevel.get(w.consumers) ?? []), w]);
  const out = new Map<number, LevelFigures>();
  const levels = [...byLevel.keys()].sort((a, b) => a - b);
  for (const n of levels) {
    const ws = [...(byLevel.get(n) ?? [])].sort((x, y) => x.round - y.round);
    const totals = ws.map((w) => pct(w.workerMs + w.controlMs, w.ms));
    out.set(n, {
      consumers: n,
      total: mean(totals),
      worker: mean(ws.map((w) => pct(w.workerMs, w.ms))),
      control: mean(ws.map((w) => pct(w.controlMs, w.ms))),
      spread: Math.max(...totals) - Math.min(...totals),
      totals,
      ffmpeg: mean(ws.map((w) => pct(w.ffmpegMs, w.ms))),
      sink: mean(ws.map((w) => pct(w.sinkMs, w.ms))),
      perConsumer: Number.NaN,
      perConsumerTotal: n > 0 ? mean(totals) / n : Number.NaN,
      videoPackets: mean(ws.map((w) => w.video.mean)),
      audioPackets: mean(ws.map((w) => w.audio.mean)),
      minVideoPackets: Math.min(...ws.map((w) => w.video.min)),
      minAudioPackets: Math.min(...ws.map((w) => w.audio.min)),
      sentVideo: mean(ws.map((w) => w.inVideo)),
      sentAudio: mean(ws.map((w) => w.inAudio)),
      bytesPerConsumerPerSec: mean(ws.map((w) => w.bytesPerConsumerPerSec)),
      lost: ws.reduce((a, w) => a + w.lost, 0),
      drops: {
        sinks: ws.reduce((a, w) => a + w.drops.sinks, 0),
        ingest: ws.reduce((a, w) => a + w.drops.ingest, 0),
        relay: ws.reduce((a, w) => a + w.drops.relay, 0),
      },
      ...(ws.some((w) => w.srtp) ? { srtpVerified: ws.reduce((a, w) => a + (w.srtp?.verified ?? 0), 0) } : {}),
    });
  }
  const zero = out.get(0);
  if (zero) for (const f of out.values()) if (f.consumers > 0) f.perConsumer = (f.total - zero.total) / f.consumers;
  return out;
}

export function rows(windows: WindowResult[], levels: number[]): Row[] {
  const bare = figures(windows.filter((w) => w.setup === 'bare'));
  const ours = figures(windows.filter((w) => w.setup === 'ours'));
  const b0 = bare.get(0)?.total;
  const o0 = ours.get(0)?.total;
  return levels.map((n) => {
    const b = bare.get(n);
    const o = ours.get(n);
    let ratioRange: [number, number] | undefined;
    if (b && o && n > 0 && b0 !== undefined && o0 !== undefined) {
      const pairs = o.totals.flatMap((ot, r) => (b.totals[r] === undefined ? [] : [(ot - o0) / ((b.totals[r] as number) - b0)]));
      if (pairs.length) ratioRange = [Math.min(...pairs), Math.max(...pairs)];
    }
    return {
      consumers: n,
      ...(b ? { bare: b } : {}),
      ...(o ? { ours: o } : {}),
      ...(b && o && n > 0 ? { ratio: o.perConsumer / b.perConsumer, ratioTotal: o.perConsumerTotal / b.perConsumerTotal } : {}),
      ...(ratioRange ? { ratioRange } : {}),
      anomalies: windows.filter((w) => w.consumers === n && w.anomalies?.length).flatMap((w) => (w.anomalies ?? []).map((a) => `round ${w.round + 1}: ${a}`)),
    };
  });
}

const f = (x: number | undefined, digits: number): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const pad = (s: string, w: number): string => s.padStart(w);

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i] ?? 0)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Least-squares slope of total CPU against N over every level (0 included): cost per consumer from all windows at once. */
export function slope(all: Row[], side: 'bare' | 'ours'): number | undefined {
  const pts = all.flatMap((r) => (r[side] ? [[r.consumers, r[side].total] as const] : []));
  if (pts.length < 2) return undefined;
  const mx = mean(pts.map(([x]) => x));
  const my = mean(pts.map(([, y]) => y));
  const sxx = pts.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx > 0 ? pts.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx : undefined;
}

/** What the SRTP mode adds to the report: its name, the suite, and the capacity goal. */
export interface ReportMode {
  /** Benchmark name in the RESULT lines and results of record: 'forwarding' or 'forwarding-srtp'. */
  benchmark: string;
  srtp?: { suite: string; capacityGoal: number };
}

export function formatReport(all: Row[], windowS: number, goal: number, mode: ReportMode = { benchmark: 'forwarding' }): string {
  const measured = all.filter((r) => r.consumers > 0);
  const out: string[] = [];
  if (mode.srtp) out.push(`SRTP (${mode.srtp.suite}) on every consumer transport, AES_CM_128_HMAC_SHA1_80 from the sender, on both set-ups`);
  out.push(`CPU per consumer, % of one core, marginal: (CPU(N) - CPU(0 consumers, sender flowing)) / N; CPU = mediasoup worker + its controlling Node process`);
  out.push(
    table(
      [
        'consumers',
        'bare %core/cons',
        'ours %core/cons',
        'ours/bare',
        'per-round ratios',
        'video pkts/cons',
        'audio pkts/cons',
        `sent in ${windowS} s (v/a)`,
        'min pkts (v/a)',
        'lost pkts (b/o)',
      ],
      measured.map((r) => {
        const figs = [r.bare, r.ours].filter((x): x is LevelFigures => x !== undefined);
        return [
          String(r.consumers),
          f(r.bare?.perConsumer, 4),
          f(r.ours?.perConsumer, 4),
          f(r.ratio, 3),
          r.ratioRange ? `${f(r.ratioRange[0], 2)}..${f(r.ratioRange[1], 2)}` : 'n/a',
          f(mean(figs.map((x) => x.videoPackets)), 1),
          f(mean(figs.map((x) => x.audioPackets)), 1),
          `${f(mean(figs.map((x) => x.sentVideo)), 0)}/${f(mean(figs.map((x) => x.sentAudio)), 0)}`,
          `${Math.min(...figs.map((x) => x.minVideoPackets))}/${Math.min(...figs.map((x) => x.minAudioPackets))}`,
          `${r.bare?.lost ?? '-'}/${r.ours?.lost ?? '-'}`,
        ];
      }),
    ),
  );
  out.push('');
  out.push('Details, % of one core (mean over rounds; spread = max - min of the total over rounds)');
  const detail: string[][] = [];
  for (const r of all) {
    for (const [name, x] of [
      ['bare', r.bare],
      ['ours', r.ours],
    ] as const) {
      if (!x) continue;
      detail.push([
        String(r.consumers),
        name,
        f(x.worker, 2),
        f(x.control, 2),
        f(x.total, 2),
        f(x.spread, 2),
        f(x.perConsumerTotal, 4),
        f(x.bytesPerConsumerPerSec / 1000, 1),
        f(x.ffmpeg, 1),
        f(x.sink, 1),
        String(x.lost),
        `${x.drops.sinks}/${x.drops.ingest}/${x.drops.relay}`,
      ]);
    }
  }
  out.push(
    table(
      [
        'consumers',
        'set-up',
        'worker',
        'controller',
        'total',
        'spread',
        'total/N',
        'kB/s/cons',
        'ffmpeg',
        'sinks+relay',
        'lost',
        'dropped at sinks/intake/relay',
      ],
      detail,
    ),
  );
  const ratios = measured.filter((r) => r.ratio !== undefined);
  if (ratios.length) {
    out.push('');
    out.push(`ours/bare on total/N instead: ${ratios.map((r) => `${r.consumers}: ${f(r.ratioTotal, 3)}`).join(', ')}`);
    const sb = slope(all, 'bare');
    const so = slope(all, 'ours');
    if (sb !== undefined && so !== undefined) {
      out.push(`least-squares slope of CPU over N (all levels): bare ${f(sb, 4)}, ours ${f(so, 4)} %core/consumer, ours/bare ${f(so / sb, 3)}`);
    }
    out.push(resultLine(ratios, goal, mode.benchmark));
  }
  if (mode.srtp) {
    const verified = all.flatMap((r) => [r.bare?.srtpVerified ?? 0, r.ours?.srtpVerified ?? 0]).reduce((a, b) => a + b, 0);
    out.push(`SRTP: ${verified} sampled packets authenticated at the sinks under their consumer transports' keys, none failed (a failure stops the run)`);
    out.push(capacityLine(all, mode.srtp.capacityGoal));
  }
  const flagged = all.filter((r) => r.anomalies.length);
  if (flagged.length) {
    out.push('');
    out.push('WARNING windows kept although still anomalous after their retries (their levels are unverified):');
    for (const r of flagged) for (const a of r.anomalies) out.push(`  N=${r.consumers} ${a}`);
  }
  return out.join('\n');
}

/**
 * The verdict line. A ratio that is not a finite positive number (a baseline that cost nothing
 * or less than its 0-consumer window, a missing level) is NOT MET, never met; a level with a
 * window still anomalous after its retries is named as unverified.
 */
export function resultLine(measured: Row[], goal: number, benchmark = 'forwarding'): string {
  const bad = measured.filter((r) => !usableRatio(r.ratio) || r.ratio > goal);
  const invalid = measured.filter((r) => !usableRatio(r.ratio));
  const unverified = measured.filter((r) => r.anomalies.length);
  const verdict = !measured.length
    ? 'NOT MET (nothing measured)'
    : bad.length
      ? `NOT MET at N=${bad.map((r) => r.consumers).join(', ')}${invalid.length ? ` (invalid ratio at N=${invalid.map((r) => r.consumers).join(', ')})` : ''}`
      : 'met at every N';
  return (
    `RESULT ${benchmark} CPU per consumer, ours/bare: ${measured.map((r) => `N=${r.consumers} ${f(r.ratio, 3)}`).join(', ')}; goal <= ${goal}: ${verdict}` +
    (unverified.length ? `; unverified at N=${unverified.map((r) => r.consumers).join(', ')} (windows still anomalous after retries)` : '')
  );
}

/** Consumers per worker core of one set-up at one level: N / (the worker's CPU at N, in cores). */
export interface Capacity {
  consumers: number;
  /** The worker's CPU at that level, % of one core (mean over rounds). */
  workerPct: number;
  perCore: number;
}

/**
 * Consumers per worker core at 0 loss: at the largest level whose every window delivered every
 * packet to every consumer of the set-up (no sequence-number gap at any sink), N divided by the
 * worker's CPU there. The worker's fixed cost (receiving the sender) is in the divisor, so this
 * is what one core carried at that N, not an extrapolation of the marginal cost; it assumes the
 * cost stays linear up to a full core, which the levels measured up to N show or not.
 * Undefined when no level was free of loss.
 */
export function capacity(all: Row[], side: 'bare' | 'ours'): Capacity | undefined {
  const ok = all.filter((r) => r.consumers > 0 && r[side] && r[side].lost === 0 && r[side].worker > 0);
  const best = ok[ok.length - 1]?.[side];
  if (!best) return undefined;
  return { consumers: best.consumers, workerPct: best.worker, perCore: best.consumers / (best.worker / 100) };
}

export function capacityLine(all: Row[], goal: number): string {
  const text = (c: Capacity | undefined): string =>
    c ? `${f(c.perCore, 0)} (N=${c.consumers}, worker ${f(c.workerPct, 1)}% of a core)` : 'n/a (no level without loss)';
  const ours = capacity(all, 'ours');
  const lossy = all.filter((r) => r.consumers > 0 && r.ours && r.ours.lost > 0).map((r) => `N=${r.consumers}: ${r.ours?.lost} lost`);
  const verdict = ours === undefined ? 'NOT MET (no level without loss)' : ours.perCore >= goal ? 'met' : 'NOT MET';
  return (
    `RESULT SRTP consumers per worker core at 0 loss: ours ${text(ours)}, bare ${text(capacity(all, 'bare'))}; goal ours >= ${goal}: ${verdict}` +
    (lossy.length ? `; ours lost packets at ${lossy.join(', ')}` : '')
  );
}

/**
 * One result of record per measured N (see bench/lib/results.ts), for bench/results/; with
 * `capacityGoal` (the SRTP mode), also consumers per worker core at 0 loss.
 */
export function forwardingResults(
  all: Row[],
  goal: number,
  meta: { machine: string; date: string; run: string; problems?: string[]; benchmark?: string; label?: string; capacityGoal?: number },
): BenchResult[] {
  const benchmark = meta.benchmark ?? 'forwarding';
  const label = meta.label ?? 'CPU per consumer';
  const perN = all
    .filter((r) => r.consumers > 0)
    .map((r) => {
      const problems = [...(meta.problems ?? []), ...r.anomalies.map((a) => `window still anomalous after retries, ${a}`)];
      return {
        benchmark,
        figure: `${label}, N=${r.consumers} (${meta.run})`,
        value: r.ours?.perConsumer ?? Number.NaN,
        baseline: r.bare?.perConsumer ?? Number.NaN,
        unit: '% core',
        goal: { maxRatio: goal },
        machine: meta.machine,
        date: meta.date,
        ...(problems.length ? { problems } : {}),
      };
    });
  if (meta.capacityGoal === undefined) return perN;
  const ours = capacity(all, 'ours');
  const bare = capacity(all, 'bare');
  const lossy = all.filter((r) => r.consumers > 0 && r.ours && r.ours.lost > 0).map((r) => `N=${r.consumers} (${r.ours?.lost} packets lost)`);
  const at = (c: Capacity | undefined): string => (c ? `N=${c.consumers}, worker at ${c.workerPct.toFixed(1)} % of a core` : 'no level without loss');
  return [
    ...perN,
    {
      benchmark,
      figure: `SRTP consumers per worker core at 0 loss (ours ${at(ours)}; bare ${at(bare)}; ${meta.run})`,
      value: ours?.perCore ?? Number.NaN,
      baseline: bare?.perCore ?? Number.NaN,
      unit: 'consumers/core',
      goal: { min: meta.capacityGoal },
      machine: meta.machine,
      date: meta.date,
      ...(meta.problems?.length ? { problems: meta.problems } : {}),
      ...(lossy.length ? { notes: [`ours lost packets at ${lossy.join(', ')}: not counted`] } : {}),
    },
  ];
}
