import { verifyJoinToken } from '@strata/auth';
import type { Bus } from '@strata/bus';
import {
  MediaPeerClose,
  MediaRoomOpen,
  MediaTransportRestartIce,
  StrataError,
  TurnCredentials,
  subjects,
  type PeerRecord,
  type PeerSummary,
  type SessionRecord,
  type WsRequest,
  type WsResponse,
} from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import { PeerSession, type SocketLink } from './peer-session.js';
import { hashResumeToken, newPeerId, newResumeToken, type PeerStore } from './peer-store.js';
import type { RoomPlacer } from './placement.js';
import type { RoomHub } from './room-hub.js';

export interface ManagerOptions {
  region: string;
  gatewayId: string;
  jwtSecret: string;
  graceMs: number;
  mediaTimeoutMs: number;
  turn: boolean;
}

/**
 * Join, resume and leave: the session life cycle. A dropped socket leaves the session in a
 * grace period during which any gateway may resume it from the KV record; when the period
 * ends on the gateway that last held it, the peer is removed and the room told.
 */
export class SessionManager {
  private readonly sessions = new Map<string, PeerSession>();

  constructor(
    private readonly bus: Bus,
    private readonly store: PeerStore,
    private readonly placer: RoomPlacer,
    private readonly hub: RoomHub,
    private readonly opts: ManagerOptions,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  get connected(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.socket) n++;
    return n;
  }

  private deps() {
    return { bus: this.bus, region: this.opts.region, store: this.store, hub: this.hub, log: this.log, mediaTimeoutMs: this.opts.mediaTimeoutMs };
  }

  async join(req: WsRequest<'join'>, socket: SocketLink): Promise<{ session: PeerSession; response: WsResponse<'join'> }> {
    const claims = await verifyJoinToken(this.opts.jwtSecret, req.token);
    const placed = await this.placer.place(claims.room);
    const { token, hash } = newResumeToken();
    const name = req.name ?? claims.name;
    const record: PeerRecord = {
      peerId: newPeerId(),
      roomId: claims.room,
      region: this.opts.region,
      identity: claims.identity,
      ...(name ? { name } : {}),
      grants: claims.grants,
      nodeId: placed.nodeId,
      gatewayId: this.opts.gatewayId,
      resumeHash: hash,
      transports: [],
      producers: [],
      consumers: [],
      connected: true,
      joinedAt: Date.now(),
    };
    const session = new PeerSession(this.deps(), record, placed);
    session.socket = socket;
    this.sessions.set(record.peerId, session);
    // Listen to the room before reading its peers, so nothing published in between is missed.
    this.hub.attach(session);
    try {
      await Promise.all([
        this.store.save(record),
        this.store.bindResume(hash, { region: record.region, roomId: record.roomId, peerId: record.peerId }),
        this.hub.ready(),
      ]);
      await this.placer.confirm(record.roomId, record.nodeId);
      const response = await this.joinedResponse(session, token);
      this.hub.publish({ type: 'peerJoined', roomId: record.roomId, peerId: record.peerId, identity: record.identity, ...(name ? { name } : {}) });
      session.log.info({ identity: record.identity }, 'peer joined');
      return { session, response };
    } catch (err) {
      // The client got an error and will join again: leave no half-joined peer behind.
      this.sessions.delete(record.peerId);
      this.hub.detach(session);
      await this.store.remove(record).catch(() => undefined);
      throw err;
    }
  }

  async resume(req: WsRequest<'resume'>, socket: SocketLink): Promise<{ session: PeerSession; response: WsResponse<'resume'> }> {
    const oldHash = hashResumeToken(req.resumeToken);
    const found = await this.store.findResume(oldHash);
    if (!found || found.region !== this.opts.region) throw new StrataError('UNAUTHORIZED', 'unknown or expired resume token');
    let session = this.sessions.get(found.peerId);
    if (session) {
      clearTimeout(session.graceTimer);
      session.graceTimer = undefined;
      session.socket?.close(4001, 'session resumed on another socket');
    } else {
      const stored = await this.store.get(found.region, found.roomId, found.peerId);
      if (!stored) throw new StrataError('UNAUTHORIZED', 'the session has ended');
      const opened = await this.bus
        .request(
          MediaRoomOpen,
          subjects.media(this.opts.region, stored.record.nodeId, 'room.open'),
          { roomId: found.roomId },
          { timeoutMs: this.opts.mediaTimeoutMs },
        )
        .catch((err: unknown) => {
          throw new StrataError('UNAVAILABLE', `the session's media node is gone; join again (${err instanceof Error ? err.message : String(err)})`);
        });
      session = new PeerSession(this.deps(), stored.record, { nodeId: stored.record.nodeId, routerRtpCapabilities: opened.rtpCapabilities });
      this.sessions.set(found.peerId, session);
    }
    try {
      return await this.takeOver(session, oldHash, found, socket);
    } catch (err) {
      // Not resumed after all: the session goes back to waiting out its grace period.
      if (session.socket === socket) this.socketLost(session);
      throw err;
    }
  }

