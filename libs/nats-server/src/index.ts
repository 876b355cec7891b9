import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerOptions {
  /** 0 (default): a free port. */
  port?: number;
  host?: string;
  jetstream?: boolean;
  /** JetStream storage; a temporary folder (removed on stop) when unset. */
  storeDir?: string;
  /** Extra command-line arguments (cluster, gateway, config file...). */
  args?: string[];
  /** nats-server binary; `NATS_SERVER_BIN` or `nats-server` on PATH. */
  binary?: string;
  /** Forward the server's own log lines (for `npm run dev`). */
  onLog?: (line: string) => void;
  startTimeoutMs?: number;
  /** Own process group: a Ctrl-C in the terminal reaches us, not the server, so we choose when it stops. */
  detached?: boolean;
  /** HTTP monitoring (`/varz`, `/subsz`, `/connz`, `/jsz`): 0 for a free port; off when unset. */
  monitorPort?: number;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** http://host:port of the monitoring endpoints, when `monitorPort` was given. */
  readonly monitorUrl: string | undefined;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

/** A free TCP port on `host`, from the OS. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts a real nats-server and resolves once it accepts connections. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port || (await freePort(host));
  const tempStore = opts.jetstream !== false && !opts.storeDir ? mkdtempSync(join(tmpdir(), 'strata-nats-')) : undefined;
  const storeDir = opts.storeDir ?? tempStore;
  if (storeDir) mkdirSync(storeDir, { recursive: true });
  const monitorPort = opts.monitorPort === undefined ? undefined : opts.monitorPort || (await freePort(host));
  const args = [
    '-a',
    host,
    '-p',
    String(port),
    ...(monitorPort === undefined ? [] : ['-m', String(monitorPort)]),
    ...(opts.jetstream === false ? [] : ['-js', '-sd', storeDir as string]),
    ...(opts.args ?? []),
  ];
  const binary = opts.binary ?? process.env['NATS_SERVER_BIN'] ?? 'nats-server';
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const output: string[] = [];
  const onData = (buf: Buffer): void => {
    for (const line of buf.toString().split('\n')) {
      if (!line) continue;
      if (output.length < 200) output.push(line);
      opts.onLog?.(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('error', (err) => (spawnError = err));
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  for (;;) {
    if (spawnError) throw new Error(`cannot run ${binary}: ${spawnError.message} (is nats-server installed? run npm run setup)`);
    if (exited) throw new Error(`nats-server exited (${exited.code ?? exited.signal}):\n${output.join('\n')}`);
    if (await canConnect(host, port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not listen on ${host}:${port} in time:\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  let stopped: Promise<void> | undefined;
  return {
    url: `nats://${host}:${port}`,
    port,
    monitorUrl: monitorPort === undefined ? undefined : `http://${host}:${monitorPort}`,
    process: child,
    stop() {
      stopped ??= (async () => {
        if (!exited) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exitPromise;
          clearTimeout(timer);
        }
        if (tempStore) rmSync(tempStore, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
