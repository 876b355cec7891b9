import { GeoRoute, Heartbeat, subjects } from '@strata/protocol';
import type { ServiceDefinition } from '@strata/service';
import { chooseRegion } from './choose-region.js';
import { geoConfig } from './config.js';
import { geoRouterLoad } from './load.js';
import { RegionTable } from './region-table.js';

export const geoRouterService: ServiceDefinition<typeof geoConfig> = {
  kind: 'geo-router',
  version: '0.1.0',
  config: geoConfig,
  async start({ config, bus, region }) {
    const table = new RegionTable(config.GEO_NODE_TTL);
    let routed = 0;

    // Handlers
    const subs = [
      // Every region's media heartbeats: with a supercluster these arrive through the gateways.
      bus.subscribe(Heartbeat, subjects.heartbeats('*', 'media'), (beat) => table.observe(beat)),
      bus.serve(
        GeoRoute,
        subjects.geoRoute(region),
        ({ probes }) => {
          routed++;
          return chooseRegion(table.regions(), probes ?? [], region, config.GEO_RTT_TOLERANCE);
        },
        { queue: subjects.queues.geo },
      ),
    ];

    return {
      health: () => ({ regionsKnown: table.regions().length }),
      load: (sample) => geoRouterLoad({ regions: table.regions().length, routed }, sample),
      async close() {
        for (const s of subs) s.unsubscribe();
      },
    };
  },
};
