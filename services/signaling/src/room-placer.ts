import { MediaPeerClose, MediaRoomOpen, StrataError, type PeerMedia, type PeerSummary, type RequestOf, type ResponseOf, type Speakers } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import { selectLeg } from './leg-selector.js';
import type { MediaDirectory } from './media-directory.js';
import type { MediaNodes } from './media-client.js';
import type { Placement, PlacementStore } from './placement-store.js';

/** A peer as its media node's roster knows it. */
export type Member = NonNullable<RequestOf<typeof MediaRoomOpen>['peer']>;

/** A peer admitted to its room on a media node (a leg), with the roster the node answered. */
export interface Admission {
  nodeId: string;
  routerRtpCapabilities: ResponseOf<typeof MediaRoomOpen>['rtpCapabilities'];
  peers: PeerSummary[];
  /** The admitted peer's own media on the node (nothing for a new peer). */
  self: PeerMedia;
  /** The room's speaker ranking as the leg knows it. */
  speakers?: Speakers;
}

/**
 * What a leg's node said when a member left it: how many members the leg still has, `gone`
 * when the node is known gone or has no responder (its share of the room went with it), or
 * null when it did not answer (it may come back).
 */
export type LegLeft = number | 'gone' | null;

export interface PlacerOptions {
  /** Members per leg (`SIGNALING_ROOM_LEG_SIZE`); 0: no share, a leg takes members until its node is full. */
  legSize: number;
  /** How long a join waits for a first media node heartbeat (a gateway that just started). */
  firstNodeWaitMs?: number;
}

/** Steps of one join: each either tried a leg, or lost a compare-and-set to another joiner's change. */
const MAX_STEPS = 256;

/**
 * Places peers on the legs of their room: the orchestration of placement, composing the leg
 * selector (policy), the placement store (state in KV) and the media nodes (each admits to its
 * own leg, refusing past its share with CAPACITY, in one step so concurrent joins cannot
 * over-fill a leg).
 *
 * A join tries the legs the selector names; when none has room it adds a leg on the chosen
 * node with compare-and-set, and a joiner that lost that race re-reads the placement and tries
 * the leg the winner added: two joins never open two legs on one node, nor two new legs where
 * one suffices. A leg whose node is gone (no heartbeat, or no responder) is removed from the
 * placement and the peer placed elsewhere.
 *
 * A leave ends the membership on the leg; the leg that lost its last member is removed and the
 * record erased with the last leg. A join racing that last leave is covered from both sides:
 * the leaver asks the leg again after removing it and writes it back if someone was admitted
 * meanwhile, and the joiner confirms its leg once admitted (`confirm`).
 */
export class RoomPlacer {
  private readonly firstNodeWaitMs: number;

  constructor(
    private readonly media: MediaNodes,
    private readonly store: PlacementStore,
    private readonly directory: MediaDirectory,
    private readonly opts: PlacerOptions,
    private readonly log: Logger,
  ) {
    this.firstNodeWaitMs = opts.firstNodeWaitMs ?? 3000;
  }

