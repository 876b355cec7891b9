import { Type } from '@sinclair/typebox';
import { defineRpc } from '../define.js';
import { RegionId } from '../ids.js';

export const GeoRoute = defineRpc(
  'geo.route',
  Type.Object(
    {
      /** The client's address as the gateway saw it, for the CIDR fallback. */
      clientIp: Type.Optional(Type.String({ maxLength: 45 })),
      /** Round trips the client measured to regional probe endpoints. */
      probes: Type.Optional(
        Type.Array(Type.Object({ region: RegionId, rttMs: Type.Number({ minimum: 0, maximum: 60_000 }) }, { additionalProperties: false }), {
          maxItems: 32,
        }),
      ),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      region: RegionId,
      reason: Type.Union([Type.Literal('rtt'), Type.Literal('load'), Type.Literal('default')]),
      candidates: Type.Array(
        Type.Object({
          region: RegionId,
          rttMs: Type.Optional(Type.Number()),
          load: Type.Number(),
          mediaNodes: Type.Integer({ minimum: 0 }),
        }),
      ),
    },
    { additionalProperties: false },
  ),
);
