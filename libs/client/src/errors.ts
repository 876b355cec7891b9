import type { ErrorCode } from '@strata/protocol';

/**
 * A failed request: `code` is the gateway's error code (or TIMEOUT / UNAVAILABLE when the
 * client gave up or lost the socket), so callers can branch on it.
 */
export class SignalingError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly method?: string,
  ) {
    super(method ? `${method}: ${message}` : message);
    this.name = 'SignalingError';
  }
}

export function isSignalingError(err: unknown, code?: ErrorCode): err is SignalingError {
  return err instanceof SignalingError && (code === undefined || err.code === code);
}
