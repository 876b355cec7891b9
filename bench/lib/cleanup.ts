/**
 * Everything the benchmark starts (child processes, sockets, workers, NATS connections) registers
 * its teardown here. Teardowns run last-in first-out, once, on normal exit, on an error and on
 * SIGINT/SIGTERM, so a failed or interrupted run leaves nothing behind.
 */
type Teardown = () => Promise<void> | void;

const stack: { what: string; fn: Teardown }[] = [];
let running: Promise<void> | undefined;

export function onCleanup(what: string, fn: Teardown): void {
  stack.push({ what, fn });
}

export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (stack.length) {
      const t = stack.pop();
      if (!t) break;
      try {
        await withTimeout(Promise.resolve(t.fn()), 15_000, t.what);
      } catch (err) {
        process.stderr.write(`cleanup of ${t.what} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  })();
  return running;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs `main`, then every teardown; exit code 1 (and the error) if `main` threw, 130 on a signal. */
export function runWithCleanup(main: () => Promise<number | void>): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: cleaning up\n`);
    void cleanupAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  main().then(
    async (code) => {
      await cleanupAll();
      process.exit(code ?? 0);
    },
    async (err: unknown) => {
      process.stderr.write(`\nbenchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      await cleanupAll();
      process.exit(1);
    },
  );
}
