import { StrataError } from '@strata/protocol';

/**
 * mediasoup reports bad parameters as TypeError/UnsupportedError with a precise message:
 * those are the caller's fault (INVALID_MESSAGE). InvalidStateError means the object is
 * closed or gone (NOT_FOUND). Anything else is ours (INTERNAL).
 */
export function fromMediasoup(err: unknown): StrataError {
  if (err instanceof StrataError) return err;
  const name = err instanceof Error ? err.name : '';
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'TypeError' || name === 'UnsupportedError') return new StrataError('INVALID_MESSAGE', message);
  if (name === 'InvalidStateError') return new StrataError('NOT_FOUND', message);
  return new StrataError('INTERNAL', message);
}

export async function mediasoupCall<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fromMediasoup(err);
  }
}
