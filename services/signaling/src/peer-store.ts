import type { KvBucket } from '@strata/bus';
import { isValidId, peerKey, regionPeersFilter, type PeerRecord } from '@strata/protocol';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A resume token names the peer record it resumes and carries a secret whose sha256 that
 * record holds: `<region>.<roomId>.<peerId>.<secret>` (ids never contain a dot). So resuming
 * reads one key, and no separate index has to be written on join and erased on leave.
 */
export function newResumeToken(region: string, roomId: string, peerId: string): { token: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { token: `${region}.${roomId}.${peerId}.${secret}`, hash: hashSecret(secret) };
}

export interface ResumeClaim {
  region: string;
  roomId: string;
  peerId: string;
  hash: string;
}

/** Null for anything that is not a token this gateway could have issued. */
export function parseResumeToken(token: string): ResumeClaim | null {
  const parts = token.split('.');
  if (parts.length !== 4) return null;
  const [region, roomId, peerId, secret] = parts as [string, string, string, string];
  if (!isValidId(region) || !isValidId(roomId) || !isValidId(peerId) || !/^[A-Za-z0-9_-]{16,128}$/.test(secret)) return null;
  return { region, roomId, peerId, hash: hashSecret(secret) };
}

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of two hex hashes; an empty stored hash (a session being removed) matches nothing. */
export function sameHash(stored: string, presented: string): boolean {
  if (stored.length === 0 || stored.length !== presented.length) return false;
  return timingSafeEqual(Buffer.from(stored), Buffer.from(presented));
}

export function newPeerId(): string {
  return `p_${randomBytes(9).toString('base64url')}`;
}

export interface StoredPeer {
  record: PeerRecord;
  revision: number;
}

/**
 * Peer records in JetStream KV (`strata-peers`): what any gateway needs to resume a session
 * another gateway held. The first write creates the key; every later one is conditional on
 * the revision its writer read, so a gateway that lost a session cannot write over the new
 * holder. A removed peer's key is erased, leaving nothing behind.
 */
export class PeerStore {
  constructor(private readonly peers: KvBucket<PeerRecord>) {}

  private static key(rec: Pick<PeerRecord, 'region' | 'roomId' | 'peerId'>): string {
    return peerKey(rec.region, rec.roomId, rec.peerId);
  }

  /** Writes a new peer's record; its revision, for the writes that follow. */
  async create(rec: PeerRecord): Promise<number> {
    const revision = await this.peers.create(PeerStore.key(rec), rec);
    if (revision === null) throw new Error(`peer record ${PeerStore.key(rec)} exists already`);
    return revision;
  }

  /** Writes a record unless its key exists: its revision, or null when it does. */
  async createIfAbsent(rec: PeerRecord): Promise<number | null> {
    return this.peers.create(PeerStore.key(rec), rec);
  }

  async get(region: string, roomId: string, peerId: string): Promise<StoredPeer | null> {
    const e = await this.peers.get(peerKey(region, roomId, peerId));
    return e ? { record: e.value, revision: e.revision } : null;
  }

  /** Writes only if nobody changed the record since `revision`: the new revision, or null when someone did. */
  async update(rec: PeerRecord, revision: number): Promise<number | null> {
    return this.peers.update(PeerStore.key(rec), rec, revision);
  }

  /** Erases the record if it is still at `revision` (a newer one, written by a new holder, stays). */
  async erase(rec: Pick<PeerRecord, 'region' | 'roomId' | 'peerId'>, revision: number): Promise<boolean> {
    return this.peers.erase(PeerStore.key(rec), revision);
  }

  /** Changes when the bucket was lost and made anew (see `KvBucket.generation`): every record in it is gone. */
  generation(): Promise<string> {
    return this.peers.generation();
  }

  /** Every peer record of a region, with revisions: for the orphan sweep, which runs only when a gateway went away. */
  async listRegion(region: string): Promise<StoredPeer[]> {
    return (await this.peers.list(regionPeersFilter(region))).map((e) => ({ record: e.value, revision: e.revision }));
  }
}