  private async takeOver(
    session: PeerSession,
    oldHash: string,
    found: SessionRecord,
    socket: SocketLink,
  ): Promise<{ session: PeerSession; response: WsResponse<'resume'> }> {
    const { token, hash } = newResumeToken();
    session.record = { ...session.record, resumeHash: hash, connected: true, gatewayId: this.opts.gatewayId };
    delete session.record.disconnectedAt;
    session.socket = socket;

    const transports: WsResponse<'resume'>['transports'] = [];
    for (const t of session.record.transports) {
      try {
        const { iceParameters } = await this.bus.request(
          MediaTransportRestartIce,
          subjects.media(this.opts.region, session.record.nodeId, 'transport.restartIce'),
          { roomId: session.roomId, peerId: session.peerId, transportId: t.transportId },
          { timeoutMs: this.opts.mediaTimeoutMs },
        );
        transports.push({ ...t, iceParameters });
      } catch (err) {
        session.log.warn({ err, transportId: t.transportId }, 'transport lost while disconnected');
      }
    }
    session.record.transports = session.record.transports.filter((t) => transports.some((x) => x.transportId === t.transportId));
    await this.store.save(session.record);
    await this.store.unbindResume(oldHash);
    await this.store.bindResume(hash, found);
    this.hub.attach(session);
    await this.hub.ready();
    session.log.info({ transports: transports.length }, 'session resumed');
    const joined = await this.joinedResponse(session, token);
    return { session, response: { ...joined, transports, producers: session.record.producers, consumers: session.record.consumers } };
  }

  private async joinedResponse(session: PeerSession, resumeToken: string): Promise<WsResponse<'join'>> {
    const r = session.record;
    const others = (await this.store.listRoom(r.region, r.roomId)).filter((p) => p.peerId !== r.peerId);
    const peers: PeerSummary[] = others.map((p) => ({ peerId: p.peerId, identity: p.identity, ...(p.name ? { name: p.name } : {}), producers: p.producers }));
    return {
      peerId: r.peerId,
      roomId: r.roomId,
      region: r.region,
      resumeToken,
      resumeGraceMs: this.opts.graceMs,
      rtpCapabilities: session.placed.routerRtpCapabilities,
      peers,
      iceServers: await this.iceServers(r.peerId),
      grants: r.grants,
    };
  }

  private async iceServers(peerId: string): Promise<WsResponse<'join'>['iceServers']> {
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

  /** The socket went away without `leave`: keep the session for the grace period. */
  socketLost(session: PeerSession): void {
    if (this.sessions.get(session.peerId) !== session) return;
    session.socket = null;
    session.record = { ...session.record, connected: false, disconnectedAt: Date.now() };
    void this.store.save(session.record).catch((err: unknown) => session.log.warn({ err }, 'record not saved'));
    session.log.info({ graceMs: this.opts.graceMs }, 'socket lost; session kept for resume');
    session.graceTimer = setTimeout(() => void this.graceExpired(session), this.opts.graceMs);
    session.graceTimer.unref();
  }

  private async graceExpired(session: PeerSession): Promise<void> {
    session.graceTimer = undefined;
    if (session.socket) return;
    const stored = await this.store.get(session.record.region, session.roomId, session.peerId).catch(() => null);
    if (stored && (stored.record.gatewayId !== this.opts.gatewayId || stored.record.connected)) {
      // Resumed on another gateway: it owns the peer now.
      this.hub.detach(session);
      this.sessions.delete(session.peerId);
      return;
    }
    await this.remove(session, 'timeout');
  }

  async leave(session: PeerSession): Promise<void> {
    await this.remove(session, 'leave');
  }

  private async remove(session: PeerSession, reason: 'leave' | 'timeout'): Promise<void> {
    clearTimeout(session.graceTimer);
    this.sessions.delete(session.peerId);
    this.hub.detach(session);
    await this.removeRecord(session.record, reason, session.log);
  }

  /** Everything a departure involves, for a session held here or an orphan nobody holds. */
  private async removeRecord(r: PeerRecord, reason: 'leave' | 'timeout', log: Logger): Promise<void> {
    await this.bus
      .request(
        MediaPeerClose,
        subjects.media(this.opts.region, r.nodeId, 'peer.close'),
        { roomId: r.roomId, peerId: r.peerId },
        { timeoutMs: this.opts.mediaTimeoutMs },
      )
      .catch((err: unknown) => log.warn({ err }, 'media node did not close the peer'));
    await this.store.remove(r).catch((err: unknown) => log.warn({ err }, 'record not removed'));
    this.hub.publish({ type: 'peerLeft', roomId: r.roomId, peerId: r.peerId, reason });
    log.info({ reason }, 'peer left');
    await this.placer.release(r.roomId, () => this.store.listRoom(r.region, r.roomId));
  }

  /**
   * Peers whose gateway is gone (crashed, or shut down and nobody resumed them) have nobody
   * to run their grace timer. Any gateway finds them here: a record still marked connected
   * on a dead gateway is marked disconnected, and one disconnected for longer than the grace
   * period is claimed (compare-and-set, so one gateway wins) and removed.
   */
  async sweepOrphans(gatewayAlive: (gatewayId: string) => boolean, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const { record, revision } of await this.store.listRegion(this.opts.region)) {
      if (this.sessions.has(record.peerId)) continue;
      if (record.gatewayId !== this.opts.gatewayId && gatewayAlive(record.gatewayId)) continue;
      const log = this.log.child({ roomId: record.roomId, peerId: record.peerId, gatewayId: record.gatewayId });
      if (record.connected) {
        await this.store.saveIfUnchanged({ ...record, connected: false, disconnectedAt: now }, revision);
        log.info('gateway gone: session kept for resume');
        continue;
      }
      if (now - (record.disconnectedAt ?? 0) < this.opts.graceMs) continue;
      const claimed = { ...record, gatewayId: this.opts.gatewayId };
      if (!(await this.store.saveIfUnchanged(claimed, revision))) continue; // another gateway got it first
      await this.removeRecord(claimed, 'timeout', log);
      removed++;
    }
    return removed;
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
        this.hub.detach(s);
        if (s.record.connected) {
          s.record = { ...s.record, connected: false, disconnectedAt: now };
          await this.store.save(s.record).catch((err: unknown) => s.log.warn({ err }, 'record not saved'));
        }
      }),
    );
    this.sessions.clear();
  }
}
