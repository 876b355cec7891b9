/**
 * Starts a baseline server (ws-gateway.ts, uws-echo.ts) as its own process, like our services
 * run, so its CPU and RSS are measured apart from the load generator's.
 */
import { REPO } from '@strata/harness';
import { spawn, type ChildProcess } from 'node:child_process';

export interface Baseline {
  url: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export type BaselineName = 'ws-gateway' | 'uws-echo';

export async function startBaseline(name: BaselineName): Promise<Baseline> {
  const child = spawn(process.execPath, ['--conditions=strata-src', '--import', 'tsx', `loadtest/src/baselines/${name}.ts`], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`baseline ${name} exited (${code}) before listening`)));
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    pid: child.pid as number,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
