/**
 * Keeps the configuration table of every service README equal to what the code accepts. The
 * table between `<!-- config:start -->` and `<!-- config:end -->` is describeConfig() of the
 * service's own spec merged over baseConfigSpec(kind), the same merge startService() does.
 * docs/operations.md gets one more table, between `<!-- config-by-service:start -->` and
 * `<!-- config-by-service:end -->`: every variable of every service, with its default per service,
 * so an operator writing a deployment sees them all in one place.
 *
 *   node --conditions=strata-src --import tsx scripts/config-docs.ts          check: exit 1 if a README is stale
 *   node --conditions=strata-src --import tsx scripts/config-docs.ts --write  rewrite the tables
 *
 * Some defaults are computed from the machine (STRATA_NODE_ID from hostname and pid, media
 * worker counts from the core count). A table rendered on one machine must match on every
 * other, so the specs are evaluated on two made-up machines: whatever differs between them is
 * machine-dependent and rendered as a formula (`<cores>`, `<host>`), never as this machine's value.
 */
import { defaultCell, describeConfig, type ConfigSpec, type VarSpec } from '@strata/config';
import { SERVICE_KINDS, type ServiceKind } from '@strata/protocol';
import { baseConfigSpec } from '@strata/service';
import { readFile, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const START_MARKER = '<!-- config:start -->';
export const END_MARKER = '<!-- config:end -->';
export const OPERATIONS_START_MARKER = '<!-- config-by-service:start -->';
export const OPERATIONS_END_MARKER = '<!-- config-by-service:end -->';
export const OPERATIONS_DOC = 'docs/operations.md';
const WRITE_COMMAND = 'node --conditions=strata-src --import tsx scripts/config-docs.ts --write';

/** The spec each service exports from src/config.ts; a Record so a new ServiceKind fails to compile here. */
const SPEC_EXPORTS: Record<ServiceKind, string> = {
  signaling: 'signalingConfig',
  media: 'mediaConfig',
  turn: 'turnConfig',
  'geo-router': 'geoConfig',
  recorder: 'recorderConfig',
};

interface Machine {
  cores: number;
  host: string;
}
// Core counts with no common factor, so `k × cores` is recognised from the two values alone.
const MACHINES: readonly [Machine, Machine] = [
  { cores: 3, host: 'docs-host-a' },
  { cores: 5, host: 'docs-host-b' },
];

// The writable view of node:os; the ESM bindings follow it after syncBuiltinESMExports().
const mutableOs: { cpus: typeof os.cpus; hostname: typeof os.hostname } = os;

async function onMachine<T>(m: Machine, fn: () => Promise<T>): Promise<T> {
  const saved = { cpus: mutableOs.cpus, hostname: mutableOs.hostname };
  const cpu: os.CpuInfo = { model: 'config-docs', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } };
  mutableOs.cpus = () => Array.from({ length: m.cores }, () => cpu);
  mutableOs.hostname = () => m.host;
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    mutableOs.cpus = saved.cpus;
    mutableOs.hostname = saved.hostname;
    syncBuiltinESMExports();
  }
}

function isVarSpec(v: unknown): v is VarSpec<unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['kind'] === 'string' && typeof o['description'] === 'string' && typeof o['hasFallback'] === 'boolean' && typeof o['parse'] === 'function';
}

function isSpec(v: unknown): v is ConfigSpec {
  return typeof v === 'object' && v !== null && Object.values(v).every(isVarSpec);
}

/** A service's full spec as seen on machine `index`; the query string gives each machine its own module instance. */
async function specOn(kind: ServiceKind, index: 0 | 1): Promise<ConfigSpec> {
  return onMachine(MACHINES[index], async () => {
    const url = `${pathToFileURL(join(ROOT, 'services', kind, 'src', 'config.ts')).href}?machine=${index}`;
    const mod = (await import(url)) as Record<string, unknown>;
    const own = mod[SPEC_EXPORTS[kind]];
    if (!isSpec(own)) throw new Error(`services/${kind}/src/config.ts does not export a config spec named ${SPEC_EXPORTS[kind]}`);
    return { ...baseConfigSpec(kind), ...own };
  });
}

/** How to write a default that differs between the two machines, or an error naming the variable. */
function machineDefault(name: string, a: unknown, b: unknown): string {
  const [ma, mb] = MACHINES;
  if (typeof a === 'number' && typeof b === 'number') {
    const k = a / ma.cores;
    if (Number.isInteger(k) && k * mb.cores === b) return k === 1 ? '<cores>' : `${k} × <cores>`;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    // The pid is the same on both machines; it only shows up here because the host differed.
    const pid = new RegExp(`\\b${process.pid}\\b`, 'g');
    const sa = a.replaceAll(ma.host, '<host>').replace(pid, '<pid>');
    const sb = b.replaceAll(mb.host, '<host>').replace(pid, '<pid>');
    if (sa === sb) return sa;
  }
  throw new Error(
    `${name}: its default depends on the machine (${String(a)} vs ${String(b)}); teach machineDefault() in scripts/config-docs.ts to describe it`,
  );
}

/** The spec as the README shows it: defaults that do not depend on the machine. */
function documentedSpec(a: ConfigSpec, b: ConfigSpec): ConfigSpec {
  const out: ConfigSpec = {};
  for (const [name, va] of Object.entries(a)) {
    const vb = b[name];
    const same = vb !== undefined && JSON.stringify(va.fallback) === JSON.stringify(vb.fallback);
    const fallback = same || !va.hasFallback ? va.fallback : machineDefault(name, va.fallback, vb?.fallback);
    out[name] = { ...va, fallback };
  }
  return out;
}

