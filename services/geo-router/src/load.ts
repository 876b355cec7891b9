import { loadScore, type LoadSample } from '@strata/service';

/**
 * A route is a lookup in a table kept in memory: nothing runs out but the event loop's time,
 * so the geo-router's score is its event loop's utilisation.
 */
export function geoRouterLoad(counts: { regions: number; routed: number }, sample: LoadSample): { score: number; details: Record<string, number> } {
  return { score: loadScore(sample.eventLoop), details: { ...counts, eventLoop: sample.eventLoop } };
}
