import type { TypedKv } from '@strata/bus';
import { peerKey, roomPeersFilter, type PeerRecord, type SessionRecord } from '@strata/protocol';
import { createHash, randomBytes } from 'node:crypto';

export function newResumeToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashResumeToken(token) };
}

export function hashResumeToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newPeerId(): string {
  return `p_${randomBytes(9).toString('base64url')}`;
}

/**
 * Peer sessions in JetStream KV: `strata-peers` holds each peer's record (what any gateway
 * needs to list a room or resume a session), `strata-sessions` maps a resume token's hash to
 * its peer. Only the gateway holding a peer writes its record.
 */
export class PeerStore {
  constructor(
    private readonly peers: TypedKv<PeerRecord>,
    private readonly sessions: TypedKv<SessionRecord>,
  ) {}

  async save(rec: PeerRecord): Promise<void> {
    await this.peers.put(peerKey(rec.region, rec.roomId, rec.peerId), rec);
  }

  async get(region: string, roomId: string, peerId: string): Promise<{ record: PeerRecord; revision: number } | null> {
    const e = await this.peers.get(peerKey(region, roomId, peerId));
    return e ? { record: e.value, revision: e.revision } : null;
  }

  async remove(rec: PeerRecord): Promise<void> {
    await this.peers.delete(peerKey(rec.region, rec.roomId, rec.peerId));
    await this.sessions.delete(rec.resumeHash);
  }

  /** Writes only if nobody changed the record since `revision`; false when someone did. */
  async saveIfUnchanged(rec: PeerRecord, revision: number): Promise<boolean> {
    return (await this.peers.update(peerKey(rec.region, rec.roomId, rec.peerId), rec, revision)) !== null;
  }

  /** Every peer record of a region, with revisions (for the orphan sweep). */
  async listRegion(region: string): Promise<{ record: PeerRecord; revision: number }[]> {
    const keys = await this.peers.keys(`${region}.*.*`);
    const entries = await Promise.all(keys.map((k) => this.peers.get(k)));
    return entries.filter((e): e is NonNullable<typeof e> => e !== null).map((e) => ({ record: e.value, revision: e.revision }));
  }

  async listRoom(region: string, roomId: string): Promise<PeerRecord[]> {
    const keys = await this.peers.keys(roomPeersFilter(region, roomId));
    const records = await Promise.all(keys.map((k) => this.peers.get(k)));
    return records.filter((e): e is NonNullable<typeof e> => e !== null).map((e) => e.value);
  }

  async bindResume(hash: string, session: SessionRecord): Promise<void> {
    await this.sessions.put(hash, session);
  }

  async unbindResume(hash: string): Promise<void> {
    await this.sessions.delete(hash);
  }

  async findResume(hash: string): Promise<SessionRecord | null> {
    return (await this.sessions.get(hash))?.value ?? null;
  }
}
