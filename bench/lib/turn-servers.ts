/**
 * The two TURN servers of bench/turn.ts, side by side on loopback: our turn service (its real
 * entry point as its own process beside nats-server, through @strata/harness's startRegion, as
 * the e2e test runs it) and coturn's turnserver, started here with the same shared secret so
 * one ephemeral credential, minted by our service over NATS, works on both.
 */
import { startRegion, type Region } from '@strata/harness';
import { ManagedProcess } from '@strata/process';
import { TurnCredentials, subjects } from '@strata/protocol';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procCpuMs } from './cpu.js';
import { stunAnswers, type PortRange } from './turn-allocate.js';

export interface TurnUnderTest {
  readonly name: 'ours' | 'coturn';
  readonly port: number;
  /** The process whose CPU is counted: every thread of it (/proc/<pid>/stat sums them). */
  readonly pid: number;
  cpuMs(): number;
  describe(): string;
  stop(): Promise<void>;
}

const cpuOf = (pid: number, name: string): number => {
  const ms = procCpuMs(pid);
  if (ms === undefined) throw new Error(`${name} (pid ${pid}) is gone`);
  return ms;
};

export interface OursTurn extends TurnUnderTest {
  readonly region: Region;
  /** An ephemeral credential from the service, over NATS, as the gateway gets one for a client. */
  credential(identity: string, ttlSeconds: number): Promise<{ username: string; credential: string }>;
}

export async function startOursTurn(opts: { port: number; relay: PortRange; secret: string; compiled: boolean }): Promise<OursTurn> {
  const region = await startRegion({
    region: 'bench',
    services: ['turn'],
    compiled: opts.compiled,
    natsMonitor: false,
    env: {
      TURN_PORT: String(opts.port),
      TURN_MIN_PORT: String(opts.relay.min),
      TURN_MAX_PORT: String(opts.relay.max),
      TURN_SECRET: opts.secret,
      // uclient's echo peer is on 127.0.0.1, which the service refuses to relay to by default (as coturn does without --allow-loopback-peers).
      TURN_ALLOW_LOOPBACK_PEERS: 'true',
      // The load is many clients of one credential from one address, and coturn runs without
      // quotas: no allocation caps or bandwidth cap here either.
      TURN_MAX_ALLOCATIONS_PER_IDENTITY: '0',
      TURN_MAX_ALLOCATIONS_PER_IP: '0',
      TURN_ALLOCATION_BANDWIDTH: '0',
      LOG_LEVEL: 'warn',
      // The service's default, not startRegion's test-speed 500 ms: heartbeats are part of what a deployed TURN node spends.
      HEARTBEAT_INTERVAL: '2s',
    },
  });
  const proc = region.processes[0];
  if (!proc) throw new Error('startRegion started no turn process');
  return {
    name: 'ours',
    port: opts.port,
    pid: proc.pid,
    region,
    cpuMs: () => cpuOf(proc.pid, 'turn service'),
    describe: () =>
      `turn service pid ${proc.pid} (${opts.compiled ? 'dist/main.js' : 'src/main.ts through tsx'}), UDP ${opts.port}, relays ${opts.relay.min}-${opts.relay.max}`,
    credential: async (identity, ttlSeconds) => {
      const c = await region.bus.request(TurnCredentials, subjects.turnCredentials(region.region), { identity, ttlSeconds });
      if (!c.urls[0]?.endsWith(`:${opts.port}?transport=udp`)) throw new Error(`the service hands out ${c.urls[0]}, not port ${opts.port}`);
      return { username: c.username, credential: c.credential };
    },
    stop: () => region.stop(),
  };
}

export function coturnVersion(): string {
  try {
    return `coturn ${execFileSync('turnserver', ['--version'], { encoding: 'utf8' }).trim().split('\n')[0] ?? '?'}`;
  } catch {
    return '?';
  }
}

/**
 * coturn as a deployment configured for ephemeral credentials would run it, UDP only like our
 * service (TCP, TLS and DTLS listeners off, so it opens nothing ours does not), on loopback with
 * loopback peers allowed, no CLI, no configuration file (-n), its log in a temporary file (its
 * default per-session lines included: logging is part of what it costs in production).
 */
export async function startCoturn(opts: { port: number; relay: PortRange; secret: string; realm: string }): Promise<TurnUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-coturn-'));
  const args = [
    '-n',
    '--no-cli',
    '--listening-ip=127.0.0.1',
    '--relay-ip=127.0.0.1',
    `--listening-port=${opts.port}`,
    `--min-port=${opts.relay.min}`,
    `--max-port=${opts.relay.max}`,
    '--use-auth-secret',
    `--static-auth-secret=${opts.secret}`,
    `--realm=${opts.realm}`,
    '--allow-loopback-peers',
    '--no-tcp',
    '--no-tls',
    '--no-dtls',
    '--no-tcp-relay',
    `--log-file=${join(dir, 'turnserver.log')}`,
    '--simple-log',
    // Its log goes to the file only, not also through a pipe into the benchmark's own process.
    '--no-stdout-log',
    `--pidfile=${join(dir, 'turnserver.pid')}`,
  ];
  let proc: ManagedProcess;
  try {
    proc = await ManagedProcess.start({
      command: 'turnserver',
      args,
      name: 'turnserver',
      logFile: join(dir, 'stdout.log'),
      ready: { what: `coturn answers a STUN Binding on 127.0.0.1:${opts.port}`, check: () => stunAnswers('127.0.0.1', opts.port), everyMs: 100 },
      readyTimeoutMs: 15_000,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const threads = (): string => {
    try {
      return String(readdirSync(`/proc/${proc.pid}/task`).length);
    } catch {
      return '?';
    }
  };
  return {
    name: 'coturn',
    port: opts.port,
    pid: proc.pid,
    cpuMs: () => cpuOf(proc.pid, 'turnserver'),
    describe: () =>
      `${coturnVersion()} turnserver pid ${proc.pid} (${threads()} threads, all counted), UDP ${opts.port}, relays ${opts.relay.min}-${opts.relay.max}`,
    stop: async () => {
      await proc.stop(5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
