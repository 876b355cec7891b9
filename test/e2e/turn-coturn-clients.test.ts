/**
 * coturn's own clients against our TURN service (issue 16's first test): the service runs as a real
 * process beside nats-server, credentials are minted over NATS as a client would get them, and
 * turnutils_stunclient / turnutils_uclient (independent implementations of STUN and TURN) talk to it
 * on loopback, over UDP, TCP (-t) and TLS (-S; the service's self-signed certificate, which uclient does
 * not check). uclient relays to turnutils_peer (an echo server, UDP: relays are UDP) and counts what
 * comes back. After each run the service's own relay counters, read from its GET /metrics, must have
 * moved by at least what uclient counted.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { haveCommands, uclient, type UclientTotals } from '@strata/harness';
import { sampleValue, scrape } from '../helpers/prometheus.js';
import type { Region } from '../helpers/region.js';
import { startTurnRegion, type TurnRegion } from '../helpers/turn-region.js';

const run = promisify(execFile);
const HAVE_COTURN_CLIENTS = await haveCommands('turnutils_uclient', 'turnutils_stunclient', 'turnutils_peer');

describe(
  'coturn clients against our TURN server (UDP, TCP, TLS)',
  { timeout: 120_000, skip: HAVE_COTURN_CLIENTS ? false : 'coturn clients not installed' },
  () => {
    let t: TurnRegion;
    let region: Region;
    let turnPort: number;
    let tlsPort: number;

    before(async () => {
      t = await startTurnRegion({ secret: 'coturn-clients-secret', identity: 'uclient' });
      ({ region, turnPort } = t);
      // udp and tcp on TURN_PORT, turns: on the TLS port (0 in tests: the bound one is handed out).
      const tls = /^turns:127\.0\.0\.1:(\d+)\?transport=tcp$/.exec(t.urls[2] ?? '');
      assert.ok(tls?.[1], t.urls.join(' '));
      tlsPort = Number(tls[1]);
      assert.deepEqual(t.urls, [
        `turn:127.0.0.1:${turnPort}?transport=udp`,
        `turn:127.0.0.1:${turnPort}?transport=tcp`,
        `turns:127.0.0.1:${tlsPort}?transport=tcp`,
      ]);
    });

    /** The relay counters of the turn process, from its GET /metrics (the HTTP endpoint its heartbeat announces). */
    const relayed = async () => {
      const http = region.heartbeats.get('turn-1')?.endpoints['http'];
      assert.ok(http, 'the turn process announces its HTTP endpoint');
      const m = await scrape(http);
      const of = (name: string, direction: string) => sampleValue(m, name, { direction });
      return {
        packetsToPeer: of('strata_turn_relayed_packets_total', 'to_peer'),
        packetsToClient: of('strata_turn_relayed_packets_total', 'to_client'),
        bytesToPeer: of('strata_turn_relayed_bytes_total', 'to_peer'),
        bytesToClient: of('strata_turn_relayed_bytes_total', 'to_client'),
      };
    };

    /**
     * uclient runs (at once) with the counters read before and after: every message uclient sent went
     * out of a relay to the peer, and every one it got back came in from the peer, each `length` bytes
     * of payload (uclient's -l, 100 by default).
     */
    const counted = async (runs: string[][]): Promise<UclientTotals[]> => {
      const before = await relayed();
      const totals = await Promise.all(runs.map((args) => uclient(args)));
      const after = await relayed();
      let sent = 0;
      let received = 0;
      let bytesSent = 0;
      let bytesReceived = 0;
      runs.forEach((args, i) => {
        const l = args.indexOf('-l');
        const length = l >= 0 ? Number(args[l + 1]) : 100;
        const t = totals[i] as UclientTotals;
        sent += t.sent;
        received += t.received;
        bytesSent += t.sent * length;
        bytesReceived += t.received * length;
      });
      const output = totals.map((t) => t.output).join('\n');
      assert.ok(
        after.packetsToPeer - before.packetsToPeer >= sent,
        `to_peer moved ${after.packetsToPeer - before.packetsToPeer}, uclient sent ${sent}\n${output}`,
      );
      assert.ok(
        after.packetsToClient - before.packetsToClient >= received,
        `to_client moved ${after.packetsToClient - before.packetsToClient}, uclient received ${received}\n${output}`,
      );
      assert.ok(
        after.bytesToPeer - before.bytesToPeer >= bytesSent,
        `to_peer bytes moved ${after.bytesToPeer - before.bytesToPeer}, uclient sent ${bytesSent}`,
      );
      assert.ok(
        after.bytesToClient - before.bytesToClient >= bytesReceived,
        `to_client bytes moved ${after.bytesToClient - before.bytesToClient}, uclient received ${bytesReceived}`,
      );
      return totals;
    };
    const counted1 = async (args: string[]): Promise<UclientTotals> => (await counted([args]))[0] as UclientTotals;

    after(async () => {
      await t?.stop();
    });

    const base = (port = turnPort) => [...t.uclientArgs(port), '-n', '50', '-z', '10'];

    it('turnutils_stunclient gets a binding answer with our reflexive address', async () => {
      const { stdout, stderr } = await run('turnutils_stunclient', ['-p', String(turnPort), '127.0.0.1'], { timeout: 10_000 });
      assert.match(stdout + stderr, /UDP reflexive addr: 127\.0\.0\.1:\d+/);
    });

    it('turnutils_uclient relays with ChannelData (its default: RTP and RTCP allocations, EVEN-PORT and a RESERVATION-TOKEN) and loses nothing', async () => {
      const t = await counted1([...base(), '127.0.0.1']);
      // Two allocations (RTP and RTCP), 50 messages each.
      assert.equal(t.sent, 100, t.output);
      assert.equal(t.received, 100, t.output);
      assert.equal(t.lost, 0, t.output);
    });

    it('turnutils_uclient relays with Send and Data indications (-s) and loses nothing', async () => {
      const t = await counted1([...base(), '-s', '127.0.0.1']);
      assert.equal(t.sent, 100, t.output);
      assert.equal(t.received, 100, t.output);
      assert.equal(t.lost, 0, t.output);
    });

    it('turnutils_uclient relays padded ChannelData (-D), without RTCP (-c), and loses nothing', async () => {
      const t = await counted1([...base(), '-D', '-c', '127.0.0.1']);
      assert.equal(t.sent, 50, t.output);
      assert.equal(t.received, 50, t.output);
      assert.equal(t.lost, 0, t.output);
    });

    it('turnutils_uclient over TCP (-t) relays with ChannelData, padded as TCP requires (101-byte messages), and loses nothing', async () => {
      // 101-byte messages, so every ChannelData carries 3 bytes of padding the framing must skip.
      const t = await counted1([...base(), '-t', '-l', '101', '127.0.0.1']);
      assert.equal(t.sent, 100, t.output);
      assert.equal(t.received, 100, t.output);
      assert.equal(t.lost, 0, t.output);
    });

    it('turnutils_uclient over TCP (-t) relays with Send and Data indications (-s) and loses nothing', async () => {
      const t = await counted1([...base(), '-t', '-s', '127.0.0.1']);
      assert.equal(t.sent, 100, t.output);
      assert.equal(t.received, 100, t.output);
      assert.equal(t.lost, 0, t.output);
    });

    it('turnutils_uclient over TLS (-S, the turns: port) relays with padded ChannelData and loses nothing', async () => {
      const t = await counted1([...base(tlsPort), '-t', '-S', '-l', '101', '127.0.0.1']);
      assert.equal(t.sent, 100, t.output);
      assert.equal(t.received, 100, t.output);
      assert.equal(t.lost, 0, t.output);
    });

    it('turnutils_uclient over TLS (-S) relays with Send and Data indications (-s) and loses nothing', async () => {
      const t = await counted1([...base(tlsPort), '-t', '-S', '-s', '127.0.0.1']);
      assert.equal(t.sent, 100, t.output);
      assert.equal(t.received, 100, t.output);
      assert.equal(t.lost, 0, t.output);
    });

    it('several uclients at once over UDP, TCP and TLS (-m 3) all relay, each on its own allocation', async () => {
      const runs = await counted([
        [...base(), '-m', '3', '-c', '127.0.0.1'],
        [...base(), '-m', '3', '-c', '-t', '127.0.0.1'],
        [...base(tlsPort), '-m', '3', '-c', '-t', '-S', '127.0.0.1'],
      ]);
      for (const t of runs) {
        assert.equal(t.sent, 150, t.output);
        assert.equal(t.received, 150, t.output);
        assert.equal(t.lost, 0, t.output);
      }
    });
  },
);
