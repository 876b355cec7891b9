/**
 * Runs a script: setup() → every scenario on its executor (in parallel, each from its
 * startTime) → teardown() → thresholds and goals → summary. One process holds every VU: a
 * signaling-only VU is a socket and a few closures, so thousands fit.
 */
import type { RegionOptions } from '@strata/harness';
import { realClock, type Clock } from './clock.js';
import { runExecutor, type Vu } from './executors.js';
import { builtin, defaultRegistry } from './metrics.js';
import {
  DEFAULT_TREND_STATS,
  formatDuration,
  parseDuration,
  scenarioDurationMs,
  scenarioMaxVus,
  validateScenario,
  type Options,
  type ScenarioOptions,
} from './options.js';
import type { ServerSampler } from './server-sampler.js';
import type { Target } from './session.js';
import { buildSummary, textSummary, validateTrendStats, type Goal, type ScenarioExport, type SummaryExport } from './summary.js';
import { aggregate, evaluateThresholds, parseThresholds, type ThresholdSet } from './thresholds.js';
import { makeContext, releaseResources, vuStore, type IterationResources, type VuContext } from './vu.js';

export interface SetupContext {
  target: Target;
  env: Readonly<Record<string, string>>;
  /** Add processes to the server-side sampling (a baseline the script starts, say). */
  server: ServerSampler | undefined;
  /** Pids the runner knows (gateway, media, nats), by name. */
  pids: Readonly<Record<string, number>>;
  /** Store a value in the summary's `extra` section. */
  record(key: string, value: unknown): void;
}

export type IterationFn = (vu: VuContext) => unknown;

export interface ScriptModule {
  options: Options;
  default?: IterationFn;
  setup?: (ctx: SetupContext) => unknown;
  teardown?: (ctx: SetupContext, data: unknown) => unknown;
  /** Strata: verdicts computed from the finished summary; a failed goal fails the run like a threshold. */
  goals?: (summary: SummaryExport) => Goal[] | Promise<Goal[]>;
  /** Strata: how `--start-region` should start the region for this script. */
  regionOptions?: RegionOptions;
  [exec: string]: unknown;
}

export interface RunOptions {
  script: ScriptModule;
  target: Target;
  /** k6's __ENV before the scenarios' own env. */
  env?: Record<string, string>;
  sampler?: ServerSampler;
  pids?: Record<string, number>;
  summaryTrendStats?: string[];
  /** `tty`: one line rewritten in place; `lines`: a line every 10 s; `off`. Default `off`. */
  progress?: 'tty' | 'lines' | 'off';
  /** Where progress, errors and the summary go. Default process.stderr / stdout. */
  log?: (line: string) => void;
  clock?: Clock;
  /** Aborting it stops the run as Ctrl-C does: nothing new starts, running iterations get gracefulStop. */
  signal?: AbortSignal;
  /** Iteration errors printed (the rest are counted only). Default 10. */
  maxErrorLogs?: number;
}

export interface RunResult {
  /** 0, or 99 when a threshold or goal failed (k6's code), 107 when setup/teardown threw. */
  exitCode: number;
  summary: SummaryExport;
  text: string;
}

/** Exit codes, as k6 uses them. */
export const EXIT = { ok: 0, thresholdsFailed: 99, scriptError: 107 } as const;

