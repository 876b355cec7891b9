/**
 * Starts a baseline server (ws-gateway.ts, uws-echo.ts) as its own process, like our services
 * run, so its CPU and RSS are measured apart from the load generator's.
 */
import { REPO } from '@strata/harness';
import { ManagedProcess } from '@strata/process';

export interface Baseline {
  url: string;
  pid: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export type BaselineName = 'ws-gateway' | 'uws-echo' | 'uws-nats-relay';

export async function startBaseline(name: BaselineName, env: Record<string, string> = {}): Promise<Baseline> {
  const proc = await ManagedProcess.start({
    command: process.execPath,
    args: ['--conditions=strata-src', '--import', 'tsx', `loadtest/src/baselines/${name}.ts`],
    cwd: REPO,
    name: `baseline-${name}`,
    env,
    // Each prints `PORT <n>` once it listens.
    ready: /^PORT (\d+)$/,
    readyTimeoutMs: 30_000,
  });
  const port = Number(proc.readyMatch?.[1]);
  return {
    url: `ws://127.0.0.1:${port}`,
    pid: proc.pid,
    process: proc,
    async stop() {
      await proc.stop(5000);
    },
  };
}
