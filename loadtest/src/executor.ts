/**
 * k6's constant-arrival-rate executor: iterations start at a fixed rate whatever the system's
 * latency (an open model, so a slow server shows up as latency, not as a lower request rate).
 * Iterations that would exceed `maxVUs` in flight are dropped and counted, like k6 does.
 */
export interface ArrivalOptions {
  rate: number;
  durationS: number;
  maxVUs: number;
}

export interface ArrivalResult {
  started: number;
  dropped: number;
  failed: number;
}

export async function constantArrivalRate(opts: ArrivalOptions, iteration: (i: number) => Promise<void>): Promise<ArrivalResult> {
  const total = Math.round(opts.rate * opts.durationS);
  const intervalMs = 1000 / opts.rate;
  const t0 = performance.now();
  let inFlight = 0;
  const result: ArrivalResult = { started: 0, dropped: 0, failed: 0 };
  const running: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight >= opts.maxVUs) {
      result.dropped++;
      continue;
    }
    inFlight++;
    result.started++;
    running.push(
      iteration(i)
        .catch(() => void result.failed++)
        .finally(() => void inFlight--),
    );
  }
  await Promise.all(running);
  return result;
}