function describeScenario(name: string, s: ScenarioOptions): string {
  const grace = `gracefulStop: ${s.gracefulStop ?? '30s'}`;
  const start = s.startTime ? `, startTime: ${s.startTime}` : '';
  switch (s.executor) {
    case 'constant-vus':
      return `* ${name}: ${s.vus} looping VUs for ${formatDuration(parseDuration(s.duration))} (${grace}${start})`;
    case 'ramping-vus':
      return `* ${name}: Up to ${scenarioMaxVus(s)} looping VUs for ${formatDuration(scenarioDurationMs(s))} over ${s.stages.length} stages (${grace}${start})`;
    case 'constant-arrival-rate':
      return `* ${name}: ${s.rate} iterations/${s.timeUnit ?? '1s'} for ${formatDuration(parseDuration(s.duration))} (maxVUs: ${s.maxVUs ?? s.preAllocatedVUs}, ${grace}${start})`;
    case 'ramping-arrival-rate':
      return `* ${name}: Up to ${Math.max(s.startRate ?? 0, ...s.stages.map((x) => x.target))} iterations/${s.timeUnit ?? '1s'} for ${formatDuration(scenarioDurationMs(s))} over ${s.stages.length} stages (maxVUs: ${s.maxVUs ?? s.preAllocatedVUs}, ${grace}${start})`;
    case 'per-vu-iterations':
      return `* ${name}: ${s.iterations} iterations for each of ${s.vus} VUs (maxDuration: ${formatDuration(scenarioDurationMs(s))}, ${grace}${start})`;
  }
}

/** An error message with ids and numbers masked, so alike errors count together. */
export function errorKey(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/\d+/g, 'N')
    .slice(0, 200);
}

/** Media VUs spread evenly over a scenario's VUs: VU k is media when ⌊(k+1)·share⌋ > ⌊k·share⌋. */
export function isMediaVu(indexInScenario: number, share: number): boolean {
  return Math.floor((indexInScenario + 1) * share + 1e-9) > Math.floor(indexInScenario * share + 1e-9);
}

