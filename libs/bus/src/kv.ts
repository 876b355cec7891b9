import type { TSchema } from '@sinclair/typebox';
import { StrataError, check } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { KV } from 'nats';
import { decode, encode } from './codec.js';

export interface KvEntry<T> {
  key: string;
  value: T;
  revision: number;
}

/** A JetStream KV bucket with schema-checked values and compare-and-set helpers. */
export class TypedKv<T> {
  constructor(
    readonly raw: KV,
    readonly bucket: string,
    private readonly schema: TSchema,
    private readonly log: Logger,
  ) {}

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
    return { key, value: c.value as T, revision: e.revision };
  }

  private encodeChecked(value: T): Uint8Array {
    const c = check(this.schema, value);
    if (!c.ok) throw new StrataError('INVALID_MESSAGE', `KV value for ${this.bucket}: ${c.errors.join('; ')}`);
    return encode(value);
  }

  async put(key: string, value: T): Promise<number> {
    return this.raw.put(key, this.encodeChecked(value));
  }

  /** Writes only if the key does not exist; returns null when someone else won the race. */
  async create(key: string, value: T): Promise<number | null> {
    try {
      return await this.raw.create(key, this.encodeChecked(value));
    } catch (err) {
      if (isWrongSequence(err)) return null;
      throw err;
    }
  }

  /** Writes only if the key is still at `revision`; returns null when it moved on. */
  async update(key: string, value: T, revision: number): Promise<number | null> {
    try {
      return await this.raw.update(key, this.encodeChecked(value), revision);
    } catch (err) {
      if (isWrongSequence(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await this.raw.delete(key);
  }

  /** Deletes only if the key is still at `revision`; false when it moved on. */
  async deleteIfUnchanged(key: string, revision: number): Promise<boolean> {
    try {
      await this.raw.delete(key, { previousSeq: revision });
      return true;
    } catch (err) {
      if (isWrongSequence(err)) return false;
      throw err;
    }
  }

  async keys(filter = '>'): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.raw.keys(filter)) out.push(k);
    return out;
  }
}

function isWrongSequence(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /wrong last sequence|key exists/i.test(msg);
}