  /**
   * Places `member` on a leg of the room with room for it, or on a new leg. `overfill`: when no
   * leg has room and no node can open one, the least-loaded live leg takes the member past its
   * share, as for peers already in the room whose node went away (better an overfull leg than
   * a call lost), not for newcomers, who get CAPACITY.
   */
  async join(roomId: string, member: Member, opts: { overfill?: boolean } = {}): Promise<Admission> {
    const log = this.log.child({ roomId, peerId: member.peerId });
    const refused = new Set<string>();
    const noneGone = new Set<string>();
    let current = await this.store.read(roomId);
    let waited = false;
    for (let step = 0; step < MAX_STEPS; step++) {
      const gone = current?.legs.filter((n) => this.directory.isGone(n)) ?? [];
      if (current && gone.length > 0) {
        const change = await this.store.removeLegs(roomId, current, gone);
        if (change.written) log.info({ nodeIds: gone }, 'legs on gone media nodes removed from the placement');
        current = change.written ? change.placement : await this.store.read(roomId);
        continue;
      }
      const choice = selectLeg({ legs: current?.legs ?? [], nodes: this.directory.loads(), refused, gone: noneGone });
      if (choice.kind === 'none') {
        if (!waited && this.directory.size === 0) {
          waited = true;
          if (await this.directory.anyLive(this.firstNodeWaitMs)) continue;
        }
        if (!this.directory.warm()) {
          // Just started: the nodes not heard from yet may have room. Refuse only with the whole region in view.
          await this.directory.untilWarm();
          continue;
        }
        if (this.directory.size === 0) throw new StrataError('UNAVAILABLE', 'no media node is available in this region');
        const loads = new Map(this.directory.loads().map((l) => [l.nodeId, l.score]));
        const fullest = (current?.legs ?? []).filter((n) => loads.has(n)).sort((a, b) => loads.get(a)! - loads.get(b)! || a.localeCompare(b))[0];
        if (opts.overfill && fullest) {
          log.warn({ nodeId: fullest }, 'no leg has room: the least-loaded one takes the member past its share');
          return await this.open(roomId, fullest, member, current, false);
        }
        throw new StrataError('CAPACITY', `room ${roomId}: no leg has room and no other media node can open one`);
      }
      if (choice.kind === 'open') {
        // Counted before the write, so the joins of a burst that select next see it.
        this.directory.notePlaced(choice.nodeId);
        const change = await this.store.addLeg(roomId, current, choice.nodeId);
        if (!change.written) {
          // Another joiner changed the room first (perhaps with the leg this one wanted): decide again on theirs.
          current = await this.store.read(roomId);
          continue;
        }
        current = change.placement;
        log.info({ nodeId: choice.nodeId, legs: current?.legs.length }, 'room leg opened');
      }
      const nodeId = choice.nodeId;
      try {
        return await this.open(roomId, nodeId, member, current);
      } catch (err) {
        if (!(err instanceof StrataError)) throw err;
        refused.add(nodeId);
        if (err.code === 'CAPACITY') continue;
        if (err.code !== 'UNAVAILABLE' && err.code !== 'TIMEOUT') throw err;
        if (err.code === 'TIMEOUT' && this.directory.isLive(nodeId)) {
          // Slow, not gone: its members stay, so its leg does too. It may have admitted the peer after all.
          log.warn({ nodeId }, 'media node did not answer room.open in time; trying another leg');
          void this.media
            .node(nodeId)
            .request(MediaPeerClose, { roomId, peerId: member.peerId })
            .catch(() => undefined);
          continue;
        }
        log.warn({ nodeId, code: err.code }, 'leg on a media node that does not answer: removed from the placement');
        current = await this.store.dropLeg(roomId, nodeId);
      }
    }
    throw new StrataError('UNAVAILABLE', `could not place a member in room ${roomId}`);
  }

  private async open(roomId: string, nodeId: string, member: Member, placement: Placement | null, share = true): Promise<Admission> {
    const legs = placement?.legs.filter((n) => n !== nodeId) ?? [];
    const opened = await this.media.node(nodeId).request(MediaRoomOpen, {
      roomId,
      peer: member,
      ...(legs.length > 0 ? { legs } : {}),
      ...(share && this.opts.legSize > 0 ? { maxMembers: this.opts.legSize } : {}),
    });
    return admission(nodeId, opened);
  }

  /** Admits `member` again on the leg it is a member of (a resume): no share applies to a member. */
  async admit(roomId: string, nodeId: string, member: Member): Promise<Admission> {
    if (this.directory.isGone(nodeId)) throw new StrataError('UNAVAILABLE', `media node ${nodeId} is gone`);
    return admission(nodeId, await this.media.node(nodeId).request(MediaRoomOpen, { roomId, peer: member }));
  }

