/**
 * npm run loadtest -- <script.ts> [flags]
 *
 * Runs a k6-style script against a running region (--url + --secret, or the env) or against
 * a region it starts itself (--start-region). See loadtest/README.md for every flag.
 */
import { mintJoinToken } from '@strata/auth';
import { findPids, machineDescription, startRegion, type Region } from '@strata/harness';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from './options.js';
import { EXIT, run, type ScriptModule } from './runner.js';
import { ServerSampler, withChildren } from './server-sampler.js';
import type { Target } from './session.js';

const USAGE = `usage: npm run loadtest -- <script.ts> [--start-region | --url ws://host:port/rtc --secret S]
  --start-region            start nats-server + gateway + media node for the run (pids known)
  --compiled                with --start-region: run the services from dist/ (npm run build), as deployed
  --service-logs DIR        with --start-region: write each service's output there at the end
  --url URL                 gateway WebSocket URL            (env STRATA_URL)
  --secret S                the gateway's join-token secret  (env SIGNALING_JWT_SECRET)
  --region R                region name                      (env STRATA_REGION, default local)
  --nats-url URL            NATS of the region               (env NATS_URL)
  --nats-monitor-url URL    nats-server monitoring endpoint  (env NATS_MONITOR_URL)
  --pid-gateway N, --pid-media N, --pid-nats N   server processes to sample (default: found by name)
  --no-sample               do not sample server processes
  --sample-interval D       sampling period (default 1s)
  -e, --env K=V             k6's __ENV (repeatable)
  --summary-export FILE     write the summary as JSON (k6's format plus Strata sections)
  --summary-trend-stats S   e.g. avg,min,med,max,p(90),p(95),p(99)
  --quiet                   no progress line`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'start-region': { type: 'boolean', default: false },
    compiled: { type: 'boolean', default: false },
    'service-logs': { type: 'string' },
    url: { type: 'string' },
    secret: { type: 'string' },
    region: { type: 'string' },
    'nats-url': { type: 'string' },
    'nats-monitor-url': { type: 'string' },
    'pid-gateway': { type: 'string' },
    'pid-media': { type: 'string' },
    'pid-nats': { type: 'string' },
    'no-sample': { type: 'boolean', default: false },
    'sample-interval': { type: 'string', default: '1s' },
    env: { type: 'string', short: 'e', multiple: true, default: [] },
    'summary-export': { type: 'string' },
    'summary-trend-stats': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

function fail(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}\n`);
  process.exit(1);
}

if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const scriptPath = positionals[0];
if (!scriptPath || positionals.length > 1) fail('one script path expected');

const env: Record<string, string> = {};
for (const kv of values.env) {
  const i = kv.indexOf('=');
  if (i <= 0) fail(`--env ${kv}: expected K=V`);
  env[kv.slice(0, i)] = kv.slice(i + 1);
}

// Scripts read their knobs when they load (options are static, as in k6): -e reaches them too.
Object.assign(process.env, env);
let script: ScriptModule;
try {
  script = (await import(pathToFileURL(resolve(scriptPath)).href)) as ScriptModule;
} catch (err) {
  process.stderr.write(`cannot load ${scriptPath}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(EXIT.scriptError);
}

const pidFlag = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) fail(`--${name} ${v}: not a pid`);
  return n;
};

