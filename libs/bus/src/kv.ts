import type { TSchema } from '@sinclair/typebox';
import { StrataError, check } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { JetStreamManager, KV, StreamInfo } from 'nats';
import { decode, encode } from './codec.js';

export interface KvEntry<T> {
  key: string;
  value: T;
  revision: number;
}

/**
 * What a store needs of a KV bucket. `TypedKv` is the JetStream one; `MemoryKv` keeps the same
 * compare-and-set rules in memory, so the races a store guards against get unit tests.
 */
export interface KvBucket<T> {
  get(key: string): Promise<KvEntry<T> | null>;
  put(key: string, value: T): Promise<number>;
  /** Writes only if the key does not exist; returns null when someone else won the race. */
  create(key: string, value: T): Promise<number | null>;
  /** Writes only if the key is still at `revision`; returns null when it moved on. */
  update(key: string, value: T, revision: number): Promise<number | null>;
  /** Erases the key's history (up to `upToRevision`, when given) without a delete marker; true when the key is gone afterwards. */
  erase(key: string, upToRevision?: number): Promise<boolean>;
  /** Keys matching `filter` (NATS wildcards) that hold a value. */
  keys(filter?: string): Promise<string[]>;
  /** The entries of the keys matching `filter` with valid values, read one by one: a listing, not a snapshot. */
  list(filter?: string): Promise<KvEntry<T>[]>;
  /**
   * Which incarnation of the bucket this is: it changes when the bucket was lost and made
   * anew (a nats-server restarted on a wiped or memory store), so a holder of state that lives
   * in it knows to write that state again. A bucket found missing is made again here.
   */
  generation(): Promise<string>;
}

/** A JetStream KV bucket with schema-checked values and compare-and-set helpers. */
export class TypedKv<T> implements KvBucket<T> {
  constructor(
    readonly raw: KV,
    readonly bucket: string,
    private readonly schema: TSchema,
    private readonly log: Logger,
    private readonly jsm: JetStreamManager,
    /** revisions kept per key (the bucket's history): with one, a key's only message is its latest revision */
    private readonly history = 1,
    /** how long a JetStream API call keeps asking while the cluster elects a leader (see `whileElecting`) */
    private readonly electionWaitMs = 10_000,
    /** Makes the bucket again, with the options it was opened with (see `generation`). */
    private readonly remake: () => Promise<unknown> = () => Promise.reject(new Error(`KV bucket ${bucket} cannot be made again here`)),
  ) {}

  /** The highest revision this handle has seen: a stream whose last sequence is below it lost messages (see `generation`). */
  private highestSeen = 0;
  /** Losses noticed so far, part of the generation. */
  private losses = 0;

  private seen(revision: number): number {
    if (revision > this.highestSeen) this.highestSeen = revision;
    return revision;
  }

  /** The JetStream stream behind the bucket (`KV_<bucket>`). */
  get stream(): string {
    return `KV_${this.bucket}`;
  }

  async get(key: string): Promise<KvEntry<T> | null> {
    const e = await this.raw.get(key);
    if (!e || e.operation !== 'PUT') return null;
    let value: unknown;
    try {
      value = decode(e.value);
    } catch {
      value = undefined;
    }
    const c = check(this.schema, value);
    if (!c.ok) {
      // A value written by an older or broken writer must not take the reader down.
      this.log.warn({ bucket: this.bucket, key, errors: c.errors }, 'ignoring invalid KV value');
      return null;
    }
    return { key, value: c.value as T, revision: this.seen(e.revision) };
  }

  private encodeChecked(value: T): Uint8Array {
    const c = check(this.schema, value);
    if (!c.ok) throw new StrataError('INVALID_MESSAGE', `KV value for ${this.bucket}: ${c.errors.join('; ')}`);
    return encode(value);
  }

  async put(key: string, value: T): Promise<number> {
    return this.seen(await this.raw.put(key, this.encodeChecked(value)));
  }

  /** Writes only if the key does not exist; returns null when someone else won the race. */
  async create(key: string, value: T): Promise<number | null> {
    try {
      return this.seen(await this.raw.create(key, this.encodeChecked(value)));
    } catch (err) {
      if (isWrongSequence(err)) return null;
      throw err;
    }
  }

  /** Writes only if the key is still at `revision`; returns null when it moved on. */
  async update(key: string, value: T, revision: number): Promise<number | null> {
    try {
      return this.seen(await this.raw.update(key, this.encodeChecked(value), revision));
    } catch (err) {
      if (isWrongSequence(err)) return null;
      throw err;
    }
  }

