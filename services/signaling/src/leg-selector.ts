/** A live media node as placement sees it: its heartbeat's load, with what this gateway placed since counted in. */
export interface NodeLoad {
  nodeId: string;
  /** 0..1, share of the node's capacity in use; at 1 the node takes no new member. */
  score: number;
  /** Rooms (routers) open on the node: breaks ties between nodes of equal score, so new legs spread. */
  routers: number;
}

export interface LegQuery {
  /** The room's legs, in the order the placement lists them (oldest first). */
  legs: readonly string[];
  /** The region's live media nodes. */
  nodes: readonly NodeLoad[];
  /** Nodes this join already tried: a leg that refused (full), or a node that did not answer. */
  refused: ReadonlySet<string>;
  /** Nodes known to be gone (no heartbeat within the window): their legs are not tried. */
  gone: ReadonlySet<string>;
}

export type LegChoice =
  /** Ask this existing leg to admit the peer. */
  | { kind: 'leg'; nodeId: string }
  /** No leg can take the peer: open a new leg of the room on this node. */
  | { kind: 'open'; nodeId: string }
  /** No leg has room and no node can open one. */
  | { kind: 'none' };

const AT_CAPACITY = 1;

/**
 * Which leg a joining peer should try, or where a new leg should open: the policy of placement,
 * with no I/O, so it can be checked against loads alone.
 *
 * Existing legs come first, oldest first, so a room stays on as few nodes as its share allows
 * (fewer legs, fewer links) and a place freed on an old leg is filled before a newer one. A leg
 * is skipped when it already refused this join, when its node is gone or at capacity. A leg on
 * a node that is not (yet) heard from but not known to be gone is tried: the gateway may have
 * started a moment ago, and the node's answer settles it.
 *
 * A new leg goes to the least-loaded live node that is not a leg of the room already (one leg
 * per node and room) and is below capacity; ties go to the node with fewer rooms, then to the
 * lower id, so every gateway with the same view picks the same node.
 */
export function selectLeg(q: LegQuery): LegChoice {
  const load = new Map(q.nodes.map((n) => [n.nodeId, n]));
  for (const leg of q.legs) {
    if (q.refused.has(leg) || q.gone.has(leg)) continue;
    if ((load.get(leg)?.score ?? 0) >= AT_CAPACITY) continue;
    return { kind: 'leg', nodeId: leg };
  }
  const legs = new Set(q.legs);
  const candidates = q.nodes.filter((n) => !legs.has(n.nodeId) && !q.refused.has(n.nodeId) && !q.gone.has(n.nodeId) && n.score < AT_CAPACITY);
  candidates.sort((a, b) => a.score - b.score || a.routers - b.routers || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  const best = candidates[0];
  return best ? { kind: 'open', nodeId: best.nodeId } : { kind: 'none' };
}
