import { StrataError } from '@strata/protocol';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encode(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses a payload as JSON; an empty payload reads as `{}` (what `nats req subject ""` sends). */
export function decode(data: Uint8Array): unknown {
  if (data.length === 0) return {};
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    throw new StrataError('BAD_REQUEST', 'payload is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new StrataError('BAD_REQUEST', `payload is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}