let region: Region | undefined;
let target: Target;
const pids: Record<string, number> = {};
if (values['start-region']) {
  const ro = script.regionOptions ?? {};
  process.stderr.write('starting a region (nats-server, gateway, media node)...\n');
  region = await startRegion({
    ...ro,
    region: ro.region ?? 'loadtest',
    compiled: values.compiled,
    env: { LOG_LEVEL: 'warn', SIGNALING_TURN: 'false', ...ro.env },
  });
  const r = region;
  target = { wsUrl: r.wsUrl, region: r.region, mintToken: (o) => r.mintToken(o), natsUrl: r.natsUrl, natsMonitorUrl: r.natsMonitorUrl };
  const gw = r.processes.find((p) => p.kind === 'signaling')?.pid;
  const media = r.processes.find((p) => p.kind === 'media')?.pid;
  if (gw) pids['gateway'] = gw;
  if (media) pids['media'] = media;
  pids['nats'] = r.nats.process.pid;
  process.stderr.write(`region ${r.region}: ${r.wsUrl} (nats ${r.natsUrl})\n`);
} else {
  const url = values.url ?? process.env['STRATA_URL'];
  const secret = values.secret ?? process.env['SIGNALING_JWT_SECRET'];
  if (!url) fail('no gateway: --url or STRATA_URL, or --start-region');
  if (!secret) fail('no token secret: --secret or SIGNALING_JWT_SECRET');
  target = {
    wsUrl: url,
    region: values.region ?? process.env['STRATA_REGION'] ?? 'local',
    mintToken: (o) => mintJoinToken(secret, o),
    natsUrl: values['nats-url'] ?? process.env['NATS_URL'],
    natsMonitorUrl: values['nats-monitor-url'] ?? process.env['NATS_MONITOR_URL'],
  };
  // Without flags, the processes are found by their command lines (the first match of each).
  const found = {
    gateway: pidFlag('pid-gateway', values['pid-gateway']) ?? findPids('services/signaling/').at(0) ?? findPids('signaling', 'main.js').at(0),
    media: pidFlag('pid-media', values['pid-media']) ?? findPids('services/media/').at(0) ?? findPids('media', 'main.js').at(0),
    nats: pidFlag('pid-nats', values['pid-nats']) ?? findPids('nats-server').at(0),
  };
  for (const [k, v] of Object.entries(found)) if (v) pids[k] = v;
}

let sampler: ServerSampler | undefined;
if (!values['no-sample']) {
  sampler = new ServerSampler(parseDuration(values['sample-interval']));
  if (pids['gateway']) sampler.watch('gateway', pids['gateway']);
  if (pids['media']) sampler.watch('media', withChildren(pids['media']));
  if (pids['nats']) sampler.watch('nats-server', pids['nats']);
  const missing = ['gateway', 'media', 'nats'].filter((k) => !pids[k]);
  if (missing.length) process.stderr.write(`not sampled (no pid found; pass --pid-${missing[0]}): ${missing.join(', ')}\n`);
  process.stderr.write(
    `sampling: ${
      Object.entries(pids)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'nothing'
    }\n`,
  );
}

const stop = new AbortController();
let signals = 0;
const onSigint = (): void => {
  if (++signals > 1) process.exit(130);
  process.stderr.write('\nstopping (graceful stop; Ctrl-C again to quit now)...\n');
  stop.abort();
};
process.on('SIGINT', onSigint);
process.on('SIGTERM', onSigint);

let code: number;
try {
  const result = await run({
    script,
    target,
    env,
    pids,
    ...(sampler ? { sampler } : {}),
    ...(values['summary-trend-stats'] ? { summaryTrendStats: values['summary-trend-stats'].split(',').map((s) => s.trim()) } : {}),
    progress: values.quiet ? 'off' : process.stderr.isTTY ? 'tty' : 'lines',
    signal: stop.signal,
  });
  process.stdout.write(result.text);
  if (values['summary-export']) {
    // What k6's format has no field for, read by `npm run bench:report` (bench/lib/results.ts).
    const strata = { benchmark: basename(scriptPath, '.ts'), machine: machineDescription(), date: new Date().toISOString() };
    writeFileSync(values['summary-export'], `${JSON.stringify({ ...result.summary, strata }, null, 2)}\n`);
    process.stderr.write(`summary written to ${values['summary-export']}\n`);
  }
  code = result.exitCode;
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  code = EXIT.scriptError;
} finally {
  await region?.stop();
  // The started services' own logs, for finding out why a request failed or was slow.
  if (region && values['service-logs']) {
    mkdirSync(values['service-logs'], { recursive: true });
    for (const p of region.processes) writeFileSync(join(values['service-logs'], `${p.kind}-${p.pid}.log`), p.output());
    process.stderr.write(`service logs written to ${values['service-logs']}\n`);
  }
}
process.exit(code);
