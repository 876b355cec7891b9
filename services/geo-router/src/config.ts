import { duration } from '@strata/config';

export const geoConfig = {
  GEO_NODE_TTL: duration({ description: 'a node missing heartbeats this long is ignored', default: 10_000, min: 1000 }),
  GEO_RTT_TOLERANCE: duration({
    description: 'regions whose probe RTT is within this much of the best are treated as equally close; load breaks the tie',
    default: 15,
    min: 0,
    max: 1000,
  }),
};
