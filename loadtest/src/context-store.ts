/**
 * Which VU is running the current code. Metrics, check() and sleep() are module-level
 * functions as in k6; they find the VU's tags and stop signal through this store, which the
 * runner sets around every iteration (AsyncLocalStorage follows the iteration's awaits).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface VuState {
  /** k6's __VU: 1-based, unique across the run. */
  vu: number;
  /** k6's __ITER: 0-based iteration number of this VU in its scenario. */
  iter: number;
  scenario: string;
  tags: Readonly<Record<string, string>>;
  /** Aborted when the executor wants this VU to stop (end of duration, ramp-down, hard stop). */
  stopping: AbortSignal;
}

export const vuStore = new AsyncLocalStorage<VuState>();

export function currentTags(): Readonly<Record<string, string>> {
  return vuStore.getStore()?.tags ?? {};
}
