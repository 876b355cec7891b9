#!/usr/bin/env node
// The whole suite: typecheck, then every *.test.ts under libs/, services/, loadtest/ and test/ through
// node's own test runner (tsx as the TypeScript loader, sources resolved via "strata-src").
// Files run one at a time: the end-to-end tests spawn real nats-servers, media workers and
// browsers, and a 2-core CI machine should not run several of those at once.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filter = process.argv.slice(2);

function findTests(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

const files = ['libs', 'services', 'loadtest', 'test'].flatMap((d) => findTests(join(root, d))).sort();
const selected = filter.length ? files.filter((f) => filter.some((x) => f.includes(x))) : files;
if (selected.length === 0) {
  console.error(`no test file matches ${filter.join(' ')}`);
  process.exit(1);
}

if (!filter.length) {
  console.log('typecheck: tsc -p tsconfig.json, tsc -p services/signaling/web/tsconfig.json');
  // The demo page (DOM types) has a project of its own.
  for (const project of ['tsconfig.json', 'services/signaling/web/tsconfig.json']) {
    const tsc = spawnSync('npx', ['tsc', '-p', project], { cwd: root, stdio: 'inherit' });
    if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  }
}

const r = spawnSync(process.execPath, ['--conditions=strata-src', '--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...selected], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
});
process.exit(r.status ?? 1);
