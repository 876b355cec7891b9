import { ManagedProcess } from '@strata/process';
import type { Bus } from '@strata/bus';
import { Health, subjects, type ServiceKind } from '@strata/protocol';
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
      args: [
        ...profileArgs(env['STRATA_NODE_ID'] ?? kind),
        ...(opts.compiled ? [entry] : ['--conditions=strata-src', '--import', 'tsx', `services/${kind}/src/main.ts`]),
      ],
      cwd: REPO,
      env: { LOG_LEVEL: 'info', LOG_PRETTY: 'false', ...env },
      name: env['STRATA_NODE_ID'] ?? kind,
    });
  }
}

/**
 * `STRATA_CPU_PROF_DIR` set: the service runs under V8's CPU profiler and writes
 * `<dir>/<nodeId>.<ms>.cpuprofile` when it exits (NODE_OPTIONS may not carry --cpu-prof).
 */
function profileArgs(nodeId: string): string[] {
  const dir = process.env['STRATA_CPU_PROF_DIR'];
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${nodeId}.${Date.now()}.cpuprofile`] : [];
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

/**
 * Waits until the service answers its health request on NATS (`region`, its node id), failing
 * at once with the process's output if it exits first (by a signal too).
 */
export async function untilHealthy(bus: Pick<Bus, 'request'>, proc: ServiceProcess, region: string, nodeId: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${nodeId} health`,
    async () => {
      if (!proc.running()) throw new Error(proc.output());
      return bus.request(Health, subjects.health(region, proc.kind, nodeId), {}, { timeoutMs: 500 }).catch(() => undefined);
    },
    timeoutMs,
  );
}
