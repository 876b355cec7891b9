/**
 * A WebRTC transport whose DTLS handshake fails: a Node peer (msc-node) declares a fingerprint
 * that is not its certificate's, so ICE connects and the media node's DTLS check fails. The
 * node must close the transport and the peer must be told (`transportClosed`).
 */
import { SignalingClient } from '@strata/client';
import { MediaTransportStats, subjects, type StrataError } from '@strata/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NodePeer } from '../helpers/node-peer.js';
import { waitFor } from '../helpers/processes.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'dtls-failure';

/** The same fingerprint with its first byte changed. */
const wrong = (value: string): string => (value.startsWith('00') ? `FF${value.slice(2)}` : `00${value.slice(2)}`);

describe('DTLS failure', { timeout: 90_000 }, () => {
  let region: Region;
  let peer: NodePeer | undefined;

  before(async () => {
    region = await startRegion();
  });

  after(async () => {
    await peer?.leave().catch(() => undefined);
    await region?.stop();
  });

  it('closes the transport on the media node and tells the peer', async () => {
    // NodePeer makes its own SignalingClient: swap the fingerprint on the way out, for this peer only.
    const request = SignalingClient.prototype.request;
    const declared: string[] = [];
    SignalingClient.prototype.request = function (this: SignalingClient, method, data, opts) {
      if (method === 'connectWebRtcTransport') {
        const d = data as { transportId: string; dtlsParameters: { fingerprints: { algorithm: string; value: string }[] } };
        declared.push(d.transportId);
        data = {
          ...d,
          dtlsParameters: { ...d.dtlsParameters, fingerprints: d.dtlsParameters.fingerprints.map((f) => ({ ...f, value: wrong(f.value) })) },
        } as typeof data;
      }
      return request.call(this, method, data, opts);
    } as typeof request;
    let closedNotice: string | undefined;
    try {
      const token = await region.mintToken({ room: ROOM, identity: 'mallory' });
      peer = await NodePeer.join({ wsUrl: region.wsUrl, token, name: 'mallory', publish: { audio: true, video: false } });
    } finally {
      SignalingClient.prototype.request = request;
    }
    const p = peer;
    const send = p.room.sendTransport!;
    const recv = p.room.recvTransport!;
    assert.deepEqual(declared, [send.id], 'only the send transport connected (nobody to receive from)');
    p.signaling.onNotification('transportClosed', (d) => (closedNotice = d.transportId));

    await waitFor(
      'the peer to be told its transport closed',
      () => (p.events.some((e) => e === `error:transport ${send.id} closed by the node`) ? true : undefined),
      30_000,
    );
    // The notice may have come before this listener existed; RoomClient's error event carries it either way.
    assert.ok(closedNotice === undefined || closedNotice === send.id);

    const media = region.processes.find((x) => x.kind === 'media')!;
    assert.match(media.output(), new RegExp(`"transportId":"${send.id}","state":"failed".*DTLS ended; closing transport`));
    const stats = (transportId: string) =>
      region.bus.request(MediaTransportStats, subjects.media(region.region, 'media-1', MediaTransportStats.name), {
        roomId: ROOM,
        peerId: p.peerId,
        transportId,
      });
    await assert.rejects(stats(send.id), (e: StrataError) => e.code === 'NOT_FOUND', 'the failed transport is gone from the media node');
    assert.ok((await stats(recv.id)).stats, 'the other transport is untouched');
    // The gateway forgot it too: the peer cannot use it any more.
    await assert.rejects(p.signaling.request('getTransportStats', { transportId: send.id }), (e: StrataError) => e.code === 'NOT_FOUND');
    assert.equal(p.signaling.state, 'connected', 'the session stays up: the client can make a new transport');
  });
});
