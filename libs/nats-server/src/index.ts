import { ManagedProcess, ProcessStartError, freePort, portOpen } from '@strata/process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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
  /** On top of this process's environment (the `$VAR`s a config file refers to). */
  env?: Readonly<Record<string, string>>;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** http://host:port of the monitoring endpoints, when `monitorPort` was given. */
  readonly monitorUrl: string | undefined;
  /** The server's process; its log is `process.logFile`. */
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export { freePort } from '@strata/process';

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
  const onLog = opts.onLog;
  let proc: ManagedProcess;
  try {
    proc = await ManagedProcess.start({
      command: binary,
      args,
      name: 'nats-server',
      ready: portOpen(port, host),
      readyTimeoutMs: opts.startTimeoutMs ?? 10_000,
      group: opts.detached ?? false,
      ...(opts.env ? { env: opts.env } : {}),
      ...(onLog ? { onLine: (line: string) => (line ? onLog(line) : undefined) } : {}),
    });
  } catch (err) {
    if (tempStore) rmSync(tempStore, { recursive: true, force: true });
    if (err instanceof ProcessStartError) throw err;
    throw new Error(`${err instanceof Error ? err.message : String(err)} (is nats-server installed? run npm run setup)`);
  }

  let stopped: Promise<void> | undefined;
  return {
    url: `nats://${host}:${port}`,
    port,
    monitorUrl: monitorPort === undefined ? undefined : `http://${host}:${monitorPort}`,
    process: proc,
    stop() {
      stopped ??= (async () => {
        await proc.stop(5000);
        if (tempStore) rmSync(tempStore, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
