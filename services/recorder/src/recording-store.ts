import type { KvBucket, KvEntry } from '@strata/bus';
import { recordingKey, regionRecordingsFilter, type Recording, type RecordingLease } from '@strata/protocol';

/** A value as read, with the revision the next write is conditional on. */
export interface Versioned<T> {
  value: T;
  revision: number;
}

function versioned<T>(e: KvEntry<T>): Versioned<T>;
function versioned<T>(e: KvEntry<T> | null): Versioned<T> | null;
function versioned<T>(e: KvEntry<T> | null): Versioned<T> | null {
  return e ? { value: e.value, revision: e.revision } : null;
}

/**
 * Recordings and their leases in KV. Every write is compare-and-set on the revision read: the
 * lease decides who holds a recording (a takeover is a conditional write of an expired lease,
 * so two recorders can never both win one), and the record is written only by its holder, on
 * the revision it last wrote, so a holder that lost its lease without knowing cannot overwrite
 * what the new one wrote.
 */
export class RecordingStore {
  constructor(
    private readonly records: KvBucket<Recording>,
    private readonly leases: KvBucket<RecordingLease>,
    private readonly region: string,
  ) {}

  private key(recordingId: string): string {
    return recordingKey(this.region, recordingId);
  }

  async read(recordingId: string): Promise<Versioned<Recording> | null> {
    return versioned(await this.records.get(this.key(recordingId)));
  }

  async readLease(recordingId: string): Promise<Versioned<RecordingLease> | null> {
    return versioned(await this.leases.get(this.key(recordingId)));
  }

  /** A new recording and its lease; null when the id is taken (ids are random: never in practice). */
  async create(recording: Recording, lease: RecordingLease): Promise<{ record: Versioned<Recording>; lease: Versioned<RecordingLease> } | null> {
    const leaseRev = await this.leases.create(this.key(recording.recordingId), lease);
    if (leaseRev === null) return null;
    const rev = await this.records.create(this.key(recording.recordingId), recording);
    if (rev === null) {
      await this.leases.erase(this.key(recording.recordingId), leaseRev);
      return null;
    }
    return { record: { value: recording, revision: rev }, lease: { value: lease, revision: leaseRev } };
  }

  /** Writes the record if nobody did since `revision`; the new revision, or null. */
  async write(recording: Recording, revision: number): Promise<number | null> {
    return this.records.update(this.key(recording.recordingId), recording, revision);
  }

  /** Renews or takes over a lease: conditional on the revision read. */
  async writeLease(lease: RecordingLease, revision: number): Promise<number | null> {
    return this.leases.update(this.key(lease.recordingId), lease, revision);
  }

  /** The recording ended: its lease goes (only the revision its holder knows). */
  async endLease(recordingId: string, revision: number): Promise<boolean> {
    return this.leases.erase(this.key(recordingId), revision);
  }

  /** Active recordings of this region, with their leases (what the pool sweeps). */
  async activeLeases(): Promise<Versioned<RecordingLease>[]> {
    return (await this.leases.list(regionRecordingsFilter(this.region))).map((e) => versioned(e));
  }

  /** Every recording of this region (an operator's listing, never on a media path). */
  async all(): Promise<Recording[]> {
    return (await this.records.list(regionRecordingsFilter(this.region))).map((e) => e.value);
  }
}
