import { StrataError, jsonBoundsProblem } from '@strata/protocol';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/**
 * Parses a payload as JSON; an empty payload reads as `{}` (what `nats req subject ""` sends).
 * A value nested too deep or too large is refused here, before schema checks and handlers
 * (which may recurse) see it.
 */
export function decode(data: Uint8Array): unknown {
  if (data.length === 0) return {};
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    throw new StrataError('BAD_REQUEST', 'payload is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw new StrataError('BAD_REQUEST', `payload is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const problem = jsonBoundsProblem(value);
  if (problem) throw new StrataError('INVALID_MESSAGE', `payload is ${problem}`);
  return value;
}
