import { Type } from '@sinclair/typebox';
import { defineRpc } from '../define.js';

export const TurnCredentials = defineRpc(
  'turn.credentials',
  Type.Object(
    {
      /** Who the credential is for; ends up in the TURN username, so no ':' allowed. */
      identity: Type.String({ pattern: '^[^:\\s]{1,128}$' }),
      ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      urls: Type.Array(Type.String()),
      username: Type.String(),
      credential: Type.String(),
      ttlSeconds: Type.Integer(),
      expiresAt: Type.Integer({ description: 'unix seconds' }),
    },
    { additionalProperties: false },
  ),
);
