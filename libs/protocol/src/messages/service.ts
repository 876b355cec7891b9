import { Type } from '@sinclair/typebox';
import { defineEvent, defineRpc } from '../define.js';
import { NodeId, RegionId, ServiceKind } from '../ids.js';

const Details = Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.Number(), Type.String({ maxLength: 256 }), Type.Boolean()]));

export const Load = Type.Object(
  {
    /** 0..1: the share of this process's capacity in use; placement picks the lowest. */
    score: Type.Number({ minimum: 0 }),
    /** CPU used by the process (and its workers) since the last heartbeat, in cores. */
    cpu: Type.Number({ minimum: 0 }),
    rssBytes: Type.Integer({ minimum: 0 }),
    details: Details,
  },
  { additionalProperties: false },
);

export const Heartbeat = defineEvent(
  'heartbeat',
  Type.Object(
    {
      kind: ServiceKind,
      id: NodeId,
      region: RegionId,
      version: Type.String({ maxLength: 64 }),
      startedAt: Type.Integer(),
      ts: Type.Integer(),
      intervalMs: Type.Integer({ minimum: 1 }),
      /** Addresses a client or peer service uses to reach this node (HTTP, WebSocket, TURN...). */
      endpoints: Type.Record(Type.String({ maxLength: 32 }), Type.String({ maxLength: 256 })),
      load: Load,
      draining: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
);

export const Health = defineRpc(
  'health',
  Type.Object({}, { additionalProperties: false }),
  Type.Object(
    {
      kind: ServiceKind,
      id: NodeId,
      region: RegionId,
      version: Type.String(),
      status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('draining')]),
      uptimeMs: Type.Integer({ minimum: 0 }),
      checks: Details,
    },
    { additionalProperties: false },
  ),
);
