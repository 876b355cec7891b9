import type { RegionView } from './region-table.js';

export interface Choice {
  region: string;
  reason: 'rtt' | 'load' | 'default';
  candidates: { region: string; rttMs?: number; load: number; mediaNodes: number }[];
}

/**
 * Latency first: among regions that have live media nodes, the one the client measured as
 * closest. Regions within `toleranceMs` of the best count as equally close and the least
 * loaded of them wins. Without probes: the least-loaded region; with no region known: `home`.
 */
export function chooseRegion(regions: RegionView[], probes: { region: string; rttMs: number }[], home: string, toleranceMs: number): Choice {
  const rtt = new Map<string, number>();
  for (const p of probes) rtt.set(p.region, Math.min(p.rttMs, rtt.get(p.region) ?? Infinity));
  const candidates = regions
    .filter((r) => r.mediaNodes > 0)
    .map((r) => ({ region: r.region, load: r.load, mediaNodes: r.mediaNodes, ...(rtt.has(r.region) ? { rttMs: rtt.get(r.region) as number } : {}) }));
  if (candidates.length === 0) return { region: home, reason: 'default', candidates };
  const measured = candidates.filter((c) => c.rttMs !== undefined);
  if (measured.length > 0) {
    const best = Math.min(...measured.map((c) => c.rttMs as number));
    const near = measured.filter((c) => (c.rttMs as number) - best <= toleranceMs).sort((a, b) => a.load - b.load || (a.rttMs as number) - (b.rttMs as number));
    return { region: (near[0] as { region: string }).region, reason: 'rtt', candidates };
  }
  const sorted = [...candidates].sort((a, b) => a.load - b.load || (a.region === home ? -1 : b.region === home ? 1 : 0));
  return { region: (sorted[0] as { region: string }).region, reason: 'load', candidates };
}
