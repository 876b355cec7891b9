/**
 * Where most consumers of the big room send their RTP: UDP sockets that nobody reads (their
 * process blocks its event loop, see drain-process.ts), so receiving costs no process CPU. The
 * kernel still delivers every packet to the socket, as for a real receiver, and counts each one
 * it drops for want of room in /proc/net/udp: with the queue full from the first packets on,
 * the growth of that counter over a window is the number of packets that arrived.
 */
import { ManagedProcess } from '@strata/process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export class Drain {
  private constructor(
    private readonly proc: ManagedProcess,
    readonly ports: number[],
  ) {}

  static async start(sockets: number): Promise<Drain> {
    const entry = fileURLToPath(new URL('./drain-process.ts', import.meta.url));
    // Ready once it printed its ports (then its event loop stops for good).
    const proc = await ManagedProcess.start({
      command: process.execPath,
      args: ['--import', import.meta.resolve('tsx'), entry, String(sockets)],
      name: 'bench-drain',
      ready: /^\{"ports":\[[\d,]+\]\}$/,
    });
    const ports = (JSON.parse(proc.readyMatch![0]) as { ports: number[] }).ports;
    return new Drain(proc, ports);
  }

  /** Packets dropped so far at each drain port (= arrived, less the few the full queue holds). */
  drops(): Map<number, number> {
    return udpDrops(new Set(this.ports));
  }

  /** SIGKILL: a blocked event loop runs no signal handler. */
  async stop(): Promise<void> {
    await this.proc.kill9();
  }
}

/**
 * The `drops` column of /proc/net/udp for the sockets bound to 127.0.0.1 on `ports`.
 * Line: "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops".
 */
export function udpDrops(ports: ReadonlySet<number>, table = readFileSync('/proc/net/udp', 'utf8')): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    if (!local || f.length < 13) continue;
    const [ip, portHex] = local.split(':');
    const port = parseInt(portHex ?? '', 16);
    if (ip !== '0100007F' || !ports.has(port)) continue;
    out.set(port, (out.get(port) ?? 0) + Number(f[12]));
  }
  return out;
}
