import { Type, type Static } from '@sinclair/typebox';

/**
 * Error codes shared by NATS replies and the WebSocket protocol. Stable strings, so clients
 * can branch on them; the message is for humans.
 */
export const ERROR_CODES = [
  'BAD_REQUEST', // not parseable: malformed JSON or UTF-8, binary where text is expected
  'INVALID_MESSAGE', // parsed, but violates the schema (including JSON that is not an object)
  'UNKNOWN_METHOD',
  'NOT_FOUND',
  'UNAUTHORIZED', // missing, forged or expired credentials
  'FORBIDDEN', // authenticated, but the grant does not allow it
  'CONFLICT',
  'TOO_LARGE',
  'RATE_LIMITED',
  'CAPACITY', // the node is full; try another
  'TIMEOUT',
  'UNAVAILABLE', // nobody answered
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];
export const ErrorCodeSchema = Type.Union(ERROR_CODES.map((c) => Type.Literal(c)));

export const ErrorBody = Type.Object(
  {
    code: ErrorCodeSchema,
    message: Type.String({ maxLength: 2048 }),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** An error meant to cross a process boundary: its code and message are sent to the caller. */
export class StrataError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StrataError';
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }

  static from(err: unknown): StrataError {
    if (err instanceof StrataError) return err;
    return new StrataError('INTERNAL', err instanceof Error ? err.message : String(err));
  }
}
