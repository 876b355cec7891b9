import { EventEmitter } from 'node:events';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { S3UploadError, type Uploader } from './s3-target.js';

/** Next to every file waiting for upload: `<file>.upload.json`. */
export const MARKER_SUFFIX = '.upload.json';

/** The marker's content: enough to retry the upload after a restart without anything else. */
interface Marker {
  v: 1;
  key: string;
  enqueuedAt: string;
  /** Failed tries so far, and the last error: for an operator looking at a folder that does not empty. */
  tries: number;
  lastError?: string;
}

export interface UploadedFile {
  localPath: string;
  /** The full key in the bucket, prefix included. */
  key: string;
  bucket: string;
  etag: string;
  size: number;
  /** ISO time the upload was confirmed. */
  at: string;
  /** Whether the local file was deleted (deleteLocalAfterUpload). */
  deletedLocal: boolean;
}

export interface UploadFailure {
  localPath: string;
  key: string;
  error: Error;
  /** False for errors that need an operator (wrong bucket, keys, policy): retried only after permanentErrorDelayMs. */
  retryable: boolean;
  /** Failed tries of this file so far. */
  tries: number;
  /** When the queue tries this file again. */
  retryInMs: number;
}

export interface UploadQueueEvents {
  uploaded: [UploadedFile];
  failed: [UploadFailure];
}

export interface UploadQueueOptions {
  target: Uploader;
  /** Files uploaded at the same time. */
  concurrency?: number;
  /** Delete the local file once its upload is confirmed (never before). */
  deleteLocalAfterUpload?: boolean;
  /** First wait before a file whose try failed on a retryable error is tried again; doubles per try up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Wait before a file that failed on a permanent error (NoSuchBucket, AccessDenied) is tried again. */
  permanentErrorDelayMs?: number;
}

export interface UploadQueueStats {
  /** Files waiting (ready or backing off), not counting those uploading. */
  queued: number;
  uploading: number;
  uploaded: number;
  failedAttempts: number;
  bytesUploaded: number;
}

interface Item {
  localPath: string;
  key: string;
  enqueuedAt: string;
  tries: number;
  notBefore: number;
}

/**
 * The files of finished recordings still to be copied to the bucket. The queue is durable: every
 * file has a marker next to it until its upload is confirmed, so a restart, or a crash of the
 * recorder, loses none (resume() finds them again), and the local file is deleted (if asked)
 * only after the bucket confirmed the copy. A file is uploaded at least once: a crash between the
 * confirmation and the marker's removal uploads it again, which a PUT of the same bytes allows.
 */
export class UploadQueue extends EventEmitter<UploadQueueEvents> {
  private readonly target: Uploader;
  private readonly concurrency: number;
  private readonly deleteLocal: boolean;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly permanentErrorDelayMs: number;
  /** Every file not yet confirmed, by local path: waiting or uploading. */
  private readonly items = new Map<string, Item>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private counters = { uploaded: 0, failedAttempts: 0, bytesUploaded: 0 };

  constructor(opts: UploadQueueOptions) {
    super();
    this.target = opts.target;
    this.concurrency = Math.max(1, opts.concurrency ?? 2);
    this.deleteLocal = opts.deleteLocalAfterUpload ?? false;
    this.retryDelayMs = opts.retryDelayMs ?? 5000;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 5 * 60_000;
    this.permanentErrorDelayMs = opts.permanentErrorDelayMs ?? 10 * 60_000;
  }

  /**
   * Queues a finished file for upload to `key` (relative to the target's prefix). Resolves once
   * the marker is on disk, so the file is not lost if the process dies right after.
   */
  async enqueue(localPath: string, key: string): Promise<void> {
    if (this.closed) throw new Error('upload queue is closed');
    if (this.items.has(localPath)) return;
    const item: Item = { localPath, key, enqueuedAt: new Date().toISOString(), tries: 0, notBefore: 0 };
    await writeMarker(localPath, { v: 1, key, enqueuedAt: item.enqueuedAt, tries: 0 });
    this.items.set(localPath, item);
    this.pump();
  }