export async function run(opts: RunOptions): Promise<RunResult> {
  const { script, target } = opts;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const clock = opts.clock ?? realClock;
  const options = script.options;
  if (!options || typeof options !== 'object' || !options.scenarios || Object.keys(options.scenarios).length === 0)
    throw new Error('the script exports no options.scenarios');
  for (const [name, s] of Object.entries(options.scenarios)) {
    validateScenario(name, s);
    const fn = script[s.exec ?? 'default'];
    if (typeof fn !== 'function') throw new Error(`scenarios.${name}: the script exports no function ${JSON.stringify(s.exec ?? 'default')}`);
  }
  const trendStats = opts.summaryTrendStats ?? options.summaryTrendStats ?? DEFAULT_TREND_STATS;
  validateTrendStats(trendStats);
  const thresholdSets: ThresholdSet[] = parseThresholds(options.thresholds);
  for (const set of thresholdSets) {
    const m = defaultRegistry.get(set.key.metric);
    if (!m) throw new Error(`thresholds: no metric named ${set.key.metric}`);
    for (const t of set.thresholds) aggregate(m, t.aggregation, set.key.filter, 1); // throws on a wrong aggregation
  }
  defaultRegistry.resetSamples();

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, opts.env);
  const extra: Record<string, unknown> = {};
  const setupCtx: SetupContext = { target, env, server: opts.sampler, pids: opts.pids ?? {}, record: (k, v) => void (extra[k] = v) };

  const hard = new AbortController();
  let aborted: string | undefined;
  const onSignal = (): void => {
    aborted ??= 'stopped by signal';
    hard.abort();
  };
  opts.signal?.addEventListener('abort', onSignal, { once: true });

  const scenarioEntries = Object.entries(options.scenarios);
  const plannedMs = Math.max(
    ...scenarioEntries.map(([, s]) => parseDuration(s.startTime ?? 0) + scenarioDurationMs(s) + parseDuration(s.gracefulStop ?? '30s')),
  );
  log(
    `  scenarios: ${scenarioEntries.length}, ${scenarioEntries.reduce((a, [, s]) => a + scenarioMaxVus(s), 0)} max VUs, ${formatDuration(plannedMs)} max duration (incl. graceful stop):`,
  );
  for (const [name, s] of scenarioEntries) log(`           ${describeScenario(name, s)}`);
  log('');

  let data: unknown;
  let exitCode: number = EXIT.ok;
  let setupFailed = false;
  try {
    data = await script.setup?.(setupCtx);
  } catch (err) {
    log(`setup() failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    setupFailed = true;
    exitCode = EXIT.scriptError;
  }

  let nextVu = 1;
  let inFlight = 0;
  /** VUs allocated by the scenarios running now (k6's vus_max), and over the whole run. */
  let vusMax = 0;
  let vusAllocatedTotal = 0;
  let errorsLogged = 0;
  const errorCounts = new Map<string, number>();
  const maxErrorLogs = opts.maxErrorLogs ?? 10;
  const scenarios: Record<string, ScenarioExport> = {};
  const active = new Set<string>();
  const t0 = clock.now();
  opts.sampler?.start();

  const progress = opts.progress ?? 'off';
  let lastLine = 0;
  const progressLine = (): string => {
    const elapsed = clock.now() - t0;
    const its = builtin.iterations.values(1).count;
    const errs = builtin.iterationErrors.values(1).count;
    const dropped = builtin.droppedIterations.values(1).count;
    const pct = Math.min(100, Math.floor((elapsed / plannedMs) * 100));
    return `running (${formatDuration(elapsed)}/${formatDuration(plannedMs)}), ${inFlight}/${vusMax} VUs, ${its} iterations, ${errs} errors, ${dropped} dropped [${String(pct).padStart(3)}%] ${[...active].join(',')}`;
  };
  const ticker = setInterval(() => {
    builtin.vus.add(inFlight);
    builtin.vusMax.add(vusMax);
    evaluateAbort();
    if (progress === 'tty') process.stderr.write(`\r${progressLine()}\x1b[K`);
    else if (progress === 'lines' && clock.now() - lastLine >= 10_000) {
      lastLine = clock.now();
      log(progressLine());
    }
  }, 1000);
  ticker.unref();

  const evaluateAbort = (): void => {
    const elapsed = clock.now() - t0;
    for (const set of thresholdSets) {
      const m = defaultRegistry.get(set.key.metric);
      if (!m) continue;
      for (const t of set.thresholds) {
        if (!t.abortOnFail || elapsed < t.delayAbortEvalMs) continue;
        const [r] = evaluateThresholds([{ key: set.key, thresholds: [t] }], (n) => defaultRegistry.get(n), elapsed / 1000);
        if (r && !r.ok && !hard.signal.aborted) {
          aborted = `threshold ${set.key.key}: ${t.source} crossed (abortOnFail)`;
          hard.abort();
        }
      }
    }
  };

  const runScenario = async (name: string, s: ScenarioOptions): Promise<void> => {
    const fn = script[s.exec ?? 'default'] as IterationFn;
    const tags = { scenario: name, ...s.tags };
    const scenarioEnv = { ...env, ...s.env };
    const share = s.mediaShare ?? 0;
    const media = new Map<number, boolean>();
    let indexInScenario = 0;
    // As k6's exec.scenario.iterationInTest: numbered within this scenario, across all its VUs.
    let iterationInTest = 0;
    const startDelay = parseDuration(s.startTime ?? 0);
    if (startDelay > 0) await clock.sleep(startDelay, hard.signal);
    const entry: ScenarioExport = { executor: s.executor, iterations: 0, dropped: 0, interrupted: 0, vus_allocated: 0, start_ms: 0, end_ms: 0, tags };
    scenarios[name] = entry;
    if (hard.signal.aborted) return;
    entry.start_ms = Math.round(clock.now() - t0);
    opts.sampler?.mark(name, 'start');
    active.add(name);
    const result = await runExecutor(s, {
      clock,
      hardStop: hard.signal,
      newVu: (): Vu => {
        const vu: Vu = { id: nextVu++, iterations: 0, stop: new AbortController() };
        media.set(vu.id, isMediaVu(indexInScenario++, share));
        vusMax++;
        vusAllocatedTotal++;
        return vu;
      },
      onDropped: () => builtin.droppedIterations.add(1, tags),
      iterate: async (vu, info) => {
        const iter = vu.iterations++;
        const resources: IterationResources = { sessions: [], peers: [] };
        const state = { vu: vu.id, iter, scenario: name, tags, stopping: vu.stop.signal };
        const ctx = makeContext(
          {
            vu: vu.id,
            iter,
            scenario: { name, stage: info.stage, iterationInTest: iterationInTest++ },
            env: scenarioEnv,
            target,
            data,
            media: media.get(vu.id) ?? false,
            stopping: vu.stop.signal,
          },
          resources,
        );
        inFlight++;
        const start = performance.now();
        await vuStore.run(state, async () => {
          try {
            await fn(ctx);
            builtin.iterationDuration.add(performance.now() - start);
          } catch (err) {
            builtin.iterationErrors.add(1);
            const key = `${name}: ${errorKey(err)}`;
            errorCounts.set(key, (errorCounts.get(key) ?? 0) + 1);
            if (errorsLogged++ < maxErrorLogs) log(`\n[${name} VU ${vu.id} iter ${iter}] ${err instanceof Error ? err.message : String(err)}`);
          } finally {
            builtin.iterations.add(1);
            await releaseResources(resources);
            inFlight--;
          }
        });
      },
    });
    active.delete(name);
    vusMax -= result.vusAllocated;
    opts.sampler?.mark(name, 'end');
    Object.assign(entry, {
      iterations: result.iterations,
      dropped: result.dropped,
      interrupted: result.interrupted,
      vus_allocated: result.vusAllocated,
      end_ms: Math.round(clock.now() - t0),
    });
    if (result.interrupted) builtin.interruptedIterations.add(result.interrupted, tags);
  };

  if (!setupFailed) await Promise.all(scenarioEntries.map(([name, s]) => runScenario(name, s)));
  const durationMs = clock.now() - t0;
  clearInterval(ticker);
  builtin.vus.add(inFlight);
  if (progress === 'tty') process.stderr.write(`\r${progressLine()}\x1b[K\n`);

  if (!setupFailed) {
    try {
      const r = await script.teardown?.(setupCtx, data);
      if (r !== undefined) extra['teardown'] = r;
    } catch (err) {
      log(`teardown() failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      exitCode = EXIT.scriptError;
    }
  }
  opts.sampler?.stop();
  opts.signal?.removeEventListener('abort', onSignal);

  const thresholdResults = evaluateThresholds(thresholdSets, (n) => defaultRegistry.get(n), durationMs / 1000);
  const errors = Object.fromEntries([...errorCounts].sort((a, b) => b[1] - a[1]));
  const base = { durationMs, trendStats, thresholds: thresholdResults, scenarios, server: opts.sampler?.summary(), extra, aborted, errors };
  let goals: Goal[] = [];
  if (script.goals && !setupFailed) {
    try {
      goals = await script.goals(buildSummary({ ...base, goals: [] }));
    } catch (err) {
      goals = [{ name: 'goals()', ok: false, detail: `threw: ${err instanceof Error ? err.message : String(err)}` }];
    }
  }
  const summary = buildSummary({ ...base, goals });
  const failedThresholds = thresholdResults.filter((t) => !t.ok);
  const failedGoals = goals.filter((g) => !g.ok);
  if (exitCode === EXIT.ok && (failedThresholds.length || failedGoals.length)) exitCode = EXIT.thresholdsFailed;
  const header = [`  duration: ${formatDuration(durationMs)}, ${builtin.iterations.values(1).count} iterations, ${vusAllocatedTotal} VUs allocated`];
  const text = textSummary(summary, header);
  if (failedThresholds.length)
    log(`thresholds crossed: ${failedThresholds.map((t) => `${t.key} ${t.source} (${Number.isNaN(t.actual) ? 'no samples' : t.actual})`).join('; ')}`);
  return { exitCode, summary, text };
}
