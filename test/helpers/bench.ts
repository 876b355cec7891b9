/** A benchmark command (`bench/<name>.ts`) run to its end through tsx, as `npm` would run it. */
import { spawn } from 'node:child_process';
import { REPO } from './processes.js';

export interface BenchRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `script` (a path from the repository root) with `args`; resolves with its exit code and output. */
export function runBench(script: string, args: readonly string[]): Promise<BenchRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=strata-src', '--import', import.meta.resolve('tsx'), script, ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
