import { Type, type Static } from '@sinclair/typebox';

/**
 * Ids end up as NATS subject tokens and KV keys, so they may not contain '.', '*', '>' or
 * whitespace. One pattern for all keeps every subject builder safe by construction.
 */
export const ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const idRe = new RegExp(ID_PATTERN);

export const RegionId = Type.String({ pattern: ID_PATTERN, description: 'region, e.g. eu-west' });
export const NodeId = Type.String({ pattern: ID_PATTERN, description: 'one process of a service' });
export const RoomId = Type.String({ pattern: ID_PATTERN, description: 'room name' });
export const PeerId = Type.String({ pattern: ID_PATTERN });
export const EntityId = Type.String({ minLength: 1, maxLength: 64, description: 'mediasoup object id' });

export const SERVICE_KINDS = ['signaling', 'media', 'turn', 'geo-router', 'recorder'] as const;
export const ServiceKind = Type.Union(SERVICE_KINDS.map((k) => Type.Literal(k)));
export type ServiceKind = Static<typeof ServiceKind>;

export function isValidId(value: string): boolean {
  return idRe.test(value);
}

/** Throws if `value` cannot be used as a subject token; subject builders call it. */
export function assertId(value: string, what: string): string {
  if (!idRe.test(value)) throw new TypeError(`invalid ${what} id "${value}": must match ${ID_PATTERN}`);
  return value;
}
