import type { ServiceKind } from '@strata/protocol';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));

export interface ServiceProcess {
  kind: ServiceKind;
  child: ChildProcess;
  /** Everything the process wrote, for assertions and for failure messages. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with how it exited. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /**
   * Run the compiled entry point (`services/<kind>/dist/main.js`, from `npm run build`) as a
   * deployment does, rather than the TypeScript source through tsx: what memory figures
   * should be measured on (tsx's compiler alone weighs about 50 MB per process).
   */
  compiled?: boolean;
}

/** Runs a service's real entry point (services/<kind>/src/main.ts) as its own process. */
export function spawnService(kind: ServiceKind, env: Record<string, string>, opts: SpawnOptions = {}): ServiceProcess {
  const entry = `services/${kind}/dist/main.js`;
  if (opts.compiled && !existsSync(join(REPO, entry))) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  const args = opts.compiled ? [entry] : ['--conditions=strata-src', '--import', 'tsx', `services/${kind}/src/main.ts`];
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: { ...process.env, LOG_LEVEL: 'info', LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    kind,
    child,
    output: () => out,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const r = await exited;
        clearTimeout(t);
        return r;
      }
      return exited;
    },
  };
}

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
