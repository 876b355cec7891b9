import type { TSchema } from '@sinclair/typebox';
import { StrataError, check } from '@strata/protocol';
import type { KvBucket, KvEntry } from './kv.js';

export interface MemoryKvOptions {
  /** Values are checked against it on write, as `TypedKv` does. */
  schema?: TSchema;
  /**
   * Awaited at the start of every operation, before it looks at the bucket. The default lets
   * the event loop turn once, as a round trip to NATS would, so that operations started
   * together (Promise.all) interleave instead of running one after the other.
   */
  pause?: () => Promise<void>;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A KV bucket in memory with JetStream's revision rules: one sequence for the whole bucket,
 * create only when the key is absent, update only at the key's last revision, erase of the
 * history up to a revision (a newer value survives). Values are copied in and out.
 */
export class MemoryKv<T> implements KvBucket<T> {
  private seq = 0;
  private incarnation = 1;
  private readonly entries = new Map<string, { value: T; revision: number }>();
  private readonly pause: () => Promise<void>;

  constructor(private readonly opts: MemoryKvOptions = {}) {
    this.pause = opts.pause ?? nextTurn;
  }

  /** How many keys hold a value (an erased key holds nothing, as in JetStream). */
  get size(): number {
    return this.entries.size;
  }

  /** The key's entry now, without a pause: for assertions. */
  peek(key: string): KvEntry<T> | null {
    const e = this.entries.get(key);
    return e ? { key, value: structuredClone(e.value), revision: e.revision } : null;
  }

  /** Loses everything, as a bucket on a nats-server restarted on a wiped store does: a new generation, revisions from 1 again. */
  wipe(): void {
    this.entries.clear();
    this.seq = 0;
    this.incarnation++;
  }

  async generation(): Promise<string> {
    await this.pause();
    return String(this.incarnation);
  }

  private checked(value: T): T {
    if (this.opts.schema) {
      const c = check(this.opts.schema, value);
      if (!c.ok) throw new StrataError('INVALID_MESSAGE', `KV value: ${c.errors.join('; ')}`);
    }
    return structuredClone(value);
  }

  private write(key: string, value: T): number {
    this.entries.set(key, { value, revision: ++this.seq });
    return this.seq;
  }

  async get(key: string): Promise<KvEntry<T> | null> {
    await this.pause();
    const e = this.entries.get(key);
    return e ? { key, value: structuredClone(e.value), revision: e.revision } : null;
  }

  async put(key: string, value: T): Promise<number> {
    const v = this.checked(value);
    await this.pause();
    return this.write(key, v);
  }

  async create(key: string, value: T): Promise<number | null> {
    const v = this.checked(value);
    await this.pause();
    if (this.entries.has(key)) return null;
    return this.write(key, v);
  }

  async update(key: string, value: T, revision: number): Promise<number | null> {
    const v = this.checked(value);
    await this.pause();
    if (this.entries.get(key)?.revision !== revision) return null;
    return this.write(key, v);
  }

  async erase(key: string, upToRevision?: number): Promise<boolean> {
    await this.pause();
    const e = this.entries.get(key);
    if (e && (upToRevision === undefined || e.revision <= upToRevision)) this.entries.delete(key);
    return !this.entries.has(key);
  }

  async keys(filter = '>'): Promise<string[]> {
    await this.pause();
    return [...this.entries.keys()].filter((k) => matches(filter, k));
  }

  async list(filter = '>'): Promise<KvEntry<T>[]> {
    return (await this.keys(filter)).map((k) => this.peek(k) as KvEntry<T>);
  }
}

/** NATS subject matching: `*` is one token, a final `>` one or more. */
function matches(filter: string, key: string): boolean {
  const f = filter.split('.');
  const k = key.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return i === f.length - 1 && k.length > i;
    if (i >= k.length || (f[i] !== '*' && f[i] !== k[i])) return false;
  }
  return f.length === k.length;
}