  /**
   * Erases a key: its messages leave the stream, so no delete marker stays behind (on NATS
   * 2.9 a `delete` or `purge` leaves one per key for ever, and every listing walks them).
   * With `upToRevision`, only revisions up to it go: a value written after it survives, which
   * makes this a compare-and-erase whose loser keeps the winner's value. Returns true when
   * the key is gone afterwards.
   */
  async erase(key: string, upToRevision?: number): Promise<boolean> {
    const filter = `$KV.${this.bucket}.${key}`;
    if (upToRevision !== undefined && this.history === 1) {
      // A key of a history-1 bucket has one message, at its revision's sequence. Deleting that message
      // by sequence erases the key if nobody wrote since, and nothing if somebody did (their value is a
      // later message; this one is gone already). It costs the server one lookup, where a purge
      // filtered by subject walks the stream's blocks: about 1 ms each on nats-server 2.9 once they
      // are cold, one after another on the connection, so 5,000 leaves at once held the gateway's
      // connection for seconds and its requests timed out.
      try {
        await this.whileElecting(() => this.jsm.streams.deleteMessage(this.stream, upToRevision, false));
        // The message was there, so it was the key's latest (a later write would have replaced
        // it): the key is gone, with no read to say so (one round trip less per leave).
        return true;
      } catch (err) {
        if (!isNoMessage(err)) throw err;
      }
      // Erased already, or written since: only a read tells which.
      return (await this.raw.get(key)) === null;
    }
    await this.whileElecting(() => this.jsm.streams.purge(this.stream, upToRevision === undefined ? { filter } : { filter, seq: upToRevision + 1 }));
    return upToRevision === undefined || (await this.raw.get(key)) === null;
  }

  /**
   * The keys a listing looks at: the stream's subjects under `filter`, from one stream info
   * request (paged by the client past the server's page size). Not nats.js's `keys()`: that
   * one reads an ordered consumer until a message says none is pending, and when the last
   * messages it was created to deliver are erased before they reach it (a lease or a peer
   * record erased at that moment) no such message ever comes and the listing waits for ever.
   * A subject whose last message is a delete marker is listed too; reading it says so.
   */
  private async subjects(filter: string): Promise<string[]> {
    const prefix = `$KV.${this.bucket}.`;
    const info = await this.whileElecting(() => this.jsm.streams.info(this.stream, { subjects_filter: `${prefix}${filter}` }));
    return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
  }

  /**
   * Runs a JetStream API call, asking again while the answer is 503 "JetStream system temporarily
   * unavailable": a clustered server says so while the JetStream meta group has no leader, for the
   * seconds an election takes after its leader stopped (a rolling restart), even though the
   * stream itself has a leader again and takes writes. Anything else, or the wait running out,
   * goes to the caller.
   */
  private async whileElecting<R>(call: () => Promise<R>): Promise<R> {
    const giveUpAt = Date.now() + this.electionWaitMs;
    for (let pause = 100; ; pause = Math.min(pause * 2, 1000)) {
      try {
        return await call();
      } catch (err) {
        if (!isClusterUnavailable(err) || Date.now() + pause > giveUpAt) throw err;
        this.log.debug({ bucket: this.bucket, pauseMs: pause }, 'JetStream has no meta leader; asking again');
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  /**
   * The stream's creation time and how many losses of its messages this handle noticed. A
   * stream's last sequence never goes back unless it lost messages: a clustered memory stream
   * after every server of its group restarted keeps its creation time but starts again from 1.
   * A stream that is gone (nats-server 2.9 forgets memory streams when it restarts alone, and a
   * wiped store forgets them all) is made again first, so writes that follow have somewhere to go.
   */
  async generation(): Promise<string> {
    let info: StreamInfo;
    try {
      info = await this.whileElecting(() => this.jsm.streams.info(this.stream));
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      this.log.warn({ bucket: this.bucket }, `KV bucket ${this.bucket} was gone from NATS: made again`);
      await this.remake();
      info = await this.whileElecting(() => this.jsm.streams.info(this.stream));
    }
    if (info.state.last_seq < this.highestSeen) {
      this.losses++;
      this.highestSeen = info.state.last_seq;
    }
    return `${info.created}/${this.losses}`;
  }

  async keys(filter = '>'): Promise<string[]> {
    const keys = await this.subjects(filter);
    const held = await Promise.all(keys.map(async (k) => ((await this.raw.get(k))?.operation === 'PUT' ? k : null)));
    return held.filter((k): k is string => k !== null);
  }

  async list(filter = '>'): Promise<KvEntry<T>[]> {
    const entries = await Promise.all((await this.subjects(filter)).map((k) => this.get(k)));
    return entries.filter((e): e is KvEntry<T> => e !== null);
  }
}

/** The JetStream API's own error code of a failed call, as nats.js carries it. */
function apiErrCode(err: unknown): number | undefined {
  return (err as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;
}

/** 503 with JetStream's error 10008: the cluster has no meta leader for now. */
function isClusterUnavailable(err: unknown): boolean {
  return apiErrCode(err) === 10008 || (err instanceof Error && /jetstream system temporarily unavailable/i.test(err.message));
}

/** JetStream's error 10059. */
function isStreamNotFound(err: unknown): boolean {
  return apiErrCode(err) === 10059 || (err instanceof Error && /stream not found/i.test(err.message));
}

/** The server's answer to a delete of a sequence the stream no longer has. */
function isNoMessage(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /no message found/i.test(msg);
}

function isWrongSequence(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /wrong last sequence|key exists/i.test(msg);
}
