/**
 * coturn's own TURN clients (turnutils_uclient, turnutils_peer), run and read for the e2e test
 * of our TURN service and for the TURN benchmark (bench/turn.ts): one runner and one parser of
 * uclient's output, so what the test asserts and what the benchmark counts are the same numbers.
 */
import { ManagedProcess } from '@strata/process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** True when every named command is on PATH. */
export async function haveCommands(...names: string[]): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${names.join(' ')}`]).catch(() => undefined)) !== undefined;
}

export interface UclientTotals {
  sent: number;
  received: number;
  lost: number;
  output: string;
}

/** uclient's closing totals ("tot_send_msgs=N, tot_recv_msgs=M" alone on its line, "Total lost packets N"); undefined if it printed none. */
export function parseUclientTotals(output: string): Omit<UclientTotals, 'output'> | undefined {
  const totals = [...output.matchAll(/tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$/gm)].at(-1);
  const lost = /Total lost packets (\d+)/.exec(output);
  if (!totals || !lost) return undefined;
  return { sent: Number(totals[1]), received: Number(totals[2]), lost: Number(lost[1]) };
}

/** Runs turnutils_uclient to its end and reads its own totals; rejects if it fails or prints none. */
export async function uclient(args: string[], timeoutMs = 30_000): Promise<UclientTotals> {
  const { stdout, stderr } = await run('turnutils_uclient', args, { timeout: timeoutMs }).catch(
    (err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`turnutils_uclient ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    },
  );
  const output = stdout + stderr;
  const totals = parseUclientTotals(output);
  if (!totals) throw new Error(`uclient printed no totals:\n${output}`);
  return { ...totals, output };
}

/** One of uclient's once-a-second progress lines: its clock (s) and the messages sent and received by all its clients so far. */
export interface UclientProgress {
  second: number;
  sent: number;
  received: number;
}

/** "7: : start_mclient: msz=50, tot_send_msgs=23193, tot_recv_msgs=23150, ..." → { second: 7, sent: 23193, received: 23150 }. */
export function parseUclientProgress(line: string): UclientProgress | undefined {
  const m = /^(\d+): : start_mclient: msz=\d+, tot_send_msgs=(\d+), tot_recv_msgs=(\d+),/.exec(line);
  return m ? { second: Number(m[1]), sent: Number(m[2]), received: Number(m[3]) } : undefined;
}

export interface RunningUclient {
  proc: ManagedProcess;
  /** uclient's totals once it has finished; rejects if it exited without them. */
  done: Promise<UclientTotals>;
}

/**
 * Starts turnutils_uclient and hands each progress line to `onProgress` as it is printed. uclient
 * writes through stdio, block-buffered into a pipe, so it runs under `stdbuf -oL`: the lines
 * then arrive when they are written, and a caller can read a server's CPU at the same moment.
 */
export function startUclient(args: string[], onProgress: (p: UclientProgress) => void, logFile?: string): RunningUclient {
  const proc = new ManagedProcess({
    command: 'stdbuf',
    args: ['-oL', '-eL', 'turnutils_uclient', ...args],
    name: 'turnutils_uclient',
    ...(logFile ? { logFile } : {}),
    onLine: (line) => {
      const p = parseUclientProgress(line);
      if (p) onProgress(p);
    },
  });
  const done = proc.exited.then((status) => {
    const output = proc.output();
    const totals = parseUclientTotals(output);
    if (!totals) throw new Error(`turnutils_uclient ${args.join(' ')} exited (code ${status.code}, signal ${status.signal}) without totals:\n${proc.tail()}`);
    return { ...totals, output };
  });
  return { proc, done };
}

/** turnutils_peer, coturn's UDP echo server, on `port`: what uclient's relayed packets go to and come back from. */
export function startTurnutilsPeer(port: number, host = '127.0.0.1'): Promise<ManagedProcess> {
  return ManagedProcess.start({
    command: 'turnutils_peer',
    args: ['-L', host, '-p', String(port)],
    name: 'turnutils_peer',
    // It prints nothing when it is up and listens on UDP, which no probe of ours can see without its answer; it binds at once.
    ready: { what: 'turnutils_peer', check: () => new Promise((r) => setTimeout(() => r(true), 300)) },
  });
}
