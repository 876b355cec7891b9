import { StrataError, type ErrorCode } from '@strata/protocol';

/**
 * Errors the mediasoup worker reports as a plain Error although the request caused them: they
 * describe the caller's parameters or the object's state, not a fault of ours. Matched on
 * mediasoup 3.27's messages (worker/src/RTC); an unknown message stays INTERNAL.
 */
const CALLER_FAULTS: { re: RegExp; code: ErrorCode }[] = [
  // RtpListener: an SSRC, RTX SSRC, MID or RID a producer of this transport already uses.
  { re: /already exists in RTP listener/, code: 'CONFLICT' },
  // WebRtcTransport / PlainTransport: connect() is allowed once.
  { re: /connect\(\) already called/, code: 'CONFLICT' },
  // DtlsTransport: a fingerprint algorithm it does not know.
  { re: /unknown algorithm/, code: 'INVALID_MESSAGE' },
  // SCTP / data channels are not part of our API; asking for them is a bad request.
  { re: /SCTP not enabled/, code: 'INVALID_MESSAGE' },
  // Channel: the object closed in the worker (its producer or transport went) and Node has not
  // heard yet, so a request on it finds no handler. It is gone, as NotFoundError says.
  { re: /Channel request handler with ID .* not found/, code: 'NOT_FOUND' },
];

/**
 * mediasoup reports bad parameters as TypeError/UnsupportedError with a precise message:
 * those are the caller's fault (INVALID_MESSAGE). InvalidStateError and NotFoundError mean the
 * object is closed or gone (NOT_FOUND). A worker error matching CALLER_FAULTS keeps mediasoup's
 * reason with the code there. Anything else is ours (INTERNAL).
 */
export function fromMediasoup(err: unknown): StrataError {
  if (err instanceof StrataError) return err;
  const name = err instanceof Error ? err.name : '';
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'TypeError' || name === 'UnsupportedError') return new StrataError('INVALID_MESSAGE', message);
  if (name === 'InvalidStateError' || name === 'NotFoundError') return new StrataError('NOT_FOUND', message);
  const fault = CALLER_FAULTS.find((f) => f.re.test(message));
  if (fault) return new StrataError(fault.code, message);
  return new StrataError('INTERNAL', message);
}

/** A read of something that may close while it is read: undefined when it went meanwhile. */
export async function unlessGone<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await mediasoupCall(fn);
  } catch (err) {
    if (err instanceof StrataError && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
}

export async function mediasoupCall<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fromMediasoup(err);
  }
}
