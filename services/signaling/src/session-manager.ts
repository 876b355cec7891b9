import { verifyJoinToken } from '@strata/auth';
import type { Bus } from '@strata/bus';
import { MediaTransportRestartIce, StrataError, TurnCredentials, subjects, type PeerRecord, type WsRequest, type WsResponse } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { MediaNodes } from './media-client.js';
import { PeerSession, type SessionDeps, type SocketLink } from './peer-session.js';
import { newPeerId, newResumeToken, parseResumeToken, sameHash, type PeerStore, type StoredPeer } from './peer-store.js';
import { Recordings } from './recordings.js';
import type { RoomHub, RoomMember } from './room-hub.js';
import type { Admission, Member, RoomPlacer } from './room-placer.js';

export interface ManagerOptions {
  region: string;
  gatewayId: string;
  jwtSecret: string;
  graceMs: number;
  turn: boolean;
  /** The region's recorder pool (one made over `bus` when not given). */
  recordings?: Recordings;
}

/** Close codes a gateway uses on a session's socket (besides 1000/1001/1008, see docs/protocol.md). */
export const CLOSE_MOVED = 4001;
export const CLOSE_ENDED = 4002;

type IceServers = WsResponse<'join'>['iceServers'];

/**
 * Join, resume and leave: the session life cycle. A dropped socket leaves the session in a
 * grace period during which any gateway may resume it from the KV record; when the period
 * ends on the gateway that last held it, the peer is removed and the room told.
 */
export class SessionManager {
  private readonly sessions = new Map<string, PeerSession>();
  /** The orphan sweep lists the region's records, so it runs only when orphans can exist (see `sweepIfDue`). */
  private sweepDue = true;
  private gatewaysSeen = new Set<string>();
  /** What every session shares (one object for all of them). */
  private readonly sessionDeps: SessionDeps;
  /** The peer store's generation as last read (`start`, then after every NATS reconnect). */
  private generation: string | undefined;
  private generationRead: Promise<string> | undefined;

  constructor(
    /** For TURN credentials; media nodes are asked through `media`. */
    private readonly bus: Pick<Bus, 'request'>,
    private readonly media: MediaNodes,
    private readonly store: PeerStore,
    private readonly placer: RoomPlacer,
    private readonly hub: RoomHub,
    private readonly opts: ManagerOptions,
    private readonly log: Logger,
  ) {
    this.sessionDeps = {
      media,
      gatewayId: opts.gatewayId,
      store,
      hub,
      recordings: opts.recordings ?? new Recordings(bus, opts.region, 15_000),
      log,
      lost: (session, why) => this.lost(session, why),
      storeGeneration: () => this.storeGeneration(),
    };
  }

  /** Reads the peer store's generation, which later reads compare with (see `storeGeneration`). */
  async start(): Promise<void> {
    await this.storeGeneration();
  }

  /**
   * The generation of the peer and placement stores now. Sessions whose records belong to an
   * older one were lost with their buckets (a nats-server restarted on a wiped or memory store):
   * each writes its record and its leg again, in the background, so that resumes, sweeps and
   * new joiners of its room find them. Called at start-up and after every NATS reconnect.
   */
  storeGeneration(): Promise<string> {
    this.generationRead ??= Promise.all([this.store.generation(), this.placer.storeGeneration()])
      .then((both) => {
        const now = both.join(' ');
        this.generation = now;
        void this.restoreAll(now);
        return now;
      })
      .finally(() => (this.generationRead = undefined));
    return this.generationRead;
  }

  /** Every session whose record belongs to an older generation writes it again, and its leg. */
  private async restoreAll(generation: string): Promise<void> {
    const sessions = [...this.sessions.values()].filter((s) => s.generation !== undefined && s.generation !== generation);
    if (sessions.length === 0) return;
    this.log.warn({ sessions: sessions.length }, "NATS lost the region's peer records or placements: writing this gateway's sessions and legs again");
    let records = 0;
    const legs = new Set<string>();
    await Promise.all(
      sessions.map(async (s) => {
        try {
          if (await s.restore(generation)) records++;
          const leg = `${s.roomId}\n${s.record.nodeId}`;
          if (s.ended || legs.has(leg)) return;
          legs.add(leg);
          await this.placer.restoreLeg(s.roomId, s.record.nodeId);
        } catch (err) {
          s.log.warn({ err }, 'record or leg not written again; the next reconnect tries again');
        }
      }),
    );
    this.log.info({ records, legs: legs.size }, 'sessions and legs written again');
  }

