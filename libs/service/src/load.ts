import { cpus } from 'node:os';

/**
 * CPU used by this process between two samples, in cores. Services with child processes
 * (mediasoup workers) add theirs through `extraCpuMicros`.
 */
export class ProcessLoad {
  private last = process.cpuUsage();
  private lastAt = process.hrtime.bigint();
  readonly cores = cpus().length;

  sample(extraCpuMicros = 0): { cpu: number; rssBytes: number } {
    const now = process.hrtime.bigint();
    const usage = process.cpuUsage(this.last);
    this.last = process.cpuUsage();
    const elapsedMicros = Number(now - this.lastAt) / 1000;
    this.lastAt = now;
    const cpu = elapsedMicros > 0 ? (usage.user + usage.system + extraCpuMicros) / elapsedMicros : 0;
    return { cpu: Math.max(0, Math.round(cpu * 1000) / 1000), rssBytes: process.memoryUsage.rss() };
  }
}
