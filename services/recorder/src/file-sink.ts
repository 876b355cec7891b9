/**
 * A file written by appending, with positioned patches of bytes already written (WebM's Duration
 * and sizes). Writes are synchronous: each write() lands in the kernel's page cache before it
 * returns (microseconds for the ~1 KB pieces we write), so a recorder killed with -9 loses nothing
 * it has handed over, and a patch can never race an append. What a power cut can lose is the page
 * cache; close() fsyncs once, so a finished recording is on disk when it resolves, while the
 * recording itself never waits on the disk.
 */
import { closeSync, fsync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);

export class FileSink {
  readonly path: string;
  #fd: number | undefined;
  #size = 0;
  #closing: Promise<void> | undefined;

  constructor(path: string) {
    this.path = path;
    // 'w', not 'a': with O_APPEND Linux ignores the position of pwrite, and patches need it.
    this.#fd = openSync(path, 'w');
  }

  /** Bytes appended so far: the offset the next append lands at. */
  get size(): number {
    return this.#size;
  }

  get closed(): boolean {
    return this.#fd === undefined;
  }

  append(buf: Uint8Array): void {
    if (this.#fd === undefined) throw new Error(`${this.path} is closed`);
    let done = 0;
    while (done < buf.length) done += writeSync(this.#fd, buf, done, buf.length - done, this.#size + done);
    this.#size += buf.length;
  }

  /** Overwrites bytes already appended (never extends the file). */
  patch(offset: number, buf: Uint8Array): void {
    if (this.#fd === undefined) throw new Error(`${this.path} is closed`);
    if (offset + buf.length > this.#size) throw new Error(`patch past the end of ${this.path}`);
    let done = 0;
    while (done < buf.length) done += writeSync(this.#fd, buf, done, buf.length - done, offset + done);
  }

  /** Closes at once, without fsync (a writer whose headers could not be written gives its file up). */
  abandon(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    this.#closing ??= Promise.resolve();
    if (fd !== undefined) closeSync(fd);
  }

  /** fsync, then close; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const fd = this.#fd;
      if (fd === undefined) return;
      try {
        await fsyncAsync(fd);
      } finally {
        this.#fd = undefined;
        closeSync(fd);
      }
    })();
    return this.#closing;
  }
}
