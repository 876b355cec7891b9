/**
 * CPU time of processes, read the way `ps` and `top` do: /proc/<pid>/stat utime + stime
 * (user + system, in clock ticks). Linux only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    ticksPerSecond = Number.isFinite(v) && v > 0 ? v : 100;
  }
  return ticksPerSecond;
}

interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  cpuMs: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ..." — comm may hold spaces or parentheses: cut at the last ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const comm = text.slice(open + 1, close);
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3]. utime = 14, stime = 15.
  const ppid = Number(f[1]);
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  return { comm, state: f[0] ?? '?', ppid, cpuMs: ((utime + stime) * 1000) / clockTicks() };
}

/** user + system CPU of one process (all its threads) since it started, in ms; undefined once it is gone. */
export function procCpuMs(pid: number): number | undefined {
  return readStat(pid)?.cpuMs;
}

/** Direct children of `ppid` whose command name starts with `commPrefix`. */
export function childPids(ppid: number, commPrefix: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st && st.ppid === ppid && st.comm.startsWith(commPrefix)) out.push(Number(name));
  }
  return out;
}

/** CPU of this very process (user + system), in ms. */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Resolves once `pid` has exited (gone, or a zombie waiting for its parent), or after `timeoutMs`; false if it still runs. */
export async function waitGone(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let st = readStat(pid); st && st.state !== 'Z'; st = readStat(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * Datagrams the kernel dropped per UDP socket on 127.0.0.1 (the `drops` column of
 * /proc/net/udp: a full receive buffer, i.e. a reader that fell behind), by local port. Tells
 * where a lost packet went: a sink socket (the benchmark's receiving side), a producer's
 * transport (the worker's intake), the relay. `anyAddress`: sockets bound to any local address
 * too (ffmpeg's RTP input binds 0.0.0.0), which also tells which ports are bound.
 */
export function udpDrops(anyAddress = false): Map<number, number> {
  const out = new Map<number, number>();
  let text: string;
  try {
    text = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [ip, port] = (f[1] ?? '').split(':');
    if ((!anyAddress && ip !== '0100007F') || port === undefined) continue;
    out.set(parseInt(port, 16), Number(f[f.length - 1]));
  }
  return out;
}

/**
 * Proportional set size of a process, bytes (/proc/<pid>/smaps_rollup): its resident pages,
 * each shared page divided by the number of processes mapping it. Summed over processes (one
 * ffmpeg per track) it counts their shared libraries once, which a sum of RSS counts per process.
 */
export function procPssBytes(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