export interface ConfigDoc {
  kind: ServiceKind;
  /** Relative to the repository root. */
  readme: string;
  /** The table the README should hold. */
  table: string;
  /** The README with that table in place; null when it has no markers to put it between. */
  expected: string | null;
  current: string;
}

function withTable(text: string, table: string, startMarker = START_MARKER, endMarker = END_MARKER): string | null {
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker, start + startMarker.length);
  if (start < 0 || end < 0) return null;
  return `${text.slice(0, start)}${startMarker}\n${table}\n${text.slice(end)}`;
}

/** Every service's full spec (its own merged over the base), with machine-independent defaults. */
export async function serviceSpecs(): Promise<Record<ServiceKind, ConfigSpec>> {
  const out: Partial<Record<ServiceKind, ConfigSpec>> = {};
  for (const kind of SERVICE_KINDS) out[kind] = documentedSpec(await specOn(kind, 0), await specOn(kind, 1));
  return out as Record<ServiceKind, ConfigSpec>;
}

/** The environment variables each service reads, in the order of its README table. */
export async function serviceVariables(): Promise<Record<ServiceKind, string[]>> {
  const specs = await serviceSpecs();
  const out: Partial<Record<ServiceKind, string[]>> = {};
  for (const kind of SERVICE_KINDS) out[kind] = Object.keys(specs[kind]);
  return out as Record<ServiceKind, string[]>;
}

/**
 * One row per variable (the shared ones first, in the base spec's order), one column per service:
 * the default there, or nothing when that service does not read it. Meanings stay in the READMEs,
 * which this links to, so a description is written once.
 */
export function operationsTable(specs: Record<ServiceKind, ConfigSpec>): string {
  const names: string[] = [];
  for (const kind of SERVICE_KINDS) for (const name of Object.keys(specs[kind])) if (!names.includes(name)) names.push(name);
  const header = `| variable | ${SERVICE_KINDS.map((k) => `[${k}](../services/${k}/README.md#configuration)`).join(' | ')} |`;
  const rule = `|---|${SERVICE_KINDS.map(() => '---').join('|')}|`;
  const rows = names.map((name) => {
    const cells = SERVICE_KINDS.map((kind) => {
      const v = specs[kind][name];
      return v === undefined ? '' : defaultCell(v.hasFallback, v.fallback);
    });
    return `| \`${name}\` | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}

export interface OperationsDoc {
  /** Relative to the repository root. */
  path: string;
  table: string;
  /** The page with that table in place; null when it has no markers to put it between. */
  expected: string | null;
  current: string;
}

export async function operationsDoc(specs?: Record<ServiceKind, ConfigSpec>): Promise<OperationsDoc> {
  const table = operationsTable(specs ?? (await serviceSpecs()));
  const current = await readFile(join(ROOT, OPERATIONS_DOC), 'utf8').catch(() => '');
  return { path: OPERATIONS_DOC, table, expected: withTable(current, table, OPERATIONS_START_MARKER, OPERATIONS_END_MARKER), current };
}

export async function configDocs(specs?: Record<ServiceKind, ConfigSpec>): Promise<ConfigDoc[]> {
  specs ??= await serviceSpecs();
  const docs: ConfigDoc[] = [];
  for (const kind of SERVICE_KINDS) {
    const table = describeConfig(specs[kind]);
    const path = join(ROOT, 'services', kind, 'README.md');
    const current = await readFile(path, 'utf8').catch(() => '');
    docs.push({ kind, readme: relative(ROOT, path), table, expected: withTable(current, table), current });
  }
  return docs;
}

/** Pages whose table differs from the code (or that have no markers), as `path: why` lines. */
export async function staleConfigDocs(): Promise<string[]> {
  const specs = await serviceSpecs();
  const readmes = (await configDocs(specs)).flatMap((d) => {
    if (d.expected === null) return [`${d.readme}: no ${START_MARKER} … ${END_MARKER} block`];
    return d.expected === d.current ? [] : [`${d.readme}: configuration table is out of date`];
  });
  const ops = await operationsDoc(specs);
  if (ops.expected === null) return [...readmes, `${ops.path}: no ${OPERATIONS_START_MARKER} … ${OPERATIONS_END_MARKER} block`];
  return ops.expected === ops.current ? readmes : [...readmes, `${ops.path}: table of every variable by service is out of date`];
}

/** Rewrites the stale tables; returns the pages it changed. A page without markers is an error. */
export async function writeConfigDocs(): Promise<string[]> {
  const specs = await serviceSpecs();
  const docs = await configDocs(specs);
  const unmarked = docs.filter((d) => d.expected === null).map((d) => d.readme);
  const ops = await operationsDoc(specs);
  if (ops.expected === null) unmarked.push(`${ops.path} (${OPERATIONS_START_MARKER} … ${OPERATIONS_END_MARKER})`);
  if (unmarked.length > 0) throw new Error(`no ${START_MARKER} … ${END_MARKER} block in ${unmarked.join(', ')}`);
  const changed: string[] = [];
  for (const d of docs) {
    if (d.expected === null || d.expected === d.current) continue;
    await writeFile(join(ROOT, d.readme), d.expected);
    changed.push(d.readme);
  }
  if (ops.expected !== null && ops.expected !== ops.current) {
    await writeFile(join(ROOT, ops.path), ops.expected);
    changed.push(ops.path);
  }
  return changed;
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--write')) {
    const changed = await writeConfigDocs();
    console.log(changed.length ? `updated ${changed.join(', ')}` : `every service README and ${OPERATIONS_DOC} are up to date`);
    return 0;
  }
  const stale = await staleConfigDocs();
  if (stale.length === 0) {
    console.log(`every service README and ${OPERATIONS_DOC} are up to date`);
    return 0;
  }
  console.error(`${stale.join('\n')}\nrun: ${WRITE_COMMAND}`);
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
