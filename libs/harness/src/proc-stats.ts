/**
 * What a process costs, read the way `ps` and `top` do (Linux only): CPU time from
 * /proc/<pid>/stat (utime + stime, in clock ticks) and memory from /proc/<pid>/status (VmRSS).
 * Used to sample the server side of a load test and by benchmarks.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** sysconf(_SC_CLK_TCK): the unit of utime/stime; 100 on every Linux we run on. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    let v = NaN;
    try {
      v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      // getconf missing: fall through to Linux's fixed USER_HZ
    }
    ticksPerSecond = Number.isFinite(v) && v > 0 ? v : 100;
  }
  return ticksPerSecond;
}

export interface ProcSnapshot {
  pid: number;
  /** The executable's name as the kernel keeps it (15 characters at most). */
  comm: string;
  ppid: number;
  /** User + system CPU time since the process started, in seconds. */
  cpuSeconds: number;
  /** Resident set size, bytes. */
  rssBytes: number;
  /** Peak resident set size (VmHWM), bytes. */
  rssPeakBytes: number;
  threads: number;
}

function statusField(status: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status);
  return m ? Number(m[1]) : 0;
}

/** One reading of a process; undefined when it does not exist (any more). */
export function readProc(pid: number): ProcSnapshot | undefined {
  let stat: string;
  let status: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ..." — comm may hold spaces or parentheses: cut at the last ')'.
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const f = stat.slice(close + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3]. ppid = 4, utime = 14, stime = 15.
  const ticks = Number(f[11]) + Number(f[12]);
  return {
    pid,
    comm,
    ppid: Number(f[1]),
    cpuSeconds: ticks / clockTicksPerSecond(),
    rssBytes: statusField(status, 'VmRSS') * 1024,
    rssPeakBytes: statusField(status, 'VmHWM') * 1024,
    threads: statusField(status, 'Threads'),
  };
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Direct children of `pid` (mediasoup-worker processes of a media node, for instance). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const p of allPids()) if (readProc(p)?.ppid === pid) out.push(p);
  return out;
}

/** The command line of a process, arguments joined by spaces ('' when unreadable). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Processes whose command line contains every one of `needles`, oldest pid first. */
export function findPids(...needles: string[]): number[] {
  const self = process.pid;
  return allPids()
    .filter((p) => p !== self)
    .filter((p) => {
      const c = cmdline(p);
      return c !== '' && needles.every((n) => c.includes(n));
    })
    .sort((a, b) => a - b);
}
