import { ManagedProcess } from '@strata/process';
import type { ServiceKind } from '@strata/protocol';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url));

export interface SpawnOptions {
  /**
   * Run the compiled entry point (`services/<kind>/dist/main.js`, from `npm run build`) as a
   * deployment does, rather than the TypeScript source through tsx: what memory figures
   * should be measured on (tsx's compiler alone weighs about 50 MB per process).
   */
  compiled?: boolean;
}

/** A service's real entry point running as its own process (log, readiness, stop: @strata/process). */
export class ServiceProcess extends ManagedProcess {
  constructor(
    readonly kind: ServiceKind,
    env: Record<string, string>,
    opts: SpawnOptions = {},
  ) {
    const entry = `services/${kind}/dist/main.js`;
    if (opts.compiled && !existsSync(join(REPO, entry))) throw new Error(`${entry} is missing: run \`npm run build\` first`);
    super({
      command: process.execPath,
      args: opts.compiled ? [entry] : ['--conditions=strata-src', '--import', 'tsx', `services/${kind}/src/main.ts`],
      cwd: REPO,
      env: { LOG_LEVEL: 'info', LOG_PRETTY: 'false', ...env },
      name: env['STRATA_NODE_ID'] ?? kind,
    });
  }
}

/** Runs a service's real entry point (services/<kind>/src/main.ts) as its own process. */
export function spawnService(kind: ServiceKind, env: Record<string, string>, opts: SpawnOptions = {}): ServiceProcess {
  return new ServiceProcess(kind, env, opts);
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
