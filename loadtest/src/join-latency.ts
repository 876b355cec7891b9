/**
 * Join latency of one gateway: socket open → joined → send and receive transports created,
 * at a steady arrival rate, against the bare ws + mediasoup baseline in the same run.
 *
 *   npm run join-latency -w @strata/loadtest -- [--rate 50] [--duration 20] [--rounds 2]
 *
 * The phases alternate (baseline, ours, baseline, ours...) so drift in a noisy machine's speed
 * hits both alike. Prints p50/p95/p99 for each and the ratio ours / baseline.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startRegion } from '../../test/helpers/region.js';
import { REPO } from '../../test/helpers/processes.js';
import { constantArrivalRate } from './executor.js';
import { Counter, Trend } from './metrics.js';
import { WsRpc } from './ws-rpc.js';

const { values } = parseArgs({
  options: { rate: { type: 'string', default: '50' }, duration: { type: 'string', default: '20' }, rounds: { type: 'string', default: '2' } },
});
const rate = Number(values.rate);
const durationS = Number(values.duration);
const rounds = Number(values.rounds);

type Target = { name: 'baseline' | 'strata'; url: string; joinData: (i: number) => Promise<Record<string, unknown>> };

async function startBaseline(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['--conditions=strata-src', '--import', 'tsx', 'loadtest/src/baseline-server.ts'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      const m = /PORT (\d+)/.exec(b.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`baseline exited ${code}`)));
  });
  return { url: `ws://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

async function runPhase(t: Target, trend: Trend, errors: Counter): Promise<{ dropped: number }> {
  const r = await constantArrivalRate({ rate, durationS, maxVUs: rate * 10 }, async (i) => {
    const data = await t.joinData(i);
    const t0 = performance.now();
    let rpc: WsRpc | undefined;
    try {
      rpc = await WsRpc.open(t.url);
      await rpc.request('join', data);
      await rpc.request('createWebRtcTransport', { direction: 'send' });
      await rpc.request('createWebRtcTransport', { direction: 'recv' });
      trend.add(performance.now() - t0);
      await rpc.request('leave');
    } catch (err) {
      errors.add();
      if (errors.value <= 3) process.stderr.write(`${t.name}: ${err instanceof Error ? err.message : String(err)}\n`);
      throw err;
    } finally {
      rpc?.close();
    }
  });
  return { dropped: r.dropped };
}

const region = await startRegion({ env: { SIGNALING_TURN: 'false', LOG_LEVEL: 'warn' } });
const baseline = await startBaseline();
try {
  // Tokens are minted up front: signing them is the application backend's cost, not the join's.
  const tokens: string[] = [];
  const perPhase = Math.round(rate * durationS);
  for (let i = 0; i < perPhase; i++) tokens.push(await region.mintToken({ room: `load-${i % 20}`, identity: `u${i}` }));
  const targets: Target[] = [
    { name: 'baseline', url: baseline.url, joinData: async (i) => ({ room: `load-${i % 20}` }) },
    { name: 'strata', url: region.wsUrl, joinData: async (i) => ({ token: tokens[i] as string }) },
  ];
  const trends = { baseline: new Trend(), strata: new Trend() };
  const errors = { baseline: new Counter(), strata: new Counter() };
  const dropped = { baseline: 0, strata: 0 };
  // Warm-up: routers exist, JIT is hot, KV buckets are created.
  for (const t of targets) await runPhase({ ...t }, new Trend(), new Counter()).catch(() => undefined);
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      const r = await runPhase(t, trends[t.name], errors[t.name]);
      dropped[t.name] += r.dropped;
    }
  }
  const s = { baseline: trends.baseline.summary(), strata: trends.strata.summary() };
  const fmt = (n: number) => n.toFixed(1).padStart(8);
  console.log(`\njoin latency: socket open → joined + 2 transports, ${rate} joins/s, ${rounds} × ${durationS} s per target`);
  console.log('target     joins   errors  dropped     p50 ms    p95 ms    p99 ms    max ms');
  for (const name of ['baseline', 'strata'] as const) {
    const x = s[name];
    console.log(
      `${name.padEnd(9)} ${String(x.count).padStart(6)} ${String(errors[name].value).padStart(8)} ${String(dropped[name]).padStart(8)} ${fmt(x.p50)}  ${fmt(x.p95)}  ${fmt(x.p99)}  ${fmt(x.max)}`,
    );
  }
  console.log(
    `ratio strata/baseline: p50 ${(s.strata.p50 / s.baseline.p50).toFixed(2)}  p95 ${(s.strata.p95 / s.baseline.p95).toFixed(2)}  p99 ${(s.strata.p99 / s.baseline.p99).toFixed(2)}`,
  );
  // k6-style threshold: errors must stay under 1 %.
  const errRate = errors.strata.value / Math.max(1, s.strata.count + errors.strata.value);
  console.log(`threshold errors<1%: ${errRate < 0.01 ? 'ok' : 'FAILED'} (${(errRate * 100).toFixed(2)} %)`);
  if (errRate >= 0.01) process.exitCode = 1;
} finally {
  baseline.stop();
  await region.stop();
}
