import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describeReadiness, type Readiness } from './readiness.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessOptions {
  command: string;
  args?: readonly string[];
  /** On top of this process's environment; `undefined` removes a variable. */
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** For messages and the log file's name; default the command's base name. */
  name?: string;
  /**
   * Where stdout and stderr go (appended, interleaved as they arrive). Default: a file in a
   * temporary folder of this process, removed when it exits (kept when STRATA_KEEP_LOGS is set).
   */
  logFile?: string;
  /** Each complete line of output as it arrives (dev-nats echoes nats-server's). */
  onLine?: (line: string) => void;
  /**
   * Its own process group: stop() and kill9() signal every process in it, so children it
   * started go too, and a terminal's Ctrl-C reaches it only through us.
   */
  group?: boolean;
  /** An IPC channel, as fork() opens: `child.send()` and the child's 'message' events. */
  ipc?: boolean;
}

export interface StartOptions extends ProcessOptions {
  ready: Readiness;
  /** Default 10 s. */
  readyTimeoutMs?: number;
}

/** A process that exited or timed out before it was ready; the message ends with the tail of its log. */
export class ProcessStartError extends Error {
  constructor(
    message: string,
    readonly logFile: string,
    readonly logTail: string,
  ) {
    super(`${message}\n--- last output (${logFile}) ---\n${logTail || '(nothing)'}`);
    this.name = 'ProcessStartError';
  }
}

export const describeExit = (s: ExitStatus): string => (s.signal ? `signal ${s.signal}` : `code ${s.code}`);

// Whatever the reason this process ends, nothing it started outlives it, and temporary logs go.
const live = new Set<ManagedProcess>();
let tempLogDir: string | undefined;
let logCount = 0;
let exitHooked = false;
function onParentExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const p of live) p.signal('SIGKILL');
    if (tempLogDir && !process.env['STRATA_KEEP_LOGS']) rmSync(tempLogDir, { recursive: true, force: true });
  });
}
function tempLogFile(name: string): string {
  tempLogDir ??= mkdtempSync(join(tmpdir(), 'strata-logs-'));
  return join(tempLogDir, `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}-${++logCount}.log`);
}
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Once a pipe a grandchild still holds has not closed this long after the exit, `exited` stops waiting for it. */
const CLOSE_AFTER_EXIT_MS = 1000;
/** After a group's leader has exited, how long the rest of the group may take to follow a SIGKILL. */
const GROUP_KILL_MS = 2000;

/**
 * One child process, run the same way by tests, benchmarks, load tests and tools: output to a
 * log file (through us, so lines can be matched while it starts), readiness with a timeout
 * whose error carries the log's tail, and stop by pid: SIGTERM, then SIGKILL after a timeout.
 * `new ManagedProcess(opts)` spawns without waiting; `ManagedProcess.start(opts)` also waits
 * until it is ready and, when it is not, kills it and throws.
 */