  /**
   * Finds the markers under `dir` (the recordings folder: one folder per recording, searched
   * recursively) and queues their files again; returns how many. A marker whose file is gone is
   * removed: nothing is left to upload.
   */
  async resume(dir: string): Promise<number> {
    let found = 0;
    for (const markerPath of await findMarkers(dir)) {
      const localPath = markerPath.slice(0, -MARKER_SUFFIX.length);
      if (this.items.has(localPath)) continue;
      const marker = await readMarker(markerPath);
      if (!marker) continue;
      if (!(await exists(localPath))) {
        await rm(markerPath, { force: true });
        continue;
      }
      this.items.set(localPath, { localPath, key: marker.key, enqueuedAt: marker.enqueuedAt, tries: marker.tries, notBefore: 0 });
      found++;
    }
    this.pump();
    return found;
  }

  stats(): UploadQueueStats {
    return { queued: this.items.size - this.inFlight.size, uploading: this.inFlight.size, ...this.counters };
  }

  /**
   * For SIGTERM: keeps uploading until nothing is left or `timeoutMs` passed; true when every file
   * is uploaded. What is left keeps its marker for the next start. Call close() after.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.items.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops: no new upload starts, those under way are aborted (their markers stay) and awaited. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await Promise.allSettled(this.inFlight.values());
  }

  /** Starts what may start now, and sets a timer for the earliest file backing off. */
  private pump(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    let next = Infinity;
    for (const item of this.items.values()) {
      if (this.inFlight.size >= this.concurrency) break;
      if (this.inFlight.has(item.localPath)) continue;
      if (item.notBefore > now) {
        next = Math.min(next, item.notBefore);
        continue;
      }
      const run = this.run(item).finally(() => {
        this.inFlight.delete(item.localPath);
        this.pump();
      });
      this.inFlight.set(item.localPath, run);
    }
    if (next !== Infinity && this.inFlight.size < this.concurrency) this.timer = setTimeout(() => this.pump(), next - now);
    if (this.items.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private async run(item: Item): Promise<void> {
    try {
      const result = await this.target.upload(item.localPath, item.key, this.abort.signal);
      this.counters.uploaded++;
      this.counters.bytesUploaded += result.size;
      // Marker first: a crash between the two leaves a local file that is uploaded and unmarked,
      // never a marker whose file is gone without knowing whether it was uploaded.
      await rm(item.localPath + MARKER_SUFFIX, { force: true });
      if (this.deleteLocal) await rm(item.localPath, { force: true });
      this.items.delete(item.localPath);
      const uploaded: UploadedFile = {
        localPath: item.localPath,
        key: result.key,
        bucket: result.bucket,
        etag: result.etag,
        size: result.size,
        at: new Date().toISOString(),
        deletedLocal: this.deleteLocal,
      };
      this.emit('uploaded', uploaded);
    } catch (err) {
      if (this.closed) return; // aborted by close(): the marker stays for the next start
      this.counters.failedAttempts++;
      item.tries++;
      const retryable = err instanceof S3UploadError ? err.retryable : true;
      const retryInMs = retryable ? this.backoff(item.tries) : this.permanentErrorDelayMs;
      item.notBefore = Date.now() + retryInMs;
      const error = err instanceof Error ? err : new Error(String(err));
      await writeMarker(item.localPath, { v: 1, key: item.key, enqueuedAt: item.enqueuedAt, tries: item.tries, lastError: error.message }).catch(() => {});
      this.emit('failed', { localPath: item.localPath, key: item.key, error, retryable, tries: item.tries, retryInMs });
    }
  }

  /** Exponential with jitter (half fixed, half random), so files that failed together spread out. */
  private backoff(tries: number): number {
    const cap = Math.min(this.maxRetryDelayMs, this.retryDelayMs * 2 ** (tries - 1));
    return Math.round(cap / 2 + (Math.random() * cap) / 2);
  }
}

/** Written to a temporary name, synced, then renamed: a crash never leaves half a marker. */
async function writeMarker(localPath: string, marker: Marker): Promise<void> {
  const path = localPath + MARKER_SUFFIX;
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(marker));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

async function readMarker(path: string): Promise<Marker | undefined> {
  try {
    const m: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof m !== 'object' || m === null) return undefined;
    const { key, enqueuedAt, tries } = m as Record<string, unknown>;
    if (typeof key !== 'string' || key === '') return undefined;
    return { v: 1, key, enqueuedAt: typeof enqueuedAt === 'string' ? enqueuedAt : new Date().toISOString(), tries: typeof tries === 'number' ? tries : 0 };
  } catch {
    return undefined;
  }
}

async function findMarkers(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await findMarkers(p)));
    else if (e.isFile() && e.name.endsWith(MARKER_SUFFIX)) out.push(p);
  }
  return out.sort();
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
