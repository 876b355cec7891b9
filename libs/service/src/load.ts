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

/**
 * The share of time this process's event loop was busy since the previous sample, 0..1. For a
 * service whose work is JavaScript on one thread (the gateway, TURN relaying in node-turn, the
 * geo-router) this is how close it is to falling behind, whatever the work is made of.
 */
export class EventLoopLoad {
  private last = performance.eventLoopUtilization();

  sample(): number {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, this.last);
    this.last = now;
    return Math.round(clamp01(utilization) * 1000) / 1000;
  }
}

/** `used` of `capacity` as a share; a capacity of 0 is full as soon as anything uses it. */
export function capacityShare(used: number, capacity: number): number {
  if (capacity > 0) return clamp01(used / capacity);
  return used > 0 ? 1 : 0;
}

/**
 * A heartbeat's load score from the shares of each resource a service can run out of: the
 * scarcest one decides, since it is the one that refuses the next client.
 */
export function loadScore(...shares: number[]): number {
  return Math.round(Math.max(0, ...shares.map(clamp01)) * 1000) / 1000;
}

/** NaN (a broken count) counts as full rather than as idle: better to steer away from a node than onto it. */
function clamp01(x: number): number {
  return Number.isNaN(x) ? 1 : Math.min(1, Math.max(0, x));
}