export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves once it has exited and its output is in the log. */
  readonly exited: Promise<ExitStatus>;
  readonly #group: boolean;
  readonly #lineListeners = new Set<(line: string) => void>();
  #fd: number | undefined;
  #status: ExitStatus | undefined;
  #stopping: Promise<ExitStatus> | undefined;
  #readyMatch: RegExpExecArray | undefined;

  static async start(opts: StartOptions): Promise<ManagedProcess> {
    const p = new ManagedProcess(opts);
    try {
      await p.waitReady(opts.ready, opts.readyTimeoutMs);
    } catch (err) {
      await p.kill9();
      throw err;
    }
    return p;
  }

  constructor(opts: ProcessOptions) {
    this.name = opts.name ?? basename(opts.command);
    this.logFile = opts.logFile ?? tempLogFile(this.name);
    this.#group = opts.group ?? false;
    mkdirSync(dirname(this.logFile), { recursive: true });
    this.#fd = openSync(this.logFile, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    this.child = spawn(opts.command, opts.args ?? [], {
      cwd: opts.cwd,
      env,
      stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
      detached: this.#group,
    });
    // Spawn failures (ENOENT) and failed sends arrive here; without a listener they would crash us.
    this.child.on('error', (err) => this.#write(`[${this.name}] ${err.message}\n`));
    if (this.child.pid === undefined) {
      this.#closeLog();
      throw new Error(`cannot run ${opts.command}: not found or not executable (cwd ${opts.cwd ?? process.cwd()})`);
    }
    this.pid = this.child.pid;
    if (opts.onLine) this.#lineListeners.add(opts.onLine);
    for (const stream of [this.child.stdout, this.child.stderr]) {
      // One partial line per stream: stdout and stderr chunks interleave.
      let partial = '';
      stream?.on('data', (chunk: Buffer) => {
        this.#write(chunk);
        if (this.#lineListeners.size === 0) return;
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) for (const l of [...this.#lineListeners]) l(line);
      });
    }
    // The output is complete once both pipes have closed (not the child's 'close' event: with
    // an IPC channel that we disconnect, Node never emits it).
    let open = 2;
    let afterClose: (() => void) | undefined;
    for (const stream of [this.child.stdout, this.child.stderr])
      stream?.once('close', () => {
        if (--open === 0) afterClose?.();
      });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        const status: ExitStatus = { code, signal };
        this.#status = status;
        live.delete(this);
        const done = (): void => {
          clearTimeout(timer);
          this.#closeLog();
          resolve(status);
        };
        const timer = setTimeout(done, CLOSE_AFTER_EXIT_MS);
        if (open === 0) done();
        else afterClose = done;
      }),
    );
    live.add(this);
    onParentExit();
  }

  /** How it exited, once it has. */
  get exitStatus(): ExitStatus | undefined {
    return this.#status;
  }

  running(): boolean {
    return this.#status === undefined;
  }

  /** The line match of the last waitReady() on a RegExp (start()'s): where a `PORT (\d+)` line said it listens. */
  get readyMatch(): RegExpExecArray | undefined {
    return this.#readyMatch;
  }

  /** Everything it wrote so far. */
  output(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** The last `bytes` of its output, for failure messages. */
  tail(bytes = 4000): string {
    try {
      const size = statSync(this.logFile).size;
      if (size <= bytes) return this.output();
      const fd = openSync(this.logFile, 'r');
      try {
        const buf = Buffer.alloc(bytes);
        const n = readSync(fd, buf, 0, bytes, size - bytes);
        return `…${buf.subarray(0, n).toString('utf8')}`;
      } finally {
        closeSync(fd);
      }
    } catch {
      return '';
    }
  }

  /**
   * Resolves once `ready` holds (with the matching line's match for a RegExp); rejects with a
   * ProcessStartError when it exits first or `timeoutMs` passes. Leaves it running either way.
   */
  async waitReady(ready: Readiness, timeoutMs = 10_000): Promise<RegExpExecArray | undefined> {
    const what = describeReadiness(ready);
    const fail = (why: string): ProcessStartError => new ProcessStartError(`${this.name} (pid ${this.pid}) ${why}`, this.logFile, this.tail());
    const notReady = (waited: string): string => `was not ready within ${timeoutMs} ms (waiting for ${what}${waited})`;
    const exitedEarly = (s: ExitStatus): string => `exited (${describeExit(s)}) before it was ready (waiting for ${what})`;
    if (ready instanceof RegExp) {
      // Complete lines already written: the last, partial one will come through the listener.
      const written = this.output();
      for (const line of written.slice(0, written.lastIndexOf('\n') + 1).split('\n')) {
        const m = ready.exec(line);
        if (m) return (this.#readyMatch = m);
      }
      if (this.#status) throw fail(exitedEarly(this.#status));
      return new Promise((resolve, reject) => {
        let settled = false;
        const finish = (result: RegExpExecArray | ProcessStartError): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.#lineListeners.delete(onLine);
          if (result instanceof ProcessStartError) return reject(result);
          this.#readyMatch = result;
          resolve(result);
        };
        const onLine = (line: string): void => {
          const m = ready.exec(line);
          if (m) finish(m);
        };
        const timer = setTimeout(() => finish(fail(notReady(''))), timeoutMs);
        this.#lineListeners.add(onLine);
        void this.exited.then((s) => finish(fail(exitedEarly(s))));
      });
    }
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    for (;;) {
      if (this.#status) throw fail(exitedEarly(this.#status));
      try {
        if (await ready.check()) return undefined;
        lastError = '';
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() >= deadline) throw fail(notReady(lastError ? `; last check failed: ${lastError}` : ''));
      await Promise.race([delay(Math.min(ready.everyMs ?? 50, Math.max(1, deadline - Date.now()))), this.exited]);
    }
  }

  /**
   * SIGTERM, then SIGKILL once `timeoutMs` has passed; resolves with how it exited. Calling it
   * again (or after kill9) returns the same answer; a process that is already gone is not signalled.
   */
  stop(timeoutMs = 10_000): Promise<ExitStatus> {
    this.#stopping ??= this.#terminate(timeoutMs);
    return this.#stopping;
  }

  /** SIGKILL now, as a crash would end it (fault tests). */
  kill9(): Promise<ExitStatus> {
    this.signal('SIGKILL');
    this.#stopping ??= this.#settle(Date.now());
    return this.#stopping;
  }

  /** Sends `sig` to it (to its whole group with `group`); a no-op once it is gone. */
  signal(sig: NodeJS.Signals): void {
    if (!this.#group && this.#status) return; // its pid may already be someone else's
    try {
      process.kill(this.#group ? -this.pid : this.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  async #terminate(timeoutMs: number): Promise<ExitStatus> {
    if (!this.#group && this.#status) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    try {
      return await this.#settle(Date.now() + timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the exit and, for a group, for the rest of the group: killed when still there after `deadline`. */
  async #settle(deadline: number): Promise<ExitStatus> {
    const status = await this.exited;
    if (this.#group) {
      while (groupAlive(this.pid) && Date.now() < deadline) await delay(20);
      if (groupAlive(this.pid)) {
        this.signal('SIGKILL');
        const killedBy = Date.now() + GROUP_KILL_MS;
        while (groupAlive(this.pid) && Date.now() < killedBy) await delay(20);
      }
    }
    return status;
  }

  #write(data: Buffer | string): void {
    if (this.#fd !== undefined) writeSync(this.#fd, typeof data === 'string' ? Buffer.from(data) : data);
  }

  #closeLog(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
