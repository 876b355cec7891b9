import type { ServerStats } from '@strata/node-turn';
import { formatMetrics } from '@strata/service';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePrometheusText, sampleValue } from '../../../test/helpers/prometheus.js';
import { turnMetrics } from '../src/metrics.js';

describe('TURN metrics', () => {
  it('puts each of the server’s counters in its own family, and the allocations in a gauge', () => {
    // Distinct values, so a counter read from the wrong field shows.
    const stats: ServerStats = {
      authFailures: 1,
      staleNonces: 2,
      quotaRejections: 3,
      overBandwidth: 4,
      malformed: 5,
      peerDenials: 6,
      connectionRejections: 7,
      packetsToPeers: 8,
      bytesToPeers: 9,
      packetsToClients: 10,
      bytesToClients: 11,
    };
    const m = parsePrometheusText(formatMetrics(turnMetrics(12, stats)));
    assert.equal(m.get('strata_turn_allocations')?.type, 'gauge');
    assert.equal(sampleValue(m, 'strata_turn_allocations'), 12);
    const expected: [string, Record<string, string>, number][] = [
      ['strata_turn_relayed_packets_total', { direction: 'to_peer' }, 8],
      ['strata_turn_relayed_packets_total', { direction: 'to_client' }, 10],
      ['strata_turn_relayed_bytes_total', { direction: 'to_peer' }, 9],
      ['strata_turn_relayed_bytes_total', { direction: 'to_client' }, 11],
      ['strata_turn_auth_failures_total', {}, 1],
      ['strata_turn_stale_nonces_total', {}, 2],
      ['strata_turn_quota_rejections_total', {}, 3],
      ['strata_turn_over_bandwidth_dropped_total', {}, 4],
      ['strata_turn_malformed_total', {}, 5],
      ['strata_turn_peer_denials_total', {}, 6],
      ['strata_turn_connection_rejections_total', {}, 7],
    ];
    for (const [name, labels, value] of expected) {
      assert.equal(m.get(name)?.type, 'counter', name);
      assert.equal(sampleValue(m, name, labels), value, `${name} ${JSON.stringify(labels)}`);
    }
    assert.equal(m.size, expected.length - 2 + 1, 'no family beyond these');
  });
});