  /**
   * After a joiner's peer record is written: its leg must be in the placement. A last member
   * leaving that leg may have removed it in between; put it back, or the leg would hold
   * members nobody can find.
   */
  async confirm(roomId: string, nodeId: string): Promise<void> {
    const before = await this.store.read(roomId);
    if (before?.legs.includes(nodeId)) return;
    await this.store.ensureLeg(roomId, nodeId);
    this.log.info({ roomId, nodeId }, 'leg written back: it was released while a member joined it');
  }

  /** The placement store's generation (see `KvBucket.generation`). */
  storeGeneration(): Promise<string> {
    return this.store.generation();
  }

  /** Writes the leg on `nodeId` into the room's placement if it is not there (a placement lost with its bucket); true when it was missing. */
  async restoreLeg(roomId: string, nodeId: string): Promise<boolean> {
    if ((await this.store.read(roomId))?.legs.includes(nodeId)) return false;
    await this.store.ensureLeg(roomId, nodeId);
    return true;
  }

  /** Ends `peerId`'s membership on its leg; what the leg has left (see LegLeft). */
  async close(roomId: string, nodeId: string, peerId: string, log: Logger): Promise<LegLeft> {
    if (this.directory.isGone(nodeId)) return 'gone';
    try {
      return (await this.media.node(nodeId).request(MediaPeerClose, { roomId, peerId })).peersLeft;
    } catch (err) {
      // No responder: the node is not subscribed, so its share of the room is gone (the caller says so, once).
      if (err instanceof StrataError && err.code === 'UNAVAILABLE') return 'gone';
      log.warn({ nodeId, err: err instanceof StrataError ? err.message : err }, 'media node did not close the peer');
      return null;
    }
  }

  /**
   * After a member left a leg: a leg with no member left, or on a node that is gone, is removed
   * from the placement (the record erased with the last leg). Closing the member again after
   * the removal is idempotent and answers how many members the leg has now; a joiner admitted
   * in between is found that way and its leg written back (asked once more, in case that
   * member left before the write-back: then the leg goes again).
   */
  async afterLeave(roomId: string, nodeId: string, peerId: string, left: LegLeft, log: Logger): Promise<void> {
    if (left === null || (typeof left === 'number' && left > 0)) return;
    try {
      if (left === 'gone') {
        if ((await this.store.read(roomId))?.legs.includes(nodeId)) {
          await this.store.dropLeg(roomId, nodeId);
          log.info({ nodeId }, 'leg on a gone media node removed from the placement');
        }
        return;
      }
      for (let round = 0; round < 3; round++) {
        await this.store.dropLeg(roomId, nodeId);
        const late = await this.close(roomId, nodeId, peerId, log);
        if (late === null || late === 'gone' || late === 0) return;
        await this.store.ensureLeg(roomId, nodeId);
        log.info({ nodeId, members: late }, 'leg written back: members joined it while it was released');
        if ((await this.close(roomId, nodeId, peerId, log)) !== 0) return;
      }
    } catch (err) {
      log.warn({ err, nodeId }, 'placement not released');
    }
  }

  /** A departure from a leg: `close`, then `afterLeave`. */
  async leave(roomId: string, nodeId: string, peerId: string, log: Logger): Promise<void> {
    await this.afterLeave(roomId, nodeId, peerId, await this.close(roomId, nodeId, peerId, log), log);
  }

  isGone(nodeId: string): boolean {
    return this.directory.isGone(nodeId);
  }
}

function admission(nodeId: string, opened: ResponseOf<typeof MediaRoomOpen>): Admission {
  return {
    nodeId,
    routerRtpCapabilities: opened.rtpCapabilities,
    peers: opened.peers,
    self: opened.self ?? { transports: [], producers: [], consumers: [] },
    ...(opened.speakers ? { speakers: opened.speakers } : {}),
  };
}