  get size(): number {
    return this.sessions.size;
  }

  get connected(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.socket) n++;
    return n;
  }

  /** Sessions waiting out a grace period (each holds one timer). */
  get graceTimers(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.graceTimer) n++;
    return n;
  }

  private newSession(stored: StoredPeer, admission: Admission): PeerSession {
    const session = new PeerSession(this.sessionDeps, stored.record, stored.revision, admission.self);
    session.generation = this.generation;
    return session;
  }

  async join(req: WsRequest<'join'>, socket: SocketLink): Promise<{ session: PeerSession; response: WsResponse<'join'> }> {
    const claims = await verifyJoinToken(this.opts.jwtSecret, req.token);
    const name = req.name ?? claims.name;
    const member: Member = { peerId: newPeerId(), identity: claims.identity, ...(name ? { name } : {}) };
    // Listen to the room before the media node answers with its roster, so nothing published in between is missed.
    const reserved = this.hub.reserve(claims.room, member.peerId);
    let admission: Admission | undefined;
    let revision: number | undefined;
    try {
      const iceServers = this.iceServers(member.peerId);
      admission = await this.placer.join(claims.room, member);
      const { token, hash } = newResumeToken(this.opts.region, claims.room, member.peerId);
      const record: PeerRecord = {
        ...member,
        roomId: claims.room,
        region: this.opts.region,
        grants: claims.grants,
        nodeId: admission.nodeId,
        gatewayId: this.opts.gatewayId,
        resumeHash: hash,
        connected: true,
        joinedAt: Date.now(),
      };
      // The leg's roster has the joiner now, which is what a racing last leave checks: the
      // leg can be confirmed in the placement while the record is written.
      const [rev] = await Promise.all([this.store.create(record), this.placer.confirm(record.roomId, record.nodeId)]);
      revision = rev;
      const session = this.newSession({ record, revision }, admission);
      session.socket = socket;
      this.sessions.set(record.peerId, session);
      this.hub.attach(session);
      const response = this.joinedResponse(session, token, admission, await iceServers);
      this.hub.publish({ type: 'peerJoined', roomId: record.roomId, peerId: record.peerId, identity: record.identity, ...(name ? { name } : {}) });
      session.log.info({ identity: record.identity }, 'peer joined');
      return { session, response };
    } catch (err) {
      // The client got an error and will join again: leave no half-joined peer behind.
      const session = this.sessions.get(member.peerId);
      if (session) {
        session.ended = true;
        this.sessions.delete(member.peerId);
        this.hub.detach(session);
      }
      this.hub.detach(reserved);
      if (admission) await this.placer.leave(claims.room, admission.nodeId, member.peerId, this.log.child({ roomId: claims.room, peerId: member.peerId }));
      if (revision !== undefined)
        await this.store
          .erase({ region: this.opts.region, roomId: claims.room, peerId: member.peerId }, revision)
          .catch((e: unknown) => this.log.warn({ err: e }, 'half-joined record not erased'));
      throw err;
    }
  }

  /**
   * Media nodes gone (dead, or draining): every session here whose media was on one moves to a
   * live leg of its room. The room hears that its producers closed; the client is told to set
   * up its media again (`mediaMoved`); the record names the new node. Returns how many moved.
   */
  async moveOffGoneNodes(isGone: (nodeId: string) => boolean): Promise<number> {
    const moving = [...this.sessions.values()].filter((s) => !s.ended && isGone(s.record.nodeId));
    await Promise.all(moving.map((s) => this.moveMedia(s)));
    return moving.length;
  }

  private async moveMedia(session: PeerSession): Promise<void> {
    const { record } = session;
    const from = record.nodeId;
    for (const p of session.own.producers) this.hub.publish({ type: 'producerClosed', roomId: record.roomId, peerId: record.peerId, producerId: p.producerId });
    session.own = { transports: [], producers: [], consumers: [] };
    try {
      const member = { peerId: record.peerId, identity: record.identity, ...(record.name ? { name: record.name } : {}) };
      const admission = await this.placer.join(record.roomId, member, { overfill: true });
      session.record = { ...session.record, nodeId: admission.nodeId };
      session.own = admission.self;
      if (!(await session.persist())) return;
      session.log.warn({ from, to: admission.nodeId }, 'media node gone; session moved to another leg');
      session.socket?.notify('mediaMoved', {
        reason: 'media node lost',
        rtpCapabilities: admission.routerRtpCapabilities,
        peers: admission.peers.filter((p) => p.peerId !== record.peerId),
        ...(admission.speakers ? { speakers: admission.speakers } : {}),
      });
    } catch (err) {
      // No leg could take the peer now: the next check tries again (the record still names the gone node).
      session.log.warn({ err, from }, 'session not moved off its gone media node');
    }
  }

  async resume(req: WsRequest<'resume'>, socket: SocketLink): Promise<{ session: PeerSession; response: WsResponse<'resume'> }> {
    const claim = parseResumeToken(req.resumeToken);
    if (!claim || claim.region !== this.opts.region) throw new StrataError('UNAUTHORIZED', 'unknown or expired resume token');
    let session = this.sessions.get(claim.peerId);
    await session?.settled();
    const stored = await this.store.get(claim.region, claim.roomId, claim.peerId);
    if (!stored || !sameHash(stored.record.resumeHash, claim.hash)) throw new StrataError('UNAUTHORIZED', 'unknown or expired resume token');
    if (session && session.revision !== stored.revision) {
      // Ours in memory, but the session moved on elsewhere since: the stored record is the truth.
      this.lost(session, 'moved');
      session = undefined;
    }
    const reserved: RoomMember | undefined = session ? undefined : this.hub.reserve(claim.roomId, claim.peerId);
    try {
      const r = stored.record;
      const admission = await this.placer
        .admit(r.roomId, r.nodeId, { peerId: r.peerId, identity: r.identity, ...(r.name ? { name: r.name } : {}) })
        .catch((err: unknown) => {
          throw new StrataError('UNAVAILABLE', `the session's media node is gone; join again (${err instanceof Error ? err.message : String(err)})`);
        });
      if (session) {
        clearTimeout(session.graceTimer);
        session.graceTimer = undefined;
        session.socket?.close(CLOSE_MOVED, 'session resumed on another socket');
        session.own = admission.self; // what the node holds now (a producer may have closed meanwhile)
      } else {
        session = this.newSession(stored, admission);
        this.sessions.set(r.peerId, session);
        this.hub.attach(session);
      }
      return await this.takeOver(session, claim.hash, admission, socket);
    } catch (err) {
      if (reserved) this.hub.detach(reserved);
      // Not resumed after all: the session goes back to waiting out its grace period.
      if (session && session.socket === socket) this.socketLost(session);
      throw err;
    }
  }

  private async takeOver(
    session: PeerSession,
    presentedHash: string,
    admission: Admission,
    socket: SocketLink,
  ): Promise<{ session: PeerSession; response: WsResponse<'resume'> }> {
    const { token, hash } = newResumeToken(this.opts.region, session.roomId, session.peerId);
    const iceServers = this.iceServers(session.peerId);
    session.socket = socket;
    // Compare-and-set on the revision read with the token. A write of the previous holder in
    // between (its socket-lost mark, a sweep's) is taken over from; a racing resume, or a claim
    // for removal, changed the hash and wins.
    let base = { record: session.record, revision: session.revision };
    for (let attempt = 0; ; attempt++) {
      const next: PeerRecord = { ...base.record, resumeHash: hash, connected: true, gatewayId: this.opts.gatewayId };
      delete next.disconnectedAt;
      const rev = await this.store.update(next, base.revision);
      if (rev !== null) {
        session.record = next;
        session.revision = rev;
        break;
      }
      const now = await this.store.get(base.record.region, base.record.roomId, base.record.peerId);
      if (!now || !sameHash(now.record.resumeHash, presentedHash) || attempt >= 4) {
        session.socket = null;
        this.lost(session, 'moved');
        // Removed meanwhile (record gone or claimed): the admission this resume made may have
        // come after the remover's peer.close, so close it again rather than leave a ghost
        // member on the node. A session resumed elsewhere is left alone.
        if (!now || now.record.resumeHash === '') await this.placer.leave(base.record.roomId, base.record.nodeId, base.record.peerId, session.log);
        throw new StrataError('UNAUTHORIZED', 'the session was resumed or ended meanwhile');
      }
      base = now;
    }
    this.hub.publish({ type: 'peerMoved', roomId: session.roomId, peerId: session.peerId, gatewayId: this.opts.gatewayId });

    const transports: WsResponse<'resume'>['transports'] = [];
    for (const t of session.own.transports) {
      try {
        const { iceParameters } = await this.media
          .node(session.record.nodeId)
          .request(MediaTransportRestartIce, { roomId: session.roomId, peerId: session.peerId, transportId: t.transportId });
        transports.push({ ...t, iceParameters });
      } catch (err) {
        session.log.warn({ err, transportId: t.transportId }, 'transport lost while disconnected');
      }
    }
    session.own.transports = session.own.transports.filter((t) => transports.some((x) => x.transportId === t.transportId));
    session.log.info({ transports: transports.length }, 'session resumed');
    const joined = this.joinedResponse(session, token, admission, await iceServers);
    return { session, response: { ...joined, transports, producers: session.own.producers, consumers: session.own.consumers } };
  }

  private joinedResponse(session: PeerSession, resumeToken: string, admission: Admission, iceServers: IceServers): WsResponse<'join'> {
    const r = session.record;
    return {
      peerId: r.peerId,
      roomId: r.roomId,
      region: r.region,
      resumeToken,
      resumeGraceMs: this.opts.graceMs,
      rtpCapabilities: admission.routerRtpCapabilities,
      peers: admission.peers.filter((p) => p.peerId !== r.peerId),
      ...(admission.speakers ? { speakers: admission.speakers } : {}),
      iceServers,
      grants: r.grants,
    };
  }

  private async iceServers(peerId: string): Promise<IceServers> {
    if (!this.opts.turn) return [];
    try {
      const c = await this.bus.request(TurnCredentials, subjects.turnCredentials(this.opts.region), { identity: peerId }, { timeoutMs: 500 });
      return [{ urls: c.urls, username: c.username, credential: c.credential }];
    } catch (err) {
      // No TURN in the region is not fatal: most clients reach the media node directly.
      this.log.debug({ err }, 'no TURN credentials');
      return [];
    }
  }

  /** The session is no longer ours: forget it here without touching its record or its media. */
  private lost(session: PeerSession, why: 'moved' | 'ended'): void {
    if (session.ended) return;
    session.ended = true;
    clearTimeout(session.graceTimer);
    session.graceTimer = undefined;
    if (this.sessions.get(session.peerId) === session) this.sessions.delete(session.peerId);
    this.hub.detach(session);
    const socket = session.socket;
    session.socket = null;
    if (why === 'moved') socket?.close(CLOSE_MOVED, 'session resumed on another socket');
    else socket?.close(CLOSE_ENDED, 'session ended');
  }

  /** The socket went away without `leave`: keep the session for the grace period. */
  socketLost(session: PeerSession): void {
    if (this.sessions.get(session.peerId) !== session || session.ended) return;
    session.socket = null;
    session.record = { ...session.record, connected: false, disconnectedAt: Date.now() };
    // Conditional like every write: if another gateway resumed the session meanwhile, this
    // write fails and the session is dropped here (`lost`) instead of overwriting theirs.
    void session.persist().catch((err: unknown) => session.log.warn({ err }, 'record not saved'));
    session.log.info({ graceMs: this.opts.graceMs }, 'socket lost; session kept for resume');
    clearTimeout(session.graceTimer);
    session.graceTimer = setTimeout(() => void this.graceExpired(session), this.opts.graceMs);
    session.graceTimer.unref();
  }

  private async graceExpired(session: PeerSession, retrying = false): Promise<void> {
    session.graceTimer = undefined;
    if (session.socket || session.ended || this.sessions.get(session.peerId) !== session) return;
    // Claim the removal: clearing the resume hash (conditionally) makes a resume racing us fail.
    session.record = { ...session.record, resumeHash: '' };
    const claimed = await session.persist().then(
      (ours) => ours,
      () => null,
    );
    if (claimed === false) return; // resumed elsewhere: `lost` dropped it
    if (claimed === null) {
      // NATS did not take the write (down, or restarting): try again shortly rather than hold the
      // session for ever. Said once per session, not once a second.
      if (!retrying) session.log.warn('session removal not recorded; trying again every second');
      session.graceTimer = setTimeout(() => void this.graceExpired(session, true), 1000);
      session.graceTimer.unref();
      return;
    }
    await this.remove(session, 'timeout');
  }

  async leave(session: PeerSession): Promise<void> {
    await session.settled();
    await this.remove(session, 'leave');
  }

  private async remove(session: PeerSession, reason: 'leave' | 'timeout'): Promise<void> {
    clearTimeout(session.graceTimer);
    session.graceTimer = undefined;
    session.ended = true;
    this.sessions.delete(session.peerId);
    this.hub.detach(session);
    await this.removeRecord({ record: session.record, revision: session.revision }, reason, session.log);
  }

  /**
   * Everything a departure involves, for a session held here or an orphan nobody holds. A peer
   * on a media node that is gone is removed without asking the node: its record erased, the
   * room told, its leg dropped from the placement.
   */
  private async removeRecord({ record: r, revision }: StoredPeer, reason: 'leave' | 'timeout', log: Logger): Promise<void> {
    const left = await this.placer.close(r.roomId, r.nodeId, r.peerId, log);
    await this.store.erase(r, revision).catch((err: unknown) => log.warn({ err }, 'record not erased'));
    this.hub.publish({ type: 'peerLeft', roomId: r.roomId, peerId: r.peerId, reason });
    if (left === 'gone') log.info({ reason, nodeId: r.nodeId }, 'peer left; its media node is gone, so it was not asked');
    else log.info({ reason }, 'peer left');
    await this.placer.afterLeave(r.roomId, r.nodeId, r.peerId, left, log);
  }

  /**
   * Sweeps for orphans only when some can exist: at start-up (a crashed predecessor), after a
   * gateway of the region stopped beating, and while the last sweep found orphans still inside
   * their grace period. A steady region lists nothing, however many peers it holds.
   */
  async sweepIfDue(liveGateways: Iterable<string>, now = Date.now()): Promise<number> {
    const live = new Set(liveGateways);
    live.add(this.opts.gatewayId);
    for (const g of this.gatewaysSeen) if (!live.has(g)) this.sweepDue = true;
    this.gatewaysSeen = live;
    if (!this.sweepDue) return 0;
    const { removed, waiting } = await this.sweepOrphans((id) => live.has(id), now);
    this.sweepDue = waiting > 0;
    return removed;
  }

  /**
   * Peers whose gateway is gone (crashed, or shut down and nobody resumed them) have nobody
   * to run their grace timer. Any gateway finds them here: a record still marked connected
   * on a dead gateway is marked disconnected, and one disconnected for longer than the grace
   * period is claimed (compare-and-set, so one gateway wins) and removed.
   */
  private async sweepOrphans(gatewayAlive: (gatewayId: string) => boolean, now = Date.now()): Promise<{ removed: number; waiting: number }> {
    let removed = 0;
    let waiting = 0;
    for (const { record, revision } of await this.store.listRegion(this.opts.region)) {
      if (this.sessions.has(record.peerId)) continue;
      if (record.gatewayId !== this.opts.gatewayId && gatewayAlive(record.gatewayId)) continue;
      const log = this.log.child({ roomId: record.roomId, peerId: record.peerId, gatewayId: record.gatewayId });
      // Its media went with its node: nothing to resume, so it goes now rather than after the grace period.
      const nodeGone = this.placer.isGone(record.nodeId);
      if (record.connected && !nodeGone) {
        await this.store.update({ ...record, connected: false, disconnectedAt: now }, revision);
        log.info('gateway gone: session kept for resume');
        waiting++;
        continue;
      }
      if (!nodeGone && now - (record.disconnectedAt ?? 0) < this.opts.graceMs) {
        waiting++;
        continue;
      }
      const claimed = { ...record, gatewayId: this.opts.gatewayId, resumeHash: '' };
      const claimedRev = await this.store.update(claimed, revision);
      if (claimedRev === null) continue; // another gateway got it first, or it was resumed
      await this.removeRecord({ record: claimed, revision: claimedRev }, 'timeout', log);
      removed++;
    }
    return { removed, waiting };
  }

  /**
   * Shutdown: sessions stay in KV, marked disconnected, so clients can resume them on another
   * gateway, and other gateways' sweeps remove the ones that never come back.
   */
  async detachAll(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      [...this.sessions.values()].map(async (s) => {
        clearTimeout(s.graceTimer);
        s.graceTimer = undefined;
        this.hub.detach(s);
        if (s.record.connected) {
          s.record = { ...s.record, connected: false, disconnectedAt: now };
          await s.persist().catch((err: unknown) => s.log.warn({ err }, 'record not saved'));
        }
        s.ended = true;
      }),
    );
    this.sessions.clear();
  }
}
