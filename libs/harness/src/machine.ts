import { cpus, loadavg } from 'node:os';

/** One line saying where a figure was measured: cores, CPU model, load when asked, Node. */
export function machineDescription(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadavg()[0]?.toFixed(1) ?? '?'} at the end, Node ${process.version}`;
}
