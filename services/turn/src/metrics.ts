import type { ServerStats } from '@strata/node-turn';
import { counter, gauge, type MetricFamily } from '@strata/service';

/** The TURN server's allocations and its counters since start, as `GET /metrics` families. */
export function turnMetrics(allocations: number, stats: Readonly<ServerStats>): MetricFamily[] {
  return [
    gauge('strata_turn_allocations', 'TURN allocations held now (each holds one relay port).', allocations),
    byDirection(
      'strata_turn_relayed_packets_total',
      'Packets relayed: to_peer from clients out of their relay, to_client from peers back to their client.',
      stats.packetsToPeers,
      stats.packetsToClients,
    ),
    byDirection(
      'strata_turn_relayed_bytes_total',
      'Payload bytes relayed (without STUN or ChannelData framing), by direction as for strata_turn_relayed_packets_total.',
      stats.bytesToPeers,
      stats.bytesToClients,
    ),
    counter('strata_turn_auth_failures_total', 'Requests whose MESSAGE-INTEGRITY failed authentication (401 or 441).', stats.authFailures),
    counter('strata_turn_stale_nonces_total', 'Authenticated requests with an expired or foreign nonce (438).', stats.staleNonces),
    counter(
      'strata_turn_quota_rejections_total',
      "Allocate requests refused with 486, the identity's or the IP's allocation quota being full.",
      stats.quotaRejections,
    ),
    counter(
      'strata_turn_peer_denials_total',
      'CreatePermission and ChannelBind requests refused with 403, and Send indications dropped, for a peer the policy denies.',
      stats.peerDenials,
    ),
    counter(
      'strata_turn_connection_rejections_total',
      'TCP and TLS connections closed on accept, their IP holding its cap of connections.',
      stats.connectionRejections,
    ),
    counter(
      'strata_turn_over_bandwidth_dropped_total',
      'Relayed packets dropped because their allocation was over its bandwidth cap (either direction).',
      stats.overBandwidth,
    ),
    counter(
      'strata_turn_malformed_total',
      'Datagrams or stream frames that were no well-formed STUN or ChannelData message, dropped unanswered.',
      stats.malformed,
    ),
  ];
}

/** A counter with one sample per relay direction. */
function byDirection(name: string, help: string, toPeer: number, toClient: number): MetricFamily {
  return {
    name,
    help,
    type: 'counter',
    samples: [
      { labels: { direction: 'to_peer' }, value: toPeer },
      { labels: { direction: 'to_client' }, value: toClient },
    ],
  };
}
