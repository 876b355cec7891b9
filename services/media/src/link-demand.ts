/** A local consumer of a producer another leg forwards here, as far as the link cares. */
export interface Watcher {
  /** Paused by its client (not because the producer is paused). */
  paused: boolean;
  /** The highest spatial layer its client asked for; undefined: the top one. */
  spatialLayer: number | undefined;
}

/** What the link should carry for one producer. */
export type Demand = { forward: false } | { forward: true; paused: boolean; spatialLayer: number | undefined };

/**
 * The far leg sends a producer only while a consumer here exists, and its bytes only while one
 * of them watches (is not paused), at the highest spatial layer a watcher asked for. A paused
 * consumer keeps the stream set up (so resuming costs no setup) but not its bytes.
 */
export function demandOf(watchers: Iterable<Watcher>): Demand {
  let any = false;
  let watching = false;
  let layer: number | undefined = -1;
  for (const w of watchers) {
    any = true;
    if (w.paused) continue;
    watching = true;
    if (layer === undefined) continue;
    layer = w.spatialLayer === undefined ? undefined : Math.max(layer, w.spatialLayer);
  }
  if (!any) return { forward: false };
  if (!watching) return { forward: true, paused: true, spatialLayer: undefined };
  return { forward: true, paused: false, spatialLayer: layer };
}

/**
 * Whether going from `now` to `next` gives a watcher less: such changes wait for the linger
 * time (a speaker who comes back within it costs nothing), while more is given at once.
 * A lower layer is given at once too: it saves bytes, and the switch waits for a key frame
 * either way.
 */
export function isReduction(now: Demand, next: Demand): boolean {
  if (!next.forward) return now.forward;
  if (!now.forward) return false;
  return next.paused && !now.paused;
}

export function sameDemand(a: Demand, b: Demand): boolean {
  if (!a.forward || !b.forward) return a.forward === b.forward;
  return a.paused === b.paused && (a.paused || a.spatialLayer === b.spatialLayer);
}
